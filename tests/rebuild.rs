//! Rebuild equality (DESIGN §5): folding the log from scratch, or from a snapshot, gives the
//! same state the live ledger holds, on the demo case and on random event sequences (valid
//! and invalid) submitted through the real writer.

use std::sync::Arc;

use caseledger::client;
use caseledger::datadir::{self, InitOptions};
use caseledger::domain::PrincipalId;
use caseledger::envelope::KeyFile;
use caseledger::ledger::{self, snapshot, ExpectedRevision, Ledger, SystemClock};
use chrono::{Duration, Utc};
use proptest::prelude::*;
use serde_json::{json, Value};

struct World {
    _dir: tempfile::TempDir,
    ledger: Ledger,
    admin: KeyFile,
    keys: Vec<KeyFile>,
    path: std::path::PathBuf,
}

fn submit(ledger: &Ledger, key: &KeyFile, kind: &str, stream: &str, data: Value) -> bool {
    let wire = client::signed_event(key, kind, stream, data, Utc::now());
    let v = client::self_verified(key, &wire).expect("verified");
    ledger
        .submit_blocking(stream.to_owned(), vec![v], ExpectedRevision::Any)
        .is_ok()
}

const AGENCIES: [&str; 3] = ["owner", "legal", "clinic"];

/// Agencies `owner`, `legal`, `clinic`; principals p0 (owner coordinator), p1 (owner
/// supervisor), p2 (legal), p3 (clinic).
fn world() -> World {
    let dir = tempfile::tempdir().expect("tmp");
    let report =
        datadir::init(dir.path(), &InitOptions::default(), Arc::new(SystemClock)).expect("init");
    let admin = KeyFile::read(std::path::Path::new(&report.admin_key_file)).expect("key");
    let (ledger, _) = datadir::open(dir.path(), Arc::new(SystemClock)).expect("open");
    for a in AGENCIES {
        let data = json!({"name": a, "region": "r", "domains": ["legal"], "languages": [],
            "interpretation": false, "cultural_adaptations": [], "trafficking_experience": true,
            "eligibility": {"criteria": [], "notes": ""}});
        assert!(submit(
            &ledger,
            &admin,
            "agency.registered",
            &format!("agency-{a}"),
            data
        ));
    }
    let people = [
        ("p0", "owner", "caseworker"),
        ("p1", "owner", "supervisor"),
        ("p2", "legal", "caseworker"),
        ("p3", "clinic", "caseworker"),
    ];
    let mut keys = Vec::new();
    for (id, agency, role) in people {
        let key = KeyFile::generate(PrincipalId::parse(id).expect("id"));
        let data = json!({"agency": agency, "roles": [role], "public_key": key.public_key_b64()});
        assert!(submit(
            &ledger,
            &admin,
            "principal.registered",
            &format!("principal-{id}"),
            data
        ));
        keys.push(key);
    }
    let path = dir.path().join(snapshot::SNAPSHOT_FILE);
    World {
        _dir: dir,
        ledger,
        admin,
        keys,
        path,
    }
}

/// One random event: (actor, case, type selector, ids and agencies as small numbers). A type
/// selector of 240 or more is an admin's event about a principal instead (one in 16).
type Op = (usize, usize, u8, u8, u8, bool);

fn event(op: &Op) -> (&'static str, Value) {
    let (_, _, kind, a, b, flag) = *op;
    let agency = AGENCIES[(a % 3) as usize];
    let consent = format!("c{}", b % 3);
    let recipients = if flag { json!("any") } else { json!([agency]) };
    let shared = if flag {
        json!(["identity"])
    } else {
        json!(["health"])
    };
    let until = caseledger::ledger::entry::format_time(&(Utc::now() + Duration::days(1)));
    match kind % 17 {
        0 => (
            "case.opened",
            json!({"owner_agency": "owner", "coordinator": "p0", "needs": ["legal"], "minor": flag}),
        ),
        1 => (
            "consent.granted",
            json!({"consent_id": consent, "purposes": if flag {json!(["inquiry"])} else {json!(["inquiry", "referral"])},
            "recipients": recipients, "data_categories": ["identity"], "valid_until": until, "method": "written",
            "language": "en", "interpreter": {"used": false}, "notice_version": "1"}),
        ),
        2 => (
            "consent.withdrawn",
            json!({"consent_id": consent, "method": "verbal"}),
        ),
        3 => (
            "inquiry.sent",
            json!({"inquiry_id": format!("q{}", a % 2), "agency": agency, "consent_id": consent,
            "asks": ["can_help"], "domains": ["legal"], "cultural_needs": []}),
        ),
        4 => (
            "inquiry.answered",
            json!({"inquiry_id": format!("q{}", a % 2), "can_help": "yes", "trafficking_experience": flag,
            "services_available": [], "cultural_adaptation": false, "interpretation_languages": [], "eligible": "yes",
            "unmet_criteria": [], "support_offered": !flag}),
        ),
        5 => (
            "referral.made",
            json!({"referral_id": format!("r{}", a % 2), "agency": agency, "consent_id": consent,
            "domains": ["legal"], "data_shared": shared}),
        ),
        6 => (
            "referral.accepted",
            json!({"referral_id": format!("r{}", a % 2)}),
        ),
        7 => (
            "referral.declined",
            json!({"referral_id": format!("r{}", a % 2), "reason": "no_capacity"}),
        ),
        8 => (
            "referral.services_started",
            json!({"referral_id": format!("r{}", a % 2), "domains": ["legal"]}),
        ),
        9 => (
            "referral.closed",
            json!({"referral_id": format!("r{}", a % 2), "outcome": "completed"}),
        ),
        10 => ("case.closed", json!({"outcome": "other"})),
        11 => ("case.reopened", json!({"reason": "other"})),
        12 => (
            "case.coordinator_assigned",
            json!({"coordinator": if flag { "p1" } else { "p0" }}),
        ),
        13 => (
            "case.needs_assessed",
            json!({"needs": if flag { json!(["legal", "medical"]) } else { json!(["social"]) }}),
        ),
        14 => (
            "referral.withdrawn",
            json!({"referral_id": format!("r{}", a % 2), "reason": "needs_changed"}),
        ),
        // The coordinator recording an agency's answer or response.
        15 => (
            "inquiry.answered",
            json!({"inquiry_id": format!("q{}", a % 2), "can_help": "unsure", "trafficking_experience": !flag,
            "services_available": ["legal"], "cultural_adaptation": true, "interpretation_languages": ["es"],
            "eligible": "unsure", "unmet_criteria": [], "support_offered": flag, "recorded_for": agency}),
        ),
        _ => (
            if flag {
                "referral.accepted"
            } else {
                "referral.declined"
            },
            if flag {
                json!({"referral_id": format!("r{}", a % 2), "recorded_for": agency})
            } else {
                json!({"referral_id": format!("r{}", a % 2), "reason": "other", "recorded_for": agency})
            },
        ),
    }
}

