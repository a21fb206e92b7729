//! Who may read what (DESIGN §4): role and agency scoping shared by every read endpoint.

use super::auth::Caller;
use crate::domain::{Role, StreamId};
use crate::ledger::LedgerState;

/// Whether `caller` may read the raw entries of `stream`.
/// Principal streams: admins, auditors and the principal itself. Agency streams: everyone
/// authenticated (the directory is shared). Case streams: auditors, and caseworkers and
/// supervisors of the owner agency; admins and evaluators never read case content.
pub fn can_read_stream(state: &LedgerState, caller: &Caller, stream: &StreamId) -> bool {
    match stream {
        StreamId::Principal(id) => {
            caller.has(Role::Admin) || caller.has(Role::Auditor) || *id == caller.id
        }
        StreamId::Agency(_) => true,
        StreamId::Case(id) => {
            caller.has(Role::Auditor)
                || ((caller.has(Role::Caseworker) || caller.has(Role::Supervisor))
                    && state.cases.owner(id) == Some(&caller.agency))
        }
    }
}
