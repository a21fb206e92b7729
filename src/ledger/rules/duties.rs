//! Which roles one principal may hold together (write-time rules of `principal.registered`).

use super::{Code, RuleViolation, AUDITOR_BARRED};
use crate::domain::Role;

/// Admins, evaluators and the service principal never read case content (DESIGN §4), so
/// none of them may also hold a case role that would let them.
pub(super) fn separate_duties(roles: &[Role]) -> Result<(), RuleViolation> {
    let holds = |set: &[Role]| roles.iter().copied().find(|r| set.contains(r));
    if let (Some(_), Some(r)) = (
        holds(&[Role::Caseworker, Role::Supervisor]),
        holds(&[Role::Admin, Role::Evaluator, Role::Service]),
    ) {
        return Err(RuleViolation::new(
            Code::SchemaViolation,
            format!(
                "the {} role cannot be combined with caseworker or supervisor",
                r.as_str()
            ),
        ));
    }
    Ok(())
}

/// An auditor reads everything and writes nothing, so it may hold no role that writes;
/// evaluator, which only reads aggregates, is the one role it may add.
pub(super) fn auditor_alone(roles: &[Role]) -> Result<(), RuleViolation> {
    let barred = roles.iter().find(|r| AUDITOR_BARRED.contains(r));
    match (roles.contains(&Role::Auditor), barred) {
        (true, Some(r)) => Err(RuleViolation::new(
            Code::SchemaViolation,
            format!(
                "the auditor role cannot be combined with {}: an auditor writes nothing",
                r.as_str()
            ),
        )),
        _ => Ok(()),
    }
}
