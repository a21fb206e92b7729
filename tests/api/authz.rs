//! The role × endpoint authorization matrix (DESIGN §4) on the demo case: every role and
//! agency combination against every endpoint of this branch, with the expected status and
//! code, and proof that a denied read leaks nothing.

use caseledger::client;
use caseledger::domain::PrincipalId;
use caseledger::envelope::KeyFile;
use chrono::Utc;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::cases::demo;
use crate::helpers::{spawn_app, TestApp};

/// The callers, in matrix column order.
const ROLES: [&str; 9] = [
    "own",
    "supervisor",
    "addressed",
    "unrelated",
    "auditor",
    "evaluator",
    "admin",
    "service",
    "anon",
];

struct Cast {
    tokens: Vec<Option<String>>,
    keys: Vec<Option<KeyFile>>,
}

fn cast(app: &TestApp, d: &caseledger::cli::demo::DemoOutcome) -> Cast {
    let (own_key, own) = d.people["coordinator"].clone();
    let (legal_key, legal) = d.people["legal"].clone();
    let (sup_key, sup) = app.register_principal("sup-1", "harbor-house", &["supervisor"]);
    app.register_agency("far-away");
    let (far_key, far) = app.register_principal("far-1", "far-away", &["caseworker"]);
    let (aud_key, aud) = app.register_principal("aud-1", "operator", &["auditor"]);
    let (ev_key, ev) = app.register_principal("eval-1", "operator", &["evaluator"]);
    let service = app.issue_token("ledger-service");
    let service_key =
        KeyFile::read(&app.dir.path().join(caseledger::datadir::SERVICE_KEY_FILE)).expect("key");
    Cast {
        tokens: vec![
            Some(own),
            Some(sup),
            Some(legal),
            Some(far),
            Some(aud),
            Some(ev),
            Some(app.admin_token.clone()),
            Some(service),
            None,
        ],
        keys: vec![
            Some(own_key),
            Some(sup_key),
            Some(legal_key),
            Some(far_key),
            Some(aud_key),
            Some(ev_key),
            Some(app.admin.clone()),
            Some(service_key),
            None,
        ],
    }
}

