//! Identity rules that keep duties apart (DESIGN §4), in the same harness: which roles one
//! principal may hold together, the one service principal, and one holder per token.

use super::harness::*;
use crate::domain::PrincipalId;
use crate::envelope::KeyFile;
use crate::ledger::Code;
use serde_json::{json, Value};

fn register(id: &'static str, roles: Value) -> Ev {
    let key = KeyFile::generate(PrincipalId::parse(id).expect("slug"));
    Ev {
        actor: "admin",
        kind: "principal.registered",
        stream: format!("principal-{id}"),
        data: json!({"agency": "operator", "roles": roles, "public_key": key.public_key_b64()}),
        at: None,
    }
}

#[test]
fn an_auditor_holds_no_role_that_writes() {
    for roles in [
        json!(["auditor", "admin"]),
        json!(["auditor", "caseworker"]),
        json!(["supervisor", "auditor"]),
        json!(["auditor", "service"]),
    ] {
        given(vec![])
            .when(register("boss", roles))
            .then_rejected(Code::SchemaViolation);
    }
    given(vec![])
        .when(register("boss", json!(["auditor", "evaluator"])))
        .then_accepted();
}

#[test]
fn the_ledger_has_one_service_principal() {
    given(vec![])
        .when(register("svc2", json!(["service"])))
        .then_rejected(Code::InvalidTransition);
}

fn token_issued(holder: &str, hash: &str) -> Ev {
    Ev {
        actor: "svc",
        kind: "principal.token_issued",
        stream: format!("principal-{holder}"),
        data: json!({"token_sha256": hash, "requested_by": "admin"}),
        at: None,
    }
}

#[test]
fn a_token_hash_has_one_holder() {
    let hash = "ab".repeat(32);
    given(vec![token_issued("maria", &hash)])
        .when(token_issued("lou", &hash))
        .then_rejected(Code::InvalidTransition)
        .when(token_issued("maria", &hash))
        .then_rejected(Code::InvalidTransition)
        .when(token_issued("lou", &"cd".repeat(32)))
        .then_accepted();
}
