//! Property tests: no input panics the parser, and whatever it accepts round-trips.

use proptest::prelude::*;
use serde_json::Value;

use super::super::event::{EventData, EventPayload};
use super::super::fixtures::example_payload;

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[a-z_.\\-]{0,12}".prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        Just(Value::from("any")),
        Just(Value::from("2026-11-28T10:15:00Z")),
    ];
    leaf.prop_recursive(4, 48, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..8)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Accepted payloads must survive serialize → parse unchanged.
fn assert_round_trip(bytes: &[u8]) {
    if let Ok(payload) = EventPayload::parse(bytes) {
        assert_eq!(EventPayload::parse(&payload.to_json_bytes()), Ok(payload));
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = EventPayload::parse(&bytes);
    }

    #[test]
    fn arbitrary_json_never_panics(value in arb_json()) {
        assert_round_trip(&serde_json::to_vec(&value).expect("json"));
    }

    /// Replaces one top-level or data field of a valid example with arbitrary JSON, which
    /// reaches the deep parsers far more often than random documents do.
    #[test]
    fn mutated_examples_never_panic(
        type_index in 0..EventData::ALL_TYPES.len(),
        field_index in 0..16usize,
        in_data in any::<bool>(),
        replacement in arb_json(),
    ) {
        let mut payload = example_payload(EventData::ALL_TYPES[type_index]).expect("fixture");
        let target = if in_data { &mut payload["data"] } else { &mut payload };
        if let Some(object) = target.as_object_mut() {
            let keys: Vec<String> = object.keys().cloned().collect();
            let key = keys[field_index % keys.len()].clone();
            object.insert(key, replacement);
        }
        assert_round_trip(&serde_json::to_vec(&payload).expect("json"));
    }

    #[test]
    fn truncated_examples_never_panic(type_index in 0..EventData::ALL_TYPES.len(), cut in 0..1000usize) {
        let payload = example_payload(EventData::ALL_TYPES[type_index]).expect("fixture");
        let bytes = serde_json::to_vec_pretty(&payload).expect("json");
        let _ = EventPayload::parse(&bytes[..cut.min(bytes.len())]);
    }
}

proptest! {
    /// A key id or token hash is read exactly when it is 64 lowercase hex digits, to the
    /// bytes the `hex` crate reads from them.
    #[test]
    fn hex_values_are_read_exactly_when_lowercase(
        text in "[0-9a-f]{64}|[0-9a-fA-Fg:/@`\\x00é]{62,66}|[0-9a-f]{0,70}"
    ) {
        use super::super::keys::{KeyId, Sha256Hex};
        let lower = text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let expected = lower.then(|| hex::decode(&text).expect("hex"));
        let id = text.parse::<KeyId>().ok().map(|k| k.to_string());
        prop_assert_eq!(id.map(|t| hex::decode(t).expect("hex")), expected.clone());
        let sha = text.parse::<Sha256Hex>().ok().map(|k| k.to_string());
        prop_assert_eq!(sha.map(|t| hex::decode(t).expect("hex")), expected);
    }
}
