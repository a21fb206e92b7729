//! `data` of the `case.*` events (stream `case-<uuid>`): a case's life and the needs it tracks.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::bounded::{BoundedSet, List};
use super::ids::{AgencyId, PrincipalId};
use super::values::{CaseOutcome, Domain, ReopenReason};

/// `case.opened`: a case starts, owned by one agency and coordinated by one caseworker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseOpened {
    /// The agency that owns the case.
    pub owner_agency: AgencyId,
    /// The coordinating caseworker.
    pub coordinator: PrincipalId,
    /// Initial needs, 1 to 7, no repeats.
    pub needs: BoundedSet<Domain, 1, 7>,
    /// Whether the person is a minor (changes which agencies are eligible).
    pub minor: bool,
}

/// `case.coordinator_assigned`: another caseworker takes over coordination.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseCoordinatorAssigned {
    /// The new coordinator.
    pub coordinator: PrincipalId,
}

/// `case.needs_assessed`: the full current list of needs (replaces the previous one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseNeedsAssessed {
    /// Current needs; may be empty, no repeats.
    pub needs: List<Domain>,
}

/// `case.closed`: the case ends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseClosed {
    /// How it ended.
    pub outcome: CaseOutcome,
}

/// `case.reopened`: a closed case becomes open again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseReopened {
    /// Why.
    pub reason: ReopenReason,
}
