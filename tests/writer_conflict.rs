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
    let f = fixture(&["x1", "x2", "x3", "x4", "x5"]);
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

#[test]
fn entries_committed_past_the_latest_checkpoint_get_one_at_start_up() {
    // As after a crash between two paced checkpoints (or another node's append): the log
    // holds an entry no checkpoint covers yet.
    let f = fixture(&[]);
    f.store
        .sneak_in("late")
        .expect("appended without a checkpoint");
    let size = f.store.size().expect("size");
    let before = f.store.latest_checkpoint().expect("cp").expect("some");
    assert_eq!(before.size, size - 1);
    drop(f.ledger);
    let (reopened, _) = datadir::open(&f.dir, Arc::new(SystemClock)).expect("reopens");
    let cp = reopened
        .store()
        .latest_checkpoint()
        .expect("cp")
        .expect("some");
    let verifier = datadir::read_signer(&f.dir).expect("signer").verifier();
    let opened = caseledger::log::checkpoint::Checkpoint::open_signed(&cp.note, &verifier)
        .expect("signed by the log key");
    let mut leaves = merkle::RootBuilder::new();
    for e in reopened.store().read_all(0, usize::MAX).expect("entries") {
        leaves.push(e.leaf_hash);
    }
    assert_eq!((opened.size, opened.root), (size, leaves.root()));
}

#[test]
fn an_edited_entry_past_the_checkpoint_and_under_the_snapshot_is_named_not_signed() {
    // The snapshot covers an entry no checkpoint covers yet; its bytes are then edited.
    // Start-up must re-hash it before signing a checkpoint over it.
    let f = fixture(&[]);
    f.store
        .sneak_in("late")
        .expect("appended without a checkpoint");
    let edited = f.store.size().expect("size") - 1;
    let state = caseledger::ledger::load_state(f.store.as_ref()).expect("fold");
    let snap = f.dir.join(caseledger::ledger::snapshot::SNAPSHOT_FILE);
    caseledger::ledger::snapshot::save(&snap, &state, f.store.as_ref()).expect("snapshot");
    drop(f.ledger);
    let db = rusqlite::Connection::open(f.dir.join(datadir::DB_FILE)).expect("db");
    let bytes = |db: &rusqlite::Connection| -> Vec<u8> {
        db.query_row(
            "SELECT bytes FROM entries WHERE idx = ?1",
            [edited as i64],
            |r| r.get(0),
        )
        .expect("bytes")
    };
    let before = bytes(&db);
    db.execute(
        "UPDATE entries SET bytes = CAST(replace(CAST(bytes AS TEXT), '\"recorded_at\":\"2',
           '\"recorded_at\":\"1') AS BLOB) WHERE idx = ?1",
        [edited as i64],
    )
    .expect("edit");
    assert_ne!(bytes(&db), before, "the entry was edited");
    drop(db);
    match datadir::open(&f.dir, Arc::new(SystemClock)) {
        Err(e) => assert!(e.to_string().contains(&format!("entry {edited}")), "{e}"),
        Ok(_) => panic!("an edited entry was accepted and signed over"),
    }
}

#[test]
fn an_entry_past_the_checkpoint_that_breaks_a_rule_is_named_not_signed() {
    // Appended behind the server's back, as no writer would: the same agency registered
    // twice. Start-up is about to sign a checkpoint over it, so it re-checks the rules.
    let f = fixture(&[]);
    f.store.sneak_in("late").expect("first");
    f.store.sneak_in("late").expect("again, breaking rule 5");
    let bad = f.store.size().expect("size") - 1;
    let covered = f.store.latest_checkpoint().expect("cp").expect("some").size;
    drop(f.ledger);
    refused_at_start_up(&f.dir, bad, "invalid_transition");
    // Nothing was signed over it.
    let store = datadir::open_sqlite(&f.dir).expect("store");
    let cp = store.latest_checkpoint().expect("cp").expect("some");
    assert_eq!(cp.size, covered);
}

#[test]
fn an_entry_past_the_checkpoint_recorded_before_the_one_ahead_is_named_not_signed() {
    // The verifier refuses a log whose recorded_at goes backwards; start-up must not sign
    // a checkpoint over one. On a store shared with other nodes too: only rule failures
    // are left to the nodes' race.
    for shared in [false, true] {
        let f = fixture(&[]);
        f.store.sneak_in("late").expect("first");
        let earlier = Utc::now() - chrono::Duration::hours(1);
        f.store
            .sneak_in_at("earlier", earlier)
            .expect("recorded an hour back");
        let bad = f.store.size().expect("size") - 1;
        drop(f.ledger);
        if shared {
            refused(open_shared(&f.dir).map(drop), bad, "recorded_at");
        } else {
            refused_at_start_up(&f.dir, bad, "recorded_at");
        }
    }
}

/// Opening `dir` fails with an integrity error naming entry `index`, for a reason that
/// mentions `why`.
fn refused_at_start_up(dir: &std::path::Path, index: u64, why: &str) {
    let opened = datadir::open(dir, Arc::new(SystemClock)).map_err(|e| match e {
        datadir::DataDirError::Open(e) => e,
        other => panic!("unexpected error: {other}"),
    });
    refused(opened.map(drop), index, why);
}

/// `opened` is an integrity error naming entry `index`, for a reason that mentions `why`.
fn refused(opened: Result<(), caseledger::ledger::OpenError>, index: u64, why: &str) {
    match opened {
        Err(caseledger::ledger::OpenError::Integrity {
            index: named,
            reason,
        }) => {
            assert_eq!(named, index, "{reason}");
            assert!(reason.contains(why), "{reason}");
        }
        Err(e) => panic!("unexpected error: {e}"),
        Ok(()) => panic!("opened and signed over entry {index} ({why})"),
    }
}

/// Opens the ledger of `dir` on the store as a node sharing it with others would.
fn open_shared(dir: &std::path::Path) -> Result<Ledger, caseledger::ledger::OpenError> {
    let store = Arc::new(Interloper {
        inner: SqliteStore::open(&dir.join(datadir::DB_FILE)).expect("store"),
        admin: KeyFile::read(&dir.join("admin.key.json")).expect("admin key"),
        pending: Mutex::new(Vec::new()),
        shared: true,
    });
    Ledger::open(
        store,
        datadir::read_signer(dir).expect("signer"),
        Arc::new(SystemClock),
        Arc::new(Metrics::new()),
    )
}

#[test]
fn on_a_shared_store_a_rule_broken_past_the_checkpoint_is_logged_not_refused() {
    // Two writing nodes can race past each other's rule checks; refusing to start would
    // stop every node of the cluster, so the start-up only warns and folds the entry.
    let f = fixture(&[]);
    f.store.sneak_in("late").expect("first");
    f.store.sneak_in("late").expect("again, breaking rule 5");
    let size = f.store.size().expect("size");
    drop(f.ledger);
    let ledger = open_shared(&f.dir).expect("a shared store opens");
    assert_eq!(ledger.state().size, size);
    assert_eq!(ledger.state().next_revision("agency-late"), 2);
    let cp = ledger
        .store()
        .latest_checkpoint()
        .expect("cp")
        .expect("some");
    assert_eq!(cp.size, size, "the start-up checkpoint covers the entry");
}
