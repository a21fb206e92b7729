//! The writer's checkpoint policy, driven deterministically: requests are queued before the
//! writer starts, so the groups it forms (and which of them run "under load") are fixed.

use std::sync::{Arc, RwLock};

use chrono::Utc;
use serde_json::json;

use super::{CheckpointPacer, Frontier, Request, Writer};
use crate::datadir::{self, InitOptions};
use crate::envelope::KeyFile;
use crate::ledger::state::LedgerState;
use crate::ledger::SystemClock;
use crate::ledger::{load_state, ExpectedRevision, Outcome, WriteError};
use crate::metrics::Metrics;
use crate::store::EventStore;

struct Setup {
    _dir: tempfile::TempDir,
    store: Arc<dyn EventStore>,
    admin: KeyFile,
    writer: Writer,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(SystemClock);
    datadir::init(dir.path(), &InitOptions::default(), clock.clone()).expect("init");
    let admin = KeyFile::read(&dir.path().join("admin.key.json")).expect("admin key");
    let store = datadir::open_sqlite(dir.path()).expect("store");
    let writer = writer_over(dir.path(), store.clone());
    Setup {
        _dir: dir,
        store,
        admin,
        writer,
    }
}

/// A writer over the log `store` holds (of the data directory `dir`), as `open` builds it.
fn writer_over(dir: &std::path::Path, store: Arc<dyn EventStore>) -> Writer {
    let clock = Arc::new(SystemClock);
    let state = load_state(store.as_ref()).expect("fold");
    let signer = datadir::read_signer(dir).expect("signer");
    Writer {
        store: store.clone(),
        read: Arc::new(RwLock::new(state.clone())),
        frontier: Frontier::load(store.as_ref(), state.size),
        signed_size: state.size,
        owed: None,
        state,
        origin: signer.name().to_owned(),
        signer,
        clock,
        metrics: Arc::new(Metrics::new()),
        pacer: CheckpointPacer::default(),
        under_load: false,
        follow_failing: None,
        next_sync: std::time::Instant::now(),
        sync_failing: false,
        _lock: Default::default(),
    }
}

type Answer = tokio::sync::oneshot::Receiver<Result<Outcome, WriteError>>;

/// A request registering agency `name`, with the given expectation.
fn register(admin: &KeyFile, name: &str, expected: ExpectedRevision) -> (Request, Answer) {
    let stream = format!("agency-{name}");
    let data = json!({"name": name, "region": "r", "domains": ["legal"], "languages": [],
        "interpretation": false, "cultural_adaptations": [], "trafficking_experience": true,
        "eligibility": {"criteria": [], "notes": ""}});
    let wire = crate::client::signed_event(admin, "agency.registered", &stream, data, Utc::now());
    let v = crate::client::self_verified(admin, &wire).expect("verified");
    let (reply, answer) = tokio::sync::oneshot::channel();
    let request = Request {
        stream,
        events: vec![v],
        expected,
        reply,
    };
    (request, answer)
}

