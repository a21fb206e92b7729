//! The event payload (DESIGN §2.2) and the closed set of event types (§2.3): parsing signed
//! bytes into typed events, strictly, and building payload bytes for clients and tests.

use chrono::{DateTime, Utc};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use uuid::Uuid;

use super::agency::AgencyData;
use super::case::{
    CaseClosed, CaseCoordinatorAssigned, CaseNeedsAssessed, CaseOpened, CaseReopened,
};
use super::consent::{ConsentGranted, ConsentWithdrawn};
use super::error::{SchemaError, SchemaErrorKind};
use super::ids::{canonical_uuid, PrincipalId};
use super::inquiry::{InquiryAnswered, InquirySent};
use super::principal::{
    PrincipalDeactivated, PrincipalKeyAdded, PrincipalKeyRevoked, PrincipalRegistered,
    PrincipalTokenIssued, PrincipalTokenRevoked,
};
use super::referral::{
    ReferralAccepted, ReferralClosed, ReferralDeclined, ReferralMade, ReferralServicesStarted,
    ReferralWithdrawn,
};
use super::stream::{StreamId, StreamKind};
use super::time::{format_utc, utc};

/// One catalogue row per type: variant, data struct, wire name, stream family. Everything that
/// must list every type (parsing, names, schemas) is generated from this one list.
macro_rules! catalogue {
    ($($variant:ident($data:ty) = $name:literal in $kind:ident;)+) => {
        /// The typed `data` of an event; the variant is the event's `type`.
        ///
        /// Serializes as `{"type": …, "data": …}`.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum EventData {
            $(#[doc = concat!("`", $name, "`")] $variant($data),)+
        }

        impl EventData {
            /// Every event type name of the v1 catalogue, in DESIGN §2.3 order.
            pub const ALL_TYPES: &'static [&'static str] = &[$($name),+];

            /// The wire `type`, e.g. `consent.granted`.
            pub fn type_name(&self) -> &'static str {
                match self {
                    $(EventData::$variant(_) => $name,)+
                }
            }

            /// The stream family this event must be written to.
            pub fn stream_kind(&self) -> StreamKind {
                match self {
                    $(EventData::$variant(_) => StreamKind::$kind,)+
                }
            }

            /// The stream family events of `type_name` belong to; `None` for unknown types.
            pub fn stream_kind_of(type_name: &str) -> Option<StreamKind> {
                match type_name {
                    $($name => Some(StreamKind::$kind),)+
                    _ => None,
                }
            }

            /// Parses `data` (JSON text) as the data of `type_name`.
            pub fn parse(type_name: &str, data: &str) -> Result<EventData, SchemaError> {
                match type_name {
                    $($name => parse_data::<$data>(data).map(EventData::$variant),)+
                    _ => Err(unknown_type(type_name)),
                }
            }

            fn serialize_data<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    $(EventData::$variant(data) => data.serialize(serializer),)+
                }
            }
        }

        /// For each type: its name, stream family and `data` schema generator.
        pub(crate) const CATALOGUE: &[(&str, StreamKind, fn(&mut SchemaGenerator) -> Schema)] =
            &[$(($name, StreamKind::$kind, schema_of::<$data>)),+];
    };
}

catalogue! {
    PrincipalRegistered(PrincipalRegistered) = "principal.registered" in Principal;
    PrincipalKeyAdded(PrincipalKeyAdded) = "principal.key_added" in Principal;
    PrincipalKeyRevoked(PrincipalKeyRevoked) = "principal.key_revoked" in Principal;
    PrincipalTokenIssued(PrincipalTokenIssued) = "principal.token_issued" in Principal;
    PrincipalTokenRevoked(PrincipalTokenRevoked) = "principal.token_revoked" in Principal;
    PrincipalDeactivated(PrincipalDeactivated) = "principal.deactivated" in Principal;
    AgencyRegistered(AgencyData) = "agency.registered" in Agency;
    AgencyUpdated(AgencyData) = "agency.updated" in Agency;
    CaseOpened(CaseOpened) = "case.opened" in Case;
    CaseCoordinatorAssigned(CaseCoordinatorAssigned) = "case.coordinator_assigned" in Case;
    CaseNeedsAssessed(CaseNeedsAssessed) = "case.needs_assessed" in Case;
    CaseClosed(CaseClosed) = "case.closed" in Case;
    CaseReopened(CaseReopened) = "case.reopened" in Case;
    ConsentGranted(ConsentGranted) = "consent.granted" in Case;
    ConsentWithdrawn(ConsentWithdrawn) = "consent.withdrawn" in Case;
    InquirySent(InquirySent) = "inquiry.sent" in Case;
    InquiryAnswered(InquiryAnswered) = "inquiry.answered" in Case;
    ReferralMade(ReferralMade) = "referral.made" in Case;
    ReferralAccepted(ReferralAccepted) = "referral.accepted" in Case;
    ReferralDeclined(ReferralDeclined) = "referral.declined" in Case;
    ReferralServicesStarted(ReferralServicesStarted) = "referral.services_started" in Case;
    ReferralWithdrawn(ReferralWithdrawn) = "referral.withdrawn" in Case;
    ReferralClosed(ReferralClosed) = "referral.closed" in Case;
}

