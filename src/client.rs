//! Client-side helpers for building and signing events: used by the CLI (`sign`, `submit`,
//! `init`, `demo`, `bench`), the server for the few events it writes itself, and tests.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::envelope::{self, Envelope, KeyFile, WireEnvelope};
use crate::ledger::entry::format_time;
use crate::ledger::Verified;

/// An event payload's JSON (DESIGN §2.2) with a fresh UUIDv7 id.
pub fn payload(
    event_type: &str,
    stream: &str,
    actor: &str,
    data: Value,
    occurred_at: DateTime<Utc>,
) -> Value {
    json!({
        "event_id": Uuid::now_v7().to_string(),
        "type": event_type,
        "stream": stream,
        "occurred_at": format_time(&occurred_at),
        "actor": actor,
        "data": data,
    })
}

/// Signs payload JSON (serialised once, and those bytes are what is signed).
pub fn sign_value(key: &KeyFile, payload: &Value) -> WireEnvelope {
    let bytes = serde_json::to_vec(payload).expect("payload serialises");
    envelope::sign(&bytes, &key.key)
}

/// Builds and signs an event in one step.
pub fn signed_event(
    key: &KeyFile,
    event_type: &str,
    stream: &str,
    data: Value,
    occurred_at: DateTime<Utc>,
) -> WireEnvelope {
    let p = payload(
        event_type,
        stream,
        key.principal.as_str(),
        data,
        occurred_at,
    );
    sign_value(key, &p)
}

/// Turns an envelope the server itself signed into a `Verified` submission (its own key
/// is trusted, but the signature is still checked so a misconfigured key fails loudly).
pub fn self_verified(key: &KeyFile, wire: &WireEnvelope) -> Result<Verified, String> {
    let env = Envelope::from_wire(wire).map_err(|e| e.to_string())?;
    env.verify(&key.key.verifying_key())
        .map_err(|e| e.to_string())?;
    let event = crate::domain::EventPayload::parse(env.payload()).map_err(|e| e.to_string())?;
    Ok(Verified {
        envelope: env,
        event,
        recorded_at: None,
    })
}
