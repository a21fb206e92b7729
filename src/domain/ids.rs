//! Identifier newtypes (slugs, case ids, language tags): private fields, built only by parsing,
//! so holding one proves it is well formed.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

use smol_str::SmolStr;
use uuid::Uuid;

/// Why a string is not a valid identifier or value. The message names the rule, never the
/// rejected text, so a name typed into the wrong field cannot leak into logs.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseIdError(pub(crate) &'static str);

/// A lowercase identifier matching `^[a-z0-9][a-z0-9-]{0,62}$` (DESIGN §2.2).
///
/// Used for principal and agency ids and for the case-local ids `consent_id`, `inquiry_id`
/// and `referral_id`. `Borrow<str>` lets maps keyed by `Slug` be queried with a `&str`
/// (`SmolStr` hashes and orders as its text). Up to 23 bytes are held inline, longer ones
/// shared, so ids are parsed and cloned (every folded step records its actor) without
/// allocating.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slug(SmolStr);

/// A principal (person or service account) id.
pub type PrincipalId = Slug;
/// An agency id.
pub type AgencyId = Slug;
/// A consent id, unique within its case.
pub type ConsentId = Slug;
/// An inquiry id, unique within its case.
pub type InquiryId = Slug;
/// A referral id, unique within its case.
pub type ReferralId = Slug;

impl Slug {
    /// The slug as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Whether `text` is a valid slug; shared with the stream id parser.
    pub(crate) fn is_valid(text: &str) -> bool {
        let bytes = text.as_bytes();
        let allowed = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-';
        matches!(bytes.first(), Some(b) if b.is_ascii_lowercase() || b.is_ascii_digit())
            && bytes.len() <= 63
            && bytes.iter().all(allowed)
    }
}

impl FromStr for Slug {
    type Err = ParseIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if Slug::is_valid(text) {
            Ok(Slug(SmolStr::new(text)))
        } else {
            Err(ParseIdError(
                "invalid slug: expected 1 to 63 characters of [a-z0-9-], starting with [a-z0-9]",
            ))
        }
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Slug {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Slug {
    fn borrow(&self) -> &str {
        &self.0
    }
}

string_serde!(Slug, "Slug", "a slug", {
    "type": "string",
    "pattern": "^[a-z0-9][a-z0-9-]{0,62}$"
});

/// Parses a UUID only in its canonical lowercase hyphenated form, so one UUID has exactly one
/// spelling in signed bytes, stream names and idempotency checks.
pub(crate) fn parse_canonical_uuid(text: &str) -> Result<Uuid, ParseIdError> {
    const RULE: &str = "invalid uuid: expected lowercase hyphenated form (8-4-4-4-12 hex digits)";
    let uuid = Uuid::try_parse(text).map_err(|_| ParseIdError(RULE))?;
    if text.len() == 36 && uuid.hyphenated().encode_lower(&mut Uuid::encode_buffer()) == text {
        Ok(uuid)
    } else {
        Err(ParseIdError(RULE))
    }
}

/// Serde helpers for a canonical UUID field such as `event_id`.
pub(crate) mod canonical_uuid {
    use serde::Deserializer;
    use uuid::Uuid;

    use crate::domain::visit::StrVisitor;

    /// Deserializes a UUID string in canonical form only.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Uuid, D::Error> {
        deserializer.deserialize_str(StrVisitor {
            expecting: "a uuid",
            parse: super::parse_canonical_uuid,
        })
    }
}

/// A case id: a UUID that carries no meaning (DESIGN §2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CaseId(Uuid);

impl CaseId {
    /// Wraps an existing UUID; any UUID is a valid case id.
    pub fn from_uuid(uuid: Uuid) -> Self {
        CaseId(uuid)
    }

    /// A fresh random (v4) case id. Random rather than v7 because a time-ordered id would
    /// reveal when the person's case was opened.
    pub fn random() -> Self {
        CaseId(Uuid::new_v4())
    }

    /// The underlying UUID.
    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl FromStr for CaseId {
    type Err = ParseIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_canonical_uuid(text).map(CaseId)
    }
}

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

string_serde!(CaseId, "CaseId", "a uuid", {
    "type": "string",
    "format": "uuid",
    "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
});

/// A BCP 47 language tag such as `es` or `fr-CA`: at most 35 characters, a 2–8 letter primary
/// subtag, then `-`-separated alphanumeric subtags of 1–8 characters.
///
/// The tag is kept exactly as written (it is part of signed bytes); compare tags with
/// [`Language::matches`], which ignores case as BCP 47 does.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Language(String);

impl Language {
    /// The tag as written.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Whether two tags name the same language (BCP 47 tags are case-insensitive).
    pub fn matches(&self, other: &Language) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }

    /// The tag in BCP 47's conventional case (`fr-CA`, `zh-Hant-TW`, `es`): the spelling
    /// that reports count under, so `es` and `ES` are one language.
    pub fn canonical(&self) -> String {
        let mut out = String::with_capacity(self.0.len());
        let mut private = false;
        for (i, subtag) in self.0.split('-').enumerate() {
            if i > 0 {
                out.push('-');
            }
            let letters = subtag.bytes().all(|b| b.is_ascii_alphabetic());
            match (i, subtag.len()) {
                (0, _) => out.push_str(&subtag.to_ascii_lowercase()),
                (_, 2) if letters && !private => out.push_str(&subtag.to_ascii_uppercase()),
                (_, 4) if letters && !private => {
                    out.push_str(&subtag[..1].to_ascii_uppercase());
                    out.push_str(&subtag[1..].to_ascii_lowercase());
                }
                _ => out.push_str(&subtag.to_ascii_lowercase()),
            }
            // After a singleton (an extension or `x-`), no case conventions apply.
            private |= i > 0 && subtag.len() == 1;
        }
        out
    }
}

impl FromStr for Language {
    type Err = ParseIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut subtags = text.split('-');
        let primary_ok = subtags.next().is_some_and(|primary| {
            (2..=8).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_alphabetic())
        });
        let rest_ok = subtags.all(|subtag| {
            (1..=8).contains(&subtag.len()) && subtag.bytes().all(|b| b.is_ascii_alphanumeric())
        });
        if primary_ok && rest_ok && text.len() <= 35 {
            Ok(Language(text.to_owned()))
        } else {
            Err(ParseIdError(
                "invalid language tag: expected BCP 47 such as `es` or `fr-CA`, at most 35 characters",
            ))
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

string_serde!(Language, "Language", "a language tag", {
    "type": "string",
    "maxLength": 35,
    "pattern": "^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$"
});
