//! Log entries (DESIGN §3): the JSON the server writes once per accepted event, in a fixed
//! field order, and stores as exact bytes. Hashing, export and verification use those bytes.

mod layout;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::domain::{EventPayload, SchemaError, StreamId};
use crate::envelope::{Envelope, EnvelopeError, WireEnvelope};

/// Entry format version.
pub const ENTRY_VERSION: u8 = 1;

/// The entry as the writer serialises it (decoding is in [`layout`]).
#[derive(Serialize)]
struct EntryJson<'a> {
    v: u8,
    stream: &'a str,
    revision: u64,
    recorded_at: &'a str,
    envelope: &'a WireEnvelope,
}

/// Formats a server timestamp as RFC 3339 UTC with microseconds, as entries carry it.
pub fn format_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Reads a server stamp as [`format_time`] writes it, and nothing else: a fixed-width
/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, so that one instant has one spelling in the log.
fn read_stamp(text: &str) -> Option<DateTime<Utc>> {
    const SHAPE: &[u8; 27] = b"0000-00-00T00:00:00.000000Z";
    let fits = text.len() == SHAPE.len()
        && text.bytes().zip(SHAPE).all(|(b, &s)| match s {
            b'0' => b.is_ascii_digit(),
            s => b == s,
        });
    fits.then(|| DateTime::parse_from_rfc3339(text).ok())
        .flatten()
        .map(|t| t.with_timezone(&Utc))
}

/// Writes an entry's bytes. Called exactly once per event, by the writer.
pub fn encode(stream: &str, revision: u64, recorded_at: &str, envelope: &WireEnvelope) -> Vec<u8> {
    serde_json::to_vec(&EntryJson {
        v: ENTRY_VERSION,
        stream,
        revision,
        recorded_at,
        envelope,
    })
    .expect("entry serialises")
}

/// An entry read back from its bytes, with its envelope and event decoded.
#[derive(Debug, Clone)]
pub struct DecodedEntry {
    pub stream: String,
    pub revision: u64,
    pub recorded_at: DateTime<Utc>,
    pub envelope: Envelope,
    pub payload: EventPayload,
}

/// Why stored bytes are not a valid entry.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    #[error("entry is not in the v1 layout: {0}")]
    Layout(String),
    #[error("entry envelope: {0}")]
    Envelope(#[from] EnvelopeError),
    #[error("entry event: {0}")]
    Event(#[from] SchemaError),
    #[error("entry stream `{entry}` differs from the signed event's stream `{event}`")]
    StreamMismatch { entry: String, event: String },
}

/// The stream and revision of entry bytes whose layout reads and names a valid stream id,
/// whatever else is wrong in them: to name an entry that does not decode.
pub fn placed(bytes: &[u8]) -> Option<(String, u64)> {
    let l = layout::read(bytes).ok()?;
    let stream: StreamId = l.stream.parse().ok()?;
    Some((stream.to_string(), l.revision))
}

/// Parses entry bytes without re-serialising anything. Does not verify the signature.
pub fn decode(bytes: &[u8]) -> Result<DecodedEntry, EntryError> {
    let json = layout::read(bytes).map_err(EntryError::Layout)?;
    if json.v != ENTRY_VERSION {
        return Err(EntryError::Layout(format!("unknown version {}", json.v)));
    }
    let recorded_at = read_stamp(&json.recorded_at).ok_or_else(|| {
        EntryError::Layout(format!(
            "recorded_at `{}` is not a server stamp: RFC 3339 UTC with microseconds, \
             as in 2026-11-28T10:15:00.123456Z",
            json.recorded_at
        ))
    })?;
    let signatures: Vec<(&str, &str)> = json
        .signatures
        .iter()
        .map(|(k, s)| (k.as_ref(), s.as_ref()))
        .collect();
    let envelope = Envelope::from_parts(&json.payload_type, &json.payload, &signatures)?;
    let payload = EventPayload::parse(envelope.payload())?;
    if !payload.stream.is(&json.stream) {
        return Err(EntryError::StreamMismatch {
            entry: json.stream.into_owned(),
            event: payload.stream.to_string(),
        });
    }
    Ok(DecodedEntry {
        stream: json.stream.into_owned(),
        revision: json.revision,
        recorded_at,
        envelope,
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    #[test]
    fn only_the_writers_stamps_are_read() {
        let t = Utc.with_ymd_and_hms(2026, 11, 28, 10, 15, 0).unwrap();
        assert_eq!(read_stamp("2026-11-28T10:15:00.000000Z"), Some(t));
        for other in [
            "2026-11-28T10:15:00Z",
            "2026-11-28T10:15:00.000Z",
            "2026-11-28T10:15:00.000000000Z",
            "2026-11-28T10:15:00.000000+00:00",
            "2026-11-28t10:15:00.000000Z",
            "2026-11-28T10:15:00.000000z",
            "2026-11-28 10:15:00.000000Z",
            "2026-13-28T10:15:00.000000Z",
            "+026-11-28T10:15:00.000000Z",
            "２026-11-28T10:15:00.00000Z",
        ] {
            assert_eq!(read_stamp(other), None, "{other}");
        }
    }

    #[test]
    fn an_entry_that_does_not_decode_is_placed_only_under_a_valid_stream_id() {
        let envelope = WireEnvelope {
            payload_type: "application/vnd.caseledger.event+json".into(),
            payload: "e30=".into(),
            signatures: vec![crate::envelope::WireSignature {
                keyid: "00".repeat(32),
                sig: "AA==".into(),
            }],
        };
        let at = |stream: &str| placed(&encode(stream, 3, "2026-11-28T10:15:00Z", &envelope));
        assert!(decode(&encode("agency-a", 3, "2026-11-28T10:15:00Z", &envelope)).is_err());
        assert_eq!(at("agency-a"), Some(("agency-a".to_owned(), 3)));
        // Text that is no stream id is not repeated in a report, whatever it holds.
        for odd in ["agency-A", "case-x", "\u{202e}agency-a", "nothing", ""] {
            assert_eq!(at(odd), None, "{odd}");
        }
        assert_eq!(placed(b"{\"v\": 1}"), None);
    }

    proptest! {
        /// Every stamp the writer writes reads back to the same instant.
        #[test]
        fn every_written_stamp_reads_back(micros in 0i64..8_000_000_000_000_000) {
            let t = DateTime::from_timestamp_micros(micros).expect("in range");
            prop_assert_eq!(read_stamp(&format_time(&t)), Some(t));
        }
    }
}
