//! Rule 1 (role and agency) and rule 2 (open case) for case events.

use super::harness::*;
use crate::ledger::Code;
use serde_json::json;

#[test]
fn a_caseworker_of_the_owner_agency_opens_a_case() {
    given(vec![]).when(opened()).then_accepted();
}

#[test]
fn a_caseworker_of_another_agency_cannot_open_a_case_for_the_owner() {
    given(vec![])
        .when(opened_by("lou", "harbor", "maria"))
        .then_rejected(Code::Forbidden);
}

#[test]
fn a_supervisor_without_the_caseworker_role_cannot_open_a_case() {
    given(vec![])
        .when(opened_by("sam", "harbor", "maria"))
        .then_rejected(Code::Forbidden);
}

#[test]
fn an_auditor_cannot_open_a_case() {
    given(vec![])
        .when(opened_by("ada", "operator", "maria"))
        .then_rejected(Code::Forbidden);
}

#[test]
fn a_coordinator_who_is_not_a_caseworker_of_the_owner_agency_is_a_schema_violation() {
    given(vec![])
        .when(opened_by("maria", "harbor", "lou"))
        .then_rejected(Code::SchemaViolation);
    given(vec![])
        .when(opened_by("maria", "harbor", "sam"))
        .then_rejected(Code::SchemaViolation);
}

#[test]
fn only_the_coordinator_writes_consent_inquiries_and_referrals() {
    let mut e = inquiry_consent();
    e.actor = "lee";
    given(vec![opened()]).when(e).then_rejected(Code::Forbidden);
    let mut e = inquiry("q1", "legal", "c-inq");
    e.actor = "sam";
    given(vec![opened(), inquiry_consent()])
        .when(e)
        .then_rejected(Code::Forbidden);
    let mut e = referral("r1", "legal", "c-ref", &[]);
    e.actor = "lou";
    given(vec![opened(), referral_consent()])
        .when(e)
        .then_rejected(Code::Forbidden);
}

#[test]
fn only_the_coordinator_assesses_needs_and_closes() {
    let needs = || ev("maria", "case.needs_assessed", json!({"needs": ["social"]}));
    given(vec![opened()]).when(needs()).then_accepted();
    let mut e = needs();
    e.actor = "lee";
    given(vec![opened()]).when(e).then_rejected(Code::Forbidden);
    let close = ev("lee", "case.closed", json!({"outcome": "other"}));
    given(vec![opened()])
        .when(close)
        .then_rejected(Code::Forbidden);
}

fn assign(actor: &'static str, coordinator: &str) -> Ev {
    ev(
        actor,
        "case.coordinator_assigned",
        json!({"coordinator": coordinator}),
    )
}

#[test]
fn a_caseworker_or_supervisor_of_the_owner_agency_assigns_the_coordinator() {
    given(vec![opened()])
        .when(assign("sam", "lee"))
        .then_accepted();
    given(vec![opened()])
        .when(assign("lee", "lee"))
        .then_accepted();
    given(vec![opened()])
        .when(assign("lou", "lee"))
        .then_rejected(Code::Forbidden);
    given(vec![opened()])
        .when(assign("sam", "lou"))
        .then_rejected(Code::SchemaViolation);
}

#[test]
fn after_reassignment_only_the_new_coordinator_writes() {
    let w = given(vec![opened(), assign("sam", "lee")]);
    w.when(inquiry_consent()).then_rejected(Code::Forbidden);
    let mut e = inquiry_consent();
    e.actor = "lee";
    given(vec![opened(), assign("sam", "lee")])
        .when(e)
        .then_accepted();
}

#[test]
fn nothing_happens_in_a_case_before_it_is_opened() {
    given(vec![])
        .when(inquiry_consent())
        .then_rejected(Code::InvalidTransition);
}

#[test]
fn a_case_is_opened_only_once() {
    given(vec![opened()])
        .when(opened())
        .then_rejected(Code::InvalidTransition);
}

fn close() -> Ev {
    ev(
        "maria",
        "case.closed",
        json!({"outcome": "services_completed"}),
    )
}

fn reopen() -> Ev {
    ev("maria", "case.reopened", json!({"reason": "new_needs"}))
}

#[test]
fn only_reopening_follows_a_close() {
    given(vec![opened(), close()])
        .when(inquiry_consent())
        .then_rejected(Code::InvalidTransition);
    given(vec![opened(), close()])
        .when(close())
        .then_rejected(Code::InvalidTransition);
    given(vec![opened(), close()])
        .when(reopen())
        .then_accepted()
        .when(inquiry_consent())
        .then_accepted();
}

#[test]
fn an_open_case_cannot_be_reopened() {
    given(vec![opened()])
        .when(reopen())
        .then_rejected(Code::InvalidTransition);
}

#[test]
fn an_agency_cannot_answer_in_a_closed_case() {
    given(vec![
        opened(),
        inquiry_consent(),
        inquiry("q1", "legal", "c-inq"),
        close(),
    ])
    .when(answer("lou", "q1", None))
    .then_rejected(Code::InvalidTransition);
}