/// An admin's event about principal p2 or p3 (`b` picks): a new key, the revocation of its
/// first key (it then signs no more), or its deactivation; `None` for case events.
fn principal_event(w: &World, op: &Op) -> Option<(String, &'static str, Value)> {
    let (_, _, kind, _, b, flag) = *op;
    if kind < 240 {
        return None;
    }
    let target = 2 + usize::from(b % 2);
    let stream = format!("principal-p{target}");
    Some(match (kind % 3, flag) {
        (0, _) => {
            let key = KeyFile::generate(PrincipalId::parse(&format!("p{target}")).expect("id"));
            (
                stream,
                "principal.key_added",
                json!({"public_key": key.public_key_b64()}),
            )
        }
        (1, _) => (
            stream,
            "principal.key_revoked",
            json!({"keyid": w.keys[target].keyid().to_string(), "reason": if flag { "compromised" } else { "rotated" }}),
        ),
        _ => (
            stream,
            "principal.deactivated",
            json!({"reason": "left_agency"}),
        ),
    })
}

const CASES: [&str; 2] = [
    "case-00000000-0000-4000-8000-000000000001",
    "case-00000000-0000-4000-8000-000000000002",
];

fn assert_rebuilds(w: &World) {
    let live = w.ledger.state().clone();
    let store = w.ledger.store().as_ref();
    let rebuilt = ledger::load_state(store).expect("fold");
    assert_eq!(rebuilt, live, "a fold from scratch equals the live state");
    snapshot::save(&w.path, &live, store).expect("save");
    let loaded = snapshot::load(&w.path, store).expect("load").expect("some");
    assert_eq!(loaded, live, "the snapshot round-trips");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn random_sequences_rebuild_to_the_live_state(ops in prop::collection::vec((0usize..4, 0usize..2, any::<u8>(), any::<u8>(), any::<u8>(), any::<bool>()), 1..40)) {
        let w = world();
        let mut half = None;
        for (n, op) in ops.iter().enumerate() {
            match principal_event(&w, op) {
                Some((stream, kind, data)) => {
                    submit(&w.ledger, &w.admin, kind, &stream, data);
                }
                None => {
                    let (kind, data) = event(op);
                    submit(&w.ledger, &w.keys[op.0], kind, CASES[op.1], data);
                }
            }
            if n == ops.len() / 2 {
                half = Some(w.ledger.state().clone());
            }
        }
        assert_rebuilds(&w);
        // Catching up from a mid-way state gives the same result as folding everything.
        let from_half = ledger::load_state_from(w.ledger.store().as_ref(), half.expect("half"), &|_, _| {}).expect("fold");
        prop_assert_eq!(&from_half, &*w.ledger.state());
    }
}

#[test]
fn a_snapshot_of_another_log_is_refused() {
    let a = world();
    let b = world();
    snapshot::save(&a.path, &a.ledger.state(), a.ledger.store().as_ref()).expect("save");
    let err = snapshot::load(&a.path, b.ledger.store().as_ref());
    assert!(
        matches!(err, Err(snapshot::SnapshotError::Mismatch(_))),
        "{err:?}"
    );
}

#[test]
fn a_running_ledger_writes_a_snapshot_once_enough_entries_are_appended() {
    let w = world();
    let dir = w.path.parent().expect("data dir").to_owned();
    std::fs::remove_file(&w.path).expect("the start-up snapshot");
    let tick = std::time::Duration::from_millis(10);
    let snapshotter = datadir::Snapshotter::start(&dir, w.ledger.clone(), 3, tick);
    let admin = KeyFile::read(&dir.join("admin.key.json")).expect("admin key");
    let update = |n: u32| {
        let data = json!({"name": format!("owner {n}"), "region": "r", "domains": ["legal"],
            "languages": [], "interpretation": false, "cultural_adaptations": [],
            "trafficking_experience": true, "eligibility": {"criteria": [], "notes": ""}});
        assert!(submit(
            &w.ledger,
            &admin,
            "agency.updated",
            "agency-owner",
            data
        ));
    };
    update(1);
    update(2);
    std::thread::sleep(tick * 10);
    assert!(
        !w.path.exists(),
        "two new entries are below the threshold of three"
    );
    update(3);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !w.path.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(tick);
    }
    drop(snapshotter);
    let store = w.ledger.store().as_ref();
    let saved = snapshot::load(&w.path, store)
        .expect("load")
        .expect("written");
    assert_eq!(saved, *w.ledger.state(), "the snapshot covers every entry");
}
