//! What each family refuses, and the exact error a client gets back.

use serde_json::{json, Value};

use super::super::error::SchemaErrorKind::{self, *};
use super::{assert_rejected, payload_with};

const SLUG_RULE: &str =
    "invalid slug: expected 1 to 63 characters of [a-z0-9-], starting with [a-z0-9]";
const UTC_RULE: &str = "invalid timestamp: expected RFC 3339 in UTC, e.g. `2026-11-28T10:15:00Z` (offset `Z` or `+00:00`)";
const STREAM_RULE: &str =
    "invalid stream id: expected `case-<uuid>`, `agency-<slug>` or `principal-<slug>`";

type Edit = fn(&mut Value);

/// Applies each edit to the example of `type_name` and checks the rejection.
fn check(type_name: &str, cases: &[(Edit, SchemaErrorKind, &str)]) {
    for (edit, kind, message) in cases {
        assert_rejected(&payload_with(type_name, edit), *kind, message);
    }
}

fn data_mut(p: &mut Value) -> &mut serde_json::Map<String, Value> {
    p["data"].as_object_mut().expect("data object")
}

#[test]
fn the_top_level_is_strict_for_every_family() {
    let bad_actor = format!("actor: {SLUG_RULE}");
    let bad_time = format!("occurred_at: {UTC_RULE}");
    let bad_stream = format!("stream: {STREAM_RULE}");
    let families = [
        "principal.key_added",
        "agency.updated",
        "case.closed",
        "consent.withdrawn",
        "inquiry.answered",
        "referral.closed",
    ];
    for type_name in families {
        check(type_name, &[
            (|p| p["note"] = json!("x"), Invalid,
             "unknown field `note`, expected one of `event_id`, `type`, `stream`, `occurred_at`, `actor`, `data`"),
            (|p| { p.as_object_mut().expect("object").remove("occurred_at"); }, MissingField, "missing field `occurred_at`"),
            (|p| { p.as_object_mut().expect("object").remove("data"); }, MissingField, "missing field `data`"),
            (|p| p["type"] = json!("case.exploded"), UnknownType, "type: unknown event type `case.exploded`"),
            (|p| p["actor"] = json!("Maria"), Invalid, &bad_actor),
            (|p| p["occurred_at"] = json!("2026-11-28T11:15:00+01:00"), Invalid, &bad_time),
            (|p| p["occurred_at"] = json!("2026-11-28 10:15:00Z"), Invalid, &bad_time),
            (|p| p["occurred_at"] = json!("2026-11-28T10:15:00-00:00"), Invalid, &bad_time),
            (|p| p["event_id"] = json!("not-a-uuid"), Invalid,
             "event_id: invalid uuid: expected lowercase hyphenated form (8-4-4-4-12 hex digits)"),
            (|p| p["stream"] = json!("case-0196B7C2-4A55-7D3E-9F10-2B6C1D4E5F60"), Invalid, &bad_stream),
            (|p| p["stream"] = json!("case-42"), Invalid, &bad_stream),
            (|p| p["stream"] = json!("agency-"), Invalid, &bad_stream),
        ]);
    }
}

#[test]
fn a_stream_of_another_family_is_a_stream_mismatch() {
    let cases = [
        (
            "principal.registered",
            "case-0196b7c2-4a55-7d3e-9f10-2b6c1d4e5f60",
            "principal-",
        ),
        ("agency.registered", "principal-admin", "agency-"),
        ("consent.granted", "agency-harbor-house", "case-"),
        ("referral.made", "principal-admin", "case-"),
    ];
    for (type_name, stream, prefix) in cases {
        let bytes = payload_with(type_name, |p| p["stream"] = json!(stream));
        let message = format!(
            "stream: `{type_name}` events belong in `{prefix}…` streams, not in `{stream}`"
        );
        assert_rejected(&bytes, StreamMismatch, &message);
    }
}

