//! The §2.4 rule refusals over HTTP: each is problem+json with its rule's code, and nothing
//! is written. (Every branch of each rule is unit-tested in src/ledger/case_rules/tests.)

use caseledger::client;
use caseledger::envelope::KeyFile;
use chrono::Utc;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

const CASE: &str = "case-0196b7c2-4a55-7d3e-9f10-2b6c1d4e5f61";

fn consent(id: &str, purposes: &[&str], recipients: Value, valid_until: &str) -> Value {
    json!({"consent_id": id, "purposes": purposes, "recipients": recipients,
        "data_categories": ["contact"], "valid_until": valid_until, "method": "written",
        "language": "es", "interpreter": {"used": false}, "notice_version": "v1"})
}

fn inquiry(id: &str, consent_id: &str) -> Value {
    json!({"inquiry_id": id, "agency": "bay-clinic", "consent_id": consent_id,
        "asks": ["can_help"], "domains": ["medical"], "cultural_needs": []})
}

/// Posts an event the rules refuse; asserts the status, the code, problem+json, and that
/// the log did not grow.
fn refused(app: &TestApp, who: &(KeyFile, String), kind: &str, data: Value) -> (u16, String) {
    let before = app.log_size();
    let env = client::signed_event(&who.0, kind, CASE, data, Utc::now());
    let r = app.post_event(&who.1, &env);
    assert_eq!(r.content_type, "application/problem+json", "{}", r.text);
    assert_eq!(app.log_size(), before, "a refused {kind} was written");
    (r.status, r.code().to_owned())
}

#[test]
fn rule_refusals_carry_their_codes_and_write_nothing() {
    let app = spawn_app();
    app.register_agency("harbor-house");
    app.register_agency("bay-clinic");
    let maria = app.register_principal("maria", "harbor-house", &["caseworker"]);
    let other = app.register_principal("omar", "bay-clinic", &["caseworker"]);
    let opened = json!({"owner_agency": "harbor-house", "coordinator": "maria",
        "needs": ["medical"], "minor": false});
    app.write(&maria.0, &maria.1, "case.opened", CASE, opened);

    // Rule 2 and the lifecycle: a case reopened while it is open.
    let again = json!({"reason": "new_needs"});
    assert_eq!(
        refused(&app, &maria, "case.reopened", again),
        (422, "invalid_transition".into())
    );

    // Rule 3: no consent at all; a consent recorded after it lapsed (accepted, but never in
    // force); a consent for referrals only.
    assert_eq!(
        refused(&app, &maria, "inquiry.sent", inquiry("q1", "c0")),
        (422, "consent_required".into())
    );
    let lapsed = consent("c-old", &["inquiry"], json!("any"), "2020-01-01T00:00:00Z");
    app.write(&maria.0, &maria.1, "consent.granted", CASE, lapsed);
    assert_eq!(
        refused(&app, &maria, "inquiry.sent", inquiry("q1", "c-old")),
        (422, "consent_required".into())
    );
    let referral_only = consent(
        "c-ref",
        &["referral"],
        json!(["bay-clinic"]),
        "2030-01-01T00:00:00Z",
    );
    app.write(&maria.0, &maria.1, "consent.granted", CASE, referral_only);
    assert_eq!(
        refused(&app, &maria, "inquiry.sent", inquiry("q1", "c-ref")),
        (422, "consent_scope".into())
    );

    // Rule 4: a referral under an inquiry consent naming the agency only through "any".
    let inquiry_any = consent(
        "c-any",
        &["inquiry", "referral"],
        json!("any"),
        "2030-01-01T00:00:00Z",
    );
    app.write(&maria.0, &maria.1, "consent.granted", CASE, inquiry_any);
    let referral = json!({"referral_id": "r1", "agency": "bay-clinic", "consent_id": "c-any",
        "domains": ["medical"], "data_shared": ["contact"]});
    assert_eq!(
        refused(&app, &maria, "referral.made", referral),
        (422, "consent_scope".into())
    );

    // Rule 1: a caseworker of an agency with no part in the case.
    let needs = json!({"needs": ["legal"]});
    assert_eq!(
        refused(&app, &other, "case.needs_assessed", needs),
        (403, "forbidden".into())
    );

    // Rule 1 comes before rule 7: a writer who may not write is told so, whatever its clock.
    let ahead = Utc::now() + chrono::Duration::minutes(30);
    let needs = json!({"needs": ["legal"]});
    for (who, expected) in [(&other, (403, "forbidden")), (&maria, (422, "clock_skew"))] {
        let before = app.log_size();
        let env = client::signed_event(&who.0, "case.needs_assessed", CASE, needs.clone(), ahead);
        let r = app.post_event(&who.1, &env);
        assert_eq!((r.status, r.code()), expected, "{}", r.text);
        assert_eq!(app.log_size(), before);
    }

    // And the consent in force does allow the inquiry.
    app.write(
        &maria.0,
        &maria.1,
        "inquiry.sent",
        CASE,
        inquiry("q1", "c-any"),
    );
}

