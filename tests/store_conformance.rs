//! One conformance suite for every `EventStore` backend (DESIGN §6). Each check is a plain
//! function over `&dyn EventStore`; `conformance!` runs it against SQLite always, and against
//! EventStoreDB when `CASELEDGER_TEST_EVENTSTORE_URL` is set (otherwise it prints a SKIPPED
//! line and passes). Each EventStoreDB run writes under a fresh stream prefix, so runs never
//! see each other's events.
//!
//! Idempotent repeats are checked at the ledger level: the stores themselves do not agree on
//! duplicate event ids (SQLite refuses them outright; EventStoreDB accepts the same id in
//! another stream), so rule 6 lives in the writer, above either store.

mod common;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use caseledger::client;
use caseledger::datadir::{self, InitOptions};
use caseledger::domain::PrincipalId;
use caseledger::envelope::KeyFile;
use caseledger::ledger::{Code, ExpectedRevision, Outcome, SystemClock, WriteError};
use caseledger::log::merkle::{self, MemoryNodes, NodeSource};
use caseledger::store::sqlite::SqliteStore;
use caseledger::store::{
    open_backend, Backend, CommitGroup, EventStore, StoreError, StoreNodes, StoredCheckpoint,
    StoredEntry, Subscription,
};
use chrono::{TimeZone, Utc};
use serde_json::json;

const ESDB_ENV: &str = "CASELEDGER_TEST_EVENTSTORE_URL";

fn sqlite() -> (tempfile::TempDir, Arc<dyn EventStore>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("ledger.db")).expect("open sqlite");
    (dir, Arc::new(store))
}

/// A connected EventStoreDB store under a fresh prefix, with its mirror file in a fresh
/// directory (kept as long as the store), or `None` (and a SKIPPED line).
fn eventstore(check: &str) -> Option<(tempfile::TempDir, Arc<dyn EventStore>)> {
    let Ok(url) = std::env::var(ESDB_ENV) else {
        eprintln!(
            "SKIPPED: EventStoreDB conformance `{check}` (set \
             {ESDB_ENV}=esdb://localhost:2113?tls=false to run)"
        );
        return None;
    };
    let sep = if url.contains('?') { '&' } else { '?' };
    let prefix = format!("conformance-{}-", uuid::Uuid::new_v4().simple());
    let spec = format!("{url}{sep}prefix={prefix}");
    let dir = tempfile::tempdir().expect("tempdir");
    let mirror = dir.path().join("esdb-mirror.db");
    // No key yet: `idempotent_repeats_at_the_ledger` runs `init` on it, which makes the store
    // trust the key it creates; `checkpoints_are_kept_in_order` trusts the test log's.
    match open_backend(&spec, &mirror, Duration::from_secs(30), None) {
        Ok(Backend::Shared(store)) => Some((dir, store)),
        Ok(Backend::Sqlite) => panic!("{ESDB_ENV} must be an esdb:// URL"),
        Err(e) => panic!("{ESDB_ENV} is set but EventStoreDB is not usable: {e}"),
    }
}

/// Runs each check against SQLite and, when configured, EventStoreDB.
macro_rules! conformance {
    ($($check:ident),* $(,)?) => {
        mod sqlite_backend {
            $(#[test] fn $check() { let (_dir, s) = super::sqlite(); super::$check(s); })*
        }
        mod eventstoredb_backend {
            $(#[test] fn $check() {
                if let Some((_dir, s)) = super::eventstore(stringify!($check)) { super::$check(s); }
            })*
        }
    };
}

conformance!(
    append_and_read,
    expected_revision_conflicts,
    idempotent_repeats_at_the_ledger,
    global_order_and_subscription_from_a_position,
    same_merkle_root_on_the_same_events,
    checkpoints_are_kept_in_order,
);

