//! A reading node (`--read-only --forward-writes`) in front of a writing node. With a real
//! writer sharing the reader's store (as two nodes share one EventStoreDB log): writes come
//! back as the writer's answers, and the reader serves them at once. Fake writers on a
//! plain socket are in `forward_fake.rs`.

use std::io::{Read, Write as _};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use caseledger::client;
use caseledger::datadir;
use caseledger::envelope::WireEnvelope;
use caseledger::http::{AppState, Limits, Writer};
use caseledger::ledger::{Ledger, SystemClock};
use caseledger::metrics::Metrics;
use caseledger::reports::{ReportConfig, ReportService};
use chrono::Utc;
use serde_json::json;

use crate::helpers::{agency_data, serve, spawn_app, to_resp, Resp, TestApp};

/// A reading node on `app`'s store that forwards writes to `writer`; its base URL.
pub(crate) fn reader(app: &TestApp, writer: &str, answer_timeout: Duration) -> String {
    reader_waiting(app, writer, answer_timeout, Duration::from_secs(5))
}

/// [`reader`], waiting up to `mirror_wait` to mirror each forwarded write.
pub(crate) fn reader_waiting(
    app: &TestApp,
    writer: &str,
    answer_timeout: Duration,
    mirror_wait: Duration,
) -> String {
    let dir = app.dir.path();
    let ledger = Ledger::open(
        app.ledger.store().clone(),
        datadir::read_signer(dir).expect("signer"),
        Arc::new(SystemClock),
        Arc::new(Metrics::new()),
    )
    .expect("reader ledger");
    let writer = Writer::new(writer, answer_timeout, mirror_wait).expect("writer");
    serve(AppState {
        reports: ReportService::start(ledger.store().clone(), ReportConfig::default(), None),
        ledger,
        service_key: datadir::read_service_key(dir).expect("service key"),
        clock: Arc::new(SystemClock),
        limits: Limits {
            read_only: true,
            ..Limits::default()
        },
        writer: Some(writer),
        bodies: Default::default(),
        cosignatures: Default::default(),
    })
}

/// Sends `request` as it is over a fresh connection; the whole answer as text.
pub(crate) fn raw(base: &str, request: &str) -> String {
    let mut stream = TcpStream::connect(base.trim_start_matches("http://")).expect("connect");
    // A server that never answers fails the test instead of hanging it.
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer");
    answer
}

/// POSTs `body` to `path` on the node at `base`.
pub(crate) fn post(base: &str, path: &str, token: Option<&str>, body: &[u8]) -> Resp {
    let mut req = ureq::post(&format!("{base}{path}")).set("Content-Type", "application/json");
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    to_resp(req.send_bytes(body))
}

/// An agency event on `agency-{id}`, signed by the admin.
fn agency_event(app: &TestApp, kind: &str, id: &str, name: &str) -> WireEnvelope {
    let stream = format!("agency-{id}");
    client::signed_event(&app.admin, kind, &stream, agency_data(name), Utc::now())
}

pub(crate) fn status_of(answer: &str) -> u16 {
    answer[9..12].parse().expect("status")
}

