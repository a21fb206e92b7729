//! The case endpoints on the demo story: the full view, the `addressed` view of another
//! agency, the consent trail, and read-your-writes.

use caseledger::cli::demo::{run_story, DemoOutcome};
use serde_json::json;

use crate::helpers::{spawn_app, TestApp};

pub fn demo(app: &TestApp) -> DemoOutcome {
    run_story(&app.base, &app.admin, &app.admin_token, false).expect("demo story")
}

fn token<'a>(d: &'a DemoOutcome, who: &str) -> &'a str {
    &d.people[who].1
}

#[test]
fn the_demo_story_is_accepted_and_the_last_referral_is_refused_for_lack_of_consent() {
    let app = spawn_app();
    let d = demo(&app);
    let last = d.steps.last().expect("steps");
    assert_eq!(
        (last.status, last.code.as_deref()),
        (422, Some("consent_required"))
    );
    assert!(d.steps[..d.steps.len() - 1].iter().all(|s| s.status == 201));
}

#[test]
fn the_owner_agency_sees_the_whole_case_with_states_and_flags() {
    let app = spawn_app();
    let d = demo(&app);
    let r = app.get(
        &format!("/v1/cases/{}", d.case_id),
        Some(token(&d, "coordinator")),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let c = &r.json;
    assert_eq!(c["view"], "full");
    assert_eq!(c["status"], "open");
    assert_eq!(c["owner_agency"], "harbor-house");
    assert_eq!(c["coordinator"], d.coordinator.as_str());
    assert_eq!(c["needs"], json!(["legal", "medical", "social"]));
    let consents = c["consents"].as_array().expect("consents");
    assert_eq!(consents.len(), 2);
    assert_eq!(consents[0]["state"], "granted");
    assert_eq!(consents[1]["state"], "withdrawn");
    assert!(consents[1]["withdrawn"]["index"].is_u64());
    let inquiries = c["inquiries"].as_array().expect("inquiries");
    assert_eq!(inquiries.len(), 3);
    let shelter = &inquiries[2];
    assert_eq!(shelter["answer"]["trafficking_experience"], false);
    assert_eq!(shelter["answer"]["support_offered"], true);
    assert_eq!(shelter["answer"]["recorded_for"], "hope-shelter");
    let referrals = c["referrals"].as_array().expect("referrals");
    assert_eq!(referrals[0]["state"], "services_started");
    assert_eq!(referrals[0]["history"].as_array().expect("h").len(), 2);
    assert_eq!(referrals[1]["state"], "declined");
    assert_eq!(referrals[1]["history"][0]["code"], "no_capacity");
    assert!(referrals
        .iter()
        .all(|r| r["made_under_withdrawn_consent"] == true));
    assert_eq!(c["flags"].as_array().expect("flags").len(), 2);
    assert_eq!(
        c["flags"][0]["flag"],
        "referral_made_under_withdrawn_consent"
    );
    assert!(c["outcome"].is_null());
    // Closed, the case shows its outcome; reopened, it has none (a review found the old
    // outcome beside status open).
    let (key, token) = d.people["coordinator"].clone();
    let stream = format!("case-{}", d.case_id);
    let outcome = |kind: &str, data: serde_json::Value| {
        let env = caseledger::client::signed_event(&key, kind, &stream, data, chrono::Utc::now());
        assert_eq!(app.post_event(&token, &env).status, 201);
        let r = app.get(&format!("/v1/cases/{}", d.case_id), Some(&token));
        (r.json["status"].clone(), r.json["outcome"].clone())
    };
    assert_eq!(
        outcome("case.closed", json!({"outcome": "services_completed"})),
        (json!("closed"), json!("services_completed"))
    );
    assert_eq!(
        outcome("case.reopened", json!({"reason": "client_returned"})),
        (json!("open"), json!(null))
    );
}

#[test]
fn another_agency_sees_only_what_was_addressed_to_it() {
    let app = spawn_app();
    let d = demo(&app);
    let r = app.get(
        &format!("/v1/cases/{}", d.case_id),
        Some(token(&d, "legal")),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["view"], "addressed");
    assert_eq!(r.json["agency"], "north-legal-aid");
    let inquiries = r.json["inquiries"].as_array().expect("inquiries");
    assert_eq!(inquiries.len(), 1);
    assert_eq!(inquiries[0]["inquiry_id"], "q-legal");
    let referrals = r.json["referrals"].as_array().expect("referrals");
    assert_eq!(referrals.len(), 1);
    assert_eq!(referrals[0]["referral_id"], "r-legal");
    // No flags: not even the one on the referral (made under a consent since withdrawn).
    assert!(
        referrals[0].get("made_under_withdrawn_consent").is_none(),
        "{}",
        referrals[0]
    );
    for hidden in [
        "consents",
        "coordinator",
        "needs",
        "minor",
        "status",
        "flags",
    ] {
        assert!(r.json.get(hidden).is_none(), "{hidden} leaked");
    }
    for other in ["st-mary-clinic", "hope-shelter", "q-medical", "r-medical"] {
        assert!(!r.text.contains(other), "{other} leaked: {}", r.text);
    }
    // Its steps say what happened and when: not who coordinates (as a signer), nor where in
    // the log or the case (revisions would count the events it is not shown).
    assert!(
        !r.text.contains(d.coordinator.as_str()),
        "coordinator leaked: {}",
        r.text
    );
    let step = &inquiries[0]["sent_step"];
    assert_eq!(step["type"], "inquiry.sent");
    assert!(step["recorded_at"].is_string());
    for hidden in ["actor", "keyid", "index", "revision"] {
        assert!(step.get(hidden).is_none(), "step {hidden} leaked: {step}");
    }
    // The owner agency's full view keeps them.
    let full = app.get(
        &format!("/v1/cases/{}", d.case_id),
        Some(token(&d, "coordinator")),
    );
    let step = &full.json["inquiries"][0]["sent_step"];
    assert_eq!(step["actor"], d.coordinator.as_str(), "{step}");
    assert!(
        step["index"].is_u64() && step["revision"].is_u64(),
        "{step}"
    );
    // The consent trail is for the owner agency and auditors only.
    let t = app.get(
        &format!("/v1/cases/{}/consent-trail", d.case_id),
        Some(token(&d, "legal")),
    );
    assert_eq!((t.status, t.code()), (404, "not_found"));
}

#[test]
fn the_consent_trail_pairs_each_disclosure_with_its_consent_and_signers() {
    let app = spawn_app();
    let d = demo(&app);
    let (_, auditor) = app.register_principal("aud-1", "operator", &["auditor"]);
    let r = app.get(
        &format!("/v1/cases/{}/consent-trail", d.case_id),
        Some(&auditor),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let disclosures = r.json["disclosures"].as_array().expect("disclosures");
    assert_eq!(disclosures.len(), 5, "3 inquiries and 2 referrals");
    for x in disclosures {
        assert_eq!(x["consent_state_then"], "granted", "{x}");
        assert!(x["consent_granted_index"].as_u64() < x["step"]["index"].as_u64());
        assert_eq!(x["step"]["actor"], d.coordinator.as_str());
        assert_eq!(x["step"]["keyid"].as_str().expect("keyid").len(), 64);
    }
    let referral = disclosures
        .iter()
        .find(|x| x["id"] == "r-legal")
        .expect("r-legal");
    assert_eq!(referral["consent_id"], "c-referral");
    assert_eq!(referral["consent_withdrawn_later"], true);
    let w = &r.json["withdrawals"][0];
    assert_eq!(w["consent_id"], "c-referral");
    assert_eq!(
        w["earlier_disclosures"],
        json!([{"kind": "referral", "id": "r-legal"}, {"kind": "referral", "id": "r-medical"}])
    );
    let steps = r.json["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 15, "every accepted step of the case");
    // Leaf indexes point at the log entries of this case.
    let idx = steps[0]["index"].as_u64().expect("index");
    let entry = &app.ledger.store().read_all(idx, 1).expect("read")[0];
    assert_eq!(entry.stream, format!("case-{}", d.case_id));
}

#[test]
fn a_get_right_after_a_201_sees_the_write() {
    let app = spawn_app();
    let d = demo(&app);
    let (key, token) = &d.people["coordinator"];
    for n in 0..20 {
        let env = caseledger::client::signed_event(
            key,
            "case.needs_assessed",
            &format!("case-{}", d.case_id),
            json!({"needs": if n % 2 == 0 { json!(["social"]) } else { json!(["legal"]) }}),
            chrono::Utc::now(),
        );
        let w = app.post_event(token, &env);
        assert_eq!(w.status, 201, "{}", w.text);
        let r = app.get(&format!("/v1/cases/{}", d.case_id), Some(token));
        assert_eq!(
            r.json["last"]["index"], w.json["index"],
            "read lags the write"
        );
        assert_eq!(
            r.json["needs"][0],
            if n % 2 == 0 { "social" } else { "legal" }
        );
    }
}

#[test]
fn rebuilding_after_the_demo_gives_the_same_state() {
    let app = spawn_app();
    let d = demo(&app);
    let live = app.ledger.state().clone();
    let rebuilt = caseledger::ledger::load_state(app.ledger.store().as_ref()).expect("fold");
    assert_eq!(rebuilt, live);
    assert!(rebuilt.cases.get(&d.case_id).is_some());
}
