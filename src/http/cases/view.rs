//! The JSON shapes of `GET /v1/cases/{case_id}`: the full view and the `addressed` view.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::{
    AgencyId, CaseOutcome, ConsentGranted, ConsentId, Domain, InquiryAnswered, InquirySent,
    PrincipalId, ReferralId, ReferralMade,
};
use crate::ledger::cases::{
    CaseState, CaseStatus, ConsentRecord, ConsentState, InquiryRecord, ReferralRecord,
    ReferralState, Step,
};
use crate::ledger::entry::format_time;

/// Where and by whom a step was recorded. The addressed view gives only what and when.
#[derive(Serialize)]
pub(super) struct StepView<'a> {
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    place: Option<Place<'a>>,
    recorded_at: String,
    #[serde(rename = "type")]
    event_type: &'a str,
}

/// Where in the log, and who signed: for the owner agency and auditors. Another agency
/// would learn from it who coordinates the case and, from the revisions, how many of the
/// case's events it is not shown.
#[derive(Serialize)]
struct Place<'a> {
    index: u64,
    revision: u64,
    actor: &'a PrincipalId,
    keyid: String,
}

impl<'a> StepView<'a> {
    /// The whole step.
    pub fn of(s: &'a Step) -> Self {
        Self {
            place: Some(Place {
                index: s.index,
                revision: s.revision,
                actor: &s.actor,
                keyid: s.keyid.to_string(),
            }),
            ..Self::addressed(s)
        }
    }

    /// The step's position in the log (the addressed view has none).
    pub fn index(&self) -> Option<u64> {
        self.place.as_ref().map(|p| p.index)
    }

    /// What happened and when, for the addressed view.
    fn addressed(s: &'a Step) -> Self {
        Self {
            place: None,
            recorded_at: format_time(&s.recorded_at),
            event_type: &s.event_type,
        }
    }
}

/// The full case view.
#[derive(Serialize)]
pub(super) struct CaseView<'a> {
    case_id: String,
    view: &'static str,
    status: CaseStatus,
    /// The outcome of the closing, while the case is closed (a reopened case has none).
    outcome: Option<CaseOutcome>,
    owner_agency: &'a AgencyId,
    coordinator: &'a PrincipalId,
    needs: &'a [Domain],
    minor: bool,
    opened: StepView<'a>,
    last: StepView<'a>,
    consents: Vec<ConsentView<'a>>,
    inquiries: Vec<InquiryView<'a>>,
    referrals: Vec<ReferralView<'a>>,
    flags: Vec<Flag<'a>>,
}

#[derive(Serialize)]
pub(super) struct ConsentView<'a> {
    /// The state now (`granted`, `withdrawn` or `expired`).
    state: ConsentState,
    #[serde(flatten)]
    grant: &'a ConsentGranted,
    granted: StepView<'a>,
    withdrawn: Option<StepView<'a>>,
}

#[derive(Serialize)]
pub(super) struct InquiryView<'a> {
    #[serde(flatten)]
    sent: &'a InquirySent,
    sent_step: StepView<'a>,
    answer: Option<AnswerView<'a>>,
}

#[derive(Serialize)]
struct AnswerView<'a> {
    #[serde(flatten)]
    data: &'a InquiryAnswered,
    step: StepView<'a>,
}

#[derive(Serialize)]
pub(super) struct ReferralView<'a> {
    #[serde(flatten)]
    made: &'a ReferralMade,
    state: ReferralState,
    made_step: StepView<'a>,
    /// Every lifecycle step after `made`, in order, with its reason or outcome code.
    history: Vec<TransitionView<'a>>,
    services_started: &'a [Domain],
    /// Full view only: the addressed view shows no consents and no flags.
    #[serde(skip_serializing_if = "Option::is_none")]
    made_under_withdrawn_consent: Option<bool>,
}

#[derive(Serialize)]
struct TransitionView<'a> {
    state: ReferralState,
    code: Option<&'a str>,
    recorded_for: Option<&'a AgencyId>,
    step: StepView<'a>,
}

/// Something the coordinator should act on.
#[derive(Serialize)]
struct Flag<'a> {
    flag: &'static str,
    referral_id: &'a ReferralId,
    agency: &'a AgencyId,
    consent_id: &'a ConsentId,
}

