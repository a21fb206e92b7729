//! Reads an event payload's top level directly when it is in the compact spelling our client
//! library signs (serde_json's: keys sorted, no whitespace, no escapes in the top-level
//! strings). Every field goes through the same parser the serde path uses; the scan declines
//! (`None`) anything else, and a payload the typed parse refuses is parsed again by serde so
//! that the error is worded the same. The offline verifier and the start-up fold read every
//! payload of the log, so this is on their hot path.

use super::event::RawPayload;
use super::ids::parse_canonical_uuid;
use super::time::parse_utc;
use crate::jsonscan::Cursor;

/// The payload's top-level fields, or `None` to let serde read it.
pub(super) fn scan(text: &str) -> Option<RawPayload<'_>> {
    let mut c = Cursor::new(text.as_bytes());
    c.lit(r#"{"actor":""#)?;
    let actor = c.string()?;
    c.lit(r#","data":"#)?;
    let data = std::str::from_utf8(c.nested()?).ok()?;
    c.lit(r#","event_id":""#)?;
    let event_id = c.string()?;
    c.lit(r#","occurred_at":""#)?;
    let occurred_at = c.string()?;
    c.lit(r#","stream":""#)?;
    let stream = c.string()?;
    c.lit(r#","type":""#)?;
    let type_name = c.string()?;
    c.lit("}")?;
    if !c.at_end() {
        return None;
    }
    Some(RawPayload::new(
        parse_canonical_uuid(&event_id).ok()?,
        borrowed(type_name)?,
        stream.parse().ok()?,
        parse_utc(&occurred_at).ok()?,
        actor.parse().ok()?,
        data,
    ))
}

/// [`Cursor::string`] borrows from the input: its text outlives the cursor.
fn borrowed(text: std::borrow::Cow<'_, str>) -> Option<&str> {
    match text {
        std::borrow::Cow::Borrowed(t) => Some(t),
        std::borrow::Cow::Owned(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::example_payload;
    use crate::domain::{EventData, EventPayload};
    use proptest::prelude::*;

    fn compact(type_name: &str) -> String {
        let payload = example_payload(type_name).expect("fixture");
        serde_json::to_string(&payload).expect("json")
    }

    fn via_serde(text: &str) -> Option<EventPayload> {
        serde_json::from_str::<EventPayload>(text).ok()
    }

    #[test]
    fn every_type_in_the_client_spelling_is_scanned_to_what_serde_reads() {
        for type_name in EventData::ALL_TYPES {
            let text = compact(type_name);
            let raw = scan(&text).unwrap_or_else(|| panic!("{type_name} declined: {text}"));
            let fast = raw.into_payload().expect("valid fixture");
            assert_eq!(Some(fast), via_serde(&text), "{type_name}");
        }
    }

    #[test]
    fn other_spellings_are_declined() {
        let text = compact("case.opened");
        for other in [
            text.replacen(r#""actor":"#, r#""actor": "#, 1),
            text.replacen('{', "{\"actor\":\"x\",", 1),
            format!("{text} "),
            text.replacen(r#""type":"case.opened""#, r#""type":"case\u002eopened""#, 1),
        ] {
            assert!(scan(&other).is_none(), "{other}");
        }
    }

    #[test]
    fn data_given_as_an_array_is_refused_on_both_paths() {
        // serde reads a struct from an array of its fields' values, too.
        let mut payload = example_payload("case.closed").expect("fixture");
        let values: Vec<_> = payload["data"]
            .as_object()
            .expect("object")
            .values()
            .cloned()
            .collect();
        payload["data"] = values.into();
        let array = serde_json::to_string(&payload).expect("json");
        let spaced = array.replacen(r#""actor":"#, r#""actor": "#, 1);
        for t in [&array, &spaced] {
            let err = EventPayload::parse(t.as_bytes()).expect_err("an array is not an object");
            assert!(
                err.to_string().contains("data: expected a JSON object"),
                "{err}"
            );
        }
    }

    proptest! {
        /// Whatever the scan accepts and the typed parse takes, serde reads the same.
        #[test]
        fn the_scan_agrees_with_serde(pick in 0usize..23, flip in 0usize..400, byte in 32u8..127) {
            let names = EventData::ALL_TYPES;
            let text = compact(names[pick % names.len()]);
            let mut bytes = text.clone().into_bytes();
            if let Some(b) = bytes.get_mut(flip) { *b = byte; }
            let flipped = String::from_utf8(bytes).expect("ascii");
            for t in [&text, &flipped] {
                if let Some(Ok(fast)) = scan(t).map(RawPayload::into_payload) {
                    prop_assert_eq!(Some(fast), via_serde(t));
                }
            }
        }
    }
}
