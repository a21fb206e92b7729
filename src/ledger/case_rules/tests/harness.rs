//! A pure rule harness: a world of agencies and principals, then `given(events)`,
//! `.when(event)`, `.then_accepted()` / `.then_rejected(code)`. No HTTP, no store.

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{json, Value};

use crate::domain::{EventPayload, PrincipalId};
use crate::envelope::KeyFile;
use crate::ledger::rules::{decide_write, Code, RuleViolation};
use crate::ledger::state::{Applied, LedgerState};
use crate::ledger::LedgerState as State;

/// The case every scenario is about.
pub const CASE: &str = "case-0196b7c2-4a55-7d3e-9f10-2b6c1d4e5f60";

/// An event to decide: who writes which type with which data, and optionally when.
#[derive(Clone)]
pub struct Ev {
    pub actor: &'static str,
    pub kind: &'static str,
    pub stream: String,
    pub data: Value,
    pub at: Option<DateTime<Utc>>,
}

impl Ev {
    /// Records the event at `at` instead of the harness clock.
    pub fn at(mut self, at: DateTime<Utc>) -> Self {
        self.at = Some(at);
        self
    }
}

/// A case event.
pub fn ev(actor: &'static str, kind: &'static str, data: Value) -> Ev {
    Ev {
        actor,
        kind,
        stream: CASE.into(),
        data,
        at: None,
    }
}

/// Where the harness clock starts; every event advances it one minute.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0)
        .single()
        .expect("valid")
}

/// The world: agencies `harbor` (owner), `legal`, `clinic`, `shelter`, `untrained`, and
/// principals `maria` (harbor caseworker, coordinator), `lee` (harbor caseworker), `sam`
/// (harbor supervisor), `lou` (legal caseworker), `cleo` (clinic caseworker), `ada`
/// (auditor), plus the admin and the service principal `svc`.
pub struct World {
    pub state: LedgerState,
    keys: HashMap<&'static str, KeyFile>,
    pub clock: DateTime<Utc>,
}

impl World {
    pub fn new() -> Self {
        let mut w = World {
            state: State::default(),
            keys: HashMap::new(),
            clock: t0() - Duration::days(1),
        };
        w.register("admin", "operator", &["admin"]);
        for a in ["harbor", "legal", "clinic", "shelter", "untrained"] {
            w.must(Ev {
                actor: "admin",
                kind: "agency.registered",
                stream: format!("agency-{a}"),
                data: agency(a),
                at: None,
            });
        }
        let people: [(&str, &str, &[&str]); 7] = [
            ("svc", "operator", &["service"]),
            ("maria", "harbor", &["caseworker"]),
            ("lee", "harbor", &["caseworker"]),
            ("sam", "harbor", &["supervisor"]),
            ("lou", "legal", &["caseworker"]),
            ("cleo", "clinic", &["caseworker"]),
            ("ada", "operator", &["auditor"]),
        ];
        for (id, agency, roles) in people {
            w.register(id, agency, roles);
        }
        w.clock = t0();
        w
    }

    fn register(&mut self, id: &'static str, agency: &str, roles: &[&str]) {
        let key = KeyFile::generate(PrincipalId::parse(id).expect("slug"));
        let data = json!({"agency": agency, "roles": roles, "public_key": key.public_key_b64()});
        self.keys.insert(id, key);
        let actor = if self.state.size == 0 { id } else { "admin" };
        self.must(Ev {
            actor,
            kind: "principal.registered",
            stream: format!("principal-{id}"),
            data,
            at: None,
        });
    }

    /// Decides `e` and, if accepted, applies it.
    pub fn submit(&mut self, e: Ev) -> Result<(), RuleViolation> {
        self.clock += Duration::minutes(1);
        let at = e.at.unwrap_or(self.clock);
        let payload = json!({
            "event_id": uuid::Uuid::new_v4().to_string(),
            "type": e.kind,
            "stream": e.stream,
            "occurred_at": crate::ledger::entry::format_time(&at),
            "actor": e.actor,
            "data": e.data,
        });
        let event = EventPayload::parse(&serde_json::to_vec(&payload).expect("json"))
            .map_err(|err| RuleViolation::new(Code::SchemaViolation, err.to_string()))?;
        let keyid = self.keys.get(e.actor).expect("known actor").keyid();
        decide_write(&self.state, &event, &keyid, at)?;
        let revision = self.state.next_revision(&e.stream);
        self.state.apply(&Applied {
            index: self.state.size,
            revision,
            recorded_at: at,
            keyid: &keyid,
            event: &event,
        });
        Ok(())
    }

    /// Submits `e`, panicking if it is refused (for setup).
    pub fn must(&mut self, e: Ev) {
        let what = format!("{} by {}", e.kind, e.actor);
        if let Err(v) = self.submit(e) {
            panic!("given {what} was refused: {:?} {}", v.code, v.message);
        }
    }
}