/// The fixed key every fixture entry is signed with (deterministic signatures).
fn key() -> &'static KeyFile {
    static KEY: OnceLock<KeyFile> = OnceLock::new();
    KEY.get_or_init(|| KeyFile {
        principal: PrincipalId::parse("admin").expect("slug"),
        key: ed25519_dalek::SigningKey::from_bytes(&[7; 32]),
    })
}

/// A valid signed entry on `agency-<agency>` at `revision`, to sit at `index`.
fn entry_at(agency: &str, revision: u64, index: u64) -> StoredEntry {
    let at = Utc
        .with_ymd_and_hms(2026, 11, 28, 10, 0, 0)
        .single()
        .expect("time");
    common::stored_agency_entry(key(), agency, revision, index, at)
}

/// A group as the writer builds it: the entries plus the Merkle nodes they add.
fn group(store: &dyn EventStore, entries: Vec<StoredEntry>) -> CommitGroup {
    let size = entries.first().map_or(0, |e| e.index);
    let leaves: Vec<_> = entries.iter().map(|e| e.leaf_hash).collect();
    let nodes = merkle::append_nodes(&StoreNodes(store), size, &leaves).expect("nodes");
    CommitGroup {
        entries,
        nodes,
        checkpoint: None,
        request_ends: Vec::new(),
    }
}

fn append_and_read(store: Arc<dyn EventStore>) {
    let s = store.as_ref();
    let (a0, a1, b0) = (
        entry_at("a", 0, 0),
        entry_at("a", 1, 1),
        entry_at("b", 0, 2),
    );
    s.commit(group(s, vec![a0.clone(), a1.clone(), b0.clone()]))
        .expect("commit");
    assert_eq!(s.size().expect("size"), 3);
    assert_eq!(
        s.read_all(0, 10).expect("all"),
        vec![a0.clone(), a1.clone(), b0.clone()]
    );
    assert_eq!(s.read_all(1, 1).expect("page"), vec![a1.clone()]);
    assert_eq!(
        s.read_stream("agency-a", 0, 10).expect("stream"),
        vec![a0, a1.clone()]
    );
    assert_eq!(
        s.read_stream("agency-a", 1, 10).expect("from rev"),
        vec![a1]
    );
    assert!(s
        .read_stream("agency-none", 0, 10)
        .expect("none")
        .is_empty());
    assert_eq!(s.find_event(&b0.event_id).expect("find"), Some(b0.clone()));
    assert_eq!(
        s.read_all(2, 1).expect("b0")[0].bytes,
        b0.bytes,
        "exact bytes back"
    );
}

fn expected_revision_conflicts(store: Arc<dyn EventStore>) {
    let s = store.as_ref();
    s.commit(group(s, vec![entry_at("a", 0, 0)]))
        .expect("first");
    // Another writer's revision 0 of the same stream: the stream already exists.
    let again = s.commit(group(s, vec![entry_at("a", 0, 1)]));
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    // A gap: revision 2 when the stream's next revision is 1.
    let gap = s.commit(group(s, vec![entry_at("a", 2, 1)]));
    assert!(matches!(gap, Err(StoreError::Conflict(_))), "{gap:?}");
    assert_eq!(s.size().expect("size"), 1, "a conflict writes nothing");
    s.commit(group(s, vec![entry_at("a", 1, 1)]))
        .expect("the right revision");
    assert_eq!(s.read_stream("agency-a", 0, 10).expect("read").len(), 2);
}

