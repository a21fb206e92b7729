//! The entry layout's fields, read by a direct scan of the exact bytes the writer produces
//! (fixed member order, no whitespace, strings without escapes, one signature). The scan
//! accepts only inputs on which `serde_json` gives the same fields (a property test checks
//! this). Anything else is refused: an entry's bytes are what the log commits to, so one
//! event has one spelling, and a respelled entry did not come from the writer. `serde_json`
//! reads what the scan refuses only to word the error.

use std::borrow::Cow;

use serde::Deserialize;

use crate::jsonscan::Cursor;

/// The fields of an entry, borrowed from its bytes where possible.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Layout<'a> {
    pub v: u8,
    pub stream: Cow<'a, str>,
    pub revision: u64,
    pub recorded_at: Cow<'a, str>,
    pub payload_type: Cow<'a, str>,
    pub payload: Cow<'a, str>,
    /// `(keyid, sig)` of each signature.
    pub signatures: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

/// What the writer writes, for the error that refuses anything else.
pub(super) const SPELLING: &str = "the writer's exact spelling (DESIGN §3: members v, stream, \
    revision, recorded_at, envelope in this order, no whitespace, no escapes, one signature)";

/// Reads the layout of bytes in the writer's exact spelling; anything else is an error that
/// says what is wrong with it.
pub(super) fn read(bytes: &[u8]) -> Result<Layout<'_>, String> {
    match scan(bytes) {
        Some(layout) => Ok(layout),
        None => Err(match general(bytes) {
            Err(e) => e.to_string(),
            Ok(_) => format!("valid JSON, but not in {SPELLING}"),
        }),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryJson<'a> {
    v: u8,
    #[serde(borrow)]
    stream: Cow<'a, str>,
    revision: u64,
    #[serde(borrow)]
    recorded_at: Cow<'a, str>,
    #[serde(borrow)]
    envelope: EnvelopeJson<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvelopeJson<'a> {
    #[serde(rename = "payloadType", borrow)]
    payload_type: Cow<'a, str>,
    #[serde(borrow)]
    payload: Cow<'a, str>,
    #[serde(borrow)]
    signatures: Vec<SignatureJson<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureJson<'a> {
    #[serde(borrow)]
    keyid: Cow<'a, str>,
    #[serde(borrow)]
    sig: Cow<'a, str>,
}

/// The general parser: any valid JSON spelling of the layout (to word errors, and for the
/// property test of the scan).
pub(super) fn general(bytes: &[u8]) -> Result<Layout<'_>, serde_json::Error> {
    let e: EntryJson<'_> = serde_json::from_slice(bytes)?;
    Ok(Layout {
        v: e.v,
        stream: e.stream,
        revision: e.revision,
        recorded_at: e.recorded_at,
        payload_type: e.envelope.payload_type,
        payload: e.envelope.payload,
        signatures: e
            .envelope
            .signatures
            .into_iter()
            .map(|s| (s.keyid, s.sig))
            .collect(),
    })
}

/// The fast scan: `Some` only for the writer's exact spelling.
pub(super) fn scan(bytes: &[u8]) -> Option<Layout<'_>> {
    let mut c = Cursor::new(bytes);
    c.lit(r#"{"v":"#)?;
    let v = u8::try_from(c.number()?).ok()?;
    c.lit(r#","stream":""#)?;
    let stream = c.string()?;
    c.lit(r#","revision":"#)?;
    let revision = c.number()?;
    c.lit(r#","recorded_at":""#)?;
    let recorded_at = c.string()?;
    c.lit(r#","envelope":{"payloadType":""#)?;
    let payload_type = c.string()?;
    c.lit(r#","payload":""#)?;
    let payload = c.string()?;
    c.lit(r#","signatures":[{"keyid":""#)?;
    let keyid = c.string()?;
    c.lit(r#","sig":""#)?;
    let sig = c.string()?;
    c.lit("}]}}")?;
    c.at_end().then_some(Layout {
        v,
        stream,
        revision,
        recorded_at,
        payload_type,
        payload,
        signatures: vec![(keyid, sig)],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(stream: &str, revision: u64, at: &str, payload: &str, sig: &str) -> String {
        format!(
            r#"{{"v":1,"stream":"{stream}","revision":{revision},"recorded_at":"{at}","envelope":{{"payloadType":"application/vnd.caseledger.event.v1+json","payload":"{payload}","signatures":[{{"keyid":"{}","sig":"{sig}"}}]}}}}"#,
            "ab".repeat(32)
        )
    }

    #[test]
    fn the_writers_spelling_is_scanned_and_others_are_declined() {
        let e = entry("agency-a", 7, "2026-11-28T10:15:00.123456Z", "eyJ9", "c2ln");
        let fast = scan(e.as_bytes()).expect("scanned");
        assert_eq!(fast, general(e.as_bytes()).expect("parses"));
        assert_eq!((fast.stream.as_ref(), fast.revision), ("agency-a", 7));
        for other in [
            e.replace(r#""v":1,"#, r#""v": 1,"#),
            e.replace("agency-a", r"agency\u002da"),
            e.replace(r#""revision":7"#, r#""revision":07"#),
            e.replace("}]}}", "}]},\"x\":1}"),
        ] {
            assert!(scan(other.as_bytes()).is_none(), "{other}");
        }
        // Valid JSON of the same fields, respelled: refused, and said so.
        let spaced = e.replace(r#""v":1,"#, r#""v": 1,"#);
        assert_eq!(general(spaced.as_bytes()).expect("general"), fast);
        let refused = read(spaced.as_bytes()).expect_err("respelled");
        assert!(
            refused.contains("not in the writer's exact spelling"),
            "{refused}"
        );
        let broken = read(b"{\"v\":1,").expect_err("not JSON");
        assert!(!broken.contains("exact spelling"), "{broken}");
    }

    proptest! {
        /// Whatever the scan accepts, serde_json reads to the same fields.
        #[test]
        fn the_scan_agrees_with_serde_json(
            stream in "[ -~é\t]{0,12}",
            revision in any::<u64>(),
            payload in "[A-Za-z0-9+/=\\\\\"]{0,40}",
            cut in 0usize..400,
            flip in 0usize..400,
            byte in any::<u8>(),
        ) {
            let base = entry(&stream, revision, "2026-11-28T10:15:00Z", &payload, "c2ln");
            let mut variants = vec![base.clone().into_bytes()];
            let mut flipped = base.clone().into_bytes();
            if let Some(b) = flipped.get_mut(flip) { *b = byte; }
            variants.push(flipped);
            variants.push(base.as_bytes()[..cut.min(base.len())].to_vec());
            for bytes in &variants {
                if let Some(fast) = scan(bytes) {
                    prop_assert_eq!(Some(fast), general(bytes).ok());
                }
            }
        }
    }
}
