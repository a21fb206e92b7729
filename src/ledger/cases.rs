//! Case state fold (filled in by the case-domain work): cases, consents, inquiries, referrals.

use super::state::Applied;
use crate::domain::{AgencyId, CaseId};

/// All cases, by id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CaseBook {}

/// One case as it was before a batch touched it.
pub struct SavedCase {}

impl CaseBook {
    /// Folds an accepted case-stream event.
    pub fn apply(&mut self, _a: &Applied<'_>) {}

    /// The agency that owns a case.
    pub fn owner(&self, _id: &CaseId) -> Option<&AgencyId> {
        None
    }

    /// Captures one case for rollback.
    pub fn save(&self, _id: &CaseId) -> SavedCase {
        SavedCase {}
    }

    /// Restores a captured case.
    pub fn restore(&mut self, _saved: SavedCase) {}
}