fn idempotent_repeats_at_the_ledger(store: Arc<dyn EventStore>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(SystemClock);
    datadir::init_on(
        dir.path(),
        &InitOptions::default(),
        clock.clone(),
        Some(store.clone()),
    )
    .expect("genesis");
    let admin = KeyFile::read(&dir.path().join("admin.key.json")).expect("admin key");
    let (ledger, _) = datadir::open_shared(dir.path(), store.clone(), clock).expect("open");
    let data = json!({
        "name": "North", "region": "North", "domains": ["social"], "languages": ["en"],
        "interpretation": false, "cultural_adaptations": [], "trafficking_experience": false,
        "eligibility": {"criteria": [], "notes": ""}
    });
    let wire = client::signed_event(
        &admin,
        "agency.registered",
        "agency-north",
        data.clone(),
        Utc::now(),
    );
    let submit = |w| {
        let v = client::self_verified(&admin, w).expect("verified");
        ledger.submit_blocking("agency-north".into(), vec![v], ExpectedRevision::Any)
    };
    let Ok(Outcome::Created(first)) = submit(&wire) else {
        panic!("first write")
    };
    let size = store.size().expect("size");
    assert_eq!(submit(&wire).expect("repeat"), Outcome::Repeated(first));
    assert_eq!(store.size().expect("size"), size, "a repeat writes nothing");
    // Same event id, different bytes: a conflict, not a repeat.
    let env = caseledger::envelope::Envelope::from_wire(&wire).expect("envelope");
    let mut payload: serde_json::Value = serde_json::from_slice(env.payload()).expect("json");
    payload["data"]["region"] = json!("South");
    let changed = client::sign_value(&admin, &payload);
    match submit(&changed) {
        Err(WriteError::Rule(v)) => assert_eq!(v.code, Code::DuplicateEventConflict),
        other => panic!("expected duplicate_event_conflict, got {other:?}"),
    }
}

fn global_order_and_subscription_from_a_position(store: Arc<dyn EventStore>) {
    let s = store.as_ref();
    let first: Vec<_> = (0..4).map(|i| entry_at(&format!("s{i}"), 0, i)).collect();
    s.commit(group(s, first.clone())).expect("commit");
    let mut sub = Subscription::new(s, 2);
    let got: Vec<_> = (0..2)
        .map(|_| {
            sub.next_timeout(Duration::from_secs(5))
                .expect("next")
                .expect("entry")
        })
        .collect();
    assert_eq!(got, first[2..].to_vec(), "from index 2, in global order");
    assert_eq!(
        sub.next_timeout(Duration::from_millis(100)).expect("next"),
        None
    );
    // A commit from another thread wakes the waiting subscription.
    let late = entry_at("late", 0, 4);
    let writer = {
        let (store, late) = (store.clone(), late.clone());
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            let g = group(store.as_ref(), vec![late]);
            store.commit(g).expect("late commit");
        })
    };
    let next = sub.next_timeout(Duration::from_secs(10)).expect("next");
    writer.join().expect("writer");
    assert_eq!(next, Some(late));
}

/// The fixed sequence both backends must hash to the same root.
fn fixture() -> &'static Vec<StoredEntry> {
    static FIXTURE: OnceLock<Vec<StoredEntry>> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let streams = ["a", "b", "a", "c", "b", "a", "d", "e", "a", "c", "f"];
        let mut next = std::collections::HashMap::new();
        streams
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let rev = next.entry(*s).or_insert(0u64);
                let e = entry_at(s, *rev, i as u64);
                *rev += 1;
                e
            })
            .collect()
    })
}

fn same_merkle_root_on_the_same_events(store: Arc<dyn EventStore>) {
    let s = store.as_ref();
    let all = fixture();
    // Committed in three groups, as a writer would.
    for chunk in [&all[..4], &all[4..5], &all[5..]] {
        s.commit(group(s, chunk.to_vec())).expect("commit");
    }
    // Every backend must agree with the one reference tree over the same leaves, so two
    // backends holding these events publish the same roots.
    let leaves: Vec<_> = all.iter().map(|e| e.leaf_hash).collect();
    let reference = MemoryNodes::from_leaves(&leaves);
    for size in 1..=all.len() as u64 {
        let want = merkle::root(&reference, size).expect("reference root");
        let got = merkle::root(&StoreNodes(s), size).expect("store root");
        assert_eq!(got, want, "root of the first {size} entries");
    }
    // A run of nodes (what a tile of the C2SP tile API reads) is each node as `node` reads
    // it, the incomplete ones past the tree's edge as none.
    let size = all.len() as u64;
    for (level, first) in (0..4u8).flat_map(|l| [(l, 0), (l, 3)]) {
        let run = s.nodes(level, first, 12).expect("nodes");
        assert_eq!(run.len(), 12);
        for (got, i) in run.iter().zip(first..) {
            let complete = ((i + 1) << level) <= size;
            let want = complete.then(|| reference.node(level, i).expect("reference"));
            assert_eq!(*got, want, "node {level}/{i}");
        }
    }
}

