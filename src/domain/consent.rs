//! `data` of the `consent.*` events (stream `case-<uuid>`): what the person agreed to share,
//! with whom, for what, until when, and how the agreement was obtained.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, SeqAccess, Unexpected, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::bounded::{present, BoundedSet, BoundedString, List};
use super::ids::{AgencyId, ConsentId, Language, PrincipalId};
use super::time::{utc, Timestamp};
use super::values::{ConsentMethod, ConsentPurpose, DataCategory};

/// `consent.granted`: the person consents, for the stated purposes and recipients, until
/// `valid_until`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentGranted {
    /// Case-local id of this consent.
    pub consent_id: ConsentId,
    /// What the consent allows, 1 to 2, no repeats.
    pub purposes: BoundedSet<ConsentPurpose, 1, 2>,
    /// Which agencies may be contacted.
    pub recipients: Recipients,
    /// What may be shared.
    pub data_categories: List<DataCategory>,
    /// When the consent lapses.
    #[serde(with = "utc")]
    #[schemars(with = "Timestamp")]
    pub valid_until: DateTime<Utc>,
    /// How it was given.
    pub method: ConsentMethod,
    /// The language the consent conversation was held in.
    pub language: Language,
    /// Whether an interpreter took part.
    #[serde(deserialize_with = "super::bounded::object_only")]
    pub interpreter: Interpreter,
    /// The principal who witnessed the consent, if any (in new events, a registered
    /// principal of the case's owner agency; the server refuses others).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    #[schemars(with = "PrincipalId")]
    pub witness: Option<PrincipalId>,
    /// Version of the consent notice read to the person, 1 to 32 characters (in new events a
    /// code: ASCII letters and digits, then also `.` `-` `_`; the server refuses text).
    pub notice_version: BoundedString<1, 32>,
}

/// Interpreter use during a consent conversation.
///
/// `language` is not required to be present when `used` is true (nor refused when false):
/// DESIGN §2.3 marks it optional without tying it to `used`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Interpreter {
    /// Whether an interpreter was used.
    pub used: bool,
    /// The interpreted language.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    #[schemars(with = "Language")]
    pub language: Option<Language>,
}

/// `consent.withdrawn`: the consent stops allowing new disclosures (past ones stand).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentWithdrawn {
    /// The consent withdrawn.
    pub consent_id: ConsentId,
    /// How the withdrawal was expressed.
    pub method: ConsentMethod,
}

/// The agencies a consent covers: the string `"any"`, or 1 to 50 distinct agency ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recipients {
    /// Any agency (enough for anonymous inquiries; referrals need an explicit list, §2.4).
    Any,
    /// Exactly these agencies.
    Agencies(BoundedSet<AgencyId, 1, 50>),
}

impl Recipients {
    /// Whether the consent covers `agency`, explicitly or through `"any"` (rule §2.4.3).
    pub fn covers(&self, agency: &AgencyId) -> bool {
        match self {
            Recipients::Any => true,
            Recipients::Agencies(list) => list.contains(agency),
        }
    }

    /// Whether the consent names `agency` explicitly, as referrals require (rule §2.4.4).
    pub fn names_explicitly(&self, agency: &AgencyId) -> bool {
        matches!(self, Recipients::Agencies(list) if list.contains(agency))
    }
}

impl Serialize for Recipients {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Recipients::Any => serializer.serialize_str("any"),
            Recipients::Agencies(list) => list.serialize(serializer),
        }
    }
}

/// Accepts exactly `"any"` or a list; unlike `#[serde(untagged)]` it reports the real cause
/// (bad slug, too many items) instead of "did not match any variant".
struct RecipientsVisitor;

impl<'de> Visitor<'de> for RecipientsVisitor {
    type Value = Recipients;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the string \"any\" or a list of 1 to 50 agency ids")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Recipients, E> {
        if text == "any" {
            Ok(Recipients::Any)
        } else {
            Err(E::invalid_value(Unexpected::Str(text), &self))
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Recipients, A::Error> {
        let list = BoundedSet::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        Ok(Recipients::Agencies(list))
    }
}

impl<'de> Deserialize<'de> for Recipients {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RecipientsVisitor)
    }
}

impl JsonSchema for Recipients {
    fn schema_name() -> Cow<'static, str> {
        "Recipients".into()
    }

    fn json_schema(gen: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "oneOf": [
                { "const": "any" },
                gen.subschema_for::<BoundedSet<AgencyId, 1, 50>>(),
            ]
        })
    }
}