#[test]
fn under_load_checkpoints_are_paced_and_an_idle_writer_covers_the_log_even_after_refusals() {
    let mut s = setup();
    // Paced far apart, so the second group's seal falls within the interval however slowly
    // a loaded machine runs the first (the default second is not a bound to test on).
    s.writer.pacer = CheckpointPacer::new(std::time::Duration::from_secs(3600));
    let (tx, rx) = crossbeam_channel::unbounded();
    // 3000 valid registrations form a full group (signed: the first), then a group of the
    // rest under load (unsigned: within the second), then refused requests only, which
    // write nothing. The writer then finds its queue empty.
    let mut answers = Vec::new();
    for i in 0..6000 {
        let expected = match i < 3000 {
            true => ExpectedRevision::Any,
            false => ExpectedRevision::Exact(99),
        };
        let (request, answer) = register(&s.admin, &format!("a{}", i % 3000), expected);
        tx.send(request).expect("queued");
        answers.push(answer);
    }
    drop(tx);
    let before = s.store.checkpoints().expect("checkpoints").len();
    let size_before = s.store.size().expect("size");
    s.writer.run(rx);
    let size = s.store.size().expect("size");
    let first = answers[0].try_recv();
    assert_eq!(
        size,
        size_before + 3000,
        "every valid one was written: {first:?}"
    );
    let last = answers[5999].try_recv();
    assert!(matches!(last, Ok(Err(WriteError::Rule(_)))), "{last:?}");
    let latest = s.store.latest_checkpoint().expect("cp").expect("some");
    assert_eq!(
        latest.size, size,
        "the idle writer's checkpoint covers the log"
    );
    let signed = s.store.checkpoints().expect("checkpoints").len() - before;
    assert_eq!(
        signed, 2,
        "one checkpoint for the first group under load, one when idle"
    );
}