fn checkpoints_are_kept_in_order(store: Arc<dyn EventStore>) {
    let s = store.as_ref();
    // A shared store mirrors only checkpoints of the log key it trusts.
    s.trust_log_key(&common::store_log().verifier())
        .expect("trusted");
    assert_eq!(s.latest_checkpoint().expect("none yet"), None);
    let mut leaves = Vec::new();
    let mut signed: Vec<StoredCheckpoint> = Vec::new();
    for i in 0..2u64 {
        let e = entry_at(&format!("c{i}"), 0, i);
        leaves.push(e.leaf_hash);
        let mut g = group(s, vec![e]);
        let cp = common::store_checkpoint(&leaves);
        g.checkpoint = Some(cp.clone());
        signed.push(cp);
        s.commit(g).expect("commit");
    }
    let latest = s.latest_checkpoint().expect("latest").expect("some");
    assert_eq!(latest, signed[1]);
    let sizes: Vec<u64> = s
        .checkpoints()
        .expect("all")
        .iter()
        .map(|c| c.size)
        .collect();
    assert_eq!(sizes, vec![1, 2]);
}

/// Not a store check: what an export says it left out. Entries past the latest checkpoint
/// stay out of a bundle (it proves only what a signed checkpoint covers), and the summary
/// counts them so that `caseledger export` can warn.
#[test]
fn an_export_counts_the_entries_past_the_latest_checkpoint() {
    use caseledger::bundle::export::{write_case, write_full, ExportError, LogIdentity};
    let (_dir, store) = sqlite();
    let s = store.as_ref();
    let covered = vec![
        entry_at("a", 0, 0),
        entry_at("b", 0, 1),
        entry_at("c", 0, 2),
    ];
    let leaves: Vec<_> = covered.iter().map(|e| e.leaf_hash).collect();
    let mut first = group(s, covered);
    first.checkpoint = Some(common::store_checkpoint(&leaves));
    s.commit(first).expect("commit");
    s.commit(group(s, vec![entry_at("a", 1, 3), entry_at("d", 0, 4)]))
        .expect("commit past the checkpoint");
    let id = LogIdentity {
        origin: common::store_log().name().to_owned(),
        log_key: common::store_log().verifier().to_text(),
        signer: None,
        cosignatures: None,
        witnessed: false,
    };
    let full = write_full(s, &id, &mut Vec::new(), &mut |_, _| {}).expect("full");
    assert_eq!((full.entries, full.after_checkpoint), (3, 2));
    let case = write_case(s, &id, "agency-a", &[], 3, &mut Vec::new()).expect("stream");
    assert_eq!((case.entries, case.after_checkpoint), (1, 1));
    let b = write_case(s, &id, "agency-b", &[], 3, &mut Vec::new()).expect("stream");
    assert_eq!((b.entries, b.after_checkpoint), (1, 0));
    // A stream all past the checkpoint is not "not found": the error says why it is left out.
    let d = write_case(s, &id, "agency-d", &[], 3, &mut Vec::new()).expect_err("uncovered");
    assert!(
        matches!(
            d,
            ExportError::Uncovered {
                entries: 1,
                checkpoint_size: 3,
                ..
            }
        ),
        "{d}"
    );
    let none = write_case(s, &id, "agency-z", &[], 3, &mut Vec::new()).expect_err("none");
    assert!(matches!(none, ExportError::NotFound(_)), "{none}");
}