/// The scenario after its `given` events.
pub fn given(events: Vec<Ev>) -> World {
    let mut w = World::new();
    for e in events {
        w.must(e);
    }
    w
}

/// The outcome of `when`.
pub struct Then {
    result: Result<(), RuleViolation>,
    pub world: World,
}

impl World {
    /// Decides one more event.
    pub fn when(mut self, e: Ev) -> Then {
        let result = self.submit(e);
        Then {
            result,
            world: self,
        }
    }
}

impl Then {
    /// The event was accepted.
    pub fn then_accepted(self) -> World {
        if let Err(v) = &self.result {
            panic!("expected acceptance, got {:?}: {}", v.code, v.message);
        }
        self.world
    }

    /// The refusal itself, for its message.
    pub fn then_refused(self) -> RuleViolation {
        match self.result {
            Ok(()) => panic!("expected a refusal, but the event was accepted"),
            Err(v) => v,
        }
    }

    /// The event was refused with `code`.
    pub fn then_rejected(self, code: Code) -> World {
        match &self.result {
            Ok(()) => panic!("expected {code:?}, but the event was accepted"),
            Err(v) => assert_eq!(v.code, code, "wrong code; message: {}", v.message),
        }
        self.world
    }
}

fn agency(name: &str) -> Value {
    json!({
        "name": format!("Agency {name}"), "region": "North", "domains": ["legal", "social"],
        "languages": ["es"], "interpretation": true, "cultural_adaptations": [],
        "trafficking_experience": name != "untrained",
        "eligibility": {"criteria": ["adults"], "notes": ""}
    })
}

// ----- the usual events of a case, by the coordinator unless named -----

pub fn opened() -> Ev {
    opened_by("maria", "harbor", "maria")
}

pub fn opened_by(actor: &'static str, owner: &str, coordinator: &str) -> Ev {
    ev(
        actor,
        "case.opened",
        json!({"owner_agency": owner, "coordinator": coordinator, "needs": ["legal", "medical"], "minor": false}),
    )
}

/// A consent valid for 30 days from t0.
pub fn consent(id: &str, purposes: &[&str], recipients: Value, categories: &[&str]) -> Ev {
    ev(
        "maria",
        "consent.granted",
        json!({
            "consent_id": id, "purposes": purposes, "recipients": recipients,
            "data_categories": categories,
            "valid_until": crate::ledger::entry::format_time(&(t0() + Duration::days(30))),
            "method": "written", "language": "es", "interpreter": {"used": false},
            "notice_version": "v1"
        }),
    )
}

/// An inquiry consent for "any" agency.
pub fn inquiry_consent() -> Ev {
    consent("c-inq", &["inquiry"], json!("any"), &[])
}

/// A referral consent naming legal and clinic, allowing identity and legal_matters.
pub fn referral_consent() -> Ev {
    consent(
        "c-ref",
        &["referral"],
        json!(["legal", "clinic"]),
        &["identity", "legal_matters"],
    )
}

pub fn withdrawn(consent_id: &str) -> Ev {
    ev(
        "maria",
        "consent.withdrawn",
        json!({"consent_id": consent_id, "method": "verbal"}),
    )
}

pub fn inquiry(id: &str, agency: &str, consent_id: &str) -> Ev {
    ev(
        "maria",
        "inquiry.sent",
        json!({"inquiry_id": id, "agency": agency, "consent_id": consent_id,
               "asks": ["can_help"], "domains": ["legal"], "cultural_needs": []}),
    )
}

pub fn answer(actor: &'static str, id: &str, recorded_for: Option<&str>) -> Ev {
    let mut data = json!({
        "inquiry_id": id, "can_help": "yes", "trafficking_experience": true,
        "services_available": ["legal"], "cultural_adaptation": false,
        "interpretation_languages": [], "eligible": "yes", "unmet_criteria": [],
        "support_offered": false
    });
    if let Some(a) = recorded_for {
        data["recorded_for"] = json!(a);
    }
    ev(actor, "inquiry.answered", data)
}

pub fn referral(id: &str, agency: &str, consent_id: &str, shared: &[&str]) -> Ev {
    ev(
        "maria",
        "referral.made",
        json!({"referral_id": id, "agency": agency, "consent_id": consent_id,
               "domains": ["legal"], "data_shared": shared}),
    )
}

/// A referral response of `kind` (`referral.accepted`, …) with its required fields.
pub fn respond(
    actor: &'static str,
    kind: &'static str,
    id: &str,
    recorded_for: Option<&str>,
) -> Ev {
    let mut data = json!({"referral_id": id});
    match kind {
        "referral.declined" => data["reason"] = json!("no_capacity"),
        "referral.services_started" => data["domains"] = json!(["legal"]),
        "referral.withdrawn" => data["reason"] = json!("client_request"),
        "referral.closed" => data["outcome"] = json!("completed"),
        _ => {}
    }
    if let Some(a) = recorded_for {
        data["recorded_for"] = json!(a);
    }
    ev(actor, kind, data)
}
