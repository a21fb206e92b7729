//! The bad-input table: every malformed or unauthorised write is refused with the right
//! status and problem `code`, and the log does not grow.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use caseledger::client;
use caseledger::envelope::{self, KeyFile};
use caseledger::http::Limits;
use chrono::{Duration, Utc};
use serde_json::{json, Value};

use crate::helpers::{agency_data, spawn_app_with, TestApp};

struct Case {
    name: &'static str,
    path: String,
    token: Option<String>,
    body: Vec<u8>,
    status: u16,
    code: &'static str,
}

pub(crate) fn agency_payload(app: &TestApp, id: &str) -> Value {
    client::payload(
        "agency.registered",
        &format!("agency-{id}"),
        app.admin.principal.as_str(),
        agency_data(id),
        Utc::now(),
    )
}

fn signed(key: &KeyFile, payload: &Value) -> Vec<u8> {
    serde_json::to_vec(&client::sign_value(key, payload)).expect("json")
}

fn cases(app: &TestApp, revoked: &(KeyFile, String), stranger: &KeyFile) -> Vec<Case> {
    let tok = Some(app.admin_token.clone());
    let good = agency_payload(app, "x-agency");
    let with = |name, body: Vec<u8>, status, code| Case {
        name,
        path: "/v1/events".into(),
        token: tok.clone(),
        body,
        status,
        code,
    };
    let edited = |f: &dyn Fn(&mut Value)| {
        let mut p = good.clone();
        f(&mut p);
        p
    };
    let mut env: Value = serde_json::to_value(client::sign_value(&app.admin, &good)).expect("v");
    let mut out = vec![
        with(
            "malformed JSON",
            b"{\"payloadType\":".to_vec(),
            400,
            "invalid_envelope",
        ),
        with("empty body", Vec::new(), 400, "invalid_envelope"),
    ];
    env["payload"] = json!("***not base64***");
    out.push(with(
        "payload not base64",
        env.to_string().into_bytes(),
        400,
        "invalid_envelope",
    ));
    let mut wrong_sig = client::sign_value(&app.admin, &good);
    let other = client::sign_value(&app.admin, &agency_payload(app, "y-agency"));
    wrong_sig.signatures = other.signatures;
    out.push(with(
        "bad signature",
        serde_json::to_vec(&wrong_sig).expect("j"),
        400,
        "bad_signature",
    ));
    let mut forged_junk = client::sign_value(&app.admin, &edited(&|p| p["type"] = json!("junk")));
    forged_junk.signatures = client::sign_value(&app.admin, &good).signatures;
    out.push(with(
        "bad signature over an invalid payload (signature is checked first)",
        serde_json::to_vec(&forged_junk).expect("j"),
        400,
        "bad_signature",
    ));
    let mut no_sig = client::sign_value(&app.admin, &good);
    no_sig.signatures.clear();
    out.push(with(
        "no signature",
        serde_json::to_vec(&no_sig).expect("j"),
        400,
        "invalid_envelope",
    ));
    let mut wrong_type = client::sign_value(&app.admin, &good);
    wrong_type.payload_type = "application/json".into();
    out.push(with(
        "wrong payloadType",
        serde_json::to_vec(&wrong_type).expect("j"),
        400,
        "invalid_envelope",
    ));
    out.push(with(
        "unknown key",
        signed(stranger, &good),
        403,
        "unknown_key",
    ));
    out.push(with(
        "unknown actor",
        signed(&app.admin, &edited(&|p| p["actor"] = json!("nobody-here"))),
        403,
        "forbidden",
    ));
    out.push(with(
        "unknown event type",
        signed(
            &app.admin,
            &edited(&|p| p["type"] = json!("agency.demolished")),
        ),
        400,
        "schema_violation",
    ));
    out.push(with(
        "unknown data field",
        signed(
            &app.admin,
            &edited(&|p| p["data"]["director_name"] = json!("Jane")),
        ),
        400,
        "schema_violation",
    ));
    out.push(with(
        "unknown top-level field",
        signed(&app.admin, &edited(&|p| p["comment"] = json!("hello"))),
        400,
        "schema_violation",
    ));
    out.push(with(
        "bad enum value",
        signed(
            &app.admin,
            &edited(&|p| p["data"]["domains"] = json!(["astrology"])),
        ),
        400,
        "schema_violation",
    ));
    let array: Value = serde_json::to_value(client::sign_value(&app.admin, &good)).expect("v");
    out.push(with(
        "envelope spelled as an array",
        json!([array["payloadType"], array["payload"], array["signatures"]])
            .to_string()
            .into_bytes(),
        400,
        "invalid_envelope",
    ));
    out.push(Case {
        name: "batch body spelled as an array",
        path: "/v1/events/batch".into(),
        token: tok.clone(),
        body: json!([[array.clone()]]).to_string().into_bytes(),
        status: 400,
        code: "invalid_envelope",
    });
    out.push(with(
        "invisible formatting character in a name",
        signed(
            &app.admin,
            &edited(&|p| p["data"]["name"] = json!("Agency \u{202E}x")),
        ),
        400,
        "schema_violation",
    ));
    out.push(with(
        "a language listed twice in different case",
        signed(
            &app.admin,
            &edited(&|p| p["data"]["languages"] = json!(["es", "ES"])),
        ),
        400,
        "schema_violation",
    ));
    let future = caseledger::ledger::entry::format_time(&(Utc::now() + Duration::minutes(30)));
    out.push(with(
        "clock skew",
        signed(&app.admin, &edited(&|p| p["occurred_at"] = json!(future))),
        422,
        "clock_skew",
    ));
    let digits = format!("2026-11-28T10:15:00.{}Z", "4".repeat(60));
    out.push(with(
        "a timestamp with digits past nanoseconds",
        signed(&app.admin, &edited(&|p| p["occurred_at"] = json!(digits))),
        400,
        "schema_violation",
    ));
    out.push(with(
        "a leap second where none was",
        signed(
            &app.admin,
            &edited(&|p| p["occurred_at"] = json!("2026-11-28T10:15:60Z")),
        ),
        400,
        "schema_violation",
    ));
    out.push(with(
        "bad stream id",
        signed(
            &app.admin,
            &edited(&|p| p["stream"] = json!("agency-Not_A_Slug")),
        ),
        400,
        "schema_violation",
    ));
    out.push(with(
        "event type in the wrong stream kind",
        signed(
            &app.admin,
            &edited(&|p| p["stream"] = json!("principal-x-agency")),
        ),
        400,
        "stream_mismatch",
    ));
    out.push(with(
        "missing event_id",
        signed(
            &app.admin,
            &edited(&|p| {
                p.as_object_mut().expect("obj").remove("event_id");
            }),
        ),
        400,
        "schema_violation",
    ));
    let big = edited(&|p| p["data"]["name"] = json!("x".repeat(70 * 1024)));
    out.push(with(
        "oversized body",
        signed(&app.admin, &big),
        413,
        "payload_too_large",
    ));
    out.push(Case {
        name: "no token",
        path: "/v1/events".into(),
        token: None,
        body: signed(&app.admin, &good),
        status: 401,
        code: "unauthenticated",
    });
    out.push(Case {
        name: "unknown token",
        path: "/v1/events".into(),
        token: Some("clt_not-a-real-token".into()),
        body: signed(&app.admin, &good),
        status: 401,
        code: "unauthenticated",
    });
    let revoked_event = client::payload(
        "agency.registered",
        "agency-z-agency",
        revoked.0.principal.as_str(),
        agency_data("z"),
        Utc::now(),
    );
    out.push(Case {
        name: "revoked key",
        path: "/v1/events".into(),
        token: Some(revoked.1.clone()),
        body: signed(&revoked.0, &revoked_event),
        status: 403,
        code: "key_revoked",
    });
    out.push(Case {
        name: "bad expected_revision",
        path: "/v1/events?expected_revision=soon".into(),
        token: tok.clone(),
        body: signed(&app.admin, &good),
        status: 400,
        code: "bad_request",
    });
    let mut other_admin_actor = good.clone();
    other_admin_actor["actor"] = json!(revoked.0.principal.as_str());
    let batch_mixed = json!({"events": [
        client::sign_value(&app.admin, &agency_payload(app, "b-one")),
        client::sign_value(&app.admin, &agency_payload(app, "b-two")),
    ]});
    out.push(Case {
        name: "batch across two streams",
        path: "/v1/events/batch".into(),
        token: tok.clone(),
        body: batch_mixed.to_string().into_bytes(),
        status: 400,
        code: "stream_mismatch",
    });
    out.push(Case {
        name: "oversized event in a batch",
        path: "/v1/events/batch".into(),
        token: tok.clone(),
        body: json!({"events": [client::sign_value(&app.admin, &big)]})
            .to_string()
            .into_bytes(),
        status: 413,
        code: "payload_too_large",
    });
    out.push(Case {
        name: "empty batch",
        path: "/v1/events/batch".into(),
        token: tok,
        body: b"{\"events\":[]}".to_vec(),
        status: 400,
        code: "invalid_envelope",
    });
    out
}