#[test]
fn principal_events_reject_bad_data() {
    check("principal.registered", &[
        (|p| p["data"]["name"] = json!("Maria"), Invalid,
         "data: unknown field `name`, expected one of `agency`, `roles`, `public_key`"),
        (|p| { data_mut(p).remove("public_key"); }, MissingField, "data: missing field `public_key`"),
        (|p| p["data"]["roles"] = json!(["admin", "root"]), Invalid,
         "data.roles[1]: unknown variant `root`, expected one of `caseworker`, `supervisor`, `auditor`, `evaluator`, `admin`, `service`"),
        (|p| p["data"]["roles"] = json!(["caseworker", "supervisor", "auditor", "evaluator", "admin", "service", "admin"]),
         Invalid, "data.roles: expected at most 6 items, got 7"),
        (|p| p["data"]["roles"] = json!([]), Invalid, "data.roles: expected at least 1 item(s), got 0"),
        (|p| p["data"]["roles"] = json!(["admin", "admin"]), Invalid, "data.roles: duplicate item at index 1"),
        (|p| p["data"]["agency"] = json!("-harbor"), Invalid, "data.agency: invalid slug: expected 1 to 63 characters of [a-z0-9-], starting with [a-z0-9]"),
        (|p| p["data"]["public_key"] = json!("AAAA"), Invalid,
         "data.public_key: invalid public key: expected standard base64 of exactly 32 bytes"),
    ]);
    check("principal.key_revoked", &[
        (|p| p["data"]["keyid"] = json!("AB".repeat(32)), Invalid, "data.keyid: invalid key id: expected 64 lowercase hex digits"),
        (|p| p["data"]["reason"] = json!("stolen"), Invalid,
         "data.reason: unknown variant `stolen`, expected one of `lost`, `compromised`, `rotated`, `left_agency`, `other`"),
    ]);
    check("principal.token_issued", &[
        (|p| p["data"]["expires_at"] = json!("2027-01-01T00:00:00-05:00"), Invalid,
         "data.expires_at: invalid timestamp: expected RFC 3339 in UTC, e.g. `2026-11-28T10:15:00Z` (offset `Z` or `+00:00`)"),
        (|p| p["data"]["expires_at"] = json!(null), Invalid, "data.expires_at: invalid type: null, expected an RFC 3339 UTC timestamp"),
        (|p| p["data"]["token_sha256"] = json!("abc"), Invalid, "data.token_sha256: invalid sha-256: expected 64 lowercase hex digits"),
    ]);
}

#[test]
fn agency_events_reject_bad_data() {
    for type_name in ["agency.registered", "agency.updated"] {
        check(type_name, &[
            (|p| p["data"]["eligibility"]["contact"] = json!("x"), Invalid,
             "data.eligibility: unknown field `contact`, expected `criteria` or `notes`"),
            (|p| { data_mut(p).remove("region"); }, MissingField, "data: missing field `region`"),
            (|p| p["data"]["domains"] = json!(["legal", "banking"]), Invalid,
             "data.domains[1]: unknown variant `banking`, expected one of `social`, `legal`, `medical`, `mental_health`, `immigration`, `criminal_justice`, `other`"),
            (|p| p["data"]["name"] = json!("n".repeat(121)), Invalid, "data.name: expected 1 to 120 characters, got 121"),
            (|p| p["data"]["region"] = json!(""), Invalid, "data.region: expected 1 to 60 characters, got 0"),
            (|p| p["data"]["eligibility"]["notes"] = json!("é".repeat(281)), Invalid,
             "data.eligibility.notes: expected 0 to 280 characters, got 281"),
            (|p| p["data"]["eligibility"]["notes"] = json!("line\nbreak"), Invalid,
             "data.eligibility.notes: control characters are not allowed"),
            (|p| p["data"]["languages"] = json!((0..51).map(|i| format!("x-l{i}")).collect::<Vec<_>>()), Invalid,
             "data.languages[0]: invalid language tag: expected BCP 47 such as `es` or `fr-CA`, at most 35 characters"),
            (|p| p["data"]["languages"] = json!((0..51).map(|i| format!("en-l{i}")).collect::<Vec<_>>()), Invalid,
             "data.languages: expected at most 50 items, got 51"),
            (|p| p["data"]["cultural_adaptations"] = json!(["food", "food"]), Invalid,
             "data.cultural_adaptations: duplicate item at index 1"),
            (|p| p["data"]["interpretation"] = json!("yes"), Invalid,
             "data.interpretation: invalid type: string \"yes\", expected a boolean"),
        ]);
    }
}

