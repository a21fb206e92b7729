//! Accepted writes: receipts, reading back, idempotency, optimistic concurrency, batches.

use caseledger::client;
use caseledger::envelope::WireEnvelope;
use chrono::Utc;
use serde_json::json;

use crate::helpers::{agency_data, spawn_app, TestApp};

#[test]
fn an_accepted_event_is_readable_from_its_stream_and_the_log() {
    let app = spawn_app();
    let env = client::signed_event(
        &app.admin,
        "agency.registered",
        "agency-north-legal",
        agency_data("north-legal"),
        Utc::now(),
    );
    let r = app.post_event(&app.admin_token, &env);
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["stream"], "agency-north-legal");
    assert_eq!(r.json["revision"], 0);
    let index = r.json["index"].as_u64().expect("index");
    assert_eq!(index, app.log_size() - 1);
    assert!(r.json["leaf_hash"].is_string() && r.json["recorded_at"].is_string());

    let s = app.get("/v1/streams/agency-north-legal", Some(&app.admin_token));
    assert_eq!(s.status, 200, "{}", s.text);
    let entry = &s.json["entries"][0];
    assert_eq!(entry["index"], index);
    assert_eq!(
        entry["entry"]["envelope"],
        serde_json::to_value(&env).expect("v")
    );
    assert_eq!(entry["entry"]["revision"], 0);

    // The NDJSON log holds the entry's exact bytes, in field order v, stream, revision, ...
    let (auditor, token) = app.register_principal("aud-1", "operator", &["auditor"]);
    let _ = auditor;
    let log = app.get(
        &format!("/v1/log/entries?start={index}&limit=1"),
        Some(&token),
    );
    assert_eq!(log.status, 200);
    assert_eq!(log.content_type, "application/x-ndjson");
    let line = log.text.lines().next().expect("one line");
    assert!(line.starts_with(
        "{\"v\":1,\"stream\":\"agency-north-legal\",\"revision\":0,\"recorded_at\":\""
    ));
    let stored = app.ledger.store().read_all(index, 1).expect("read");
    assert_eq!(line.as_bytes(), stored[0].bytes.as_slice());
    // Non-auditors may not read the raw log.
    let r = app.get("/v1/log/entries", Some(&app.admin_token));
    assert_eq!((r.status, r.code()), (403, "forbidden"));
}

#[test]
fn resending_an_event_is_idempotent_and_a_changed_duplicate_conflicts() {
    let app = spawn_app();
    let payload = client::payload(
        "agency.registered",
        "agency-east-med",
        "admin",
        agency_data("east-med"),
        Utc::now(),
    );
    let env = client::sign_value(&app.admin, &payload);
    let first = app.post_event(&app.admin_token, &env);
    assert_eq!(first.status, 201);
    let size = app.log_size();
    let again = app.post_event(&app.admin_token, &env);
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json, first.json, "the original receipt is returned");
    assert_eq!(app.log_size(), size);

    let mut changed = payload.clone();
    changed["data"]["region"] = json!("East");
    let r = app.post_event(&app.admin_token, &client::sign_value(&app.admin, &changed));
    assert_eq!(
        (r.status, r.code()),
        (409, "duplicate_event_conflict"),
        "{}",
        r.text
    );
    assert_eq!(app.log_size(), size);
}

#[test]
fn expected_revision_guards_the_stream() {
    let app = spawn_app();
    let post = |kind: &str, q: &str| {
        let env = client::signed_event(
            &app.admin,
            kind,
            "agency-south",
            agency_data("south"),
            Utc::now(),
        );
        app.post_json(
            &format!("/v1/events?expected_revision={q}"),
            Some(&app.admin_token),
            &serde_json::to_value(env).expect("v"),
        )
    };
    assert_eq!(
        post("agency.registered", "0").code(),
        "wrong_expected_revision"
    );
    assert_eq!(post("agency.registered", "no_stream").status, 201);
    assert_eq!(
        post("agency.updated", "no_stream").code(),
        "wrong_expected_revision"
    );
    assert_eq!(post("agency.updated", "1").status, 409);
    assert_eq!(post("agency.updated", "0").status, 201);
    assert_eq!(post("agency.updated", "any").status, 201);
}

