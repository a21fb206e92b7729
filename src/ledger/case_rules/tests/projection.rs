//! The case fold: what `apply` records, the withdrawn-consent flag, and batch rollback.

use super::harness::*;
use crate::domain::{CaseId, StreamId};
use crate::ledger::cases::{CaseStatus, ConsentState, ReferralState};

fn case_id() -> CaseId {
    match CASE.parse::<StreamId>().expect("stream") {
        StreamId::Case(id) => id,
        _ => unreachable!(),
    }
}

#[test]
fn the_fold_records_consents_inquiries_referrals_and_signers() {
    let w = given(vec![
        opened(),
        inquiry_consent(),
        referral_consent(),
        inquiry("q1", "legal", "c-inq"),
        answer("lou", "q1", None),
        referral("r1", "legal", "c-ref", &["identity"]),
        respond("lou", "referral.accepted", "r1", None),
    ]);
    let case = w.state.cases.get(&case_id()).expect("case");
    assert_eq!(case.status, CaseStatus::Open);
    assert_eq!(case.owner_agency.as_str(), "harbor");
    assert_eq!(case.steps.len(), 7);
    let q = case.inquiry(&"q1".parse().expect("id")).expect("inquiry");
    let answer_step = &case.steps[q.answer.as_ref().expect("answered").step];
    assert_eq!(answer_step.actor.as_str(), "lou");
    assert_eq!(answer_step.event_type, "inquiry.answered");
    let r = case.referral(&"r1".parse().expect("id")).expect("referral");
    assert_eq!(r.state, ReferralState::Accepted);
    assert_eq!(r.transitions.len(), 1);
    assert!(!r.made_under_withdrawn_consent);
    // Leaf indexes grow with the log.
    assert!(case.steps.windows(2).all(|s| s[0].index < s[1].index));
}

#[test]
fn withdrawing_a_consent_flags_referrals_made_under_it_and_not_others() {
    let w = given(vec![
        opened(),
        referral_consent(),
        consent(
            "c-other",
            &["referral"],
            serde_json::json!(["clinic"]),
            &["health"],
        ),
        referral("r1", "legal", "c-ref", &["identity"]),
        referral("r2", "clinic", "c-other", &["health"]),
        withdrawn("c-ref"),
    ]);
    let case = w.state.cases.get(&case_id()).expect("case");
    let flag = |id: &str| {
        case.referral(&id.parse().expect("id"))
            .expect("referral")
            .made_under_withdrawn_consent
    };
    assert!(flag("r1"));
    assert!(!flag("r2"));
    let c = case
        .consent(&"c-ref".parse().expect("id"))
        .expect("consent");
    let made = &case.steps[case
        .referral(&"r1".parse().expect("id"))
        .expect("r")
        .made_step];
    assert_eq!(
        c.state_at(made.index, made.recorded_at),
        ConsentState::Granted
    );
    assert!(!c.in_force(made.recorded_at));
}

#[test]
fn save_and_restore_roll_back_exactly_one_case() {
    let mut w = given(vec![opened(), inquiry_consent()]);
    let before = w.state.clone();
    let stream: StreamId = CASE.parse().expect("stream");
    let undo = w.state.save(&stream);
    w.must(inquiry("q1", "legal", "c-inq"));
    w.must(withdrawn("c-inq"));
    assert_ne!(w.state, before);
    let added: Vec<uuid::Uuid> = Vec::new();
    w.state.restore(undo, added.into_iter());
    // event ids of the two events are not passed, so compare the case itself and sizes.
    assert_eq!(w.state.cases, before.cases);
    assert_eq!(w.state.size, before.size);
}

#[test]
fn restoring_a_case_that_did_not_exist_removes_it() {
    let mut w = given(vec![]);
    let stream: StreamId = CASE.parse().expect("stream");
    let undo = w.state.save(&stream);
    w.must(opened());
    assert!(w.state.cases.get(&case_id()).is_some());
    w.state.restore(undo, std::iter::empty());
    assert!(w.state.cases.get(&case_id()).is_none());
}
