//! Rules 1 and 5 for responses: who answers and responds, and the referral lifecycle.

use super::harness::*;
use crate::ledger::Code;

fn asked() -> Vec<Ev> {
    vec![opened(), inquiry_consent(), inquiry("q1", "legal", "c-inq")]
}

fn referred() -> Vec<Ev> {
    vec![
        opened(),
        referral_consent(),
        referral("r1", "legal", "c-ref", &["identity"]),
    ]
}

fn with(mut events: Vec<Ev>, more: Vec<Ev>) -> Vec<Ev> {
    events.extend(more);
    events
}

#[test]
fn the_addressed_agency_answers_an_inquiry_once() {
    given(asked())
        .when(answer("lou", "q1", None))
        .then_accepted()
        .when(answer("lou", "q1", None))
        .then_rejected(Code::InvalidTransition);
}

#[test]
fn the_coordinator_records_an_answer_only_for_the_addressed_agency() {
    given(asked())
        .when(answer("maria", "q1", Some("legal")))
        .then_accepted();
    given(asked())
        .when(answer("maria", "q1", None))
        .then_rejected(Code::Forbidden);
    given(asked())
        .when(answer("maria", "q1", Some("clinic")))
        .then_rejected(Code::SchemaViolation);
}

#[test]
fn another_agency_cannot_answer() {
    given(asked())
        .when(answer("cleo", "q1", None))
        .then_rejected(Code::Forbidden);
    given(asked())
        .when(answer("cleo", "q1", Some("legal")))
        .then_rejected(Code::Forbidden);
    given(asked())
        .when(answer("lee", "q1", None))
        .then_rejected(Code::Forbidden);
}

#[test]
fn an_answer_to_an_unknown_inquiry_is_an_invalid_transition() {
    given(asked())
        .when(answer("lou", "q9", None))
        .then_rejected(Code::InvalidTransition);
}

#[test]
fn a_referral_goes_made_accepted_services_started_closed() {
    given(referred())
        .when(respond("lou", "referral.accepted", "r1", None))
        .then_accepted()
        .when(respond("lou", "referral.services_started", "r1", None))
        .then_accepted()
        .when(respond("lou", "referral.closed", "r1", None))
        .then_accepted()
        .when(respond("lou", "referral.closed", "r1", None))
        .then_rejected(Code::InvalidTransition);
}

#[test]
fn an_accepted_referral_may_be_closed_or_withdrawn() {
    let accepted = || {
        with(
            referred(),
            vec![respond("lou", "referral.accepted", "r1", None)],
        )
    };
    given(accepted())
        .when(respond("maria", "referral.closed", "r1", None))
        .then_accepted();
    given(accepted())
        .when(respond("maria", "referral.withdrawn", "r1", None))
        .then_accepted();
}

#[test]
fn a_declined_referral_is_final() {
    given(referred())
        .when(respond("lou", "referral.declined", "r1", None))
        .then_accepted()
        .when(respond("lou", "referral.accepted", "r1", None))
        .then_rejected(Code::InvalidTransition);
}

#[test]
fn steps_out_of_order_or_repeated_are_invalid_transitions() {
    given(referred())
        .when(respond("lou", "referral.services_started", "r1", None))
        .then_rejected(Code::InvalidTransition);
    given(referred())
        .when(respond("lou", "referral.closed", "r1", None))
        .then_rejected(Code::InvalidTransition);
    let accepted = with(
        referred(),
        vec![respond("lou", "referral.accepted", "r1", None)],
    );
    given(accepted)
        .when(respond("lou", "referral.accepted", "r1", None))
        .then_rejected(Code::InvalidTransition);
    let started = with(
        referred(),
        vec![
            respond("lou", "referral.accepted", "r1", None),
            respond("lou", "referral.services_started", "r1", None),
        ],
    );
    given(started)
        .when(respond("maria", "referral.withdrawn", "r1", None))
        .then_rejected(Code::InvalidTransition);
    given(with(
        referred(),
        vec![respond("maria", "referral.withdrawn", "r1", None)],
    ))
    .when(respond("lou", "referral.accepted", "r1", None))
    .then_rejected(Code::InvalidTransition);
    given(referred())
        .when(respond("lou", "referral.accepted", "r9", None))
        .then_rejected(Code::InvalidTransition);
}

#[test]
fn only_the_referred_agency_or_the_recording_coordinator_responds() {
    given(referred())
        .when(respond("maria", "referral.accepted", "r1", Some("legal")))
        .then_accepted();
    given(referred())
        .when(respond("maria", "referral.accepted", "r1", None))
        .then_rejected(Code::Forbidden);
    given(referred())
        .when(respond("cleo", "referral.declined", "r1", None))
        .then_rejected(Code::Forbidden);
    given(referred())
        .when(respond("lou", "referral.accepted", "r1", Some("clinic")))
        .then_rejected(Code::SchemaViolation);
}

#[test]
fn only_the_coordinator_withdraws_a_referral() {
    given(referred())
        .when(respond("lou", "referral.withdrawn", "r1", None))
        .then_rejected(Code::Forbidden);
    given(referred())
        .when(respond("maria", "referral.withdrawn", "r1", None))
        .then_accepted();
}

#[test]
fn a_decline_without_a_reason_code_is_a_schema_violation() {
    let mut e = respond("lou", "referral.declined", "r1", None);
    e.data.as_object_mut().expect("object").remove("reason");
    given(referred())
        .when(e)
        .then_rejected(Code::SchemaViolation);
}
