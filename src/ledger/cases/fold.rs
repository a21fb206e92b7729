//! `apply` for each case event type. Lookups that miss (which `decide` prevents) are
//! ignored rather than panicking, so replaying any accepted log is total.

use std::collections::HashMap;

use super::model::{
    Answer, CaseState, CaseStatus, ConsentRecord, InquiryRecord, ReferralRecord, ReferralState,
    Step, Transition, Withdrawal,
};
use crate::domain::{AgencyId, CaseId, EventData, ReferralId};
use crate::ledger::state::Applied;

/// Folds one accepted case event into `cases`.
pub(super) fn apply(cases: &mut HashMap<CaseId, CaseState>, id: CaseId, a: &Applied<'_>) {
    let step = Step {
        index: a.index,
        revision: a.revision,
        recorded_at: a.recorded_at,
        event_type: a.event.data.type_name().into(),
        actor: a.event.actor.clone(),
        keyid: a.keyid.clone(),
    };
    if let EventData::CaseOpened(d) = &a.event.data {
        if cases.contains_key(&id) {
            return;
        }
        cases.insert(
            id,
            CaseState {
                id,
                status: CaseStatus::Open,
                owner_agency: d.owner_agency.clone(),
                coordinator: d.coordinator.clone(),
                needs: d.needs.to_vec(),
                minor: d.minor,
                outcome: None,
                consents: Vec::new(),
                inquiries: Vec::new(),
                referrals: Vec::new(),
                steps: vec![step],
            },
        );
        return;
    }
    let Some(case) = cases.get_mut(&id) else {
        return;
    };
    let pos = case.steps.len();
    case.steps.push(step);
    apply_to(case, pos, a);
}

fn apply_to(case: &mut CaseState, pos: usize, a: &Applied<'_>) {
    match &a.event.data {
        EventData::CaseCoordinatorAssigned(d) => case.coordinator = d.coordinator.clone(),
        EventData::CaseNeedsAssessed(d) => case.needs = d.needs.to_vec(),
        EventData::CaseClosed(d) => {
            case.status = CaseStatus::Closed;
            case.outcome = Some(d.outcome);
        }
        EventData::CaseReopened(_) => case.status = CaseStatus::Open,
        EventData::ConsentGranted(d) => case.consents.push((
            d.consent_id.clone(),
            ConsentRecord {
                grant: d.clone(),
                granted_step: pos,
                withdrawal: None,
            },
        )),
        EventData::ConsentWithdrawn(d) => {
            if let Some((_, c)) = case.consents.iter_mut().find(|(c, _)| *c == d.consent_id) {
                c.withdrawal.get_or_insert(Withdrawal {
                    step: pos,
                    index: a.index,
                    method: d.method,
                });
            }
            for (_, r) in case.referrals.iter_mut() {
                if r.made.consent_id == d.consent_id {
                    r.made_under_withdrawn_consent = true;
                }
            }
        }
        EventData::InquirySent(d) => case.inquiries.push((
            d.inquiry_id.clone(),
            InquiryRecord {
                sent: d.clone(),
                sent_step: pos,
                answer: None,
            },
        )),
        EventData::InquiryAnswered(d) => {
            if let Some((_, i)) = case.inquiries.iter_mut().find(|(i, _)| *i == d.inquiry_id) {
                i.answer.get_or_insert(Answer {
                    data: d.clone(),
                    step: pos,
                });
            }
        }
        EventData::ReferralMade(d) => case.referrals.push((
            d.referral_id.clone(),
            ReferralRecord {
                made: d.clone(),
                made_step: pos,
                state: ReferralState::Made,
                transitions: Vec::new(),
                services_started: Vec::new(),
                made_under_withdrawn_consent: false,
            },
        )),
        _ => apply_response(case, pos, &a.event.data),
    }
}

/// Referral lifecycle steps after `made`.
fn apply_response(case: &mut CaseState, pos: usize, data: &EventData) {
    let (id, state, code, recorded_for): (&ReferralId, _, Option<&str>, &Option<AgencyId>) =
        match data {
            EventData::ReferralAccepted(d) => (
                &d.referral_id,
                ReferralState::Accepted,
                None,
                &d.recorded_for,
            ),
            EventData::ReferralDeclined(d) => (
                &d.referral_id,
                ReferralState::Declined,
                Some(d.reason.as_str()),
                &d.recorded_for,
            ),
            EventData::ReferralServicesStarted(d) => (
                &d.referral_id,
                ReferralState::ServicesStarted,
                None,
                &d.recorded_for,
            ),
            EventData::ReferralWithdrawn(d) => (
                &d.referral_id,
                ReferralState::Withdrawn,
                Some(d.reason.as_str()),
                &None,
            ),
            EventData::ReferralClosed(d) => (
                &d.referral_id,
                ReferralState::Closed,
                Some(d.outcome.as_str()),
                &d.recorded_for,
            ),
            _ => return,
        };
    let Some(r) = case.referral_mut(id) else {
        return;
    };
    if let EventData::ReferralServicesStarted(d) = data {
        r.services_started = d.domains.to_vec();
    }
    r.state = state;
    r.transitions.push(Transition {
        state,
        step: pos,
        code: code.map(str::to_owned),
        recorded_for: recorded_for.clone(),
    });
}