/// Expected (status, code) per role, in `ROLES` order; code "" means success.
type Row = [(u16, &'static str); 9];

const OK: (u16, &str) = (200, "");
const NF: (u16, &str) = (404, "not_found");
const FB: (u16, &str) = (403, "forbidden");
const UA: (u16, &str) = (401, "unauthenticated");

#[test]
fn every_role_against_every_read_endpoint() {
    let app = spawn_app();
    let d = demo(&app);
    let c = cast(&app, &d);
    let id = d.case_id;
    let today = chrono::Utc::now().date_naive();
    let matrix: Vec<(String, Row)> = vec![
        (
            format!("/v1/cases/{id}"),
            [OK, OK, OK, NF, OK, FB, FB, FB, UA],
        ),
        (
            format!("/v1/cases/{id}/consent-trail"),
            [OK, OK, NF, NF, OK, FB, FB, FB, UA],
        ),
        (
            format!("/v1/streams/case-{id}"),
            [OK, OK, NF, NF, OK, NF, NF, NF, UA],
        ),
        (
            "/v1/streams/agency-harbor-house".into(),
            [OK, OK, OK, OK, OK, OK, OK, OK, UA],
        ),
        (
            "/v1/streams/principal-sup-1".into(),
            [NF, OK, NF, NF, OK, NF, OK, NF, UA],
        ),
        ("/v1/agencies".into(), [OK, OK, OK, OK, OK, OK, OK, OK, UA]),
        (
            "/v1/agencies/harbor-house".into(),
            [OK, OK, OK, OK, OK, OK, OK, OK, UA],
        ),
        (
            "/v1/log/entries?start=0&limit=1".into(),
            [FB, FB, FB, FB, OK, FB, FB, FB, UA],
        ),
        (
            "/v1/log/proof/inclusion?index=0&size=1".into(),
            [FB, FB, FB, FB, OK, FB, FB, FB, UA],
        ),
        (
            "/v1/log/tile/0/000.p/1".into(),
            [FB, FB, FB, FB, OK, FB, FB, FB, UA],
        ),
        (
            "/v1/log/tile/entries/000.p/1".into(),
            [FB, FB, FB, FB, OK, FB, FB, FB, UA],
        ),
        ("/v1/log/checkpoint".into(), [OK; 9]),
        // Public, and 404 on a server without witnesses.
        ("/v1/log/checkpoint/witnessed".into(), [NF; 9]),
        ("/v1/log/key".into(), [OK; 9]),
        ("/v1/log/proof/consistency?from=1&to=2".into(), [OK; 9]),
        ("/v1/schemas".into(), [OK; 9]),
        ("/v1/schemas/consent.granted".into(), [OK; 9]),
        (
            format!("/v1/export?case={id}"),
            [FB, FB, FB, FB, OK, FB, FB, FB, UA],
        ),
        (
            format!("/v1/reports/agencies?from={today}&to={today}"),
            [FB, FB, FB, FB, OK, OK, FB, FB, UA],
        ),
        (
            format!("/v1/reports/program?from={today}&to={today}&format=csv"),
            [FB, FB, FB, FB, OK, OK, FB, FB, UA],
        ),
        ("/healthz".into(), [OK; 9]),
        ("/readyz".into(), [OK; 9]),
        ("/metrics".into(), [OK; 9]),
    ];
    let mut failures = Vec::new();
    for (path, row) in &matrix {
        for (i, (status, code)) in row.iter().enumerate() {
            let r = app.get(path, c.tokens[i].as_deref());
            if r.status != *status || r.code() != *code {
                failures.push(format!(
                    "{path} as {}: got {} {:?}, want {status} {code:?}",
                    ROLES[i],
                    r.status,
                    r.code()
                ));
            }
            if r.status >= 400 {
                for secret in [
                    "north-legal-aid",
                    "c-referral",
                    "q-legal",
                    d.coordinator.as_str(),
                ] {
                    if r.text.contains(secret) {
                        failures.push(format!("{path} as {}: denial leaks {secret}", ROLES[i]));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_hidden_case_is_indistinguishable_from_a_missing_one() {
    let app = spawn_app();
    let d = demo(&app);
    let c = cast(&app, &d);
    let missing = caseledger::domain::CaseId::random();
    for (i, t) in c.tokens.iter().enumerate() {
        for suffix in ["", "/consent-trail"] {
            let a = app.get(&format!("/v1/cases/{}{suffix}", d.case_id), t.as_deref());
            let b = app.get(&format!("/v1/cases/{missing}{suffix}"), t.as_deref());
            if a.status == 404 {
                assert_eq!(
                    a.text.replace(&d.case_id.to_string(), "ID"),
                    b.text.replace(&missing.to_string(), "ID"),
                    "{}",
                    ROLES[i]
                );
            }
            if a.status == 403 {
                assert_eq!((b.status, b.code()), (403, "forbidden"), "{}", ROLES[i]);
            }
        }
    }
}

/// One `case.needs_assessed` signed by `key`, as the single and the batch endpoint take it.
fn needs_assessed(key: &KeyFile, stream: &str) -> [(&'static str, serde_json::Value); 2] {
    let env = client::signed_event(
        key,
        "case.needs_assessed",
        stream,
        json!({"needs": ["social"]}),
        Utc::now(),
    );
    [
        ("/v1/events", serde_json::to_value(&env).expect("json")),
        ("/v1/events/batch", json!({"events": [env]})),
    ]
}

#[test]
fn only_the_coordinator_writes_case_events_and_only_admins_issue_tokens() {
    let app = spawn_app();
    let d = demo(&app);
    let c = cast(&app, &d);
    let stream = format!("case-{}", d.case_id);
    let want: Row = [(201, ""), FB, FB, FB, FB, FB, FB, FB, UA];
    for (i, (status, code)) in want.iter().enumerate() {
        // The same event through the single and the batch endpoint: the batch path must
        // refuse exactly what the single path refuses. Only the first accepted write lands.
        let [single, batch] = needs_assessed(c.keys[i].as_ref().unwrap_or(&app.admin), &stream);
        for (path, body) in [batch, single] {
            let before = app.log_size();
            let r = app.post_json(path, c.tokens[i].as_deref(), &body);
            let want = match (*status, path) {
                (201, "/v1/events") => (200, ""), // the batch already wrote it: idempotent
                _ => (*status, *code),
            };
            assert_eq!(
                (r.status, r.code()),
                want,
                "{} {path}: {}",
                ROLES[i],
                r.text
            );
            assert_eq!(
                app.log_size(),
                before + u64::from(r.status == 201),
                "{} {path}",
                ROLES[i]
            );
        }
    }
    let tokens: Row = [FB, FB, FB, FB, FB, FB, (201, ""), FB, UA];
    for (i, (status, code)) in tokens.iter().enumerate() {
        let r = app.post_raw("/v1/principals/far-1/tokens", c.tokens[i].as_deref(), b"");
        assert_eq!(
            (r.status, r.code()),
            (*status, *code),
            "{}: {}",
            ROLES[i],
            r.text
        );
    }
}

#[test]
fn only_a_reader_of_the_stream_learns_its_revision_from_expected_revision() {
    let app = spawn_app();
    let d = demo(&app);
    let c = cast(&app, &d);
    let stream = format!("case-{}", d.case_id);
    // Whoever may read the case stream is told its revision; anyone else gets the refusal
    // the rules give the event, as without an expected revision.
    const WR: (u16, &str) = (409, "wrong_expected_revision");
    let want: Row = [WR, WR, FB, FB, WR, FB, FB, FB, UA];
    for (i, (status, code)) in want.iter().enumerate() {
        for (path, body) in needs_assessed(c.keys[i].as_ref().unwrap_or(&app.admin), &stream) {
            for expected in ["no_stream", "0"] {
                let before = app.log_size();
                let r = app.post_json(
                    &format!("{path}?expected_revision={expected}"),
                    c.tokens[i].as_deref(),
                    &body,
                );
                let what = format!("{} {path} {expected}: {}", ROLES[i], r.text);
                assert_eq!((r.status, r.code()), (*status, *code), "{what}");
                assert_eq!(r.text.contains("is at revision"), *status == 409, "{what}");
                assert_eq!(app.log_size(), before, "{what}");
            }
        }
    }
    // An agency the case only addressed, with responses of its own: an unknown referral is
    // refused as it is without an expected revision; a response the rules would take gets a
    // conflict that names no revision. Neither tells how many events the case holds.
    let (legal_key, legal_token) = d.people["legal"].clone();
    let respond = |referral: &str, expected: &str| {
        let env = client::signed_event(
            &legal_key,
            "referral.closed",
            &stream,
            json!({"referral_id": referral, "outcome": "completed"}),
            Utc::now(),
        );
        let before = app.log_size();
        let r = app.post_json(
            &format!("/v1/events?expected_revision={expected}"),
            Some(&legal_token),
            &serde_json::to_value(&env).expect("json"),
        );
        assert!(!r.text.contains("at revision"), "{}", r.text);
        assert_eq!(app.log_size(), before, "{}", r.text);
        (r.status, r.code().to_owned())
    };
    for expected in ["0", "no_stream"] {
        assert_eq!(
            respond("r-unknown", expected),
            (422, "invalid_transition".to_owned())
        );
        assert_eq!(
            respond("r-legal", expected),
            (409, "wrong_expected_revision".to_owned())
        );
    }
    // A batch the rules refuse at its second event (r-legal closed twice) gets the same
    // answer whatever revision it expects: a review told a right guess (422 events[1]) from
    // a wrong one (409) and so counted the case's events.
    let (coordinator_key, coordinator_token) = d.people["coordinator"].clone();
    let _ = coordinator_key;
    let page = app.get(&format!("/v1/streams/{stream}"), Some(&coordinator_token));
    let entries = page.json["entries"].as_array().expect("entries").len();
    let close = || {
        let env = client::signed_event(
            &legal_key,
            "referral.closed",
            &stream,
            json!({"referral_id": "r-legal", "outcome": "completed"}),
            Utc::now(),
        );
        serde_json::to_value(&env).expect("json")
    };
    let batch = json!({"events": [close(), close()]});
    let answers: Vec<(u16, String, String)> = [entries - 1, entries, entries - 2, 0]
        .iter()
        .map(|expected| {
            let before = app.log_size();
            let r = app.post_json(
                &format!("/v1/events/batch?expected_revision={expected}"),
                Some(&legal_token),
                &batch,
            );
            assert_eq!(app.log_size(), before, "{}", r.text);
            (r.status, r.code().to_owned(), r.json["detail"].to_string())
        })
        .collect();
    assert_eq!(answers[0].0, 422, "{answers:?}");
    assert!(answers[0].2.contains("events[1]"), "{answers:?}");
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
}

#[test]
fn the_service_principal_stays_the_servers() {
    let app = spawn_app();
    let (_, _) = app.register_principal("cw-x", "operator", &["caseworker"]);
    let service_key =
        KeyFile::read(&app.dir.path().join(caseledger::datadir::SERVICE_KEY_FILE)).expect("key");
    let service_token = app.issue_token("ledger-service");
    let post = |key: &KeyFile, token: &str, kind: &str, stream: &str, data| {
        let before = app.log_size();
        let env = client::signed_event(key, kind, stream, data, Utc::now());
        let r = app.post_event(token, &env);
        assert_eq!(app.log_size(), before + u64::from(r.status == 201));
        r
    };
    // An admin cannot add a key of their own to the service principal...
    let mine = KeyFile::generate(PrincipalId::parse("ledger-service").expect("slug"));
    let r = post(
        &app.admin,
        &app.admin_token,
        "principal.key_added",
        "principal-ledger-service",
        json!({"public_key": mine.public_key_b64()}),
    );
    assert_eq!((r.status, r.code()), (403, "forbidden"), "{}", r.text);
    // ...and a token issued by the service names an active admin as the one who asked.
    let admin = app.admin.principal.to_string();
    for (requested_by, status) in [("cw-x", 403), ("nobody", 403), (admin.as_str(), 201)] {
        let hash = hex::encode(Sha256::digest(format!("chosen-{requested_by}")));
        let r = post(
            &service_key,
            &service_token,
            "principal.token_issued",
            "principal-cw-x",
            json!({"token_sha256": hash, "requested_by": requested_by}),
        );
        assert_eq!(r.status, status, "{requested_by}: {}", r.text);
        if status == 403 {
            assert_eq!(r.code(), "forbidden");
            assert!(r.text.contains("not an active admin"), "{}", r.text);
        }
    }
}

#[test]
fn a_conflicting_event_id_tells_only_a_reader_of_its_stream_where_the_event_is() {
    let app = spawn_app();
    let d = demo(&app);
    let stream = format!("case-{}", d.case_id);
    let (coordinator_key, coordinator_token) = d.people["coordinator"].clone();
    let (legal_key, legal_token) = d.people["legal"].clone();
    let needs = client::payload(
        "case.needs_assessed",
        &stream,
        coordinator_key.principal.as_str(),
        json!({"needs": ["legal", "medical"]}),
        Utc::now(),
    );
    let original = client::sign_value(&coordinator_key, &needs);
    let first = app.post_event(&coordinator_token, &original);
    assert_eq!(first.status, 201, "{}", first.text);
    let index = first.json["index"].as_u64().expect("index");
    // The agency the case addressed (it may not read the case stream) reuses the event id:
    // it gets the refusal the rules give its event, or a conflict that names no place.
    let reuse = |data: serde_json::Value| {
        let actor = legal_key.principal.as_str();
        let mut p = client::payload("referral.closed", &stream, actor, data, Utc::now());
        p["event_id"] = needs["event_id"].clone();
        let before = app.log_size();
        let r = app.post_event(&legal_token, &client::sign_value(&legal_key, &p));
        assert!(!r.text.contains("index"), "{}", r.text);
        assert_eq!(app.log_size(), before, "{}", r.text);
        (r.status, r.code().to_owned())
    };
    let unknown = json!({"referral_id": "r-unknown", "outcome": "completed"});
    assert_eq!(reuse(unknown), (422, "invalid_transition".to_owned()));
    let lawful = json!({"referral_id": "r-legal", "outcome": "completed"});
    assert_eq!(
        reuse(lawful.clone()),
        (409, "duplicate_event_conflict".to_owned())
    );
    // A reader is told where it is; the original still answers as a repeat, and the
    // lawful step is still open to a fresh event (deciding for the outsider changed nothing).
    let mut changed = needs.clone();
    changed["data"]["needs"] = json!(["legal"]);
    let r = app.post_event(
        &coordinator_token,
        &client::sign_value(&coordinator_key, &changed),
    );
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.text.contains(&format!("(index {index})")), "{}", r.text);
    let again = app.post_event(&coordinator_token, &original);
    assert_eq!(
        (again.status, &again.json),
        (200, &first.json),
        "{}",
        again.text
    );
    let fresh = client::signed_event(&legal_key, "referral.closed", &stream, lawful, Utc::now());
    let r = app.post_event(&legal_token, &fresh);
    assert_eq!(r.status, 201, "{}", r.text);
}

/// Sends `head` (request line and headers, without the final blank line) over a raw
/// connection; the whole response as text.
fn raw_request(app: &TestApp, head: &str) -> String {
    use std::io::{Read, Write};
    let addr = app.url("").trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "{head}\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
}

#[test]
fn two_authorization_headers_are_refused_and_no_response_is_cached() {
    let app = spawn_app();
    let (_, auditor) = app.register_principal("aud-1", "operator", &["auditor"]);
    let (_, evaluator) = app.register_principal("eval-1", "operator", &["evaluator"]);
    // Which of two headers a proxy and the server would each take is ambiguous: in either
    // order, neither is used.
    for (first, second) in [(&auditor, &evaluator), (&evaluator, &auditor)] {
        let r = raw_request(
            &app,
            &format!(
                "GET /v1/log/entries HTTP/1.1\r\nAuthorization: Bearer {first}\r\n\
                 Authorization: Bearer {second}"
            ),
        );
        assert!(r.starts_with("HTTP/1.1 400"), "{r}");
        assert!(
            r.contains("the authorization header is given 2 times"),
            "{r}"
        );
    }
    let one = raw_request(
        &app,
        &format!("GET /v1/log/entries HTTP/1.1\r\nAuthorization: Bearer {auditor}"),
    );
    assert!(one.starts_with("HTTP/1.1 200"), "{one}");
    // Tokens, case content and refusals alike: never stored by a cache.
    for r in [
        one,
        raw_request(
            &app,
            "POST /v1/principals/aud-1/tokens HTTP/1.1\r\nContent-Length: 0",
        ),
        raw_request(&app, "GET /v1/log/checkpoint HTTP/1.1"),
    ] {
        assert!(
            r.to_ascii_lowercase()
                .contains("\r\ncache-control: no-store\r\n"),
            "{r}"
        );
    }
}
