//! Every example parses, re-serializes to the same JSON, and parse ∘ serialize is the identity.

use serde_json::{json, Value};

use super::super::consent::Recipients;
use super::super::event::{EventData, EventPayload};
use super::super::fixtures::{example_data, example_payload};
use super::super::stream::StreamId;
use super::super::SchemaErrorKind;
use super::payload_with;

#[test]
fn the_catalogue_has_all_23_types_once_each() {
    let mut names = EventData::ALL_TYPES.to_vec();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 23);
    assert_eq!(EventData::ALL_TYPES.len(), 23);
    assert_eq!(example_payload("case.exploded"), None);
}

#[test]
fn every_example_parses_and_round_trips() {
    for &type_name in EventData::ALL_TYPES {
        let example = example_payload(type_name).expect("fixture for every type");
        let bytes = serde_json::to_vec(&example).expect("json");

        let parsed = EventPayload::parse(&bytes).unwrap_or_else(|e| panic!("{type_name}: {e}"));

        assert_eq!(parsed.type_name(), type_name);
        assert_eq!(parsed.data.stream_kind(), parsed.stream.kind());
        let reserialized: Value = serde_json::from_slice(&parsed.to_json_bytes()).expect("json");
        assert_eq!(
            reserialized, example,
            "{type_name}: serialization differs from the input"
        );
        assert_eq!(
            EventPayload::parse(&parsed.to_json_bytes()),
            Ok(parsed.clone())
        );
        let via_serde: EventPayload = serde_json::from_slice(&bytes).expect("serde path");
        assert_eq!(via_serde, parsed);
    }
}

#[test]
fn payload_fields_serialize_in_contract_order() {
    let payload = EventPayload::parse(&payload_with("case.closed", |_| {})).expect("valid");
    let text = String::from_utf8(payload.to_json_bytes()).expect("utf-8");
    let positions: Vec<usize> = [
        "\"event_id\"",
        "\"type\"",
        "\"stream\"",
        "\"occurred_at\"",
        "\"actor\"",
        "\"data\"",
    ]
    .iter()
    .map(|field| text.find(field).expect("field present"))
    .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[test]
fn event_data_serializes_as_type_and_data() {
    let data = EventData::parse("case.closed", r#"{"outcome":"transferred"}"#).expect("valid");
    let value = serde_json::to_value(&data).expect("json");
    assert_eq!(
        value,
        json!({"type": "case.closed", "data": {"outcome": "transferred"}})
    );
    assert_eq!(
        serde_json::from_value::<EventData>(value).expect("back"),
        data
    );
}

#[test]
fn optional_fields_may_be_absent_and_stay_absent() {
    let cases = [
        ("principal.token_issued", "expires_at"),
        ("consent.granted", "witness"),
        ("inquiry.sent", "language_needed"),
        ("inquiry.answered", "recorded_for"),
        ("referral.made", "inquiry_id"),
        ("referral.declined", "recorded_for"),
    ];
    for (type_name, field) in cases {
        let bytes = payload_with(type_name, |p| {
            p["data"].as_object_mut().expect("object").remove(field);
        });
        let parsed = EventPayload::parse(&bytes).unwrap_or_else(|e| panic!("{type_name}: {e}"));
        let back: Value = serde_json::from_slice(&parsed.to_json_bytes()).expect("json");
        assert!(
            back["data"].get(field).is_none(),
            "{type_name}.{field} reappeared"
        );
    }
    let no_language = payload_with("consent.granted", |p| {
        p["data"]["interpreter"] = json!({"used": false})
    });
    assert!(EventPayload::parse(&no_language).is_ok());
}

#[test]
fn recipients_any_round_trips() {
    let bytes = payload_with("consent.granted", |p| {
        p["data"]["recipients"] = json!("any")
    });
    let parsed = EventPayload::parse(&bytes).expect("valid");
    let EventData::ConsentGranted(consent) = &parsed.data else {
        panic!("wrong variant")
    };
    assert_eq!(consent.recipients, Recipients::Any);
    assert_eq!(EventPayload::parse(&parsed.to_json_bytes()), Ok(parsed));
}

#[test]
fn plus_zero_offset_is_utc_and_reserializes_with_z() {
    let bytes = payload_with("case.closed", |p| {
        p["occurred_at"] = json!("2026-11-28T10:15:00.5+00:00")
    });
    let parsed = EventPayload::parse(&bytes).expect("valid");
    let back: Value = serde_json::from_slice(&parsed.to_json_bytes()).expect("json");
    assert_eq!(back["occurred_at"], "2026-11-28T10:15:00.500Z");
    assert_eq!(EventPayload::parse(&parsed.to_json_bytes()), Ok(parsed));
}

#[test]
fn new_refuses_a_stream_of_the_wrong_family() {
    let data = example_data("case.closed").expect("fixture").to_string();
    let data = EventData::parse("case.closed", &data).expect("valid");
    let stream: StreamId = "agency-harbor-house".parse().expect("valid stream");
    let err = EventPayload::new(
        uuid::Uuid::nil(),
        stream,
        chrono::Utc::now(),
        "a".parse().expect("slug"),
        data,
    )
    .expect_err("mismatch");
    assert_eq!(err.kind, SchemaErrorKind::StreamMismatch);
}