#[test]
fn every_bad_input_is_refused_with_its_code_and_writes_nothing() {
    let app = spawn_app_with(Limits::default());
    // A second admin whose key is then revoked: its writes must be refused.
    let (revoked_key, revoked_token) = app.register_principal("admin-two", "operator", &["admin"]);
    app.write(
        &app.admin,
        &app.admin_token,
        "principal.key_revoked",
        "principal-admin-two",
        json!({"keyid": revoked_key.keyid().to_string(), "reason": "compromised"}),
    );
    let stranger = KeyFile::generate(caseledger::domain::PrincipalId::parse("admin").expect("s"));
    let table = cases(&app, &(revoked_key, revoked_token), &stranger);
    assert!(table.len() >= 15);
    for case in table {
        let before = app.log_size();
        let r = app.post_raw(&case.path, case.token.as_deref(), &case.body);
        assert_eq!(r.status, case.status, "{}: {}", case.name, r.text);
        assert_eq!(r.code(), case.code, "{}: {}", case.name, r.text);
        assert_eq!(
            r.content_type, "application/problem+json",
            "{}: content type",
            case.name
        );
        for member in ["type", "title", "status", "detail", "code"] {
            assert!(
                !r.json[member].is_null(),
                "{}: problem lacks {member}",
                case.name
            );
        }
        assert_eq!(app.log_size(), before, "{}: the log grew", case.name);
    }
}

