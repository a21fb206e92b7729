//! The writer's checkpoint policy, driven deterministically: requests are queued before the
//! writer starts, so the groups it forms (and which of them run "under load") are fixed.

use std::sync::{Arc, RwLock};

use chrono::Utc;
use serde_json::json;

use super::{CheckpointPacer, Frontier, Request, SystemClock, Writer};
use crate::datadir::{self, InitOptions};
use crate::envelope::KeyFile;
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
    let state = load_state(store.as_ref()).expect("fold");
    let signer = datadir::read_signer(dir.path()).expect("signer");
    let writer = Writer {
        store: store.clone(),
        read: Arc::new(RwLock::new(state.clone())),
        frontier: Frontier::load(store.as_ref(), state.size),
        signed_size: state.size,
        state,
        origin: signer.name().to_owned(),
        signer,
        clock,
        metrics: Arc::new(Metrics::new()),
        pacer: CheckpointPacer::default(),
        under_load: false,
        follow_failing: false,
    };
    Setup {
        _dir: dir,
        store,
        admin,
        writer,
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
    let s = setup();
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

/// An entry as another node would have stored it: `leaf` is its leaf hash, or a wrong one.
fn stored(admin: &KeyFile, name: &str, index: u64, good: bool) -> crate::store::StoredEntry {
    let (request, _) = register(admin, name, ExpectedRevision::Any);
    let stream = format!("agency-{name}");
    let stamp = crate::ledger::entry::format_time(&Utc::now());
    let wire = request.events[0].envelope.to_wire();
    let bytes = crate::ledger::entry::encode(&stream, 0, &stamp, &wire);
    crate::store::StoredEntry {
        index,
        stream,
        revision: 0,
        event_id: request.events[0].event.event_id,
        recorded_at: stamp,
        leaf_hash: match good {
            true => crate::log::merkle::leaf_hash(&bytes),
            false => [7; 32],
        },
        bytes,
    }
}

#[test]
fn a_node_that_cannot_fold_another_nodes_entry_keeps_its_state() {
    let s = setup();
    let signer = datadir::read_signer(s._dir.path()).expect("signer");
    let metrics = Arc::new(Metrics::new());
    let reading =
        crate::ledger::Ledger::open(s.store.clone(), signer, Arc::new(SystemClock), metrics)
            .expect("open");
    let before = reading.state().size;
    let streams = reading.state().streams.len();
    assert!(streams > 0);
    // Another node's group: a sound entry, then one whose stored leaf hash is not its bytes'.
    let entries = vec![
        stored(&s.admin, "sound", before, true),
        stored(&s.admin, "corrupt", before + 1, false),
    ];
    s.store
        .commit(crate::store::CommitGroup {
            entries,
            nodes: Vec::new(),
            checkpoint: None,
        })
        .expect("committed behind the node's back");
    // Several follow ticks fail; the node serves the state it had, not half the group.
    std::thread::sleep(std::time::Duration::from_millis(400));
    let state = reading.state();
    assert_eq!((state.size, state.streams.len()), (before, streams));
}
