//! The genesis entry meets the same key and role checks as every later registration; the
//! rules added later bind the writer, not the replay of logs written before them.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::TimeZone;
use serde_json::json;

use super::*;

type Decide = fn(&LedgerState, &EventPayload, &KeyId, DateTime<Utc>) -> Result<(), RuleViolation>;

fn genesis_of(
    rules: Decide,
    roles: serde_json::Value,
    public_key: [u8; 32],
) -> Result<(), RuleViolation> {
    genesis_at(rules, roles, public_key, "2026-12-01T00:00:00Z")
}

/// A genesis registration that happened at `occurred_at`, decided at 2026-12-01T00:00Z.
fn genesis_at(
    rules: Decide,
    roles: serde_json::Value,
    public_key: [u8; 32],
    occurred_at: &str,
) -> Result<(), RuleViolation> {
    let payload = json!({
        "event_id": "01938a4e-0000-7000-8000-000000000000",
        "type": "principal.registered",
        "stream": "principal-root",
        "occurred_at": occurred_at,
        "actor": "root",
        "data": {"agency": "operator", "roles": roles, "public_key": B64.encode(public_key)},
    });
    let event = EventPayload::parse(&serde_json::to_vec(&payload).expect("json")).expect("event");
    let at = Utc
        .with_ymd_and_hms(2026, 12, 1, 0, 0, 0)
        .single()
        .expect("time");
    rules(&LedgerState::default(), &event, &KeyId::of(&public_key), at)
}

fn valid_key() -> [u8; 32] {
    ed25519_dalek::SigningKey::from_bytes(&[7; 32])
        .verifying_key()
        .to_bytes()
}

#[test]
fn the_genesis_admin_is_accepted() {
    assert_eq!(
        genesis_of(decide_write, json!(["admin"]), valid_key()),
        Ok(())
    );
}

#[test]
fn the_genesis_entry_may_not_register_a_weak_key() {
    // The identity point: a signature under it can be forged by anyone, and `verify_batch`
    // (unlike `verify_strict`) would accept the forgery.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    // Refused in the replay too: a bundle whose genesis key is forgeable does not verify.
    for rules in [decide as Decide, decide_write] {
        let v = genesis_of(rules, json!(["admin"]), identity).expect_err("refused");
        assert_eq!(v.code, Code::SchemaViolation, "{}", v.message);
    }
}

#[test]
fn the_genesis_admin_keeps_duties_separate() {
    for roles in [json!(["admin", "caseworker"]), json!(["admin", "auditor"])] {
        let v = genesis_of(decide_write, roles.clone(), valid_key()).expect_err("refused");
        assert_eq!(v.code, Code::SchemaViolation, "{}", v.message);
        // A log whose genesis was written before this rule still replays.
        assert_eq!(genesis_of(decide, roles, valid_key()), Ok(()));
    }
}

#[test]
fn the_clock_is_checked_after_every_other_rule_the_writer_applies() {
    let ahead = "2026-12-01T01:00:00Z";
    // An auditor that also administers breaks a write-time rule: that is what the writer
    // says, not that the clock is ahead.
    let v = genesis_at(
        decide_write,
        json!(["auditor", "admin"]),
        valid_key(),
        ahead,
    )
    .expect_err("refused");
    assert_eq!(v.code, Code::SchemaViolation, "{}", v.message);
    // The replay does not apply that rule: the clock is all it finds.
    let v =
        genesis_at(decide, json!(["auditor", "admin"]), valid_key(), ahead).expect_err("refused");
    assert_eq!(v.code, Code::ClockSkew, "{}", v.message);
    // A lawful event ahead of the clock is clock_skew for both.
    for rules in [decide as Decide, decide_write] {
        let v = genesis_at(rules, json!(["admin"]), valid_key(), ahead).expect_err("ahead");
        assert_eq!(v.code, Code::ClockSkew);
    }
}