fn schema_of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

fn parse_data<T: for<'de> Deserialize<'de>>(data: &str) -> Result<T, SchemaError> {
    // serde reads a struct from a JSON array too; `data` is an object (DESIGN §2.3), and one
    // signed content must have one spelling.
    if !data.trim_start().starts_with('{') {
        return Err(SchemaError::new(
            SchemaErrorKind::Invalid,
            "data: expected a JSON object",
        ));
    }
    serde_json::from_str(data).map_err(|err| SchemaError::from_json(&err, data, "data"))
}

fn unknown_type(type_name: &str) -> SchemaError {
    // Truncated so a client cannot make the error echo an arbitrarily long string.
    let shown: String = type_name.chars().take(64).collect();
    SchemaError::new(
        SchemaErrorKind::UnknownType,
        format!("type: unknown event type `{shown}`"),
    )
}

/// Serializes just the `data` object of an event.
struct DataOnly<'a>(&'a EventData);

impl Serialize for DataOnly<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_data(serializer)
    }
}

impl Serialize for EventData {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("EventData", 2)?;
        out.serialize_field("type", self.type_name())?;
        out.serialize_field("data", &DataOnly(self))?;
        out.end()
    }
}

/// `{"type", "data"}` before dispatch; `data` stays raw until the type is known.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "EventData")]
struct TaggedData {
    #[serde(rename = "type")]
    type_name: String,
    data: Box<RawValue>,
}

impl<'de> Deserialize<'de> for EventData {
    /// Works with serde_json only, since `data` is read as raw JSON before dispatch.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let tagged = TaggedData::deserialize(deserializer)?;
        EventData::parse(&tagged.type_name, tagged.data.get()).map_err(serde::de::Error::custom)
    }
}

/// A parsed event payload: the JSON a client signs (DESIGN §2.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventPayload {
    /// Client-chosen unique id (v7 recommended); the idempotency key.
    pub event_id: Uuid,
    /// The stream the event is written to; its family matches the type's.
    pub stream: StreamId,
    /// When it happened, per the client (UTC).
    pub occurred_at: DateTime<Utc>,
    /// The signing principal.
    pub actor: PrincipalId,
    /// The type and its data.
    pub data: EventData,
}

/// The payload as read, before the type is known. Field names are the contract; anything
/// else at the top level is refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "EventPayload")]
pub(super) struct RawPayload<'a> {
    #[serde(deserialize_with = "canonical_uuid::deserialize")]
    event_id: Uuid,
    #[serde(rename = "type", borrow)]
    type_name: std::borrow::Cow<'a, str>,
    stream: StreamId,
    #[serde(with = "utc")]
    occurred_at: DateTime<Utc>,
    actor: PrincipalId,
    #[serde(borrow, deserialize_with = "raw_text")]
    data: &'a str,
}

impl<'a> RawPayload<'a> {
    /// The top-level fields, read by [`super::event_scan`] instead of serde.
    pub(super) fn new(
        event_id: Uuid,
        type_name: &'a str,
        stream: StreamId,
        occurred_at: DateTime<Utc>,
        actor: PrincipalId,
        data: &'a str,
    ) -> Self {
        Self {
            event_id,
            type_name: type_name.into(),
            stream,
            occurred_at,
            actor,
            data,
        }
    }