#[test]
fn a_consent_names_only_registered_principals_and_agencies_and_a_notice_code() {
    // DESIGN types these as slugs and 1..32 characters: free text a careless client could
    // fill with a person's name. New consents must name what the registry holds.
    let app = spawn_app();
    app.register_agency("harbor-house");
    app.register_agency("bay-clinic");
    let maria = app.register_principal("maria", "harbor-house", &["caseworker"]);
    app.register_principal("sam", "harbor-house", &["supervisor"]);
    app.register_principal("omar-bc", "bay-clinic", &["caseworker"]);
    app.register_principal("left", "harbor-house", &["caseworker"]);
    app.write(
        &app.admin,
        &app.admin_token,
        "principal.deactivated",
        "principal-left",
        json!({"reason": "left_agency"}),
    );
    let opened = json!({"owner_agency": "harbor-house", "coordinator": "maria",
        "needs": ["medical"], "minor": false});
    app.write(&maria.0, &maria.1, "case.opened", CASE, opened);
    let until = "2030-01-01T00:00:00Z";
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut c = consent("c1", &["inquiry"], json!(["bay-clinic"]), until);
        edit(&mut c);
        c
    };
    for (what, data) in [
        (
            "witness",
            with(&|c| c["witness"] = json!("maria-lopez-mother")),
        ),
        // Registered, but not the owner agency's: trying ids would tell a coordinator
        // which principals other agencies have.
        (
            "witness elsewhere",
            with(&|c| c["witness"] = json!("omar-bc")),
        ),
        // The owner's staff no more.
        ("witness gone", with(&|c| c["witness"] = json!("left"))),
        (
            "recipients",
            with(&|c| c["recipients"] = json!(["bay-clinic", "maria-lopez-1990"])),
        ),
        (
            "notice_version",
            with(&|c| c["notice_version"] = json!("Maria Lopez 1990")),
        ),
    ] {
        let (status, code) = refused(&app, &maria, "consent.granted", data);
        assert_eq!((status, code.as_str()), (400, "schema_violation"), "{what}");
    }
    // A registered witness and registered recipients are taken.
    let fine = with(&|c| c["witness"] = json!("sam"));
    assert_eq!(
        app.write(&maria.0, &maria.1, "consent.granted", CASE, fine)
            .status,
        201
    );
}

#[test]
fn inquiries_and_referrals_go_to_another_agency_than_the_cases_owner() {
    // Asking one's own agency is not an inquiry or a referral: allowed, it let any of the
    // owner's staff write the addressed agency's steps without being the coordinator.
    let app = spawn_app();
    app.register_agency("harbor-house");
    app.register_agency("bay-clinic");
    let maria = app.register_principal("maria", "harbor-house", &["caseworker"]);
    let opened = json!({"owner_agency": "harbor-house", "coordinator": "maria",
        "needs": ["medical"], "minor": false});
    app.write(&maria.0, &maria.1, "case.opened", CASE, opened);
    let both = json!(["bay-clinic", "harbor-house"]);
    let until = "2030-01-01T00:00:00Z";
    let c = consent("c1", &["inquiry", "referral"], both, until);
    app.write(&maria.0, &maria.1, "consent.granted", CASE, c);
    let mut to_owner = inquiry("q-own", "c1");
    to_owner["agency"] = json!("harbor-house");
    let referral = |agency: &str| {
        json!({"referral_id": "r1", "agency": agency, "consent_id": "c1",
            "domains": ["medical"], "data_shared": ["contact"]})
    };
    for (kind, data) in [
        ("inquiry.sent", to_owner),
        ("referral.made", referral("harbor-house")),
    ] {
        let (status, code) = refused(&app, &maria, kind, data);
        assert_eq!((status, code.as_str()), (400, "schema_violation"), "{kind}");
    }
    // To another agency they are taken.
    app.write(
        &maria.0,
        &maria.1,
        "inquiry.sent",
        CASE,
        inquiry("q1", "c1"),
    );
    app.write(
        &maria.0,
        &maria.1,
        "referral.made",
        CASE,
        referral("bay-clinic"),
    );
}
