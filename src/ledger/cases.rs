//! The case projection: a deterministic fold of `case-…` streams into [`CaseState`]s. `apply`
//! records what the log says and holds no business rule (those are in `case_rules`); it must
//! stay total, since the offline verifier replays it over bundles.

mod fold;
mod model;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

pub use model::{
    Answer, CaseState, CaseStatus, ConsentRecord, ConsentState, InquiryRecord, ReferralRecord,
    ReferralState, Step, Transition, Withdrawal,
};

use super::state::Applied;
use crate::domain::{AgencyId, CaseId, StreamId};

/// All cases, by id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CaseBook {
    cases: HashMap<CaseId, CaseState>,
}

/// One case as it was before a batch touched it (`None`: it did not exist).
pub struct SavedCase {
    id: CaseId,
    before: Option<CaseState>,
}

impl CaseBook {
    /// Folds an accepted case-stream event.
    pub fn apply(&mut self, a: &Applied<'_>) {
        let StreamId::Case(id) = &a.event.stream else {
            return;
        };
        fold::apply(&mut self.cases, *id, a);
    }

    /// The agency that owns a case.
    pub fn owner(&self, id: &CaseId) -> Option<&AgencyId> {
        self.cases.get(id).map(|c| &c.owner_agency)
    }

    /// One case.
    pub fn get(&self, id: &CaseId) -> Option<&CaseState> {
        self.cases.get(id)
    }

    /// Number of cases.
    pub fn len(&self) -> usize {
        self.cases.len()
    }

    /// Whether there are no cases.
    pub fn is_empty(&self) -> bool {
        self.cases.is_empty()
    }

    /// Captures one case for rollback.
    pub fn save(&self, id: &CaseId) -> SavedCase {
        SavedCase {
            id: *id,
            before: self.cases.get(id).cloned(),
        }
    }

    /// Restores a captured case.
    pub fn restore(&mut self, saved: SavedCase) {
        match saved.before {
            Some(c) => self.cases.insert(saved.id, c),
            None => self.cases.remove(&saved.id),
        };
    }
}