#[test]
fn of_concurrent_appends_with_one_expected_revision_exactly_one_wins() {
    let app = spawn_app();
    app.register_agency("west");
    let size = app.log_size();
    let results: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|_| {
                s.spawn(|| {
                    let env = client::signed_event(
                        &app.admin,
                        "agency.updated",
                        "agency-west",
                        agency_data("west"),
                        Utc::now(),
                    );
                    app.post_json(
                        "/v1/events?expected_revision=0",
                        Some(&app.admin_token),
                        &serde_json::to_value(env).expect("v"),
                    )
                    .status
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert_eq!(
        results.iter().filter(|s| **s == 201).count(),
        1,
        "{results:?}"
    );
    assert_eq!(
        results.iter().filter(|s| **s == 409).count(),
        15,
        "{results:?}"
    );
    assert_eq!(app.log_size(), size + 1);
}

/// The admin's signed event of `kind` (`agency.registered` or `.updated`) on `agency-b`.
fn agency_b(app: &TestApp, kind: &str) -> WireEnvelope {
    client::signed_event(&app.admin, kind, "agency-b", agency_data("b"), Utc::now())
}

#[test]
fn a_batch_is_atomic() {
    let app = spawn_app();
    let reg = agency_b(&app, "agency.registered");
    let upd = agency_b(&app, "agency.updated");
    // The second event is illegal (registering twice), so neither is written.
    let dup = agency_b(&app, "agency.registered");
    let size = app.log_size();
    let r = app.post_json(
        "/v1/events/batch",
        Some(&app.admin_token),
        &json!({"events": [reg, dup]}),
    );
    assert_eq!(
        (r.status, r.code()),
        (422, "invalid_transition"),
        "{}",
        r.text
    );
    assert_eq!(app.log_size(), size);
    let r = app.post_json(
        "/v1/events/batch",
        Some(&app.admin_token),
        &json!({"events": [reg, upd]}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["receipts"].as_array().expect("receipts").len(), 2);
    assert_eq!(r.json["receipts"][1]["revision"], 1);
    assert_eq!(app.log_size(), size + 2);
    // The whole batch again is an idempotent repeat.
    let r = app.post_json(
        "/v1/events/batch",
        Some(&app.admin_token),
        &json!({"events": [reg, upd]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(app.log_size(), size + 2);
}

#[test]
fn an_event_id_twice_in_one_batch_is_refused() {
    let app = spawn_app();
    let reg = agency_b(&app, "agency.registered");
    let payload = client::payload(
        "agency.updated",
        "agency-b",
        "admin",
        agency_data("b"),
        Utc::now(),
    );
    let upd = client::sign_value(&app.admin, &payload);
    // The same event_id with other bytes (another name): the conflict of rule 6.
    let mut changed = payload;
    changed["data"]["name"] = json!("Other name");
    let other = client::sign_value(&app.admin, &changed);
    let size = app.log_size();
    for (events, expected) in [
        (json!([reg, upd, other]), (409, "duplicate_event_conflict")),
        (json!([reg, upd, upd]), (400, "schema_violation")),
    ] {
        let r = app.post_json(
            "/v1/events/batch",
            Some(&app.admin_token),
            &json!({ "events": events }),
        );
        assert_eq!((r.status, r.code()), expected, "{}", r.text);
        assert!(r.content_type.starts_with("application/problem+json"));
    }
    assert_eq!(app.log_size(), size);
}

#[test]
fn tokens_authenticate_until_revoked_and_keys_can_be_rotated() {
    let app = spawn_app();
    let (_key, token) = app.register_principal("aud-2", "operator", &["auditor"]);
    assert_eq!(app.get("/v1/log/entries", Some(&token)).status, 200);
    let sha = hex::encode(caseledger::http::auth::token_hash(&token));
    app.write(
        &app.admin,
        &app.admin_token,
        "principal.token_revoked",
        "principal-aud-2",
        json!({"token_sha256": sha}),
    );
    let r = app.get("/v1/log/entries", Some(&token));
    assert_eq!((r.status, r.code()), (401, "unauthenticated"));
}

#[test]
fn the_directory_and_schemas_are_served() {
    let app = spawn_app();
    app.register_agency("north-legal");
    let (_k, cw) = app.register_principal("cw-dir", "north-legal", &["caseworker"]);
    let list = app.get("/v1/agencies", Some(&cw));
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.json["agencies"][0]["id"], "north-legal");
    assert_eq!(
        list.json["agencies"][0]["languages"],
        json!(["es", "fr-CA"])
    );
    let one = app.get("/v1/agencies/north-legal", Some(&cw));
    assert_eq!(one.json["trafficking_experience"], true);
    assert_eq!(
        app.get("/v1/agencies/nobody", Some(&cw)).code(),
        "not_found"
    );
    // A malformed id is a malformed path, as for cases and streams.
    let bad = app.get("/v1/agencies/Bad_Id", Some(&cw));
    assert_eq!(
        (bad.status, bad.code()),
        (400, "bad_request"),
        "{}",
        bad.text
    );
    assert_eq!(app.get("/v1/agencies", None).code(), "unauthenticated");
    let all = app.get("/v1/schemas", None);
    assert_eq!(all.json["schemas"].as_object().expect("map").len(), 23);
    let one = app.get("/v1/schemas/consent.granted", None);
    assert_eq!(one.json["properties"]["type"]["const"], "consent.granted");
    assert_eq!(app.get("/v1/schemas/nope", None).status, 404);
}

#[test]
fn absurd_positions_are_refused_and_the_writer_keeps_working() {
    let app = spawn_app();
    let env = || {
        let e = client::signed_event(
            &app.admin,
            "agency.registered",
            "agency-big",
            agency_data("big"),
            Utc::now(),
        );
        serde_json::to_value(e).expect("v")
    };
    let r = app.post_json(
        "/v1/events?expected_revision=18446744073709551615",
        Some(&app.admin_token),
        &env(),
    );
    assert_eq!((r.status, r.code()), (400, "bad_request"), "{}", r.text);
    let r = app.post_json(
        "/v1/events?expected_revision=9223372036854775807",
        Some(&app.admin_token),
        &env(),
    );
    assert_eq!(
        (r.status, r.code()),
        (409, "wrong_expected_revision"),
        "{}",
        r.text
    );
    let r = app.get(
        "/v1/streams/agency-big?from=18446744073709551615",
        Some(&app.admin_token),
    );
    assert_eq!((r.status, r.code()), (400, "bad_request"), "{}", r.text);
    // The single writer is still alive.
    let r = app.post_json("/v1/events", Some(&app.admin_token), &env());
    assert_eq!(r.status, 201, "{}", r.text);
}

#[test]
fn a_rotated_key_signs_and_the_revoked_one_no_longer_does() {
    let app = spawn_app();
    app.register_agency("rot");
    let (old, token) = app.register_principal("cw-rot", "rot", &["caseworker"]);
    let new = caseledger::envelope::KeyFile::generate(old.principal.clone());
    app.write(
        &app.admin,
        &app.admin_token,
        "principal.key_added",
        "principal-cw-rot",
        json!({"public_key": new.public_key_b64()}),
    );
    let recorded = client::payload(
        "case.opened",
        &format!("case-{}", uuid::Uuid::new_v4()),
        "cw-rot",
        json!({"owner_agency": "rot", "coordinator": "cw-rot", "needs": ["legal"], "minor": false}),
        Utc::now(),
    );
    let before_revocation = client::sign_value(&old, &recorded);
    let first = app.post_event(&token, &before_revocation);
    assert_eq!(first.status, 201, "{}", first.text);
    app.write(
        &app.admin,
        &app.admin_token,
        "principal.key_revoked",
        "principal-cw-rot",
        json!({"keyid": old.keyid().to_string(), "reason": "rotated"}),
    );
    let case = uuid::Uuid::new_v4();
    let open = |key: &caseledger::envelope::KeyFile| {
        client::signed_event(
            key,
            "case.opened",
            &format!("case-{case}"),
            json!({"owner_agency": "rot", "coordinator": "cw-rot", "needs": ["legal"], "minor": false}),
            Utc::now(),
        )
    };
    let size = app.log_size();
    let r = app.post_event(&token, &open(&old));
    assert_eq!((r.status, r.code()), (403, "key_revoked"), "{}", r.text);
    // An event written before the revocation and sent again (its 201 lost) gets the
    // original result, as any repeat (rule 6).
    let r = app.post_event(&token, &before_revocation);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["index"], first.json["index"]);
    // Other bytes under that recorded event_id are a new write: refused as revoked.
    let mut changed = recorded;
    changed["data"]["minor"] = json!(true);
    let r = app.post_event(&token, &client::sign_value(&old, &changed));
    assert_eq!((r.status, r.code()), (403, "key_revoked"), "{}", r.text);
    // Revocation takes effect at its recorded_at: an event dated before it is refused too.
    let backdated = client::signed_event(
        &old,
        "case.opened",
        &format!("case-{}", uuid::Uuid::new_v4()),
        json!({"owner_agency": "rot", "coordinator": "cw-rot", "needs": ["legal"], "minor": false}),
        Utc::now() - chrono::Duration::hours(1),
    );
    let r = app.post_event(&token, &backdated);
    assert_eq!((r.status, r.code()), (403, "key_revoked"), "{}", r.text);
    // Refused as revoked before the payload is judged (DESIGN §2.1): an unknown field, a
    // time far ahead or another actor tell the key's holder nothing.
    for (data, occurred_at) in [
        (
            json!({"owner_agency": "rot", "coordinator": "cw-rot", "needs": ["legal"],
                   "minor": false, "name": "x"}),
            Utc::now(),
        ),
        (
            json!({"owner_agency": "rot", "coordinator": "cw-rot", "needs": ["legal"], "minor": false}),
            Utc::now() + chrono::Duration::hours(2),
        ),
    ] {
        let stream = format!("case-{}", uuid::Uuid::new_v4());
        let bad = client::signed_event(&old, "case.opened", &stream, data, occurred_at);
        let r = app.post_event(&token, &bad);
        assert_eq!((r.status, r.code()), (403, "key_revoked"), "{}", r.text);
        let r = app.post_event(&app.admin_token, &bad);
        assert_eq!((r.status, r.code()), (403, "key_revoked"), "{}", r.text);
    }
    assert_eq!(app.log_size(), size);
    let r = app.post_event(&token, &open(&new));
    assert_eq!(r.status, 201, "{}", r.text);
}

#[test]
fn a_deactivated_principal_is_shut_out_and_its_keys_can_still_be_revoked() {
    let app = spawn_app();
    app.register_agency("gone");
    let (key, token) = app.register_principal("cw-gone", "gone", &["caseworker"]);
    app.write(
        &app.admin,
        &app.admin_token,
        "principal.deactivated",
        "principal-cw-gone",
        json!({"reason": "left_agency"}),
    );
    let size = app.log_size();
    let open = client::signed_event(
        &key,
        "case.opened",
        &format!("case-{}", uuid::Uuid::new_v4()),
        json!({"owner_agency": "gone", "coordinator": "cw-gone", "needs": ["legal"], "minor": false}),
        Utc::now(),
    );
    let r = app.post_event(&token, &open);
    assert_eq!((r.status, r.code()), (401, "unauthenticated"), "{}", r.text);
    assert_eq!(app.log_size(), size);
    // A compromise found after someone left is still put on the record, once.
    let revoke = json!({"keyid": key.keyid().to_string(), "reason": "compromised"});
    app.write(
        &app.admin,
        &app.admin_token,
        "principal.key_revoked",
        "principal-cw-gone",
        revoke.clone(),
    );
    let again = client::signed_event(
        &app.admin,
        "principal.key_revoked",
        "principal-cw-gone",
        revoke,
        Utc::now(),
    );
    let r = app.post_event(&app.admin_token, &again);
    assert_eq!(
        (r.status, r.code()),
        (422, "invalid_transition"),
        "{}",
        r.text
    );
    // Nor can a deactivated principal be given a new key.
    let other = caseledger::envelope::KeyFile::generate(key.principal.clone());
    let add = client::signed_event(
        &app.admin,
        "principal.key_added",
        "principal-cw-gone",
        json!({"public_key": other.public_key_b64()}),
        Utc::now(),
    );
    let r = app.post_event(&app.admin_token, &add);
    assert_eq!(
        (r.status, r.code()),
        (422, "invalid_transition"),
        "{}",
        r.text
    );
}

#[test]
fn duties_stay_separate_and_tokens_need_a_known_principal() {
    let app = spawn_app();
    app.register_agency("sep");
    let key = caseledger::envelope::KeyFile::generate(
        caseledger::domain::PrincipalId::parse("boss").expect("slug"),
    );
    for roles in [
        json!(["admin", "caseworker"]),
        json!(["evaluator", "supervisor"]),
    ] {
        let env = client::signed_event(
            &app.admin,
            "principal.registered",
            "principal-boss",
            json!({"agency": "sep", "roles": roles, "public_key": key.public_key_b64()}),
            Utc::now(),
        );
        let r = app.post_event(&app.admin_token, &env);
        assert_eq!(
            (r.status, r.code()),
            (400, "schema_violation"),
            "{}",
            r.text
        );
    }
    let size = app.log_size();
    let r = app.post_raw("/v1/principals/nobody/tokens", Some(&app.admin_token), b"");
    assert_eq!((r.status, r.code()), (404, "not_found"), "{}", r.text);
    assert_eq!(app.log_size(), size);
}
