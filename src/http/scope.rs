//! Who may read what (DESIGN §4): role and agency scoping shared by every read endpoint.

use super::auth::Caller;
use crate::domain::{AgencyId, CaseId, StreamId};
use crate::ledger::scope;
use crate::ledger::LedgerState;

/// Whether `caller` may read the raw entries of `stream` ([`scope::can_read_stream`]).
pub fn can_read_stream(state: &LedgerState, caller: &Caller, stream: &StreamId) -> bool {
    scope::can_read_stream(state, &caller.reader(), stream)
}

/// Whether the caller counts as an auditor ([`scope::is_auditor`]).
pub fn is_auditor(caller: &Caller) -> bool {
    scope::is_auditor(&caller.roles)
}

fn is_case_staff(caller: &Caller) -> bool {
    scope::is_case_staff(&caller.roles)
}

/// What a caller may see of one case through `GET /v1/cases/{id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseAccess {
    /// Everything: auditors, and caseworkers and supervisors of the owner agency.
    Full,
    /// Only the inquiries and referrals addressed to this agency (a caseworker or supervisor
    /// of another agency that the case has asked or referred to).
    Addressed(AgencyId),
}

/// Why a caller sees nothing of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseDenied {
    /// The caller's roles never read case data (admin, evaluator, service): 403, which says
    /// nothing about the case since it does not depend on it.
    Role,
    /// The case does not exist, or exists but concerns the caller's agency in no way: 404
    /// both, so existence does not leak.
    Hidden,
}

/// Role and agency scoping of case reads (DESIGN §4).
pub fn case_access(
    state: &LedgerState,
    caller: &Caller,
    id: &CaseId,
) -> Result<CaseAccess, CaseDenied> {
    if !is_auditor(caller) && !is_case_staff(caller) {
        return Err(CaseDenied::Role);
    }
    let case = state.cases.get(id).ok_or(CaseDenied::Hidden)?;
    if is_auditor(caller) || case.owner_agency == caller.agency {
        return Ok(CaseAccess::Full);
    }
    if case.addresses(&caller.agency) {
        Ok(CaseAccess::Addressed(caller.agency.clone()))
    } else {
        Err(CaseDenied::Hidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;
    use crate::ledger::rules::AUDITOR_BARRED;

    fn caller(roles: &[Role]) -> Caller {
        Caller {
            id: "p".parse().expect("slug"),
            agency: "a".parse().expect("slug"),
            roles: roles.to_vec(),
        }
    }

    /// A principal registered before the rules refused such combinations still does not
    /// read as an auditor.
    #[test]
    fn an_auditor_that_also_writes_is_not_treated_as_one() {
        assert!(is_auditor(&caller(&[Role::Auditor])));
        assert!(is_auditor(&caller(&[Role::Auditor, Role::Evaluator])));
        for other in AUDITOR_BARRED {
            let c = caller(&[Role::Auditor, other]);
            assert!(!is_auditor(&c), "{other:?}");
            assert!(c.require(&[Role::Auditor]).is_err(), "{other:?}");
        }
    }
}
