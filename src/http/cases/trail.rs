//! The consent trail: each disclosure (inquiry or referral) beside the consent that allowed
//! it and that consent's state at that moment, the withdrawals, and every step of the case
//! with its signer, key and leaf index, so an auditor can check each against the log.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::view::{consent_view, ConsentView, StepView};
use crate::domain::{AgencyId, ConsentId, ConsentMethod, DataCategory};
use crate::ledger::cases::{CaseState, ConsentState};

#[derive(Serialize)]
pub(super) struct Trail<'a> {
    case_id: String,
    consents: Vec<ConsentView<'a>>,
    disclosures: Vec<Disclosure<'a>>,
    withdrawals: Vec<WithdrawalView<'a>>,
    steps: Vec<StepView<'a>>,
}

/// One disclosure and the consent it relied on.
#[derive(Serialize)]
struct Disclosure<'a> {
    kind: &'static str,
    id: &'a str,
    agency: &'a AgencyId,
    consent_id: &'a ConsentId,
    /// The consent's state just before the disclosure was recorded.
    consent_state_then: Option<ConsentState>,
    /// Where the consent was granted (leaf index), if it exists.
    consent_granted_index: Option<u64>,
    /// Referrals only: what was shared.
    #[serde(skip_serializing_if = "Option::is_none")]
    data_shared: Option<&'a [DataCategory]>,
    /// Referrals only: the consent was withdrawn after the referral.
    #[serde(skip_serializing_if = "Option::is_none")]
    consent_withdrawn_later: Option<bool>,
    step: StepView<'a>,
}

#[derive(Serialize)]
struct WithdrawalView<'a> {
    consent_id: &'a ConsentId,
    method: ConsentMethod,
    step: StepView<'a>,
    /// Disclosures made earlier under this consent; they stand, but their agencies
    /// should be told. Each with its kind: inquiry and referral ids are apart.
    earlier_disclosures: Vec<DisclosureRef<'a>>,
}

/// A disclosure named by its kind and id.
#[derive(Serialize)]
struct DisclosureRef<'a> {
    kind: &'static str,
    id: &'a str,
}

pub(super) fn trail(case: &CaseState, now: DateTime<Utc>) -> Trail<'_> {
    let then = |consent_id: &ConsentId, index: u64, at| {
        case.consent(consent_id)
            .map(|c| (c.state_at(index, at), case.steps[c.granted_step].index))
    };
    let mut disclosures = Vec::new();
    for (id, i) in &case.inquiries {
        let step = &case.steps[i.sent_step];
        let state = then(&i.sent.consent_id, step.index, step.recorded_at);
        disclosures.push(Disclosure {
            kind: "inquiry",
            id: id.as_str(),
            agency: &i.sent.agency,
            consent_id: &i.sent.consent_id,
            consent_state_then: state.map(|s| s.0),
            consent_granted_index: state.map(|s| s.1),
            data_shared: None,
            consent_withdrawn_later: None,
            step: StepView::of(step),
        });
    }
    for (id, r) in &case.referrals {
        let step = &case.steps[r.made_step];
        let state = then(&r.made.consent_id, step.index, step.recorded_at);
        disclosures.push(Disclosure {
            kind: "referral",
            id: id.as_str(),
            agency: &r.made.agency,
            consent_id: &r.made.consent_id,
            consent_state_then: state.map(|s| s.0),
            consent_granted_index: state.map(|s| s.1),
            data_shared: Some(&r.made.data_shared),
            consent_withdrawn_later: Some(r.made_under_withdrawn_consent),
            step: StepView::of(step),
        });
    }
    disclosures.sort_by_key(|d| d.step.index());
    Trail {
        case_id: case.id.to_string(),
        consents: case
            .consents
            .iter()
            .map(|(_, c)| consent_view(case, c, now))
            .collect(),
        withdrawals: withdrawals(case, &disclosures),
        disclosures,
        steps: case.steps.iter().map(StepView::of).collect(),
    }
}

fn withdrawals<'a>(case: &'a CaseState, disclosures: &[Disclosure<'a>]) -> Vec<WithdrawalView<'a>> {
    case.consents
        .iter()
        .filter_map(|(id, c)| {
            let w = c.withdrawal.as_ref()?;
            Some(WithdrawalView {
                consent_id: id,
                method: w.method,
                step: StepView::of(&case.steps[w.step]),
                earlier_disclosures: disclosures
                    .iter()
                    .filter(|d| d.consent_id == id && d.step.index() < Some(w.index))
                    .map(|d| DisclosureRef {
                        kind: d.kind,
                        id: d.id,
                    })
                    .collect(),
            })
        })
        .collect()
}
