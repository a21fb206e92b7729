//! `decide`: every write-time rule of DESIGN §2.4 as a pure function of the ledger state,
//! the event and the time it would be recorded at. The server runs it before each append and
//! the offline verifier replays it over a bundle; neither path does I/O here.

use chrono::{DateTime, Duration, Utc};

use super::state::LedgerState;
use crate::domain::{EventData, EventPayload, KeyId, PrincipalId, Role, StreamId};

/// Stable machine-readable error codes (DESIGN §4); the HTTP layer maps each to a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    InvalidEnvelope,
    BadSignature,
    UnknownKey,
    KeyRevoked,
    SchemaViolation,
    StreamMismatch,
    WrongExpectedRevision,
    DuplicateEventConflict,
    ConsentRequired,
    ConsentScope,
    InvalidTransition,
    Unauthenticated,
    Forbidden,
    PayloadTooLarge,
    ClockSkew,
    NotFound,
    BadRequest,
    Unavailable,
    /// A reading node's forwarded write failed after it was sent: its outcome is unknown.
    BadGateway,
    /// The path exists, but not for this HTTP method.
    MethodNotAllowed,
    /// The request body did not arrive in time.
    RequestTimeout,
    /// An entry bundle of the tile API would hold an entry longer than its 16-bit length.
    EntryTooLarge,
    Internal,
}

impl Code {
    /// The wire spelling of the code.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidEnvelope => "invalid_envelope",
            Code::BadSignature => "bad_signature",
            Code::UnknownKey => "unknown_key",
            Code::KeyRevoked => "key_revoked",
            Code::SchemaViolation => "schema_violation",
            Code::StreamMismatch => "stream_mismatch",
            Code::WrongExpectedRevision => "wrong_expected_revision",
            Code::DuplicateEventConflict => "duplicate_event_conflict",
            Code::ConsentRequired => "consent_required",
            Code::ConsentScope => "consent_scope",
            Code::InvalidTransition => "invalid_transition",
            Code::Unauthenticated => "unauthenticated",
            Code::Forbidden => "forbidden",
            Code::PayloadTooLarge => "payload_too_large",
            Code::ClockSkew => "clock_skew",
            Code::NotFound => "not_found",
            Code::BadRequest => "bad_request",
            Code::Unavailable => "unavailable",
            Code::BadGateway => "bad_gateway",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::RequestTimeout => "request_timeout",
            Code::EntryTooLarge => "entry_too_large",
            Code::Internal => "internal",
        }
    }
}

/// A refused write: which rule, and a precise human-readable reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RuleViolation {
    pub code: Code,
    pub message: String,
}