#[test]
fn case_events_reject_bad_data() {
    check("case.opened", &[
        (|p| p["data"]["dob"] = json!("2001-01-01"), Invalid,
         "data: unknown field `dob`, expected one of `owner_agency`, `coordinator`, `needs`, `minor`"),
        (|p| { data_mut(p).remove("minor"); }, MissingField, "data: missing field `minor`"),
        (|p| p["data"]["needs"] = json!(["social", "legal", "medical", "mental_health", "immigration", "criminal_justice", "other", "social"]),
         Invalid, "data.needs: expected at most 7 items, got 8"),
        (|p| p["data"]["needs"] = json!(["legal", "legal"]), Invalid, "data.needs: duplicate item at index 1"),
        (|p| p["data"]["coordinator"] = json!("Maria Lopez"), Invalid, &format!("data.coordinator: {SLUG_RULE}")),
    ]);
    check("case.closed", &[
        (|p| p["data"]["outcome"] = json!("solved"), Invalid,
         "data.outcome: unknown variant `solved`, expected one of `services_completed`, `client_withdrew`, `transferred`, `lost_contact`, `other`"),
    ]);
}

#[test]
fn consent_events_reject_bad_data() {
    check("consent.granted", &[
        (|p| p["data"]["interpreter"]["name"] = json!("x"), Invalid,
         "data.interpreter: unknown field `name`, expected `used` or `language`"),
        (|p| { data_mut(p)["interpreter"].as_object_mut().expect("object").remove("used"); }, MissingField,
         "data.interpreter: missing field `used`"),
        (|p| p["data"]["purposes"] = json!(["inquiry", "marketing"]), Invalid,
         "data.purposes[1]: unknown variant `marketing`, expected `inquiry` or `referral`"),
        (|p| p["data"]["purposes"] = json!(["inquiry", "inquiry"]), Invalid, "data.purposes: duplicate item at index 1"),
        (|p| p["data"]["recipients"] = json!("all"), Invalid,
         "data.recipients: invalid value: string \"all\", expected the string \"any\" or a list of 1 to 50 agency ids"),
        (|p| p["data"]["recipients"] = json!((0..51).map(|i| format!("a{i}")).collect::<Vec<_>>()), Invalid,
         "data.recipients: expected at most 50 items, got 51"),
        (|p| p["data"]["recipients"] = json!(["bay-clinic", "Bay"]), Invalid, &format!("data.recipients[1]: {SLUG_RULE}")),
        (|p| p["data"]["data_categories"] = json!(["health", "health"]), Invalid, "data.data_categories: duplicate item at index 1"),
        (|p| p["data"]["valid_until"] = json!("2027-05-28T00:00:00z"), Invalid, &format!("data.valid_until: {UTC_RULE}")),
        (|p| p["data"]["notice_version"] = json!("v".repeat(33)), Invalid, "data.notice_version: expected 1 to 32 characters, got 33"),
        (|p| p["data"]["witness"] = json!(null), Invalid, "data.witness: invalid type: null, expected a slug"),
        (|p| p["data"]["language"] = json!("spanish language"), Invalid,
         "data.language: invalid language tag: expected BCP 47 such as `es` or `fr-CA`, at most 35 characters"),
    ]);
    check(
        "consent.withdrawn",
        &[
            (
                |p| p["data"]["method"] = json!("email"),
                Invalid,
                "data.method: unknown variant `email`, expected `written` or `verbal`",
            ),
            (
                |p| {
                    data_mut(p).remove("consent_id");
                },
                MissingField,
                "data: missing field `consent_id`",
            ),
        ],
    );
}

#[test]
fn inquiry_events_reject_bad_data() {
    check("inquiry.sent", &[
        (|p| p["data"]["person"] = json!("x"), Invalid,
         "data: unknown field `person`, expected one of `inquiry_id`, `agency`, `consent_id`, `asks`, `domains`, `language_needed`, `cultural_needs`"),
        (|p| { data_mut(p).remove("asks"); }, MissingField, "data: missing field `asks`"),
        (|p| p["data"]["asks"] = json!(["can_help", "services_match", "interpretation", "cultural_adaptation", "trafficking_experience", "can_help"]),
         Invalid, "data.asks: expected at most 5 items, got 6"),
        (|p| p["data"]["asks"] = json!(["can_help", "can_help"]), Invalid, "data.asks: duplicate item at index 1"),
        (|p| p["data"]["cultural_needs"] = json!(["halal"]), Invalid,
         "data.cultural_needs[0]: unknown variant `halal`, expected one of `food`, `faith`, `gender_matched_staff`, `community_language_staff`, `other`"),
        (|p| p["data"]["language_needed"] = json!(null), Invalid, "data.language_needed: invalid type: null, expected a language tag"),
    ]);
    check(
        "inquiry.answered",
        &[
            (
                |p| p["data"]["can_help"] = json!("maybe"),
                Invalid,
                "data.can_help: unknown variant `maybe`, expected one of `yes`, `no`, `unsure`",
            ),
            (
                |p| {
                    data_mut(p).remove("support_offered");
                },
                MissingField,
                "data: missing field `support_offered`",
            ),
            (
                |p| p["data"]["recorded_for"] = json!("Bay Clinic"),
                Invalid,
                &format!("data.recorded_for: {SLUG_RULE}"),
            ),
        ],
    );
}