    pub(super) fn into_payload(self) -> Result<EventPayload, SchemaError> {
        let kind = EventData::stream_kind_of(&self.type_name)
            .ok_or_else(|| unknown_type(&self.type_name))?;
        check_stream(&self.stream, kind, &self.type_name)?;
        let data = EventData::parse(&self.type_name, self.data)?;
        Ok(EventPayload {
            event_id: self.event_id,
            stream: self.stream,
            occurred_at: self.occurred_at,
            actor: self.actor,
            data,
        })
    }
}

/// The `data` member's JSON text, as it stands in the payload.
fn raw_text<'de: 'a, 'a, D: Deserializer<'de>>(deserializer: D) -> Result<&'a str, D::Error> {
    <&RawValue>::deserialize(deserializer).map(RawValue::get)
}

fn check_stream(stream: &StreamId, kind: StreamKind, type_name: &str) -> Result<(), SchemaError> {
    if stream.kind() == kind {
        return Ok(());
    }
    Err(SchemaError::new(
        SchemaErrorKind::StreamMismatch,
        format!(
            "stream: `{type_name}` events belong in `{}…` streams, not in `{stream}`",
            kind.prefix()
        ),
    ))
}

impl EventPayload {
    /// Builds a payload, checking that the stream's family matches the data's type.
    pub fn new(
        event_id: Uuid,
        stream: StreamId,
        occurred_at: DateTime<Utc>,
        actor: PrincipalId,
        data: EventData,
    ) -> Result<Self, SchemaError> {
        check_stream(&stream, data.stream_kind(), data.type_name())?;
        Ok(EventPayload {
            event_id,
            stream,
            occurred_at,
            actor,
            data,
        })
    }

    /// Parses signed payload bytes strictly: exactly the six top-level fields, a known type,
    /// a stream of the type's family, and `data` that fits the type.
    pub fn parse(bytes: &[u8]) -> Result<EventPayload, SchemaError> {
        let malformed = |what: &str| SchemaError::new(SchemaErrorKind::Malformed, what);
        let text = std::str::from_utf8(bytes).map_err(|_| malformed("payload: not UTF-8 text"))?;
        // Payloads signed by our own client library, in its compact spelling, are read
        // directly; anything else (or anything the scan cannot vouch for) goes to serde.
        // A refusal is worded by the serde path, whatever the scan found.
        if let Some(Ok(payload)) = super::event_scan::scan(text).map(RawPayload::into_payload) {
            return Ok(payload);
        }
        // serde_json would also read the payload's struct from an array of its fields.
        let object = text.trim_start().starts_with('{');
        match serde_json::from_str::<RawPayload<'_>>(text) {
            Ok(raw) if object => raw.into_payload(),
            Ok(_) => Err(malformed("payload: expected a JSON object")),
            // Only a refused payload pays for classifying the error: syntax first, so a body
            // that is not JSON is always `Malformed`, whatever it starts with.
            Err(err) => {
                serde_json::from_str::<&RawValue>(text)
                    .map_err(|err| SchemaError::from_json(&err, text, ""))?;
                if !text.trim_start().starts_with('{') {
                    return Err(malformed("payload: expected a JSON object"));
                }
                Err(SchemaError::from_json(&err, text, ""))
            }
        }
    }

    /// The event's `type`.
    pub fn type_name(&self) -> &'static str {
        self.data.type_name()
    }

    /// The payload as compact JSON, fields in contract order. For clients and tests building
    /// payloads to sign; the ledger itself keeps and verifies the exact bytes it received.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        // Every field serializes to plain JSON strings, booleans, arrays and string-keyed
        // objects, for which serde_json cannot fail.
        serde_json::to_vec(self).expect("event payloads always serialize to JSON")
    }
}

impl Serialize for EventPayload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("EventPayload", 6)?;
        out.serialize_field("event_id", &self.event_id.hyphenated().to_string())?;
        out.serialize_field("type", self.data.type_name())?;
        out.serialize_field("stream", &self.stream)?;
        out.serialize_field("occurred_at", &format_utc(&self.occurred_at))?;
        out.serialize_field("actor", &self.actor)?;
        out.serialize_field("data", &DataOnly(&self.data))?;
        out.end()
    }
}

impl<'de> Deserialize<'de> for EventPayload {
    /// Same rules as [`EventPayload::parse`]; works with serde_json only (raw `data`).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawPayload::deserialize(deserializer)?;
        raw.into_payload().map_err(serde::de::Error::custom)
    }
}