#[test]
fn an_idle_node_follows_entries_another_node_appended_to_the_shared_store() {
    let s = setup();
    let open = |dir: &std::path::Path| {
        let signer = datadir::read_signer(dir).expect("signer");
        let metrics = Arc::new(Metrics::new());
        crate::ledger::Ledger::open(s.store.clone(), signer, Arc::new(SystemClock), metrics)
            .expect("open")
    };
    let dir = s._dir.path();
    let writing = open(dir);
    // A node that never writes: only its idle ticks can bring its read side forward.
    let reading = open(dir);
    let before = reading.state().size;
    let (request, _) = register(&s.admin, "followed", ExpectedRevision::Any);
    writing
        .submit_blocking(request.stream, request.events, request.expected)
        .expect("written");
    let size = s.store.size().expect("size");
    assert_eq!(size, before + 1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while reading.state().size < size && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let state = reading.state();
    assert_eq!(state.size, size, "the reading node folded the new entry");
    assert!(
        state.streams.contains_key("agency-followed"),
        "its read side knows the new stream"
    );
}

/// An entry as another node would have stored it on `agency-{name}`, with its true leaf
/// hash (`sound`) or a wrong one.
fn stored(s: &Setup, name: &str, revision: u64, sound: bool) -> crate::store::StoredEntry {
    stored_by(&s.admin, name, revision, sound)
}

/// [`stored`], signed with `key`.
fn stored_by(key: &KeyFile, name: &str, revision: u64, sound: bool) -> crate::store::StoredEntry {
    let stream = format!("agency-{name}");
    let kind = ["agency.registered", "agency.updated"][usize::from(revision > 0)];
    let data = json!({"name": name, "region": "r", "domains": ["legal"], "languages": [],
        "interpretation": false, "cultural_adaptations": [], "trafficking_experience": true,
        "eligibility": {"criteria": [], "notes": ""}});
    let wire = crate::client::signed_event(key, kind, &stream, data, Utc::now());
    let v = crate::client::self_verified(key, &wire).expect("verified");
    let stamp = crate::ledger::entry::format_time(&Utc::now());
    let bytes = crate::ledger::entry::encode(&stream, revision, &stamp, &wire);
    crate::store::StoredEntry {
        index: 0,
        stream,
        revision,
        event_id: v.event.event_id,
        recorded_at: stamp,
        leaf_hash: match sound {
            true => crate::log::merkle::leaf_hash(&bytes),
            false => [7; 32],
        },
        bytes,
    }
}

/// Commits `entries` behind the writer's back, as another node sharing the store would.
fn behind_its_back(s: &Setup, mut entries: Vec<crate::store::StoredEntry>) {
    let size = s.store.size().expect("size");
    for (i, e) in entries.iter_mut().enumerate() {
        e.index = size + i as u64;
    }
    let group = crate::store::CommitGroup {
        entries,
        nodes: Vec::new(),
        checkpoint: None,
        request_ends: Vec::new(),
    };
    s.store.commit(group).expect("committed");
}

#[test]
fn following_applies_another_nodes_entries_to_both_sides_or_to_neither() {
    let mut s = setup();
    let before = s.writer.state.size;
    // Two entries of one stream and one of another, in one chunk.
    let sound = vec![
        stored(&s, "a", 0, true),
        stored(&s, "a", 1, true),
        stored(&s, "b", 0, true),
    ];
    behind_its_back(&s, sound);
    s.writer.follow();
    let sizes = |w: &Writer| (w.state.size, w.read.read().expect("read").size);
    assert_eq!(sizes(&s.writer), (before + 3, before + 3));
    assert_eq!(s.writer.read.read().expect("read").streams["agency-a"], 2);
    assert!(s.writer.follow_failing.is_none());

    // A sound entry, then one whose stored leaf hash is not its bytes': neither is applied.
    behind_its_back(
        &s,
        vec![stored(&s, "c", 0, true), stored(&s, "d", 0, false)],
    );
    s.writer.follow();
    assert_eq!(sizes(&s.writer), (before + 3, before + 3));
    assert!(
        s.writer.follow_failing.is_some(),
        "the failure is remembered"
    );
    assert!(!s
        .writer
        .read
        .read()
        .expect("read")
        .streams
        .contains_key("agency-c"));
}

#[test]
fn an_idle_writer_asks_the_store_itself_to_catch_up_now_and_then() {
    // A view that stopped moving (a subscription open but silent): following it folds
    // nothing new, but every so often the idle writer syncs, which sees the entry.
    let mut s = setup();
    let before = s.writer.state.size;
    let mut silent = crate::store::scripted::Scripted::new(s.store.clone(), |_| None);
    silent.view = Some(std::sync::Mutex::new(before));
    s.writer.store = Arc::new(silent);
    let later = || std::time::Instant::now() + std::time::Duration::from_secs(5);
    s.writer.next_sync = later() + std::time::Duration::from_secs(3600);
    behind_its_back(&s, vec![stored(&s, "a", 0, true)]);
    s.writer.follow();
    assert_eq!(s.writer.state.size, before, "the view does not hold it");
    s.writer.next_sync = std::time::Instant::now();
    s.writer.follow();
    assert_eq!(s.writer.state.size, before + 1);
    assert_eq!(s.writer.read.read().expect("read").size, before + 1);
    assert!(
        s.writer.next_sync > later(),
        "the next sync is seconds away"
    );

    // A sync that fails (the leader does not answer) still leaves what the view holds
    // folded, and the next one is seconds after it ended.
    let mut unsynced = crate::store::scripted::Scripted::new(s.store.clone(), |_| None);
    unsynced.view = Some(std::sync::Mutex::new(before + 1));
    unsynced.sync_fails = true;
    let unsynced = Arc::new(unsynced);
    s.writer.store = unsynced.clone();
    behind_its_back(&s, vec![stored(&s, "b", 0, true)]);
    *unsynced.view.as_ref().expect("view").lock().expect("view") = before + 2;
    s.writer.next_sync = std::time::Instant::now();
    s.writer.follow();
    assert_eq!(
        s.writer.state.size,
        before + 2,
        "the view is folded all the same"
    );
    assert!(s.writer.sync_failing && s.writer.follow_failing.is_none());
    assert!(s.writer.next_sync > later());
}

#[test]
fn a_read_side_out_of_step_gets_a_copy_of_the_folded_state() {
    let mut s = setup();
    behind_its_back(&s, vec![stored(&s, "a", 0, true)]);
    *s.writer.read.write().expect("read") = LedgerState::default();
    s.writer.follow();
    let read = s.writer.read.read().expect("read");
    assert_eq!(read.size, s.writer.state.size);
    assert_eq!(read.streams, s.writer.state.streams);
}

mod bounded_appends;
mod failed_commits;
mod start_up;
