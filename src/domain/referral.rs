//! `data` of the `referral.*` events (stream `case-<uuid>`): a referral's lifecycle
//! `made → accepted | declined | withdrawn → services_started → closed` (DESIGN §2.4.5).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::bounded::{present, BoundedSet, List};
use super::ids::{AgencyId, ConsentId, InquiryId, ReferralId};
use super::values::{DataCategory, DeclineReason, Domain, ReferralOutcome, ReferralWithdrawReason};

/// `referral.made`: the person is referred to an agency, under a consent with purpose
/// `referral` that names the agency and covers `data_shared`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferralMade {
    /// Case-local id of this referral.
    pub referral_id: ReferralId,
    /// The agency referred to.
    pub agency: AgencyId,
    /// The consent that allows the referral.
    pub consent_id: ConsentId,
    /// Services requested, 1 to 7, no repeats.
    pub domains: BoundedSet<Domain, 1, 7>,
    /// What was shared with the agency.
    pub data_shared: List<DataCategory>,
    /// The inquiry that preceded the referral, if any.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    #[schemars(with = "InquiryId")]
    pub inquiry_id: Option<InquiryId>,
}

/// `referral.accepted`: the agency takes the referral.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferralAccepted {
    /// The referral.
    pub referral_id: ReferralId,
    /// The agency, when the coordinator records on its behalf.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    #[schemars(with = "AgencyId")]
    pub recorded_for: Option<AgencyId>,
}

/// `referral.declined`: the agency cannot take the referral.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferralDeclined {
    /// The referral.
    pub referral_id: ReferralId,
    /// Why.
    pub reason: DeclineReason,
    /// The agency, when the coordinator records on its behalf.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    #[schemars(with = "AgencyId")]
    pub recorded_for: Option<AgencyId>,
}

/// `referral.services_started`: the agency started providing services.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferralServicesStarted {
    /// The referral.
    pub referral_id: ReferralId,
    /// Services started, 1 to 7, no repeats.
    pub domains: BoundedSet<Domain, 1, 7>,
    /// The agency, when the coordinator records on its behalf.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    #[schemars(with = "AgencyId")]
    pub recorded_for: Option<AgencyId>,
}

/// `referral.withdrawn`: the coordinator calls the referral off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferralWithdrawn {
    /// The referral.
    pub referral_id: ReferralId,
    /// Why.
    pub reason: ReferralWithdrawReason,
}

/// `referral.closed`: the referral ends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferralClosed {
    /// The referral.
    pub referral_id: ReferralId,
    /// How it ended.
    pub outcome: ReferralOutcome,
    /// The agency, when the coordinator records on its behalf.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    #[schemars(with = "AgencyId")]
    pub recorded_for: Option<AgencyId>,
}
