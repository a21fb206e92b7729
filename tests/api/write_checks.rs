//! The checks the writer applies to new events only (invisible formatting characters,
//! languages listed twice), through a batch: named by event and field, nothing written.
//! A body that does not arrive in time, and a read-only node, which takes no write at all.

use chrono::Utc;
use serde_json::json;

use crate::bad_input::agency_payload;
use crate::helpers::{agency_data, spawn_app_with};
use caseledger::client;
use caseledger::envelope::WireEnvelope;
use caseledger::http::Limits;

#[test]
fn a_write_time_check_in_a_batch_names_the_event_and_field_and_writes_nothing() {
    let app = spawn_app_with(Limits::default());
    let register = agency_payload(&app, "b-ok");
    let mut data = agency_data("b-ok");
    data["name"] = json!("Agency\u{200B}b-ok");
    let update = client::payload(
        "agency.updated",
        "agency-b-ok",
        app.admin.principal.as_str(),
        data,
        Utc::now(),
    );
    let body = json!({"events": [
        client::sign_value(&app.admin, &register),
        client::sign_value(&app.admin, &update),
    ]});
    let before = app.log_size();
    let r = app.post_raw(
        "/v1/events/batch",
        Some(&app.admin_token),
        body.to_string().as_bytes(),
    );
    assert_eq!(
        (r.status, r.code()),
        (400, "schema_violation"),
        "{}",
        r.text
    );
    let detail = r.json["detail"].as_str().unwrap_or_default();
    assert!(detail.starts_with("events[1]: data.name:"), "{detail}");
    assert!(detail.contains("U+200B"), "{detail}");
    assert_eq!(
        app.log_size(),
        before,
        "the batch's first event was not written either"
    );
}

#[test]
fn the_nil_uuid_as_event_id_is_refused_and_nothing_is_written() {
    // EventStoreDB refuses an empty event id; both backends refuse it at write time.
    let app = spawn_app_with(Limits::default());
    let mut payload = agency_payload(&app, "nil-id");
    payload["event_id"] = json!("00000000-0000-0000-0000-000000000000");
    let before = app.log_size();
    let r = app.post_event(&app.admin_token, &client::sign_value(&app.admin, &payload));
    let detail = "event_id: the nil UUID is not an event id";
    assert_eq!(
        (r.status, r.code(), r.json["detail"].as_str()),
        (400, "schema_violation", Some(detail)),
        "{}",
        r.text
    );
    assert_eq!(app.log_size(), before);
}

#[test]
fn a_body_that_stops_arriving_is_refused_in_time_and_writes_nothing() {
    let app = spawn_app_with(Limits {
        body_wait: std::time::Duration::from_millis(300),
        ..Limits::default()
    });
    let before = app.log_size();
    for path in [
        "/v1/events",
        "/v1/events/batch",
        "/v1/principals/admin/tokens",
    ] {
        // Headers with a valid token, then ten bytes of the hundred announced.
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"events\"",
            app.admin_token
        );
        let started = std::time::Instant::now();
        let answer = crate::forward::raw(&app.base, &request);
        let took = started.elapsed();
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
        assert!(answer.contains("application/problem+json"), "{answer}");
        assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");
        assert!(answer.contains("did not arrive within 0.3 s"), "{answer}");
        assert!(took < std::time::Duration::from_secs(5), "{path}: {took:?}");
    }
    assert_eq!(app.log_size(), before);
}

#[test]
fn a_read_only_node_refuses_every_write_and_still_serves_reads() {
    let app = spawn_app_with(Limits {
        read_only: true,
        ..Limits::default()
    });
    let before = app.log_size();
    let env = client::signed_event(
        &app.admin,
        "agency.registered",
        "agency-north",
        agency_data("north"),
        chrono::Utc::now(),
    );
    let body = serde_json::to_value(&env).expect("json");
    for (path, body) in [
        ("/v1/events", body.clone()),
        ("/v1/events/batch", json!({"events": [body]})),
        ("/v1/principals/admin/tokens", json!({})),
    ] {
        let r = app.post_json(path, Some(&app.admin_token), &body);
        assert_eq!(
            (r.status, r.code()),
            (503, "unavailable"),
            "{path}: {}",
            r.text
        );
    }
    assert_eq!(app.log_size(), before, "nothing was written");
    assert_eq!(app.get("/v1/log/checkpoint", None).status, 200);
    assert_eq!(app.get("/v1/agencies", Some(&app.admin_token)).status, 200);
}