#[test]
fn referral_events_reject_bad_data() {
    check("referral.made", &[
        (|p| p["data"]["notes"] = json!("x"), Invalid,
         "data: unknown field `notes`, expected one of `referral_id`, `agency`, `consent_id`, `domains`, `data_shared`, `inquiry_id`"),
        (|p| { data_mut(p).remove("consent_id"); }, MissingField, "data: missing field `consent_id`"),
        (|p| p["data"]["domains"] = json!([]), Invalid, "data.domains: expected at least 1 item(s), got 0"),
        (|p| p["data"]["data_shared"] = json!(["contact", "address"]), Invalid,
         "data.data_shared[1]: unknown variant `address`, expected one of `identity`, `contact`, `immigration_status`, `health`, `mental_health`, `legal_matters`, `case_summary`"),
        (|p| p["data"]["data_shared"] = json!(["contact", "contact"]), Invalid, "data.data_shared: duplicate item at index 1"),
    ]);
    check("referral.declined", &[
        (|p| p["data"]["reason"] = json!("busy"), Invalid,
         "data.reason: unknown variant `busy`, expected one of `not_eligible`, `no_capacity`, `service_not_offered`, `language_unavailable`, `client_declined`, `other`"),
    ]);
    check(
        "referral.withdrawn",
        &[(
            |p| p["data"]["recorded_for"] = json!("bay-clinic"),
            Invalid,
            "data: unknown field `recorded_for`, expected `referral_id` or `reason`",
        )],
    );
    check("referral.closed", &[
        (|p| p["data"]["outcome"] = json!("done"), Invalid,
         "data.outcome: unknown variant `done`, expected one of `completed`, `client_withdrew`, `unable_to_contact`, `not_needed`, `other`"),
    ]);
}

#[test]
fn malformed_input_is_malformed() {
    for bytes in [
        &b""[..],
        b"nope",
        b"[1]",
        b"\"x\"",
        b"{\"a\":",
        b"\xff{}",
        b"{} {}",
    ] {
        let err = super::rejected(bytes);
        assert_eq!(err.kind, Malformed, "{bytes:?}: {err}");
    }
}

#[test]
fn duplicate_keys_are_refused() {
    let text = String::from_utf8(payload_with("case.closed", |_| {})).expect("utf-8");
    let doubled = text.replacen("\"outcome\":", "\"outcome\":\"other\",\"outcome\":", 1);
    assert_rejected(
        doubled.as_bytes(),
        Invalid,
        "data: duplicate field `outcome`",
    );
    let top = text.replacen("\"actor\":", "\"actor\":\"x\",\"actor\":", 1);
    assert_rejected(top.as_bytes(), Invalid, "duplicate field `actor`");
}

/// One signed content, one spelling. serde_json would also read a struct from an array of
/// its fields in order, and a code from a one-key map `{"code": null}`; all are refused.
#[test]
fn structs_are_objects_and_codes_are_strings() {
    let p = super::example_payload("case.closed").expect("type");
    let fields = ["event_id", "type", "stream", "occurred_at", "actor", "data"];
    let as_array = Value::Array(fields.iter().map(|f| p[*f].clone()).collect());
    let err = super::rejected(&serde_json::to_vec(&as_array).expect("json"));
    assert_eq!(
        (err.kind, err.message.as_str()),
        (Malformed, "payload: expected a JSON object")
    );
    let edits: [(&str, Edit); 4] = [
        ("consent.granted", |p| {
            p["data"]["interpreter"] = json!([true, "es"]);
        }),
        ("agency.registered", |p| {
            p["data"]["eligibility"] = json!([["adults"], ""]);
        }),
        ("case.closed", |p| {
            p["data"]["outcome"] = json!({"other": null});
        }),
        ("principal.registered", |p| {
            p["data"]["roles"] = json!([{"admin": null}]);
        }),
    ];
    for (type_name, edit) in edits {
        let bytes = payload_with(type_name, edit);
        let err = super::rejected(&bytes);
        assert!(
            err.message.contains("expected a JSON object")
                || err.message.contains("expected a code string"),
            "{type_name}: {:?} {}",
            err.kind,
            err.message
        );
    }
}
