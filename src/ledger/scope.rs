//! Who may read a stream (DESIGN §4), as a pure function of the ledger state: the read
//! endpoints ask it, and so does the writer before it tells a writer a stream's revision.

use super::state::LedgerState;
use crate::domain::{AgencyId, PrincipalId, Role, StreamId};
use crate::ledger::rules::AUDITOR_BARRED;

/// A principal as the scoping rules see it.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    pub id: &'a PrincipalId,
    pub agency: &'a AgencyId,
    pub roles: &'a [Role],
}

/// Whether `reader` may read the raw entries of `stream`.
/// Principal streams: admins, auditors and the principal itself. Agency streams: everyone
/// authenticated (the directory is shared). Case streams: auditors, and caseworkers and
/// supervisors of the owner agency; admins and evaluators never read case content.
pub fn can_read_stream(state: &LedgerState, reader: &Reader<'_>, stream: &StreamId) -> bool {
    match stream {
        StreamId::Principal(id) => {
            reader.roles.contains(&Role::Admin) || is_auditor(reader.roles) || id == reader.id
        }
        StreamId::Agency(_) => true,
        StreamId::Case(id) => {
            is_auditor(reader.roles)
                || (is_case_staff(reader.roles) && state.cases.owner(id) == Some(reader.agency))
        }
    }
}

/// An auditor reads everything, so a principal that also holds a role that writes (admin,
/// service, caseworker, supervisor) is not treated as one. The rules refuse to register such
/// combinations; this is the second line of defence.
pub fn is_auditor(roles: &[Role]) -> bool {
    roles.contains(&Role::Auditor) && !AUDITOR_BARRED.iter().any(|r| roles.contains(r))
}

/// Caseworkers and supervisors read their agency's cases; a principal that also holds a role
/// barred from case content (admin, evaluator, service) never does, whatever else it holds.
/// The rules refuse to register such combinations; this is the second line of defence.
pub fn is_case_staff(roles: &[Role]) -> bool {
    let barred = [Role::Admin, Role::Evaluator, Role::Service];
    (roles.contains(&Role::Caseworker) || roles.contains(&Role::Supervisor))
        && !barred.iter().any(|r| roles.contains(r))
}
