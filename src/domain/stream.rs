//! Stream ids (`case-<uuid>`, `agency-<slug>`, `principal-<slug>`, DESIGN §2.3): which stream an
//! event belongs to, carried inside the signed bytes so an event cannot be replayed elsewhere.

use std::fmt;
use std::str::FromStr;

use super::ids::{parse_canonical_uuid, AgencyId, CaseId, ParseIdError, PrincipalId, Slug};

/// The family of a stream; each event type belongs to exactly one.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum StreamKind {
    /// `case-<uuid>`: case, consent, inquiry and referral events.
    Case,
    /// `agency-<slug>`: the agency directory.
    Agency,
    /// `principal-<slug>`: people, service accounts, their keys and tokens.
    Principal,
}

impl StreamKind {
    /// The text before the id, including the hyphen.
    pub fn prefix(self) -> &'static str {
        match self {
            StreamKind::Case => "case-",
            StreamKind::Agency => "agency-",
            StreamKind::Principal => "principal-",
        }
    }

    /// A JSON Schema regex matching stream ids of this kind.
    pub fn pattern(self) -> &'static str {
        match self {
            StreamKind::Case => {
                "^case-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
            }
            StreamKind::Agency => "^agency-[a-z0-9][a-z0-9-]{0,62}$",
            StreamKind::Principal => "^principal-[a-z0-9][a-z0-9-]{0,62}$",
        }
    }
}

impl fmt::Display for StreamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.prefix().trim_end_matches('-'))
    }
}

/// A ledger stream id. Its text form is the exact string used in payloads, entries and URLs.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StreamId {
    /// `case-<uuid>`, the UUID in lowercase hyphenated form.
    Case(CaseId),
    /// `agency-<slug>`.
    Agency(AgencyId),
    /// `principal-<slug>`.
    Principal(PrincipalId),
}

impl StreamId {
    /// The family of this stream.
    pub fn kind(&self) -> StreamKind {
        match self {
            StreamId::Case(_) => StreamKind::Case,
            StreamId::Agency(_) => StreamKind::Agency,
            StreamId::Principal(_) => StreamKind::Principal,
        }
    }

    /// Calls `f` with this stream's id as written, built on the stack: the longest id,
    /// `principal-` and a 63-byte slug, fits in 80 bytes.
    pub fn with_name<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        let prefix = self.kind().prefix();
        let mut uuid = uuid::Uuid::encode_buffer();
        let rest: &str = match self {
            StreamId::Case(id) => id.as_uuid().hyphenated().encode_lower(&mut uuid),
            StreamId::Agency(id) | StreamId::Principal(id) => id.as_str(),
        };
        let mut buf = [0u8; 80];
        let len = prefix.len() + rest.len();
        match buf.get_mut(..len) {
            Some(name) => {
                name[..prefix.len()].copy_from_slice(prefix.as_bytes());
                name[prefix.len()..].copy_from_slice(rest.as_bytes());
                f(std::str::from_utf8(name).expect("joined from two strs"))
            }
            // Slugs are bounded, but the type does not promise it.
            None => f(&self.to_string()),
        }
    }

    /// Whether `text` is exactly this stream's id as written (`to_string() == text`,
    /// without building the string).
    pub fn is(&self, text: &str) -> bool {
        let Some(rest) = text.strip_prefix(self.kind().prefix()) else {
            return false;
        };
        match self {
            StreamId::Case(id) => {
                let mut buf = uuid::Uuid::encode_buffer();
                id.as_uuid().hyphenated().encode_lower(&mut buf) == rest
            }
            StreamId::Agency(id) | StreamId::Principal(id) => id.as_str() == rest,
        }
    }
}

impl FromStr for StreamId {
    type Err = ParseIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        const RULE: &str =
            "invalid stream id: expected `case-<uuid>`, `agency-<slug>` or `principal-<slug>`";
        let slug = |rest: &str| rest.parse::<Slug>().map_err(|_| ParseIdError(RULE));
        if let Some(rest) = text.strip_prefix("case-") {
            let uuid = parse_canonical_uuid(rest).map_err(|_| ParseIdError(RULE))?;
            Ok(StreamId::Case(CaseId::from_uuid(uuid)))
        } else if let Some(rest) = text.strip_prefix("agency-") {
            slug(rest).map(StreamId::Agency)
        } else if let Some(rest) = text.strip_prefix("principal-") {
            slug(rest).map(StreamId::Principal)
        } else {
            Err(ParseIdError(RULE))
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind().prefix())?;
        match self {
            StreamId::Case(id) => fmt::Display::fmt(id, f),
            StreamId::Agency(id) | StreamId::Principal(id) => fmt::Display::fmt(id, f),
        }
    }
}

string_serde!(StreamId, "StreamId", "a stream id", {
    "type": "string",
    "pattern": "^(case-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|(agency|principal)-[a-z0-9][a-z0-9-]{0,62})$"
});
