//! One valid example per event type, for tests, documentation and the demo. Built as JSON
//! values (not Rust structs) so they exercise the same parser real clients hit.

use serde_json::{json, Value};

use super::event::EventData;
use super::keys::PublicKeyB64;
use super::stream::StreamKind;

/// The case every example case event belongs to.
pub const CASE_ID: &str = "0196b7c2-4a55-7d3e-9f10-2b6c1d4e5f60";
/// The agency of the example principal and case.
pub const AGENCY: &str = "harbor-house";
/// The example actor.
pub const PRINCIPAL: &str = "maria-caseworker";
/// The example `event_id`.
pub const EVENT_ID: &str = "0196b7c2-4a55-7d3e-9f10-000000000001";
/// The example `occurred_at`.
pub const OCCURRED_AT: &str = "2026-11-28T10:15:00Z";
/// An Ed25519 public key (RFC 8032 test 1), base64.
pub const PUBLIC_KEY: &str = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

/// A valid `data` object for `type_name`, or `None` for a type outside the catalogue.
pub fn example_data(type_name: &str) -> Option<Value> {
    let data = match type_name {
        "principal.registered" => {
            json!({"agency": AGENCY, "roles": ["caseworker", "supervisor"], "public_key": PUBLIC_KEY})
        }
        "principal.key_added" => json!({"public_key": PUBLIC_KEY}),
        "principal.key_revoked" => json!({"keyid": example_key_id(), "reason": "rotated"}),
        "principal.token_issued" => json!({
            "token_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "expires_at": "2027-01-01T00:00:00Z",
            "requested_by": "admin",
        }),
        "principal.token_revoked" => json!({
            "token_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        }),
        "principal.deactivated" => json!({"reason": "left_agency"}),
        "agency.registered" | "agency.updated" => json!({
            "name": "Harbor House Legal Aid",
            "region": "North Coast",
            "domains": ["legal", "immigration"],
            "languages": ["en", "es", "fr-CA"],
            "interpretation": true,
            "cultural_adaptations": ["faith", "gender_matched_staff"],
            "trafficking_experience": true,
            "eligibility": {"criteria": ["adults"], "notes": "Walk-in hours Tuesdays."},
        }),
        _ => return case_data(type_name),
    };
    Some(data)
}

fn case_data(type_name: &str) -> Option<Value> {
    let data = match type_name {
        "case.opened" => json!({
            "owner_agency": AGENCY, "coordinator": PRINCIPAL,
            "needs": ["legal", "medical"], "minor": false,
        }),
        "case.coordinator_assigned" => json!({"coordinator": "li-supervisor"}),
        "case.needs_assessed" => json!({"needs": ["legal", "medical", "mental_health"]}),
        "case.closed" => json!({"outcome": "services_completed"}),
        "case.reopened" => json!({"reason": "new_needs"}),
        "consent.granted" => json!({
            "consent_id": "c1",
            "purposes": ["inquiry", "referral"],
            "recipients": ["bay-clinic", "north-legal"],
            "data_categories": ["contact", "health"],
            "valid_until": "2027-05-28T00:00:00Z",
            "method": "written",
            "language": "es",
            "interpreter": {"used": true, "language": "es"},
            "witness": "li-supervisor",
            "notice_version": "2026-01",
        }),
        "consent.withdrawn" => json!({"consent_id": "c1", "method": "verbal"}),
        _ => return disclosure_data(type_name),
    };
    Some(data)
}

fn disclosure_data(type_name: &str) -> Option<Value> {
    let data = match type_name {
        "inquiry.sent" => json!({
            "inquiry_id": "q1", "agency": "bay-clinic", "consent_id": "c1",
            "asks": ["can_help", "trafficking_experience", "interpretation"],
            "domains": ["medical"], "language_needed": "es", "cultural_needs": ["food"],
        }),
        "inquiry.answered" => json!({
            "inquiry_id": "q1", "can_help": "yes", "trafficking_experience": false,
            "services_available": ["medical"], "cultural_adaptation": true,
            "interpretation_languages": ["es"], "eligible": "unsure",
            "unmet_criteria": ["local_residents"], "support_offered": true,
            "recorded_for": "bay-clinic",
        }),
        "referral.made" => json!({
            "referral_id": "r1", "agency": "bay-clinic", "consent_id": "c1",
            "domains": ["medical"], "data_shared": ["contact"], "inquiry_id": "q1",
        }),
        "referral.accepted" => json!({"referral_id": "r1"}),
        "referral.declined" => {
            json!({"referral_id": "r1", "reason": "no_capacity", "recorded_for": "bay-clinic"})
        }
        "referral.services_started" => json!({"referral_id": "r1", "domains": ["medical"]}),
        "referral.withdrawn" => json!({"referral_id": "r1", "reason": "needs_changed"}),
        "referral.closed" => json!({"referral_id": "r1", "outcome": "completed"}),
        _ => return None,
    };
    Some(data)
}

/// A stream of the right family for `type_name`.
pub fn example_stream(type_name: &str) -> Option<String> {
    Some(match EventData::stream_kind_of(type_name)? {
        StreamKind::Case => format!("case-{CASE_ID}"),
        StreamKind::Agency => format!("agency-{AGENCY}"),
        StreamKind::Principal => format!("principal-{PRINCIPAL}"),
    })
}

/// A complete valid payload for `type_name`, or `None` for a type outside the catalogue.
pub fn example_payload(type_name: &str) -> Option<Value> {
    Some(json!({
        "event_id": EVENT_ID,
        "type": type_name,
        "stream": example_stream(type_name)?,
        "occurred_at": OCCURRED_AT,
        "actor": PRINCIPAL,
        "data": example_data(type_name)?,
    }))
}

fn example_key_id() -> String {
    // PUBLIC_KEY is a valid constant, so the fallback is never taken.
    PUBLIC_KEY
        .parse::<PublicKeyB64>()
        .map(|key| key.key_id().to_string())
        .unwrap_or_default()
}
