//! The writer's conflict path, on SQLite: a test store appends entries "behind the writer's
//! back" (as another caseledger node sharing an EventStoreDB cluster would), so the next
//! group commit conflicts. The writer must catch up, re-run the rules and answer correctly.

use std::sync::{Arc, Mutex};

use caseledger::client;
use caseledger::datadir::{self, InitOptions};
use caseledger::envelope::KeyFile;
use caseledger::ledger::entry;
use caseledger::ledger::{
    Code, ExpectedRevision, Ledger, Outcome, SystemClock, Verified, WriteError,
};
use caseledger::log::merkle;
use caseledger::metrics::Metrics;
use caseledger::store::sqlite::SqliteStore;
use caseledger::store::{
    CommitGroup, EventStore, StoreError, StoreNodes, StoredCheckpoint, StoredEntry,
};
use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

/// SQLite with a hook: before forwarding a commit, it may first append another agency
/// registration on its own (the "other node").
struct Interloper {
    inner: SqliteStore,
    admin: KeyFile,
    /// Agencies to register behind the writer's back, one per commit, front first.
    pending: Mutex<Vec<String>>,
    /// Whether it reports itself shared with other nodes, as EventStoreDB does.
    shared: bool,
}

impl Interloper {
    fn sneak_in(&self, agency: &str) -> Result<(), StoreError> {
        self.sneak_in_at(agency, Utc::now())
    }

    fn sneak_in_at(&self, agency: &str, at: chrono::DateTime<Utc>) -> Result<(), StoreError> {
        let stream = format!("agency-{agency}");
        let wire = client::signed_event(
            &self.admin,
            "agency.registered",
            &stream,
            agency_data(),
            Utc::now(),
        );
        let v = client::self_verified(&self.admin, &wire).expect("verified");
        let index = self.inner.size()?;
        let revision = self.inner.read_stream(&stream, 0, usize::MAX)?.len() as u64;
        let stamp = entry::format_time(&at);
        let bytes = entry::encode(&stream, revision, &stamp, &wire);
        let leaf = merkle::leaf_hash(&bytes);
        let nodes = merkle::append_nodes(&StoreNodes(&self.inner), index, &[leaf])
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.inner.commit(CommitGroup {
            entries: vec![StoredEntry {
                index,
                stream,
                revision,
                event_id: v.event.event_id,
                recorded_at: stamp,
                leaf_hash: leaf,
                bytes,
            }],
            nodes,
            checkpoint: None,
            request_ends: vec![1],
        })
    }
}

impl EventStore for Interloper {
    fn commit(&self, group: CommitGroup) -> Result<(), StoreError> {
        let next = self.pending.lock().expect("pending").pop();
        if let Some(agency) = next {
            self.sneak_in(&agency)?;
        }
        self.inner.commit(group)
    }
    fn size(&self) -> Result<u64, StoreError> {
        self.inner.size()
    }
    fn read_all(&self, from: u64, limit: usize) -> Result<Vec<StoredEntry>, StoreError> {
        self.inner.read_all(from, limit)
    }
    fn read_stream(
        &self,
        s: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        self.inner.read_stream(s, from, limit)
    }
    fn find_event(&self, id: &Uuid) -> Result<Option<StoredEntry>, StoreError> {
        self.inner.find_event(id)
    }
    fn node(&self, level: u8, index: u64) -> Result<Option<merkle::Hash>, StoreError> {
        self.inner.node(level, index)
    }
    fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        self.inner.latest_checkpoint()
    }
    fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        self.inner.checkpoints()
    }
    fn wait_for_growth(&self, size: u64, t: std::time::Duration) -> Result<u64, StoreError> {
        self.inner.wait_for_growth(size, t)
    }
    fn is_shared(&self) -> bool {
        self.shared
    }
}

fn agency_data() -> serde_json::Value {
    json!({
        "name": "Agency", "region": "North", "domains": ["social"], "languages": ["en"],
        "interpretation": false, "cultural_adaptations": [], "trafficking_experience": false,
        "eligibility": {"criteria": [], "notes": ""}
    })
}

struct Fixture {
    _dir: tempfile::TempDir,
    dir: std::path::PathBuf,
    ledger: Ledger,
    store: Arc<Interloper>,
    admin: KeyFile,
}