pub(super) fn consent_view<'a>(
    case: &'a CaseState,
    c: &'a ConsentRecord,
    now: DateTime<Utc>,
) -> ConsentView<'a> {
    ConsentView {
        state: c.state_at(u64::MAX, now),
        grant: &c.grant,
        granted: StepView::of(&case.steps[c.granted_step]),
        withdrawn: c
            .withdrawal
            .as_ref()
            .map(|w| StepView::of(&case.steps[w.step])),
    }
}

/// How a view shows a step: [`StepView::of`] or [`StepView::addressed`].
type Steps<'a> = fn(&'a Step) -> StepView<'a>;

fn inquiry_view<'a>(case: &'a CaseState, i: &'a InquiryRecord, step: Steps<'a>) -> InquiryView<'a> {
    InquiryView {
        sent: &i.sent,
        sent_step: step(&case.steps[i.sent_step]),
        answer: i.answer.as_ref().map(|a| AnswerView {
            data: &a.data,
            step: step(&case.steps[a.step]),
        }),
    }
}

fn referral_view<'a>(
    case: &'a CaseState,
    r: &'a ReferralRecord,
    step: Steps<'a>,
) -> ReferralView<'a> {
    ReferralView {
        made: &r.made,
        state: r.state,
        made_step: step(&case.steps[r.made_step]),
        history: r
            .transitions
            .iter()
            .map(|t| TransitionView {
                state: t.state,
                code: t.code.as_deref(),
                recorded_for: t.recorded_for.as_ref(),
                step: step(&case.steps[t.step]),
            })
            .collect(),
        services_started: &r.services_started,
        made_under_withdrawn_consent: Some(r.made_under_withdrawn_consent),
    }
}

/// Everything, for auditors and the owner agency.
pub(super) fn full(case: &CaseState, now: DateTime<Utc>) -> CaseView<'_> {
    let flags = case
        .referrals
        .iter()
        .filter(|(_, r)| r.made_under_withdrawn_consent)
        .map(|(id, r)| Flag {
            flag: "referral_made_under_withdrawn_consent",
            referral_id: id,
            agency: &r.made.agency,
            consent_id: &r.made.consent_id,
        })
        .collect();
    CaseView {
        case_id: case.id.to_string(),
        view: "full",
        status: case.status,
        outcome: case.outcome.filter(|_| case.status == CaseStatus::Closed),
        owner_agency: &case.owner_agency,
        coordinator: &case.coordinator,
        needs: &case.needs,
        minor: case.minor,
        opened: StepView::of(&case.steps[0]),
        last: StepView::of(&case.steps[case.steps.len() - 1]),
        consents: case
            .consents
            .iter()
            .map(|(_, c)| consent_view(case, c, now))
            .collect(),
        inquiries: case
            .inquiries
            .iter()
            .map(|(_, i)| inquiry_view(case, i, StepView::of))
            .collect(),
        referrals: case
            .referrals
            .iter()
            .map(|(_, r)| referral_view(case, r, StepView::of))
            .collect(),
        flags,
    }
}

/// What another agency may see: the owner agency it deals with, and only the inquiries and
/// referrals addressed to it, each step with its type and time only. No status, coordinator
/// (not even as a step's signer), needs, minor flag, consents, log positions or revisions
/// (which would count the events it is not shown), or anything addressed to other agencies.
#[derive(Serialize)]
pub(super) struct AddressedView<'a> {
    case_id: String,
    view: &'static str,
    owner_agency: &'a AgencyId,
    agency: &'a AgencyId,
    inquiries: Vec<InquiryView<'a>>,
    referrals: Vec<ReferralView<'a>>,
}

pub(super) fn addressed<'a>(case: &'a CaseState, agency: &'a AgencyId) -> AddressedView<'a> {
    AddressedView {
        case_id: case.id.to_string(),
        view: "addressed",
        owner_agency: &case.owner_agency,
        agency,
        inquiries: case
            .inquiries
            .iter()
            .filter(|(_, i)| i.sent.agency == *agency)
            .map(|(_, i)| inquiry_view(case, i, StepView::addressed))
            .collect(),
        referrals: case
            .referrals
            .iter()
            .filter(|(_, r)| r.made.agency == *agency)
            .map(|(_, r)| ReferralView {
                made_under_withdrawn_consent: None,
                ..referral_view(case, r, StepView::addressed)
            })
            .collect(),
    }
}
