//! Consents and the disclosures they allow (DESIGN §2.4 rules 3 and 4): granting and
//! withdrawing consent, sending inquiries, making referrals.

use chrono::{DateTime, Utc};

use super::{schema, transition};
use crate::domain::{
    AgencyId, ConsentGranted, ConsentId, ConsentPurpose, ConsentWithdrawn, InquirySent,
    ReferralMade,
};
use crate::ledger::cases::{CaseState, ConsentRecord, ConsentState};
use crate::ledger::rules::{Code, RuleViolation};
use crate::ledger::state::LedgerState;

/// `consent.granted`: a new consent id. A `valid_until` already past is a consent recorded
/// after it lapsed (a written one entered late): it is kept on record and allows nothing
/// (rules 3 and 4 find it expired, `consent_required`).
pub(super) fn grant(case: &CaseState, d: &ConsentGranted) -> Result<(), RuleViolation> {
    if case.consent(&d.consent_id).is_some() {
        return Err(schema(format!(
            "consent_id {} is already used in this case",
            d.consent_id
        )));
    }
    Ok(())
}

/// `consent.withdrawn`: an existing consent, withdrawn once. Expired consents may still be
/// withdrawn, so the person's wish is on record.
pub(super) fn withdraw(case: &CaseState, d: &ConsentWithdrawn) -> Result<(), RuleViolation> {
    match case.consent(&d.consent_id) {
        // Rule 8: a referenced consent that is unknown is `consent_required`.
        None => Err(RuleViolation::new(
            Code::ConsentRequired,
            format!(
                "consent {} is not in force: it was never granted in this case",
                d.consent_id
            ),
        )),
        Some(c) if c.withdrawal.is_some() => Err(transition(format!(
            "consent {} is already withdrawn",
            d.consent_id
        ))),
        Some(_) => Ok(()),
    }
}

/// Rule 3: `inquiry.sent` needs an inquiry consent in force that covers the agency.
pub(super) fn inquiry(
    state: &LedgerState,
    case: &CaseState,
    d: &InquirySent,
    at: DateTime<Utc>,
) -> Result<(), RuleViolation> {
    if case.inquiry(&d.inquiry_id).is_some() {
        return Err(schema(format!(
            "inquiry_id {} is already used in this case",
            d.inquiry_id
        )));
    }
    known_agency(state, &d.agency)?;
    let consent = in_force(case, &d.consent_id, at)?;
    purpose(consent, &d.consent_id, ConsentPurpose::Inquiry)?;
    if !consent.grant.recipients.covers(&d.agency) {
        return Err(scope(format!(
            "consent {} does not cover agency {}",
            d.consent_id, d.agency
        )));
    }
    Ok(())
}

/// Rule 4: `referral.made` needs a referral consent in force that names the agency
/// explicitly and allows every category of `data_shared`.
pub(super) fn referral(
    state: &LedgerState,
    case: &CaseState,
    d: &ReferralMade,
    at: DateTime<Utc>,
) -> Result<(), RuleViolation> {
    if case.referral(&d.referral_id).is_some() {
        return Err(schema(format!(
            "referral_id {} is already used in this case",
            d.referral_id
        )));
    }
    known_agency(state, &d.agency)?;
    if let Some(iq) = &d.inquiry_id {
        match case.inquiry(iq) {
            Some(i) if i.sent.agency == d.agency => {}
            Some(_) => {
                return Err(schema(format!(
                    "inquiry {iq} was addressed to another agency than {}",
                    d.agency
                )))
            }
            None => return Err(schema(format!("no inquiry {iq} in this case"))),
        }
    }
    let consent = in_force(case, &d.consent_id, at)?;
    purpose(consent, &d.consent_id, ConsentPurpose::Referral)?;
    if !consent.grant.recipients.names_explicitly(&d.agency) {
        return Err(scope(format!(
            "consent {} does not name agency {} explicitly, as a referral requires",
            d.consent_id, d.agency
        )));
    }
    let allowed = &consent.grant.data_categories;
    if let Some(extra) = d.data_shared.iter().find(|c| !allowed.contains(c)) {
        return Err(scope(format!(
            "consent {} does not allow sharing {extra}",
            d.consent_id
        )));
    }
    Ok(())
}

/// The consent exists and is in force at `at` (else `consent_required`).
fn in_force<'a>(
    case: &'a CaseState,
    id: &ConsentId,
    at: DateTime<Utc>,
) -> Result<&'a ConsentRecord, RuleViolation> {
    let required = |why: &str| {
        RuleViolation::new(
            Code::ConsentRequired,
            format!("consent {id} is not in force: {why}"),
        )
    };
    let consent = case
        .consent(id)
        .ok_or_else(|| required("it was never granted in this case"))?;
    match consent.state_at(u64::MAX, at) {
        ConsentState::Granted => Ok(consent),
        ConsentState::Withdrawn => Err(required("it was withdrawn")),
        ConsentState::Expired => Err(required(&format!(
            "it expired at {}",
            consent.grant.valid_until
        ))),
    }
}

fn purpose(c: &ConsentRecord, id: &ConsentId, p: ConsentPurpose) -> Result<(), RuleViolation> {
    if c.grant.purposes.contains(&p) {
        Ok(())
    } else {
        Err(scope(format!(
            "consent {id} does not allow the purpose {p}"
        )))
    }
}

fn known_agency(state: &LedgerState, id: &AgencyId) -> Result<(), RuleViolation> {
    if state.registry.agencies.contains_key(id) {
        Ok(())
    } else {
        Err(schema(format!("agency {id} is not a registered agency")))
    }
}

fn scope(message: String) -> RuleViolation {
    RuleViolation::new(Code::ConsentScope, message)
}