/// A fresh data dir whose ledger runs on the interloping store; `sneaks` are the agencies
/// the "other node" registers, one before each of the next commits.
fn fixture(sneaks: &[&str]) -> Fixture {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    datadir::init(&dir, &InitOptions::default(), Arc::new(SystemClock)).expect("init");
    let admin = KeyFile::read(&dir.join("admin.key.json")).expect("admin key");
    let store = Arc::new(Interloper {
        inner: SqliteStore::open(&dir.join(datadir::DB_FILE)).expect("store"),
        admin: KeyFile::read(&dir.join("admin.key.json")).expect("admin key"),
        pending: Mutex::new(sneaks.iter().rev().map(|s| s.to_string()).collect()),
        shared: false,
    });
    let ledger = Ledger::open(
        store.clone(),
        datadir::read_signer(&dir).expect("signer"),
        Arc::new(SystemClock),
        Arc::new(Metrics::new()),
    )
    .expect("open");
    Fixture {
        _dir: tmp,
        dir,
        ledger,
        store,
        admin,
    }
}

fn register(f: &Fixture, agency: &str, expected: ExpectedRevision) -> Result<Outcome, WriteError> {
    let stream = format!("agency-{agency}");
    let wire = client::signed_event(
        &f.admin,
        "agency.registered",
        &stream,
        agency_data(),
        Utc::now(),
    );
    let v: Verified = client::self_verified(&f.admin, &wire).expect("verified");
    f.ledger.submit_blocking(stream, vec![v], expected)
}

fn code_of(r: Result<Outcome, WriteError>) -> Code {
    match r {
        Err(WriteError::Rule(v)) => v.code,
        other => panic!("expected a rule violation, got {other:?}"),
    }
}

#[test]
fn a_commit_that_lost_to_another_node_is_retried_against_the_caught_up_log() {
    let f = fixture(&["interloper"]);
    let before = f.store.size().expect("size");
    let out = register(&f, "north", ExpectedRevision::NoStream).expect("written on retry");
    let Outcome::Created(receipts) = out else {
        panic!("expected 201, got {out:?}")
    };
    // The other node's entry took index `before`; ours follows it.
    assert_eq!(receipts[0].index, before + 1);
    assert_eq!(f.store.size().expect("size"), before + 2);
    let state = f.ledger.state();
    assert_eq!(
        state.size,
        before + 2,
        "the read side folded the other node's entry too"
    );
    assert_eq!(state.next_revision("agency-interloper"), 1);
}

#[test]
fn after_catching_up_the_rules_rerun_and_a_stale_expectation_is_refused() {
    // The other node registers the very agency we are about to register with no_stream.
    let f = fixture(&["north"]);
    let before = f.store.size().expect("size");
    assert_eq!(
        code_of(register(&f, "north", ExpectedRevision::NoStream)),
        Code::WrongExpectedRevision
    );
    assert_eq!(
        f.store.size().expect("size"),
        before + 1,
        "only the other node's entry"
    );
    // The writer is in step with the log: the next write lands right after it.
    let next = register(&f, "south", ExpectedRevision::NoStream).expect("next write");
    let Outcome::Created(r) = next else {
        panic!("expected 201")
    };
    assert_eq!(r[0].index, before + 1);
}

#[test]
fn a_store_that_keeps_moving_is_answered_with_wrong_expected_revision() {
    // Exactly one sneak per try: after giving up, the writer may sign a checkpoint for the
    // tail on its own (a commit of no entries), racing the size read below; with no sneak
    // left for that commit, the count is the same whichever wins.
    let f = fixture(&["x1", "x2", "x3", "x4"]);
    let before = f.store.size().expect("size");
    assert_eq!(
        code_of(register(&f, "north", ExpectedRevision::Any)),
        Code::WrongExpectedRevision
    );
    let after = f.store.size().expect("size");
    assert_eq!(
        after,
        before + 4,
        "one try and three retries, each lost to the other node"
    );
    assert!(f
        .store
        .read_stream("agency-north", 0, 10)
        .expect("read")
        .is_empty());
}

#[test]
fn the_log_reopens_cleanly_after_conflicts() {
    let f = fixture(&["a1", "a2"]);
    register(&f, "north", ExpectedRevision::Any).expect("written");
    register(&f, "south", ExpectedRevision::Any).expect("written");
    let size = f.store.size().expect("size");
    drop(f.ledger);
    let (reopened, _) = datadir::open(&f.dir, Arc::new(SystemClock)).expect("reopens");
    assert_eq!(reopened.state().size, size);
    let cp = reopened
        .store()
        .latest_checkpoint()
        .expect("cp")
        .expect("some");
    assert_eq!(
        cp.size, size,
        "the last group's checkpoint covers the whole log"
    );
}

mod start_up;
