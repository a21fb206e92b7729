//! `data` of the `inquiry.*` events (stream `case-<uuid>`): asking an agency, without saying
//! who the person is, whether it can help, and recording its answer.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::bounded::{present, BoundedSet, List};
use super::ids::{AgencyId, ConsentId, InquiryId, Language};
use super::values::{Adaptation, Ask, Criterion, Domain, Tristate};

/// `inquiry.sent`: the coordinator asks an agency, under a consent with purpose `inquiry`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InquirySent {
    /// Case-local id of this inquiry.
    pub inquiry_id: InquiryId,
    /// The agency asked.
    pub agency: AgencyId,
    /// The consent that allows asking.
    pub consent_id: ConsentId,
    /// The questions, 1 to 5, no repeats.
    pub asks: BoundedSet<Ask, 1, 5>,
    /// The services asked about, 1 to 7, no repeats.
    pub domains: BoundedSet<Domain, 1, 7>,
    /// The language the person needs, if not the agency's usual one.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    #[schemars(with = "Language")]
    pub language_needed: Option<Language>,
    /// Cultural adaptations the person needs.
    pub cultural_needs: List<Adaptation>,
}

/// `inquiry.answered`: the asked agency's answer, written by it or recorded by the coordinator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InquiryAnswered {
    /// The inquiry answered.
    pub inquiry_id: InquiryId,
    /// Whether the agency can help.
    pub can_help: Tristate,
    /// Whether the agency has worked with survivors of trafficking.
    pub trafficking_experience: bool,
    /// Services the agency can provide.
    pub services_available: List<Domain>,
    /// Whether it can adapt culturally as asked.
    pub cultural_adaptation: bool,
    /// Languages it can interpret.
    pub interpretation_languages: List<Language>,
    /// Whether the person is eligible.
    pub eligible: Tristate,
    /// Criteria the person does not meet.
    pub unmet_criteria: List<Criterion>,
    /// Whether the coordinator offered help or training because the agency lacks trafficking
    /// experience.
    pub support_offered: bool,
    /// The answering agency, when the coordinator records the answer on its behalf.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    #[schemars(with = "AgencyId")]
    pub recorded_for: Option<AgencyId>,
}
