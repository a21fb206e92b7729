//! Case-stream rules of DESIGN §2.4 (rules 2–5).

use chrono::{DateTime, Utc};

use super::rules::{Code, RuleViolation};
use super::state::LedgerState;
use crate::domain::EventPayload;

/// Decides a case-stream event.
pub fn decide(
    _state: &LedgerState,
    event: &EventPayload,
    _recorded_at: DateTime<Utc>,
) -> Result<(), RuleViolation> {
    Err(RuleViolation::new(
        Code::Forbidden,
        format!("{} is not accepted yet", event.data.type_name()),
    ))
}