#[test]
fn a_write_through_a_reading_node_is_the_writers_and_reads_back_at_once() {
    let app = spawn_app();
    let reading = reader(&app, &app.base, Duration::from_secs(30));
    let admin = &app.admin_token;
    let before = app.log_size();

    // The writer's receipt, its content type, and the reader serves the new agency at once
    // to a token the writer issued a moment ago.
    let env = agency_event(&app, "agency.registered", "north", "north");
    let r = post(
        &reading,
        "/v1/events",
        Some(admin),
        &serde_json::to_vec(&env).expect("json"),
    );
    assert_eq!(
        (r.status, r.json["index"].as_u64()),
        (201, Some(before)),
        "{}",
        r.text
    );
    assert_eq!(r.content_type, "application/json");
    let r = post(&reading, "/v1/principals/admin/tokens", Some(admin), b"");
    assert_eq!(r.status, 201, "{}", r.text);
    let fresh = r.json["token"].as_str().expect("token");
    let r = ureq::get(&format!("{reading}/v1/agencies/north"))
        .set("Authorization", &format!("Bearer {fresh}"))
        .call();
    let r = to_resp(r);
    assert_eq!(r.status, 200, "read your write from the reader: {}", r.text);

    // Batches and the query go through; the writer's refusals come back as they are.
    let events: Vec<_> = ["r1", "r2"]
        .iter()
        .map(|name| agency_event(&app, "agency.registered", "batch", name))
        .collect();
    let batch = |events: &[_]| serde_json::to_vec(&json!({ "events": events })).expect("json");
    let r = post(&reading, "/v1/events/batch", Some(admin), &batch(&events));
    assert_eq!(
        r.status, 422,
        "the second registration is illegal: {}",
        r.text
    );
    let r = post(
        &reading,
        "/v1/events/batch",
        Some(admin),
        &batch(&events[..1]),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["receipts"][0]["revision"], json!(0), "{}", r.text);
    let size = app.log_size();
    let again = agency_event(&app, "agency.updated", "north", "north");
    let body = serde_json::to_vec(&again).expect("json");
    let r = post(
        &reading,
        "/v1/events?expected_revision=5",
        Some(admin),
        &body,
    );
    assert_eq!(
        (r.status, r.code()),
        (409, "wrong_expected_revision"),
        "{}",
        r.text
    );
    // Refused by the writer and passed back: a well-formed token nobody holds (the reader
    // checks only a token's shape), a body that is no envelope; refused by the reader
    // itself: no token at all.
    for (token, body, status, code, said) in [
        (
            Some("nobody"),
            &body[..],
            401,
            "unauthenticated",
            "unknown, expired",
        ),
        (
            Some(admin.as_str()),
            &b"{not json"[..],
            400,
            "invalid_envelope",
            "",
        ),
        (
            None,
            &body[..],
            401,
            "unauthenticated",
            "header is required",
        ),
    ] {
        let r = post(&reading, "/v1/events", token, body);
        assert_eq!((r.status, r.code()), (status, code), "{}", r.text);
        assert_eq!(r.content_type, "application/problem+json");
        assert!(
            r.json["detail"].as_str().unwrap_or_default().contains(said),
            "{}",
            r.text
        );
    }
    assert_eq!(app.log_size(), size, "nothing refused was written");

    // Refused by the reader itself: a request some node already forwarded (a loop), and a
    // repeated Authorization header the two nodes might read differently.
    let r = ureq::post(&format!("{reading}/v1/events"))
        .set("Authorization", &format!("Bearer {admin}"))
        .set("caseledger-forwarded", "1")
        .send_bytes(&body);
    let Err(ureq::Error::Status(503, _)) = r else {
        panic!("a forwarded write reaching a reader is refused: {r:?}")
    };
    let answer = raw(
        &reading,
        &format!(
            "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\n\
             Authorization: Bearer other\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{}",
            body.len(),
            String::from_utf8_lossy(&body)
        ),
    );
    assert_eq!(status_of(&answer), 400, "{answer}");
    assert!(answer.contains("given 2 times"), "{answer}");
    let answer = raw(
        &reading,
        &format!(
            "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\n\
             Content-Type: application/json\r\nContent-Type: text/plain\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{}",
            body.len(),
            String::from_utf8_lossy(&body)
        ),
    );
    assert_eq!(status_of(&answer), 400, "{answer}");
    assert!(
        answer.contains("content-type header is given 2 times"),
        "{answer}"
    );
    assert_eq!(app.log_size(), size);
}

/// Forwarding moved authentication after the read-only check; on the writing node a
/// request without a token is still 401 before its query or principal id is looked at.
#[test]
fn the_writing_node_answers_401_before_anything_else() {
    let app = spawn_app();
    for path in [
        "/v1/events?expected_revision=soon",
        "/v1/events/batch?expected_revision=soon",
        "/v1/principals/NOT%20AN%20ID/tokens",
    ] {
        let r = post(&app.base, path, None, b"{}");
        assert_eq!(
            (r.status, r.code()),
            (401, "unauthenticated"),
            "{path}: {}",
            r.text
        );
        let r = post(&app.base, path, Some(&app.admin_token), b"{}");
        assert_eq!(
            (r.status, r.code()),
            (400, "bad_request"),
            "{path}: {}",
            r.text
        );
    }
}
