//! DESIGN §4 scoping at write time: a refused write tells the writer nothing it could not
//! read. An agency with no part in a case gets one fixed answer; an agency the case addressed
//! learns nothing about the case's status, coordinator, or other agencies' items.

use super::harness::*;
use crate::ledger::rules::RuleViolation;
use crate::ledger::Code;
use serde_json::json;

/// Opened by harbor (coordinator maria); asked legal (q1) and clinic (q2); referred legal (r1).
fn case() -> Vec<Ev> {
    vec![
        opened(),
        inquiry_consent(),
        referral_consent(),
        inquiry("q1", "legal", "c-inq"),
        inquiry("q2", "clinic", "c-inq"),
        referral("r1", "legal", "c-ref", &["identity"]),
    ]
}

fn close() -> Ev {
    ev("maria", "case.closed", json!({"outcome": "other"}))
}

fn refusal(given_events: Vec<Ev>, e: Ev) -> RuleViolation {
    given(given_events).when(e).then_refused()
}

/// The case's own names, none of which a refusal to an outsider may carry.
fn assert_tells_nothing(v: &RuleViolation, names: &[&str]) {
    for name in names {
        assert!(
            !v.message.contains(name),
            "the refusal names {name}: {}",
            v.message
        );
    }
}

#[test]
fn an_agency_with_no_part_in_a_case_gets_one_answer_whatever_the_case_holds() {
    // `cleo` is of clinic, which this case never asked. Whether the case is open or closed,
    // whether the inquiry exists, and whatever the event, the refusal is the same.
    let mut messages = Vec::new();
    for closed in [false, true] {
        let mut events = vec![opened(), inquiry_consent(), inquiry("q1", "legal", "c-inq")];
        if closed {
            events.push(close());
        }
        for e in [
            answer("cleo", "q1", None),
            answer("cleo", "q9", None),
            ev("cleo", "case.needs_assessed", json!({"needs": ["social"]})),
        ] {
            let v = refusal(events.clone(), e);
            assert_eq!(v.code, Code::Forbidden, "{}", v.message);
            assert_tells_nothing(&v, &["maria", "harbor", "legal", "q1", "closed"]);
            messages.push(v.message);
        }
    }
    messages.dedup();
    assert_eq!(messages.len(), 1, "refusals differ: {messages:?}");
}

#[test]
fn an_addressed_agency_cannot_tell_another_agencys_item_from_an_unknown_one() {
    let other = refusal(case(), answer("lou", "q2", None));
    let unknown = refusal(case(), answer("lou", "q9", None));
    assert_eq!(other.code, Code::InvalidTransition);
    assert_eq!(unknown.code, other.code);
    assert_eq!(unknown.message.replace("q9", "q2"), other.message);
    assert_tells_nothing(&other, &["clinic", "maria", "harbor"]);
    // The same for referrals: clinic was never referred, legal asks about r9.
    let unknown = refusal(case(), respond("lou", "referral.accepted", "r9", None));
    assert_eq!(unknown.code, Code::InvalidTransition);
    // Its own items are found as before.
    given(case())
        .when(answer("lou", "q1", None))
        .then_accepted();
    given(case())
        .when(respond("lou", "referral.accepted", "r1", None))
        .then_accepted();
    // And clinic, asked q2 only, cannot tell legal's referral r1 from none.
    let other = refusal(case(), respond("cleo", "referral.accepted", "r1", None));
    let unknown = refusal(case(), respond("cleo", "referral.accepted", "r9", None));
    assert_eq!(unknown.message.replace("r9", "r1"), other.message);
    assert_tells_nothing(&other, &["legal"]);
}

#[test]
fn an_addressed_agency_is_not_told_the_coordinator_or_the_status() {
    let mut e = inquiry_consent();
    e.actor = "lou";
    let v = refusal(case(), e);
    assert_eq!(v.code, Code::Forbidden);
    assert_tells_nothing(&v, &["maria"]);
    let v = refusal(
        case(),
        ev("lou", "case.closed", json!({"outcome": "other"})),
    );
    assert_eq!(v.code, Code::Forbidden);
    assert_tells_nothing(&v, &["maria"]);
    // Rule 2 still holds for it: nothing but reopening follows a close. Being refused a
    // response it could write before tells it the case takes none now (rule 2 makes that
    // unavoidable); the refusal says no more than that.
    let mut closed = case();
    closed.push(close());
    let v = refusal(closed, answer("lou", "q1", None));
    assert_eq!(v.code, Code::InvalidTransition);
    assert_tells_nothing(&v, &["maria", "clinic", "services_completed", "other"]);
}

#[test]
fn roles_are_checked_before_the_case_is_looked_at() {
    // The auditor `ada` holds no case role: the same refusal for an existing case (open or
    // closed) as for a missing one.
    let missing = refusal(vec![], close_by("ada"));
    let open = refusal(case(), close_by("ada"));
    let mut closed = case();
    closed.push(close());
    let closed = refusal(closed, close_by("ada"));
    for v in [&missing, &open, &closed] {
        assert_eq!(v.code, Code::Forbidden);
        assert_eq!(v.message, missing.message);
        assert_tells_nothing(v, &["maria", "harbor"]);
    }
}

fn close_by(actor: &'static str) -> Ev {
    ev(actor, "case.closed", json!({"outcome": "other"}))
}
