//! The per-case state the fold builds: status, people, needs, consents with their history,
//! inquiries with their answers, referrals with their lifecycle, and every step's signer.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{
    AgencyId, CaseId, CaseOutcome, ConsentGranted, ConsentId, ConsentMethod, Domain,
    InquiryAnswered, InquiryId, InquirySent, KeyId, PrincipalId, ReferralId, ReferralMade,
};

/// Whether a case takes new events (`open`) or only `case.reopened` (`closed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    Open,
    Closed,
}

/// One accepted case event: who signed it, with which key, where it sits in the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Leaf index in the global log.
    pub index: u64,
    /// Revision within the case stream.
    pub revision: u64,
    pub recorded_at: DateTime<Utc>,
    /// The event `type`: one of the static names when folded, owned when read back from a
    /// snapshot. Borrowed, so a replay allocates nothing for it.
    pub event_type: Cow<'static, str>,
    /// The signing principal.
    pub actor: PrincipalId,
    /// The key that signed it.
    pub keyid: KeyId,
}

/// Where a consent stood at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentState {
    /// Granted, not withdrawn, not past `valid_until`.
    Granted,
    /// Withdrawn by the person.
    Withdrawn,
    /// Past `valid_until`.
    Expired,
}

/// A consent and its history in the case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsentRecord {
    pub grant: ConsentGranted,
    /// Position of the `consent.granted` step in [`CaseState::steps`].
    pub granted_step: usize,
    /// The withdrawal, if any.
    pub withdrawal: Option<Withdrawal>,
}

/// A `consent.withdrawn` step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Withdrawal {
    pub step: usize,
    pub index: u64,
    pub method: ConsentMethod,
}

impl ConsentRecord {
    /// The consent's state just before log entry `index`, recorded at `at`. Expiry is
    /// strict: a consent is in force up to and including `valid_until`.
    pub fn state_at(&self, index: u64, at: DateTime<Utc>) -> ConsentState {
        match &self.withdrawal {
            Some(w) if w.index < index => ConsentState::Withdrawn,
            _ if at > self.grant.valid_until => ConsentState::Expired,
            _ => ConsentState::Granted,
        }
    }

    /// Whether new disclosures may rely on it at `at` (rules 3 and 4).
    pub fn in_force(&self, at: DateTime<Utc>) -> bool {
        self.state_at(u64::MAX, at) == ConsentState::Granted
    }
}

/// An inquiry and its answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InquiryRecord {
    pub sent: InquirySent,
    pub sent_step: usize,
    pub answer: Option<Answer>,
}

/// An `inquiry.answered` step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub data: InquiryAnswered,
    pub step: usize,
}

/// The referral lifecycle of DESIGN §2.4 rule 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferralState {
    Made,
    Accepted,
    Declined,
    Withdrawn,
    ServicesStarted,
    Closed,
}

impl ReferralState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Made => "made",
            Self::Accepted => "accepted",
            Self::Declined => "declined",
            Self::Withdrawn => "withdrawn",
            Self::ServicesStarted => "services_started",
            Self::Closed => "closed",
        }
    }

    /// Whether the lifecycle allows moving from `self` to `next`.
    pub fn can_become(self, next: ReferralState) -> bool {
        use ReferralState::*;
        matches!(
            (self, next),
            (Made, Accepted | Declined | Withdrawn)
                | (Accepted, ServicesStarted | Closed | Withdrawn)
                | (ServicesStarted, Closed)
        )
    }
}

/// One lifecycle step of a referral after `made`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub state: ReferralState,
    pub step: usize,
    /// The coded reason or outcome, when the event carries one.
    pub code: Option<String>,
    /// The agency the coordinator recorded it for, if so.
    pub recorded_for: Option<AgencyId>,
}

/// A referral and its lifecycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferralRecord {
    pub made: ReferralMade,
    pub made_step: usize,
    pub state: ReferralState,
    pub transitions: Vec<Transition>,
    /// Services the agency reported started.
    pub services_started: Vec<Domain>,
    /// The consent it was made under was withdrawn afterwards: the agency should be told.
    pub made_under_withdrawn_consent: bool,
}

/// One case as the log establishes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseState {
    pub id: CaseId,
    pub status: CaseStatus,
    pub owner_agency: AgencyId,
    pub coordinator: PrincipalId,
    pub needs: Vec<Domain>,
    pub minor: bool,
    /// The outcome of the latest `case.closed`.
    pub outcome: Option<CaseOutcome>,
    /// In the order granted.
    pub consents: Vec<(ConsentId, ConsentRecord)>,
    /// In the order sent.
    pub inquiries: Vec<(InquiryId, InquiryRecord)>,
    /// In the order made.
    pub referrals: Vec<(ReferralId, ReferralRecord)>,
    /// Every accepted event of the case, in log order.
    pub steps: Vec<Step>,
}

impl CaseState {
    /// A consent by id.
    pub fn consent(&self, id: &ConsentId) -> Option<&ConsentRecord> {
        self.consents.iter().find(|(c, _)| c == id).map(|(_, r)| r)
    }

    /// An inquiry by id.
    pub fn inquiry(&self, id: &InquiryId) -> Option<&InquiryRecord> {
        self.inquiries.iter().find(|(c, _)| c == id).map(|(_, r)| r)
    }

    /// A referral by id.
    pub fn referral(&self, id: &ReferralId) -> Option<&ReferralRecord> {
        self.referrals.iter().find(|(c, _)| c == id).map(|(_, r)| r)
    }

    pub(super) fn referral_mut(&mut self, id: &ReferralId) -> Option<&mut ReferralRecord> {
        self.referrals
            .iter_mut()
            .find(|(c, _)| c == id)
            .map(|(_, r)| r)
    }

    /// Whether an inquiry or a referral of the case is addressed to `agency`.
    pub fn addresses(&self, agency: &AgencyId) -> bool {
        self.inquiries.iter().any(|(_, i)| i.sent.agency == *agency)
            || self.referrals.iter().any(|(_, r)| r.made.agency == *agency)
    }

    /// Whether the case takes events other than `case.reopened`.
    pub fn is_open(&self) -> bool {
        self.status == CaseStatus::Open
    }
}