#[test]
fn non_admins_cannot_write_principal_or_agency_events() {
    let app = spawn_app_with(Limits::default());
    app.register_agency("north-legal");
    let (cw, token) = app.register_principal("cw-ana", "north-legal", &["caseworker"]);
    let before = app.log_size();
    let env = client::signed_event(
        &cw,
        "agency.updated",
        "agency-north-legal",
        agency_data("north-legal"),
        Utc::now(),
    );
    let r = app.post_event(&token, &env);
    assert_eq!((r.status, r.code()), (403, "forbidden"), "{}", r.text);
    let key = KeyFile::generate(caseledger::domain::PrincipalId::parse("cw-evil").expect("s"));
    let env = client::signed_event(
        &cw,
        "principal.registered",
        "principal-cw-evil",
        json!({"agency": "north-legal", "roles": ["admin"], "public_key": B64.encode(key.key.verifying_key().as_bytes())}),
        Utc::now(),
    );
    let r = app.post_event(&token, &env);
    assert_eq!((r.status, r.code()), (403, "forbidden"), "{}", r.text);
    let r = app.post_raw("/v1/principals/cw-ana/tokens", Some(&token), b"");
    assert_eq!((r.status, r.code()), (403, "forbidden"), "{}", r.text);
    assert_eq!(app.log_size(), before);
    let _ = envelope::PAYLOAD_TYPE;
}

#[test]
fn token_expiry_follows_the_event_timestamp_rules() {
    let app = spawn_app_with(Limits::default());
    let path = "/v1/principals/admin/tokens";
    let before = app.log_size();
    for expires_at in [
        "+10000-01-01T00:00:00Z",
        "2099-01-01 00:00:00Z",
        "2099-01-01T00:00:00+02:00",
        "2099-01-01t00:00:00z",
        "2000-01-01T00:00:00Z",
        "2099-01-01T00:00:00.1234567891Z",
        "2098-12-31T23:59:60Z",
    ] {
        let r = app.post_json(
            path,
            Some(&app.admin_token),
            &json!({ "expires_at": expires_at }),
        );
        assert_eq!(
            (r.status, r.code()),
            (400, "schema_violation"),
            "{expires_at}: {}",
            r.text
        );
        assert!(r.content_type.starts_with("application/problem+json"));
    }
    // The body is one JSON object: not serde's array spelling of it, nothing after it.
    for body in [
        r#"["2099-01-01T00:00:00Z"]"#,
        r#"{"expires_at":"2099-01-01T00:00:00Z"} x"#,
        r#"{"expires_at":"2099-01-01T00:00:00Z","label":"x"}"#,
    ] {
        let r = app.post_raw(path, Some(&app.admin_token), body.as_bytes());
        assert_eq!(
            (r.status, r.code()),
            (400, "schema_violation"),
            "{body}: {}",
            r.text
        );
    }
    assert_eq!(app.log_size(), before);
    // The expiry is recorded as asked, to the nanosecond.
    for (asked, recorded) in [
        ("2099-01-01T00:00:00+00:00", "2099-01-01T00:00:00Z"),
        (
            "2099-01-01T00:00:00.123456789Z",
            "2099-01-01T00:00:00.123456789Z",
        ),
    ] {
        let r = app.post_json(path, Some(&app.admin_token), &json!({"expires_at": asked}));
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.json["expires_at"], recorded);
    }
    // An explicit `null` is what omitting it is: a token that does not expire.
    let r = app.post_json(path, Some(&app.admin_token), &json!({ "expires_at": null }));
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json.get("expires_at"), Some(&json!(null)), "{}", r.text);
}
