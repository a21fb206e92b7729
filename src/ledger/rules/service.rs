//! Write-time rules that keep the `service` principal the server's own: it alone issues
//! tokens, on an admin's request through the token endpoint, with a key no admin can add to.
//! Without them an admin could add a key of their own to the service principal, sign
//! `principal.token_issued` themselves, choose the token and name anyone as the requester.

use super::{transition, Code, RuleViolation};
use crate::domain::{PrincipalTokenIssued, Role, StreamId};
use crate::ledger::state::LedgerState;

/// The ledger has one `service` principal (made by `init`), which alone writes
/// `principal.token_issued`. Another could mint tokens outside the audited token endpoint.
pub(super) fn one_service_principal(
    state: &LedgerState,
    roles: &[Role],
) -> Result<(), RuleViolation> {
    let existing = state
        .registry
        .principals
        .values()
        .find(|p| p.active && p.has(Role::Service));
    match existing {
        Some(p) if roles.contains(&Role::Service) => Err(transition(format!(
            "the ledger's service principal is {}; there is only one",
            p.id
        ))),
        _ => Ok(()),
    }
}

/// The service principal's key is made by `init` and stays in the data directory; a key
/// added over the API would let whoever holds it sign as the server.
pub(super) fn keys_stay_the_servers(
    state: &LedgerState,
    stream: &StreamId,
) -> Result<(), RuleViolation> {
    let StreamId::Principal(id) = stream else {
        return Ok(());
    };
    match state.registry.principals.get(id) {
        Some(p) if p.has(Role::Service) => Err(RuleViolation::new(
            Code::Forbidden,
            format!(
                "{id} is the server's service principal: its key is the server's own, and no \
                 key can be added to it"
            ),
        )),
        _ => Ok(()),
    }
}

/// A token is issued once per hash (a second issue would take it over), at the request of
/// an active admin, whom the entry names for the audit trail.
pub(super) fn token_issued(
    state: &LedgerState,
    d: &PrincipalTokenIssued,
) -> Result<(), RuleViolation> {
    if state
        .registry
        .tokens
        .contains_key(d.token_sha256.as_bytes())
    {
        return Err(transition("this token hash is already issued".into()));
    }
    let admin = state.registry.principals.get(&d.requested_by);
    if admin.is_some_and(|p| p.active && p.has(Role::Admin)) {
        Ok(())
    } else {
        Err(RuleViolation::new(
            Code::Forbidden,
            format!(
                "requested_by {} is not an active admin: only an admin asks for a token",
                d.requested_by
            ),
        ))
    }
}