/// On the writing node, one principal sending (or announcing and never sending) many
/// large bodies at once holds only its share of the body memory: another principal's write
/// goes through at once, and its own next write waits and is refused with 503.
#[test]
fn one_principal_cannot_hold_the_writing_nodes_body_memory() {
    let app = spawn_app_with(Limits::default());
    let (_, other) = app.register_principal("aud-w", "operator", &["auditor"]);
    let before = app.log_size();
    // Each announced 4 MiB batch holds three times that; five fill a quarter of the pool.
    let held: Vec<std::net::TcpStream> = (0..5)
        .map(|_| crate::forward_fake::announce(&app.base, &app.admin_token))
        .collect();
    // Time for the node to accept each announced body and reserve its memory (no counter
    // of it is exposed to poll; generous for a loaded CI machine).
    std::thread::sleep(std::time::Duration::from_secs(3));
    let started = std::time::Instant::now();
    let r = crate::forward::post(&app.base, "/v1/events", Some(&other), b"{}");
    assert_eq!(
        (r.status, r.code()),
        (400, "invalid_envelope"),
        "{}",
        r.text
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // Its own next large body does not fit the rest of its share: refused after the wait.
    let request = format!(
        "POST /v1/events/batch HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 4194304\r\n\r\n",
        app.admin_token
    );
    let answer = crate::forward::raw(&app.base, &request);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("\"code\":\"unavailable\""), "{answer}");
    assert!(answer.contains("already held for this caller"), "{answer}");
    // A small one still fits.
    let r = crate::forward::post(&app.base, "/v1/events", Some(&app.admin_token), b"{}");
    assert_eq!(
        (r.status, r.code()),
        (400, "invalid_envelope"),
        "{}",
        r.text
    );
    // One announced over the limit is 413 at once, not after waiting for memory.
    let answer = crate::forward::raw(&app.base, &request.replace("4194304", "4194305"));
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    drop(held);
    assert_eq!(app.log_size(), before);
}

/// A batch is decided in log order (DESIGN §2.4): an admin rotates its key atomically, the
/// new key added (signed by the old) and the old one revoked (signed by the new) in one
/// batch, though the new key is not registered when the batch arrives.
#[test]
fn a_key_added_earlier_in_a_batch_signs_the_events_after_it() {
    let app = spawn_app_with(Limits::default());
    let old = &app.admin;
    let new = caseledger::envelope::KeyFile::generate(old.principal.clone());
    let stream = format!("principal-{}", old.principal);
    let now = Utc::now();
    let added = client::signed_event(
        old,
        "principal.key_added",
        &stream,
        json!({"public_key": new.public_key_b64()}),
        now,
    );
    let revoked = client::signed_event(
        &new,
        "principal.key_revoked",
        &stream,
        json!({"keyid": old.keyid().to_string(), "reason": "rotated"}),
        now,
    );
    // Not in that order: the key is unknown when the revocation is checked.
    let body = |events: Vec<&WireEnvelope>| json!({ "events": events });
    let before = app.log_size();
    let r = app.post_json(
        "/v1/events/batch",
        Some(&app.admin_token),
        &body(vec![&revoked, &added]),
    );
    assert_eq!((r.status, r.code()), (403, "unknown_key"), "{}", r.text);
    assert_eq!(app.log_size(), before);
    let r = app.post_json(
        "/v1/events/batch",
        Some(&app.admin_token),
        &body(vec![&added, &revoked]),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let agency = |key: &caseledger::envelope::KeyFile, id: &str| {
        let env = client::signed_event(
            key,
            "agency.registered",
            &format!("agency-{id}"),
            agency_data(id),
            Utc::now(),
        );
        app.post_event(&app.admin_token, &env)
    };
    let r = agency(old, "after-rotation-old");
    assert_eq!((r.status, r.code()), (403, "key_revoked"), "{}", r.text);
    let r = agency(&new, "after-rotation-new");
    assert_eq!(r.status, 201, "{}", r.text);
}
