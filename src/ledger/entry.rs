//! Log entries (DESIGN §3): the JSON the server writes once per accepted event, in a fixed
//! field order, and stores as exact bytes. Hashing, export and verification use those bytes.

mod layout;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::domain::{EventPayload, SchemaError};
use crate::envelope::{Envelope, EnvelopeError, WireEnvelope};

/// Entry format version.
pub const ENTRY_VERSION: u8 = 1;

/// The entry as the writer serialises it (decoding is in [`layout`]).
#[derive(Serialize)]
struct EntryJson<'a> {
    v: u8,
    stream: &'a str,
    revision: u64,
    recorded_at: &'a str,
    envelope: &'a WireEnvelope,
}

/// Formats a server timestamp as RFC 3339 UTC with microseconds, as entries carry it.
pub fn format_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Writes an entry's bytes. Called exactly once per event, by the writer.
pub fn encode(stream: &str, revision: u64, recorded_at: &str, envelope: &WireEnvelope) -> Vec<u8> {
    serde_json::to_vec(&EntryJson {
        v: ENTRY_VERSION,
        stream,
        revision,
        recorded_at,
        envelope,
    })
    .expect("entry serialises")
}

/// An entry read back from its bytes, with its envelope and event decoded.
#[derive(Debug, Clone)]
pub struct DecodedEntry {
    pub stream: String,
    pub revision: u64,
    pub recorded_at: DateTime<Utc>,
    pub envelope: Envelope,
    pub payload: EventPayload,
}

/// Why stored bytes are not a valid entry.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    #[error("entry is not valid JSON in the v1 layout: {0}")]
    Layout(String),
    #[error("entry envelope: {0}")]
    Envelope(#[from] EnvelopeError),
    #[error("entry event: {0}")]
    Event(#[from] SchemaError),
    #[error("entry stream `{entry}` differs from the signed event's stream `{event}`")]
    StreamMismatch { entry: String, event: String },
}

/// Parses entry bytes without re-serialising anything. Does not verify the signature.
pub fn decode(bytes: &[u8]) -> Result<DecodedEntry, EntryError> {
    let json = layout::read(bytes).map_err(|e| EntryError::Layout(e.to_string()))?;
    if json.v != ENTRY_VERSION {
        return Err(EntryError::Layout(format!("unknown version {}", json.v)));
    }
    let recorded_at = DateTime::parse_from_rfc3339(&json.recorded_at)
        .map_err(|e| EntryError::Layout(format!("recorded_at: {e}")))?
        .with_timezone(&Utc);
    let signatures: Vec<(&str, &str)> = json
        .signatures
        .iter()
        .map(|(k, s)| (k.as_ref(), s.as_ref()))
        .collect();
    let envelope = Envelope::from_parts(&json.payload_type, &json.payload, &signatures)?;
    let payload = EventPayload::parse(envelope.payload())?;
    if !payload.stream.is(&json.stream) {
        return Err(EntryError::StreamMismatch {
            entry: json.stream.into_owned(),
            event: payload.stream.to_string(),
        });
    }
    Ok(DecodedEntry {
        stream: json.stream.into_owned(),
        revision: json.revision,
        recorded_at,
        envelope,
        payload,
    })
}
