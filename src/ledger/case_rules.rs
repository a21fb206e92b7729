//! Case-stream rules of DESIGN §2.4: the role and agency part of rule 1 for case events, the
//! open-case rule 2, the consent rules 3 and 4, and the referral lifecycle rule 5. Pure: the
//! state, the event and its `recorded_at` in, a verdict out. The identity part of rule 1 (key
//! and actor active) has already run in `rules::check_signer`.

mod disclosure;
mod response;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};

use super::cases::CaseState;
use super::registry::PrincipalRecord;
use super::rules::{Code, RuleViolation};
use super::state::LedgerState;
use crate::domain::{AgencyId, CaseOpened, EventData, EventPayload, PrincipalId, Role, StreamId};

/// Decides a case-stream event.
///
/// A refusal tells the writer nothing it could not read (DESIGN §4 scoping): roles are
/// checked before the case is looked at; an agency with no part in an existing case gets one
/// fixed answer whatever the case holds; an agency the case only addressed is told about its
/// own inquiries and referrals, never the case's status, coordinator or other agencies' items.
/// Only the owner agency's staff get the precise reasons. A case that does not exist is
/// reported as not opened (rule 2): its id is a random UUID, and nothing else leaks with it.
pub fn decide(
    state: &LedgerState,
    event: &EventPayload,
    recorded_at: DateTime<Utc>,
) -> Result<(), RuleViolation> {
    let StreamId::Case(id) = &event.stream else {
        return Err(RuleViolation::new(
            Code::StreamMismatch,
            "case rules apply to case streams only",
        ));
    };
    let actor = principal(state, &event.actor)?;
    if !actor.has(Role::Caseworker) && !actor.has(Role::Supervisor) {
        return Err(forbidden(format!(
            "only caseworkers and supervisors write case events, not {}",
            event.actor
        )));
    }
    let case = state.cases.get(id);
    if let Some(case) = case {
        if actor.agency != case.owner_agency && !case.addresses(&actor.agency) {
            return Err(forbidden(format!(
                "{} has no part in case {id}",
                actor.agency
            )));
        }
    }
    if let EventData::CaseOpened(d) = &event.data {
        return match case {
            Some(_) => Err(transition(format!("case {id} is already opened"))),
            None => opened(state, actor, d),
        };
    }
    let case = case.ok_or_else(|| {
        transition(format!(
            "case {id} is not opened: case.opened must come first"
        ))
    })?;
    if actor.agency != case.owner_agency {
        return response::from_addressed(case, actor, &event.data);
    }
    match (&event.data, case.is_open()) {
        (EventData::CaseReopened(_), true) => {
            return Err(transition(format!("case {id} is already open")))
        }
        (EventData::CaseReopened(_), false) => {}
        (other, false) => {
            return Err(transition(format!(
                "case {id} is closed: only case.reopened may follow, not {}",
                other.type_name()
            )))
        }
        _ => {}
    }
    dispatch(state, case, actor, event, recorded_at)
}

fn dispatch(
    state: &LedgerState,
    case: &CaseState,
    actor: &PrincipalRecord,
    event: &EventPayload,
    at: DateTime<Utc>,
) -> Result<(), RuleViolation> {
    let what = event.data.type_name();
    match &event.data {
        EventData::CaseCoordinatorAssigned(d) => {
            owner_staff(case, actor, &[Role::Caseworker, Role::Supervisor], what)?;
            eligible_coordinator(state, &case.owner_agency, &d.coordinator)
        }
        EventData::CaseNeedsAssessed(_) | EventData::CaseClosed(_) | EventData::CaseReopened(_) => {
            coordinator(case, actor, what)
        }
        EventData::ConsentGranted(d) => {
            coordinator(case, actor, what)?;
            disclosure::grant(case, d)
        }
        EventData::ConsentWithdrawn(d) => {
            coordinator(case, actor, what)?;
            disclosure::withdraw(case, d)
        }
        EventData::InquirySent(d) => {
            coordinator(case, actor, what)?;
            disclosure::inquiry(state, case, d, at)
        }
        EventData::ReferralMade(d) => {
            coordinator(case, actor, what)?;
            disclosure::referral(state, case, d, at)
        }
        EventData::InquiryAnswered(d) => response::answer(case, actor, d),
        _ => response::referral_step(case, actor, &event.data),
    }
}

/// `case.opened`: a caseworker of the owner agency opens it, naming an eligible coordinator.
fn opened(
    state: &LedgerState,
    actor: &PrincipalRecord,
    d: &CaseOpened,
) -> Result<(), RuleViolation> {
    if !actor.has(Role::Caseworker) || actor.agency != d.owner_agency {
        return Err(forbidden(format!(
            "only a caseworker of {} may open a case it owns",
            d.owner_agency
        )));
    }
    if !state.registry.agencies.contains_key(&d.owner_agency) {
        return Err(schema(format!(
            "owner_agency {} is not a registered agency",
            d.owner_agency
        )));
    }
    eligible_coordinator(state, &d.owner_agency, &d.coordinator)
}

/// A coordinator is an active caseworker of the owner agency.
fn eligible_coordinator(
    state: &LedgerState,
    owner: &AgencyId,
    id: &PrincipalId,
) -> Result<(), RuleViolation> {
    match state.registry.principals.get(id) {
        Some(p) if p.active && p.agency == *owner && p.has(Role::Caseworker) => Ok(()),
        _ => Err(schema(format!(
            "coordinator {id} is not an active caseworker of {owner}"
        ))),
    }
}

/// The actor is the case's coordinator (who is, by construction, of the owner agency).
pub(super) fn coordinator(
    case: &CaseState,
    actor: &PrincipalRecord,
    what: &str,
) -> Result<(), RuleViolation> {
    if actor.id == case.coordinator && actor.agency == case.owner_agency {
        Ok(())
    } else {
        Err(forbidden(format!(
            "only the case's coordinator ({}) may write {what}",
            case.coordinator
        )))
    }
}

/// The actor is of the owner agency and holds one of `roles`.
fn owner_staff(
    case: &CaseState,
    actor: &PrincipalRecord,
    roles: &[Role],
    what: &str,
) -> Result<(), RuleViolation> {
    if actor.agency == case.owner_agency && roles.iter().any(|r| actor.has(*r)) {
        Ok(())
    } else {
        Err(forbidden(format!(
            "only a caseworker or supervisor of {} may write {what}",
            case.owner_agency
        )))
    }
}

fn principal<'a>(
    state: &'a LedgerState,
    id: &PrincipalId,
) -> Result<&'a PrincipalRecord, RuleViolation> {
    state
        .registry
        .principals
        .get(id)
        .ok_or_else(|| forbidden(format!("actor {id} is not registered")))
}

pub(super) fn transition(message: String) -> RuleViolation {
    RuleViolation::new(Code::InvalidTransition, message)
}

pub(super) fn forbidden(message: String) -> RuleViolation {
    RuleViolation::new(Code::Forbidden, message)
}

pub(super) fn schema(message: String) -> RuleViolation {
    RuleViolation::new(Code::SchemaViolation, message)
}
