//! RFC 3339 UTC timestamps (DESIGN §1, §2.3): only `Z` or `+00:00` offsets and a `T`
//! separator are accepted, so a timestamp in signed bytes is never ambiguous about its zone.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};

use super::ids::ParseIdError;

/// A point in time, written as RFC 3339 in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// Wraps a UTC date-time.
    pub fn from_datetime(at: DateTime<Utc>) -> Self {
        Timestamp(at)
    }

    /// The UTC date-time.
    pub fn as_datetime(&self) -> &DateTime<Utc> {
        &self.0
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(at: DateTime<Utc>) -> Self {
        Timestamp(at)
    }
}

impl From<Timestamp> for DateTime<Utc> {
    fn from(at: Timestamp) -> Self {
        at.0
    }
}

/// Parses an RFC 3339 timestamp whose offset is `Z` or `+00:00`.
pub(crate) fn parse_utc(text: &str) -> Result<DateTime<Utc>, ParseIdError> {
    const RULE: &str =
        "invalid timestamp: expected RFC 3339 in UTC, e.g. `2026-11-28T10:15:00Z` (offset `Z` or `+00:00`)";
    // chrono also takes a lowercase `t`/`z`, a space separator and any offset; the contract
    // wants one unambiguous UTC spelling, so those are refused before parsing.
    let utc_suffix = text.ends_with('Z') || text.ends_with("+00:00");
    if !utc_suffix || text.as_bytes().get(10) != Some(&b'T') {
        return Err(ParseIdError(RULE));
    }
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| ParseIdError(RULE))
}

/// Most digits of a second's fraction in a new event: nanoseconds, the precision the ledger
/// keeps. Digits past them are no time at all (chrono drops them), only room for free text
/// in signed bytes: a fraction of 200 digits holds a name, spelled as numbers.
const MAX_FRACTION_DIGITS: usize = 9;

/// Digits of the fraction of a second (after `HH:MM:SS.`), if any.
fn fraction_digits(text: &str) -> usize {
    match text.as_bytes().get(19) {
        Some(b'.') => text[20..].bytes().take_while(u8::is_ascii_digit).count(),
        _ => 0,
    }
}

/// The timestamps of an event payload, as written.
#[derive(serde::Deserialize)]
struct Stamps<'a> {
    #[serde(borrow)]
    occurred_at: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    data: StampedData<'a>,
}

#[derive(serde::Deserialize, Default)]
struct StampedData<'a> {
    #[serde(borrow, default)]
    valid_until: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    expires_at: Option<std::borrow::Cow<'a, str>>,
}

/// Checks a new event's timestamps (`occurred_at`, `data.valid_until`, `data.expires_at`)
/// for at most nine fraction digits; the field and the rule if one has more. A check of new
/// writes only, on the payload's bytes: the parsed time has lost the extra digits, and stored
/// entries written before this check must stay readable.
pub fn new_stamps_fit(payload: &[u8]) -> Result<(), String> {
    let Ok(s) = serde_json::from_slice::<Stamps<'_>>(payload) else {
        // Not the payload the parser accepted: its own error stands.
        return Ok(());
    };
    let fields = [
        ("occurred_at", Some(&s.occurred_at)),
        ("data.valid_until", s.data.valid_until.as_ref()),
        ("data.expires_at", s.data.expires_at.as_ref()),
    ];
    for (field, text) in fields {
        if let Some(text) = text {
            new_stamp_fits(field, text)?;
        }
    }
    Ok(())
}

/// The write-time rules for one timestamp of a new event or request, beyond what parsing
/// checks: at most nine fraction digits, and no second 60. chrono reads `23:59:60` in any
/// minute as a leap second, but leap seconds happen only where IERS announces them (and
/// none is planned): an auditor's own tools (Python's `datetime`, Go's `time.Parse`) refuse
/// the others, so signed bytes holding one could not be read there. Stored entries are not
/// checked, so older logs still load and verify.
pub(crate) fn new_stamp_fits(field: &str, text: &str) -> Result<(), String> {
    if fraction_digits(text) > MAX_FRACTION_DIGITS {
        return Err(format!(
            "{field}: at most {MAX_FRACTION_DIGITS} digits after the seconds (nanoseconds)"
        ));
    }
    if text.get(17..19) == Some("60") {
        return Err(format!(
            "{field}: second 60 (a leap second) is not accepted"
        ));
    }
    Ok(())
}

/// Formats as RFC 3339 with `Z` and only as many fraction digits as needed.
pub(crate) fn format_utc(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

impl FromStr for Timestamp {
    type Err = ParseIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_utc(text).map(Timestamp)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_utc(&self.0))
    }
}

string_serde!(Timestamp, "Timestamp", "an RFC 3339 UTC timestamp", {
    "type": "string",
    "format": "date-time",
    "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|\\+00:00)$"
});

/// Serde helpers for `DateTime<Utc>` fields (`occurred_at`, `valid_until`, …) with the
/// [`Timestamp`] rules, so domain structs hold plain chrono values.
pub(crate) mod utc {
    use chrono::{DateTime, Utc};
    use serde::{Deserializer, Serializer};

    use crate::domain::visit::StrVisitor;

    /// Serializes as RFC 3339 with `Z`.
    pub(crate) fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_utc(at))
    }

    /// Deserializes an RFC 3339 UTC timestamp.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        d.deserialize_str(StrVisitor {
            expecting: "an RFC 3339 UTC timestamp",
            parse: super::parse_utc,
        })
    }

    /// The same for an optional field: absent is `None`, explicit `null` is refused.
    pub(crate) mod option {
        use chrono::{DateTime, Utc};
        use serde::{Deserializer, Serializer};

        /// Serializes a present value; pair with `skip_serializing_if = "Option::is_none"`.
        pub(crate) fn serialize<S: Serializer>(
            at: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match at {
                Some(at) => super::serialize(at, s),
                None => s.serialize_none(),
            }
        }

        /// Deserializes a present, non-null timestamp.
        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            super::deserialize(d).map(Some)
        }
    }
}
