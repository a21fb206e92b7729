//! `POST /v1/events` and `POST /v1/events/batch`: signed envelopes in, receipts out.
//! Shape, schema and signature are checked here, in parallel across workers; the ordered
//! rules run in the single writer.

use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::budget::{Held, HELD_PER_BODY_BYTE};
use super::forward::{authenticated, writable, Write};
use super::problem::ApiError;
use super::{read_body, AppState};
use crate::domain::{EventData, EventPayload, KeyId, SchemaErrorKind};
use crate::envelope::{Envelope, WireEnvelope};
use crate::ledger::{Code, ExpectedRevision, Outcome, Receipt, Verified};
use ed25519_dalek::VerifyingKey;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppendQuery {
    expected_revision: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchBody {
    events: Vec<WireEnvelope>,
}

#[derive(Serialize)]
struct BatchReceipt {
    stream: String,
    receipts: Vec<Receipt>,
}

/// The `expected_revision` of the request's query (read after authentication, so an
/// unauthenticated request is 401 whatever its query).
fn expected(req: &HttpRequest) -> Result<ExpectedRevision, ApiError> {
    let q = web::Query::<AppendQuery>::from_query(req.query_string())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    match &q.expected_revision {
        None => Ok(ExpectedRevision::Any),
        Some(s) => ExpectedRevision::parse(s).ok_or_else(|| {
            ApiError::bad_request("expected_revision must be a revision number, no_stream or any")
        }),
    }
}

/// Signature-checks, then schema-checks one envelope for `caller`. `earlier` are the
/// events before it in its batch: a key one of them adds may sign it (see [`batch_key`]).
pub(super) fn verify(
    state: &AppState,
    caller: &Caller,
    env: Envelope,
    earlier: &[Verified],
) -> Result<Verified, ApiError> {
    let registered = {
        let ledger = state.ledger.state();
        ledger
            .registry
            .keys
            .get(env.keyid())
            .map(|record| (record.key, record.revoked.is_some()))
    };
    let (key, revoked) = registered
        .or_else(|| batch_key(earlier, env.keyid()).map(|key| (key, false)))
        .ok_or_else(|| {
            ApiError::new(
                Code::UnknownKey,
                format!("no registered key {}", env.keyid()),
            )
        })?;
    // DESIGN §2.1: the signature is checked against a registered, active key before anything
    // else is read from the payload, so a revoked key's holder learns nothing of how the
    // payload would be judged. (The writer checks revocation again at the entry's
    // `recorded_at`, for a revocation committed meanwhile.)
    env.verify(&key)?;
    if revoked && !already_recorded(state, &env)? {
        return Err(ApiError::new(
            Code::KeyRevoked,
            format!("key {} was revoked", env.keyid()),
        ));
    }
    let event = EventPayload::parse(env.payload()).map_err(|e| {
        let code = match e.kind {
            SchemaErrorKind::StreamMismatch => Code::StreamMismatch,
            _ => Code::SchemaViolation,
        };
        ApiError::new(code, e.message)
    })?;
    crate::domain::time::new_stamps_fit(env.payload())
        .map_err(|m| ApiError::new(Code::SchemaViolation, m))?;
    if event.actor != caller.id {
        return Err(ApiError::forbidden(format!(
            "the event's actor {} is not the authenticated principal {}",
            event.actor, caller.id
        )));
    }
    Ok(Verified {
        envelope: env,
        event,
        recorded_at: None,
    })
}

/// The key `keyid` names if an earlier event of the same batch adds it
/// (`principal.key_added`). A batch is decided in log order (DESIGN §2.4), so an admin may
/// rotate its key in one atomic batch: add K2 signed by K1, then revoke K1 signed by K2.
/// The signature is checked against that key here; whether the key is the signer's and
/// active at the event is the writer's to decide, in order, as for any key.
fn batch_key(earlier: &[Verified], keyid: &KeyId) -> Option<VerifyingKey> {
    earlier.iter().find_map(|v| match &v.event.data {
        EventData::PrincipalKeyAdded(d) if d.public_key.key_id() == *keyid => {
            VerifyingKey::from_bytes(d.public_key.as_bytes()).ok()
        }
        _ => None,
    })
}

/// Whether this very envelope is already in the log: a retry of an event written before its
/// key was revoked (its 201 lost) gets the original result, as any repeat (DESIGN §2.4 rule
/// 6). Only the `event_id` is read from the payload; the stored entry must hold the same
/// envelope byte for byte, so other bytes under a recorded id are still `key_revoked`.
/// A store that cannot be read is 503, so the client retries rather than believing a
/// recorded event refused. (One indexed read, only for a revoked key's envelopes.)
fn already_recorded(state: &AppState, env: &Envelope) -> Result<bool, ApiError> {
    #[derive(serde::Deserialize)]
    struct Id {
        event_id: uuid::Uuid,
    }
    let Ok(id) = serde_json::from_slice::<Id>(env.payload()) else {
        return Ok(false);
    };
    let Some(index) = state.ledger.state().event_ids.get(&id.event_id).copied() else {
        return Ok(false);
    };
    let stored = state.ledger.store().read_all(index, 1)?.pop();
    Ok(stored
        .and_then(|e| crate::ledger::entry::decode(&e.bytes).ok())
        .is_some_and(|d| d.envelope.to_wire() == env.to_wire()))
}

fn respond(outcome: Outcome, single: bool, stream: String) -> HttpResponse {
    let (mut resp, receipts) = match outcome {
        Outcome::Created(r) => (HttpResponse::Created(), r),
        Outcome::Repeated(r) => (HttpResponse::Ok(), r),
    };
    if single {
        resp.json(&receipts[0])
    } else {
        resp.json(BatchReceipt { stream, receipts })
    }
}

/// Holds the body memory a write takes until it is answered: about
/// [`HELD_PER_BODY_BYTE`] times its announced length (its endpoint's `limit` when it
/// announces none), from the caller's share and the node's pool. A principal sending many
/// large bodies at once then waits for its own, and others' writes go on.
async fn hold_body(
    state: &AppState,
    req: &HttpRequest,
    caller: &Caller,
    limit: usize,
) -> Result<Held, ApiError> {
    // Too large is 413 at once, not after waiting for memory it could never use.
    let announced = super::announced_length(req, limit)?.unwrap_or(limit);
    state
        .bodies
        .hold(
            Some(caller.id.clone()),
            announced.saturating_mul(HELD_PER_BODY_BYTE),
            "request bodies",
        )
        .await
}

/// Hands the events to the writer and waits for its answer. The body memory `held` is
/// released when the writer answers, not when the client goes: a client that hangs up
/// after sending does not take the events out of the writer's queue.
async fn submit(
    state: &AppState,
    stream: String,
    events: Vec<Verified>,
    expected: ExpectedRevision,
    held: Held,
) -> Result<Outcome, ApiError> {
    let ledger = state.ledger.clone();
    let answer = tokio::spawn(async move {
        let outcome = ledger.submit(stream, events, expected).await;
        drop(held);
        outcome
    });
    match answer.await {
        Ok(outcome) => Ok(outcome?),
        Err(e) => Err(ApiError::hidden(
            Code::Internal,
            "the write's task failed; see the server log",
            &e,
        )),
    }
}

/// Appends one signed event.
#[post("/v1/events")]
#[tracing::instrument(skip_all, fields(caller))]
pub(super) async fn append(
    state: web::Data<AppState>,
    caller: Result<Caller, ApiError>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let limit = state.limits.max_event_bytes;
    let payload = match writable(&state, &req, payload, limit, || Ok("/v1/events".into())).await? {
        Write::Here(payload) => payload,
        Write::Forwarded(answer) => return Ok(answer),
    };
    let caller = authenticated(caller)?;
    let expected = expected(&req)?;
    let held = hold_body(&state, &req, &caller, limit).await?;
    let body = read_body(&req, payload, limit, state.limits.body_wait).await?;
    let env = Envelope::parse(&body)?;
    let verified = verify(&state, &caller, env, &[])?;
    let stream = verified.event.stream.to_string();
    let outcome = submit(&state, stream.clone(), vec![verified], expected, held).await?;
    Ok(respond(outcome, true, stream))
}

/// Appends several events to one stream, atomically: all or none.
#[post("/v1/events/batch")]
#[tracing::instrument(skip_all, fields(caller))]
pub(super) async fn append_batch(
    state: web::Data<AppState>,
    caller: Result<Caller, ApiError>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let limit = state.limits.max_batch_bytes;
    let payload = match writable(&state, &req, payload, limit, || {
        Ok("/v1/events/batch".into())
    })
    .await?
    {
        Write::Here(payload) => payload,
        Write::Forwarded(answer) => return Ok(answer),
    };
    let caller = authenticated(caller)?;
    let expected = expected(&req)?;
    let held = hold_body(&state, &req, &caller, limit).await?;
    let body = read_body(&req, payload, limit, state.limits.body_wait).await?;
    let mut read = serde_json::Deserializer::from_slice(&body);
    let batch: BatchBody = crate::domain::bounded::object_only(&mut read)
        .and_then(|b| read.end().map(|()| b))
        .map_err(|e| ApiError::new(Code::InvalidEnvelope, format!("batch body: {e}")))?;
    if batch.events.is_empty() || batch.events.len() > state.limits.max_batch_events {
        return Err(ApiError::new(
            Code::InvalidEnvelope,
            format!(
                "a batch holds 1 to {} events, got {}",
                state.limits.max_batch_events,
                batch.events.len()
            ),
        ));
    }
    let mut events = Vec::with_capacity(batch.events.len());
    for (i, wire) in batch.events.iter().enumerate() {
        let at = |e: ApiError| ApiError::new(e.code, format!("events[{i}]: {}", e.detail));
        // Each event meets the limit of a single `POST /v1/events` (its compact spelling).
        let size = serde_json::to_vec(wire).map_or(usize::MAX, |v| v.len());
        if size > state.limits.max_event_bytes {
            return Err(at(ApiError::new(
                Code::PayloadTooLarge,
                format!(
                    "the envelope is {size} bytes; one event may be at most {} (--max-event-bytes)",
                    state.limits.max_event_bytes
                ),
            )));
        }
        let env = Envelope::from_wire(wire).map_err(|e| at(e.into()))?;
        let verified = verify(&state, &caller, env, &events).map_err(at)?;
        events.push(verified);
    }
    let stream = events[0].event.stream.to_string();
    if let Some(i) = events
        .iter()
        .position(|v| v.event.stream.to_string() != stream)
    {
        return Err(ApiError::new(
            Code::StreamMismatch,
            format!("events[{i}] is not for stream {stream}; a batch is for one stream"),
        ));
    }
    // An event_id twice in one batch: with other bytes, the conflict of rule 6 (409); with
    // the same bytes, a batch that says one thing twice (nothing to be idempotent about yet).
    let mut ids = std::collections::HashMap::new();
    for (i, v) in events.iter().enumerate() {
        if let Some(first) = ids.insert(v.event.event_id, i) {
            let same = events[first].envelope.to_wire() == v.envelope.to_wire();
            return Err(if same {
                ApiError::new(
                    Code::SchemaViolation,
                    format!("events[{i}] repeats events[{first}] of the same batch"),
                )
            } else {
                ApiError::new(
                    Code::DuplicateEventConflict,
                    format!("events[{i}] has the event_id of events[{first}] with other bytes"),
                )
            });
        }
    }
    let outcome = submit(&state, stream.clone(), events, expected, held).await?;
    Ok(respond(outcome, false, stream))
}
