//! Specification tests for the event catalogue: every type's example parses and round-trips,
//! and each family rejects what the contract forbids with a precise error.

mod props;
mod rejections;
mod roundtrip;
mod values;

use serde_json::Value;

use super::error::{SchemaError, SchemaErrorKind};
use super::event::EventPayload;
use super::fixtures::example_payload;

/// The example payload of `type_name`, changed by `edit`.
fn payload_with(type_name: &str, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut payload = example_payload(type_name).expect("catalogue type");
    edit(&mut payload);
    serde_json::to_vec(&payload).expect("json")
}

/// Parses bytes that must be rejected and returns the error.
fn rejected(bytes: &[u8]) -> SchemaError {
    match EventPayload::parse(bytes) {
        Ok(payload) => panic!("accepted: {payload:?}"),
        Err(err) => err,
    }
}

/// Asserts the rejection's kind and exact message.
fn assert_rejected(bytes: &[u8], kind: SchemaErrorKind, message: &str) {
    let err = rejected(bytes);
    assert_eq!((err.kind, err.message.as_str()), (kind, message));
}
