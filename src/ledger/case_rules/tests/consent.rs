//! Rules 3 and 4: inquiries and referrals need a consent in force that covers them.

use chrono::Duration;
use serde_json::json;

use super::harness::*;
use crate::ledger::Code;

#[test]
fn an_inquiry_under_an_any_consent_is_accepted() {
    given(vec![opened(), inquiry_consent()])
        .when(inquiry("q1", "shelter", "c-inq"))
        .then_accepted();
}

#[test]
fn an_inquiry_without_a_granted_consent_needs_consent() {
    given(vec![opened()])
        .when(inquiry("q1", "legal", "c-inq"))
        .then_rejected(Code::ConsentRequired);
}

#[test]
fn an_inquiry_under_a_withdrawn_consent_needs_consent() {
    given(vec![opened(), inquiry_consent(), withdrawn("c-inq")])
        .when(inquiry("q1", "legal", "c-inq"))
        .then_rejected(Code::ConsentRequired);
}

#[test]
fn a_consent_is_in_force_until_valid_until_and_not_after() {
    let until = t0() + Duration::days(30);
    given(vec![opened(), inquiry_consent()])
        .when(inquiry("q1", "legal", "c-inq").at(until))
        .then_accepted();
    given(vec![opened(), inquiry_consent()])
        .when(inquiry("q1", "legal", "c-inq").at(until + Duration::seconds(1)))
        .then_rejected(Code::ConsentRequired);
}

#[test]
fn an_inquiry_under_a_referral_only_consent_is_out_of_scope() {
    given(vec![opened(), referral_consent()])
        .when(inquiry("q1", "legal", "c-ref"))
        .then_rejected(Code::ConsentScope);
}

#[test]
fn an_inquiry_to_an_agency_the_consent_does_not_name_is_out_of_scope() {
    let c = consent("c1", &["inquiry"], json!(["legal"]), &[]);
    given(vec![opened(), c.clone()])
        .when(inquiry("q1", "legal", "c1"))
        .then_accepted();
    given(vec![opened(), c])
        .when(inquiry("q1", "clinic", "c1"))
        .then_rejected(Code::ConsentScope);
}

#[test]
fn inquiry_ids_are_unique_and_agencies_registered() {
    given(vec![
        opened(),
        inquiry_consent(),
        inquiry("q1", "legal", "c-inq"),
    ])
    .when(inquiry("q1", "clinic", "c-inq"))
    .then_rejected(Code::SchemaViolation);
    given(vec![opened(), inquiry_consent()])
        .when(inquiry("q1", "nowhere", "c-inq"))
        .then_rejected(Code::SchemaViolation);
}

#[test]
fn a_referral_under_an_explicit_consent_within_its_categories_is_accepted() {
    given(vec![opened(), referral_consent()])
        .when(referral(
            "r1",
            "legal",
            "c-ref",
            &["identity", "legal_matters"],
        ))
        .then_accepted();
}

#[test]
fn a_referral_needs_the_agency_named_explicitly_not_any() {
    let any = consent("c1", &["inquiry", "referral"], json!("any"), &["identity"]);
    given(vec![opened(), any])
        .when(referral("r1", "legal", "c1", &[]))
        .then_rejected(Code::ConsentScope);
    given(vec![opened(), referral_consent()])
        .when(referral("r1", "shelter", "c-ref", &[]))
        .then_rejected(Code::ConsentScope);
}

#[test]
fn a_referral_sharing_more_than_the_consent_allows_is_out_of_scope() {
    given(vec![opened(), referral_consent()])
        .when(referral("r1", "legal", "c-ref", &["identity", "health"]))
        .then_rejected(Code::ConsentScope);
}

#[test]
fn a_referral_under_an_inquiry_only_consent_is_out_of_scope() {
    let c = consent("c1", &["inquiry"], json!(["legal"]), &["identity"]);
    given(vec![opened(), c])
        .when(referral("r1", "legal", "c1", &[]))
        .then_rejected(Code::ConsentScope);
}

#[test]
fn a_referral_under_a_missing_withdrawn_or_expired_consent_needs_consent() {
    given(vec![opened()])
        .when(referral("r1", "legal", "c-ref", &[]))
        .then_rejected(Code::ConsentRequired);
    given(vec![opened(), referral_consent(), withdrawn("c-ref")])
        .when(referral("r1", "legal", "c-ref", &[]))
        .then_rejected(Code::ConsentRequired);
    let late = t0() + Duration::days(31);
    given(vec![opened(), referral_consent()])
        .when(referral("r1", "legal", "c-ref", &[]).at(late))
        .then_rejected(Code::ConsentRequired);
}

#[test]
fn referral_ids_are_unique_and_a_cited_inquiry_went_to_the_same_agency() {
    let base = || {
        vec![
            opened(),
            inquiry_consent(),
            referral_consent(),
            inquiry("q1", "clinic", "c-inq"),
            referral("r1", "legal", "c-ref", &[]),
        ]
    };
    given(base())
        .when(referral("r1", "clinic", "c-ref", &[]))
        .then_rejected(Code::SchemaViolation);
    let mut cites = referral("r2", "legal", "c-ref", &[]);
    cites.data["inquiry_id"] = json!("q1");
    given(base())
        .when(cites)
        .then_rejected(Code::SchemaViolation);
    let mut cites = referral("r2", "clinic", "c-ref", &[]);
    cites.data["inquiry_id"] = json!("q1");
    given(base()).when(cites).then_accepted();
}

#[test]
fn consent_ids_are_unique_and_a_lapsed_consent_is_recorded_but_allows_nothing() {
    given(vec![opened(), inquiry_consent()])
        .when(inquiry_consent())
        .then_rejected(Code::SchemaViolation);
    let mut lapsed = inquiry_consent();
    lapsed.data["valid_until"] = json!("2020-01-01T00:00:00Z");
    given(vec![opened()]).when(lapsed.clone()).then_accepted();
    given(vec![opened(), lapsed.clone()])
        .when(inquiry("q1", "legal", "c-inq"))
        .then_rejected(Code::ConsentRequired);
    // It can still be withdrawn, so the person's wish is on record.
    given(vec![opened(), lapsed])
        .when(withdrawn("c-inq"))
        .then_accepted();
}

#[test]
fn a_consent_is_withdrawn_once_and_only_if_granted() {
    // Unknown: rule 8's consent_required. Withdrawn before: a repeated step.
    given(vec![opened()])
        .when(withdrawn("c-inq"))
        .then_rejected(Code::ConsentRequired);
    given(vec![opened(), inquiry_consent(), withdrawn("c-inq")])
        .when(withdrawn("c-inq"))
        .then_rejected(Code::InvalidTransition);
}

#[test]
fn an_unknown_data_field_is_a_schema_violation() {
    let mut e = inquiry_consent();
    e.data["name"] = json!("Jane Doe");
    given(vec![opened()])
        .when(e)
        .then_rejected(Code::SchemaViolation);
}
