//! `data` of `agency.registered` and `agency.updated` (stream `agency-<slug>`): the directory
//! entry the caseworker consults before asking an agency for help.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::bounded::{BoundedSet, BoundedString, List};
use super::ids::Language;
use super::values::{Adaptation, Criterion, Domain};

/// An agency's directory profile; `agency.updated` carries the whole profile again, not a diff.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgencyData {
    /// Display name of the agency, 1 to 120 characters.
    pub name: BoundedString<1, 120>,
    /// Region served, 1 to 60 characters.
    pub region: BoundedString<1, 60>,
    /// Service domains offered, 1 to 7, no repeats.
    pub domains: BoundedSet<Domain, 1, 7>,
    /// Languages staff speak.
    pub languages: List<Language>,
    /// Whether the agency provides interpretation.
    pub interpretation: bool,
    /// Cultural adaptations offered.
    pub cultural_adaptations: List<Adaptation>,
    /// Whether the agency has worked with survivors of trafficking.
    pub trafficking_experience: bool,
    /// Who the agency can serve.
    #[serde(deserialize_with = "super::bounded::object_only")]
    pub eligibility: Eligibility,
}

/// An agency's eligibility rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Eligibility {
    /// Criteria applied.
    pub criteria: List<Criterion>,
    /// Notes about the agency's rules (0 to 280 characters), never about a person.
    pub notes: BoundedString<0, 280>,
}
