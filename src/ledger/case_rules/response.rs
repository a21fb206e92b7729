//! Answers and referral responses (DESIGN §2.4 rules 1 and 5): who may write them (the
//! addressed agency, or the coordinator recording for it), and the referral lifecycle.

use super::{coordinator, forbidden, schema, transition};
use crate::domain::{AgencyId, EventData, InquiryAnswered, Role};
use crate::ledger::cases::{CaseState, ReferralState};
use crate::ledger::registry::PrincipalRecord;
use crate::ledger::rules::RuleViolation;

/// An event by staff of an agency the case addressed (not its owner): only a response, to
/// an inquiry or referral addressed to that agency, while the case is open. Nothing in a
/// refusal depends on what else the case holds.
pub(super) fn from_addressed(
    case: &CaseState,
    actor: &PrincipalRecord,
    data: &EventData,
) -> Result<(), RuleViolation> {
    let what = data.type_name();
    let response = matches!(
        data,
        EventData::InquiryAnswered(_)
            | EventData::ReferralAccepted(_)
            | EventData::ReferralDeclined(_)
            | EventData::ReferralServicesStarted(_)
            | EventData::ReferralClosed(_)
    );
    if !response {
        return Err(forbidden(format!(
            "only the owner agency's staff may write {what}"
        )));
    }
    if !case.is_open() {
        return Err(transition(format!("the case takes no {what} now")));
    }
    match data {
        EventData::InquiryAnswered(d) => answer(case, actor, d),
        _ => referral_step(case, actor, data),
    }
}

/// What a writer outside the owner agency may see of the case's items: those addressed to
/// its own agency. The owner agency's staff see all of them.
fn visible(case: &CaseState, actor: &PrincipalRecord, addressed: &AgencyId) -> bool {
    actor.agency == case.owner_agency || actor.agency == *addressed
}

/// The refusal for an id that is unknown, or (to a writer outside the owner agency) not
/// addressed to its agency: the two read the same.
fn missing(case: &CaseState, actor: &PrincipalRecord, what: &str, id: &str) -> RuleViolation {
    if actor.agency == case.owner_agency {
        transition(format!("no {what} {id} in this case"))
    } else {
        transition(format!(
            "no {what} {id} addressed to {} in this case",
            actor.agency
        ))
    }
}

/// `inquiry.answered`: an existing inquiry, answered once, by or for the asked agency.
pub(super) fn answer(
    case: &CaseState,
    actor: &PrincipalRecord,
    d: &InquiryAnswered,
) -> Result<(), RuleViolation> {
    let inquiry = case
        .inquiry(&d.inquiry_id)
        .filter(|i| visible(case, actor, &i.sent.agency))
        .ok_or_else(|| missing(case, actor, "inquiry", d.inquiry_id.as_str()))?;
    for_agency(case, actor, &inquiry.sent.agency, &d.recorded_for, false)?;
    if inquiry.answer.is_some() {
        return Err(transition(format!(
            "inquiry {} is already answered",
            d.inquiry_id
        )));
    }
    Ok(())
}

/// A referral lifecycle step after `made`.
pub(super) fn referral_step(
    case: &CaseState,
    actor: &PrincipalRecord,
    data: &EventData,
) -> Result<(), RuleViolation> {
    let (id, next, recorded_for) = match data {
        EventData::ReferralAccepted(d) => {
            (&d.referral_id, ReferralState::Accepted, &d.recorded_for)
        }
        EventData::ReferralDeclined(d) => {
            (&d.referral_id, ReferralState::Declined, &d.recorded_for)
        }
        EventData::ReferralServicesStarted(d) => (
            &d.referral_id,
            ReferralState::ServicesStarted,
            &d.recorded_for,
        ),
        EventData::ReferralClosed(d) => (&d.referral_id, ReferralState::Closed, &d.recorded_for),
        EventData::ReferralWithdrawn(d) => (&d.referral_id, ReferralState::Withdrawn, &None),
        other => {
            return Err(schema(format!(
                "{} does not belong in a case stream",
                other.type_name()
            )))
        }
    };
    let referral = case
        .referral(id)
        .filter(|r| visible(case, actor, &r.made.agency))
        .ok_or_else(|| missing(case, actor, "referral", id.as_str()))?;
    match next {
        ReferralState::Withdrawn => coordinator(case, actor, data.type_name())?,
        // The agency or the coordinator closes; the coordinator needs no `recorded_for`.
        ReferralState::Closed => {
            for_agency(case, actor, &referral.made.agency, recorded_for, true)?
        }
        _ => for_agency(case, actor, &referral.made.agency, recorded_for, false)?,
    }
    if !referral.state.can_become(next) {
        return Err(transition(format!(
            "referral {id} is {}; it cannot become {}",
            referral.state.as_str(),
            next.as_str()
        )));
    }
    Ok(())
}

/// The actor writes for `addressed`: as a caseworker or supervisor of it, or as the case's
/// coordinator with `recorded_for` naming it (optional when `coordinator_may_act`).
fn for_agency(
    case: &CaseState,
    actor: &PrincipalRecord,
    addressed: &AgencyId,
    recorded_for: &Option<AgencyId>,
    coordinator_may_act: bool,
) -> Result<(), RuleViolation> {
    if let Some(named) = recorded_for {
        if named != addressed {
            return Err(schema(format!(
                "recorded_for names {named}, but this was addressed to {addressed}"
            )));
        }
    }
    let staff =
        actor.agency == *addressed && (actor.has(Role::Caseworker) || actor.has(Role::Supervisor));
    if staff {
        return Ok(());
    }
    let is_coordinator = actor.id == case.coordinator && actor.agency == case.owner_agency;
    if is_coordinator && (recorded_for.is_some() || coordinator_may_act) {
        return Ok(());
    }
    Err(forbidden(format!(
        "only {addressed}, or the coordinator recording for it with recorded_for, may write this"
    )))
}
