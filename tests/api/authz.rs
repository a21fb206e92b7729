//! The role × endpoint authorization matrix (DESIGN §4) on the demo case: every role and
//! agency combination against every endpoint of this branch, with the expected status and
//! code, and proof that a denied read leaks nothing.

use caseledger::client;
use caseledger::envelope::KeyFile;
use chrono::Utc;
use serde_json::json;

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
        ("/v1/log/checkpoint".into(), [OK; 9]),
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

#[test]
fn only_the_coordinator_writes_case_events_and_only_admins_issue_tokens() {
    let app = spawn_app();
    let d = demo(&app);
    let c = cast(&app, &d);
    let stream = format!("case-{}", d.case_id);
    let want: Row = [(201, ""), FB, FB, FB, FB, FB, FB, FB, UA];
    for (i, (status, code)) in want.iter().enumerate() {
        let key = c.keys[i].as_ref().unwrap_or(&app.admin);
        let env = client::signed_event(
            key,
            "case.needs_assessed",
            &stream,
            json!({"needs": ["social"]}),
            Utc::now(),
        );
        // The same event through the single and the batch endpoint: the batch path must
        // refuse exactly what the single path refuses. Only the first accepted write lands.
        for path in ["/v1/events/batch", "/v1/events"] {
            let body = match path {
                "/v1/events" => serde_json::to_value(&env).expect("json"),
                _ => json!({"events": [env.clone()]}),
            };
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
