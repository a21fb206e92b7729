//! The demo case, step by step, as a list of (who, what, expected result). Kept apart from
//! the HTTP plumbing so the story reads like the README walk-through.

use serde_json::{json, Value};

/// One step of the story.
pub struct Step {
    /// What the step means, in words.
    pub label: &'static str,
    /// The principal who signs it (a key the demo holds).
    pub actor: &'static str,
    pub kind: &'static str,
    pub data: Value,
    /// The status the server must answer (201, or 422 for the refused referral).
    pub expect: u16,
}

fn step(label: &'static str, actor: &'static str, kind: &'static str, data: Value) -> Step {
    Step {
        label,
        actor,
        kind,
        data,
        expect: 201,
    }
}

fn answer(can_help: &str, experience: bool, available: &[&str], support: bool) -> Value {
    json!({
        "inquiry_id": "", "can_help": can_help, "trafficking_experience": experience,
        "services_available": available, "cultural_adaptation": true,
        "interpretation_languages": ["es"], "eligible": "yes", "unmet_criteria": [],
        "support_offered": support
    })
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

/// The case, in order. `valid_until` is the consents' expiry (RFC 3339).
pub fn steps(a: &super::Agencies, valid_until: &str) -> Vec<Step> {
    let (owner, legal, clinic, shelter) = (&a.owner, &a.legal, &a.clinic, &a.shelter);
    let mut refused = step(
        "a further referral after the withdrawal is refused",
        "coordinator",
        "referral.made",
        json!({"referral_id": "r-medical-2", "agency": clinic, "consent_id": "c-referral",
               "domains": ["medical"], "data_shared": ["health"]}),
    );
    refused.expect = 422;
    vec![
        step("the caseworker opens the case", "coordinator", "case.opened",
            json!({"owner_agency": owner, "coordinator": a.coordinator, "needs": ["legal", "medical", "social"], "minor": false})),
        step("the person consents to anonymous inquiries", "coordinator", "consent.granted",
            json!({"consent_id": "c-inquiry", "purposes": ["inquiry"], "recipients": "any",
                   "data_categories": [], "valid_until": valid_until, "method": "verbal", "language": "es",
                   "interpreter": {"used": true, "language": "es"}, "notice_version": "2026-01"})),
        step("inquiry to the legal service", "coordinator", "inquiry.sent",
            json!({"inquiry_id": "q-legal", "agency": legal, "consent_id": "c-inquiry",
                   "asks": ["can_help", "trafficking_experience", "interpretation"], "domains": ["legal"],
                   "language_needed": "es", "cultural_needs": []})),
        step("inquiry to the clinic", "coordinator", "inquiry.sent",
            json!({"inquiry_id": "q-medical", "agency": clinic, "consent_id": "c-inquiry",
                   "asks": ["can_help", "services_match"], "domains": ["medical"], "cultural_needs": ["gender_matched_staff"]})),
        step("inquiry to the shelter", "coordinator", "inquiry.sent",
            json!({"inquiry_id": "q-social", "agency": shelter, "consent_id": "c-inquiry",
                   "asks": ["can_help", "trafficking_experience"], "domains": ["social"], "cultural_needs": ["food"]})),
        step("the legal service answers: yes, experienced", "legal", "inquiry.answered",
            with(answer("yes", true, &["legal"], false), "inquiry_id", json!("q-legal"))),
        step("the clinic answers: yes", "clinic", "inquiry.answered",
            with(answer("yes", true, &["medical"], false), "inquiry_id", json!("q-medical"))),
        step("the shelter has no trafficking experience; the coordinator records its answer and offers support",
            "coordinator", "inquiry.answered",
            with(with(answer("unsure", false, &["social"], true), "inquiry_id", json!("q-social")),
                 "recorded_for", json!(shelter))),
        step("the person consents to referrals to the legal service and the clinic", "coordinator", "consent.granted",
            json!({"consent_id": "c-referral", "purposes": ["referral"], "recipients": [legal, clinic],
                   "data_categories": ["identity", "contact", "legal_matters", "health"], "valid_until": valid_until,
                   "method": "written", "language": "es", "interpreter": {"used": true, "language": "es"},
                   "notice_version": "2026-01"})),
        step("referral to the legal service", "coordinator", "referral.made",
            json!({"referral_id": "r-legal", "agency": legal, "consent_id": "c-referral", "domains": ["legal"],
                   "data_shared": ["identity", "contact", "legal_matters"], "inquiry_id": "q-legal"})),
        step("referral to the clinic", "coordinator", "referral.made",
            json!({"referral_id": "r-medical", "agency": clinic, "consent_id": "c-referral", "domains": ["medical"],
                   "data_shared": ["identity", "health"], "inquiry_id": "q-medical"})),
        step("the legal service accepts", "legal", "referral.accepted", json!({"referral_id": "r-legal"})),
        step("the clinic declines: no capacity", "clinic", "referral.declined",
            json!({"referral_id": "r-medical", "reason": "no_capacity"})),
        step("legal services start", "legal", "referral.services_started",
            json!({"referral_id": "r-legal", "domains": ["legal"]})),
        step("the person withdraws the referral consent", "coordinator", "consent.withdrawn",
            json!({"consent_id": "c-referral", "method": "verbal"})),
        refused,
    ]
}