impl RuleViolation {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// How far `occurred_at` may run ahead of the server clock (rule 7).
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(5);

/// Decides whether `event`, signed with `keyid`, may be appended at `recorded_at`.
///
/// The rules in DESIGN's order: who may write (rule 1, partly in the stream's rules), the
/// stream's own rules (2 to 5), then the clock (rule 7), so a writer who may not write is
/// told so whatever its clock says.
pub fn decide(
    state: &LedgerState,
    event: &EventPayload,
    keyid: &KeyId,
    recorded_at: DateTime<Utc>,
) -> Result<(), RuleViolation> {
    stream_rules(state, event, keyid, recorded_at)?;
    clock(event, recorded_at)
}

/// Rules 1 to 5.
fn stream_rules(
    state: &LedgerState,
    event: &EventPayload,
    keyid: &KeyId,
    recorded_at: DateTime<Utc>,
) -> Result<(), RuleViolation> {
    if state.size == 0 {
        return genesis(event, keyid);
    }
    check_signer(state, event, keyid, recorded_at)?;
    match &event.stream {
        StreamId::Principal(id) => principal_rules(state, event, id),
        StreamId::Agency(id) => agency_rules(state, event, id.as_str()),
        StreamId::Case(_) => super::case_rules::decide(state, event, recorded_at),
    }
}

/// Rule 7: `occurred_at` at most [`MAX_CLOCK_SKEW`] ahead of the server clock.
fn clock(event: &EventPayload, recorded_at: DateTime<Utc>) -> Result<(), RuleViolation> {
    if event.occurred_at > recorded_at + MAX_CLOCK_SKEW {
        return Err(RuleViolation::new(
            Code::ClockSkew,
            format!(
                "occurred_at {} is more than 5 minutes ahead of the server clock",
                event.occurred_at
            ),
        ));
    }
    Ok(())
}

/// [`decide`], plus the rules the writer has enforced since after logs may already hold
/// events they forbid: no invisible formatting characters in bounded text, no language
/// listed twice in different case, no nil `event_id`, a new key's point spelled canonically
/// (checked first: they are schema checks), an auditor holds
/// no role that writes (and the genesis admin keeps duties apart), there is one service
/// principal, a token hash is issued once. The server decides new events with this; the
/// offline verifier replays `decide` alone, so a log written lawfully before these rules
/// still verifies.
pub fn decide_write(
    state: &LedgerState,
    event: &EventPayload,
    keyid: &KeyId,
    recorded_at: DateTime<Utc>,
) -> Result<(), RuleViolation> {
    lint::new_event(event)?;
    stream_rules(state, event, keyid, recorded_at)?;
    match &event.data {
        EventData::PrincipalRegistered(d) => {
            duties::separate_duties(&d.roles)?;
            duties::auditor_alone(&d.roles)?;
            service::one_service_principal(state, &d.roles)
        }
        EventData::PrincipalTokenIssued(d) => service::token_issued(state, d),
        EventData::PrincipalKeyAdded(_) => service::keys_stay_the_servers(state, &event.stream),
        EventData::ConsentGranted(d) => lint::consent_names(state, event, d),
        EventData::InquirySent(d) => lint::to_another_agency(state, event, &d.agency),
        EventData::ReferralMade(d) => lint::to_another_agency(state, event, &d.agency),
        _ => Ok(()),
    }?;
    // The clock last here too (see `decide`).
    clock(event, recorded_at)
}

/// Entry 0 is the first admin registering itself with the key that signs it.
fn genesis(event: &EventPayload, keyid: &KeyId) -> Result<(), RuleViolation> {
    let EventData::PrincipalRegistered(d) = &event.data else {
        return Err(RuleViolation::new(
            Code::InvalidTransition,
            "the first log entry must be the first admin's principal.registered",
        ));
    };
    let self_registered = event.stream == StreamId::Principal(event.actor.clone());
    if !self_registered || !d.roles.contains(&Role::Admin) {
        return Err(RuleViolation::new(
            Code::Forbidden,
            "the genesis principal must register itself with the admin role",
        ));
    }
    if KeyId::of(d.public_key.as_bytes()) != *keyid {
        return Err(RuleViolation::new(
            Code::UnknownKey,
            "the genesis entry must be signed by the key it registers",
        ));
    }
    // No forgeable (weak) key: `verify_batch`, unlike `verify_strict`, would accept a
    // signature forged under it. (The roles are checked at write time, `write_policy`.)
    new_key(&LedgerState::default(), d.public_key.as_bytes())
}

/// Rule 1: the key belongs to the actor and is active at `recorded_at`; the actor is active.
fn check_signer(
    state: &LedgerState,
    event: &EventPayload,
    keyid: &KeyId,
    recorded_at: DateTime<Utc>,
) -> Result<(), RuleViolation> {
    let key = state.registry.keys.get(keyid).ok_or_else(|| {
        RuleViolation::new(Code::UnknownKey, format!("no registered key {keyid}"))
    })?;
    if key.principal != event.actor {
        return Err(RuleViolation::new(
            Code::Forbidden,
            format!(
                "key {keyid} belongs to {}, not to actor {}",
                key.principal, event.actor
            ),
        ));
    }
    if !key.active_at(&recorded_at) {
        return Err(RuleViolation::new(
            Code::KeyRevoked,
            format!("key {keyid} was revoked"),
        ));
    }
    match state.registry.principals.get(&event.actor) {
        Some(p) if p.active => Ok(()),
        Some(_) => Err(RuleViolation::new(
            Code::Forbidden,
            format!("actor {} is deactivated", event.actor),
        )),
        None => Err(RuleViolation::new(
            Code::UnknownKey,
            format!("actor {} is not registered", event.actor),
        )),
    }
}

/// Whether the actor holds one of `roles`.
pub(super) fn require_role(
    state: &LedgerState,
    actor: &PrincipalId,
    roles: &[Role],
    what: &str,
) -> Result<(), RuleViolation> {
    let ok = state
        .registry
        .principals
        .get(actor)
        .is_some_and(|p| roles.iter().any(|r| p.has(*r)));
    if ok {
        Ok(())
    } else {
        let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Err(RuleViolation::new(
            Code::Forbidden,
            format!("only {} may write {what}", names.join(" or ")),
        ))
    }
}

fn transition(message: String) -> RuleViolation {
    RuleViolation::new(Code::InvalidTransition, message)
}

fn principal_rules(
    state: &LedgerState,
    event: &EventPayload,
    id: &PrincipalId,
) -> Result<(), RuleViolation> {
    let what = event.data.type_name();
    let reg = &state.registry;
    let subject = reg.principals.get(id);
    match &event.data {
        EventData::PrincipalTokenIssued(_) => {
            require_role(state, &event.actor, &[Role::Service], what)?
        }
        EventData::PrincipalTokenRevoked(_) => {
            require_role(state, &event.actor, &[Role::Admin, Role::Service], what)?
        }
        _ => require_role(state, &event.actor, &[Role::Admin], what)?,
    }
    let active_subject = || match subject {
        Some(p) if p.active => Ok(p),
        Some(_) => Err(transition(format!("principal {id} is deactivated"))),
        None => Err(transition(format!("principal {id} is not registered"))),
    };
    match &event.data {
        EventData::PrincipalRegistered(d) => {
            if subject.is_some() {
                return Err(transition(format!("principal {id} is already registered")));
            }
            duties::separate_duties(&d.roles)?;
            new_key(state, d.public_key.as_bytes())
        }
        EventData::PrincipalKeyAdded(d) => {
            active_subject()?;
            new_key(state, d.public_key.as_bytes())
        }
        EventData::PrincipalKeyRevoked(d) => {
            // Also of a deactivated principal: a compromise found after someone left is
            // still put on the record.
            let p =
                subject.ok_or_else(|| transition(format!("principal {id} is not registered")))?;
            match reg.keys.get(&d.keyid) {
                Some(k) if k.principal == p.id && k.revoked.is_none() => Ok(()),
                Some(k) if k.principal == p.id => {
                    Err(transition(format!("key {} is already revoked", d.keyid)))
                }
                _ => Err(transition(format!("principal {id} has no key {}", d.keyid))),
            }
        }
        EventData::PrincipalTokenIssued(_) => active_subject().map(|_| ()),
        EventData::PrincipalTokenRevoked(d) => match reg.tokens.get(d.token_sha256.as_bytes()) {
            Some(t) if t.principal == *id && !t.revoked => Ok(()),
            Some(t) if t.principal == *id => Err(transition("token is already revoked".into())),
            _ => Err(transition(format!("principal {id} has no such token"))),
        },
        EventData::PrincipalDeactivated(_) => active_subject().map(|_| ()),
        other => Err(RuleViolation::new(
            Code::StreamMismatch,
            format!(
                "{} does not belong in a principal stream",
                other.type_name()
            ),
        )),
    }
}

/// The roles an auditor may not also hold, because each of them writes.
pub const AUDITOR_BARRED: [Role; 4] = [
    Role::Admin,
    Role::Service,
    Role::Caseworker,
    Role::Supervisor,
];

fn new_key(state: &LedgerState, public_key: &[u8; 32]) -> Result<(), RuleViolation> {
    let key = ed25519_dalek::VerifyingKey::from_bytes(public_key).map_err(|_| {
        RuleViolation::new(
            Code::SchemaViolation,
            "public_key is not a valid Ed25519 point",
        )
    })?;
    if key.is_weak() {
        return Err(RuleViolation::new(
            Code::SchemaViolation,
            "public_key is a weak (small-order) Ed25519 key",
        ));
    }
    if state.registry.keys.contains_key(&KeyId::of(public_key)) {
        return Err(transition("this public key is already registered".into()));
    }
    Ok(())
}

fn agency_rules(state: &LedgerState, event: &EventPayload, id: &str) -> Result<(), RuleViolation> {
    require_role(state, &event.actor, &[Role::Admin], event.data.type_name())?;
    let exists = state.registry.agencies.contains_key(id);
    match (&event.data, exists) {
        (EventData::AgencyRegistered(_), false) | (EventData::AgencyUpdated(_), true) => Ok(()),
        (EventData::AgencyRegistered(_), true) => {
            Err(transition(format!("agency {id} is already registered")))
        }
        (EventData::AgencyUpdated(_), false) => {
            Err(transition(format!("agency {id} is not registered")))
        }
        (other, _) => Err(RuleViolation::new(
            Code::StreamMismatch,
            format!("{} does not belong in an agency stream", other.type_name()),
        )),
    }
}

mod duties;
mod lint;
mod service;
#[cfg(test)]
mod tests;
