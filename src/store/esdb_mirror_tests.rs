//! Unit tests of the mirror (on disk, in a temporary directory): global order, dedup of
//! repeated feeding, revision and event-id checks, Merkle nodes, checkpoints.

use std::path::Path;

use super::super::esdb_mapping::tests::entry;
use super::super::esdb_mapping::{checkpoint_data, EsdbConfig};
use super::super::{StoreNodes, StoredCheckpoint, StoredEntry};
use super::*;
use crate::log::merkle::{self, MemoryNodes, NodeSource, RootBuilder};
use crate::log::note::NoteSigner;

pub(super) fn cfg() -> EsdbConfig {
    EsdbConfig::parse("esdb://h:2113?tls=false").expect("parses")
}

pub(super) fn pos(n: u64) -> AllPosition {
    AllPosition {
        commit: n * 100,
        prepare: n * 100,
    }
}

/// The log key the test mirrors trust.
pub(super) fn test_log() -> NoteSigner {
    let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    NoteSigner::from_signing_key("caseledger.test/mirror", key).expect("key")
}

/// The test log's checkpoint of `entries`, the log's first entries in order.
pub(super) fn signed_checkpoint(entries: &[&StoredEntry]) -> StoredCheckpoint {
    let mut root = RootBuilder::new();
    for e in entries {
        root.push(e.leaf_hash);
    }
    let cp = crate::log::checkpoint::Checkpoint {
        origin: test_log().name().to_owned(),
        size: entries.len() as u64,
        root: root.root(),
    };
    StoredCheckpoint {
        size: cp.size,
        note: cp.sign(&test_log()).expect("signs"),
    }
}

/// The mirror file in `dir`, opened for the default prefix, trusting [`test_log`].
pub(super) fn open_in(dir: &Path) -> Mirror {
    let m = Mirror::open(&dir.join(MIRROR_FILE), &cfg()).expect("open mirror");
    m.trust(&test_log().verifier()).expect("trusted");
    m
}

pub(super) fn fresh() -> (tempfile::TempDir, Mirror) {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = open_in(dir.path());
    (dir, m)
}

/// Feeds `(position, entry)` pairs as one batch.
pub(super) fn feed_batch(m: &Mirror, batch: &[(u64, &StoredEntry)]) -> Result<(), StoreError> {
    let names: Vec<String> = batch
        .iter()
        .map(|(_, e)| cfg().stream_name(&e.stream))
        .collect();
    let events: Vec<SeenEvent<'_>> = batch
        .iter()
        .zip(&names)
        .map(|((at, e), stream)| SeenEvent {
            position: pos(*at),
            stream,
            revision: e.revision,
            event_id: e.event_id,
            data: &e.bytes,
        })
        .collect();
    m.ingest(&events, None)
}

pub(super) fn feed(m: &Mirror, at: u64, e: &StoredEntry) -> Result<(), StoreError> {
    feed_batch(m, &[(at, e)])
}

/// Feeds checkpoint event number `revision` of the checkpoint stream.
pub(super) fn feed_checkpoint(m: &Mirror, at: u64, revision: u64, cp: &StoredCheckpoint) {
    let data = checkpoint_data(cp);
    let stream = cfg().checkpoint_stream();
    let ev = SeenEvent {
        position: pos(at),
        stream: &stream,
        revision,
        event_id: Uuid::new_v4(),
        data: &data,
    };
    m.ingest(&[ev], None).expect("checkpoint");
}

#[test]
fn entries_take_their_index_from_the_filtered_order() {
    let (_dir, m) = fresh();
    let (a0, b0, a1) = (entry("a", 0, 0), entry("b", 0, 1), entry("a", 1, 2));
    feed(&m, 1, &a0).expect("a0");
    let foreign = SeenEvent {
        position: pos(2),
        stream: "$stats-x",
        revision: 0,
        event_id: Uuid::nil(),
        data: b"{}",
    };
    m.ingest(&[foreign], None)
        .expect("foreign events are skipped");
    // Another application's stream that shares our prefix, and a second ledger's under the
    // nested prefix `caseledger-eu-`: neither is ours, so neither stops the feed as corrupt.
    let nested = entry("x", 0, 0);
    let under_prefix = [
        SeenEvent {
            position: pos(3),
            stream: "caseledger-foo",
            revision: 0,
            event_id: Uuid::nil(),
            data: b"{}",
        },
        SeenEvent {
            position: pos(4),
            stream: "caseledger-eu-agency-x",
            revision: 0,
            event_id: nested.event_id,
            data: &nested.bytes,
        },
    ];
    m.ingest(&under_prefix, None)
        .expect("foreign streams under the prefix are skipped");
    feed_batch(&m, &[(5, &b0), (6, &a1)]).expect("b0, a1");
    let s = m.store();
    assert_eq!(m.size().expect("size"), 3);
    assert_eq!(
        s.read_all(0, 10).expect("all"),
        vec![a0, b0.clone(), a1.clone()]
    );
    assert_eq!(s.read_stream("agency-a", 1, 10).expect("a"), vec![a1]);
    assert_eq!(s.find_event(&b0.event_id).expect("find"), Some(b0));
    assert_eq!(m.tip().seen(), Some(pos(6)));
}

#[test]
fn feeding_the_same_position_twice_changes_nothing() {
    let (_dir, m) = fresh();
    let a0 = entry("a", 0, 0);
    feed(&m, 1, &a0).expect("first");
    feed(&m, 1, &a0).expect("repeat ignored");
    m.advance(pos(9)).expect("advance");
    feed(&m, 5, &entry("b", 0, 1)).expect("behind the seen position");
    assert_eq!(m.size().expect("size"), 1);
    assert_eq!(m.tip().seen(), Some(pos(9)));
}

#[test]
fn a_revision_gap_is_corruption() {
    let (_dir, m) = fresh();
    assert!(matches!(
        feed(&m, 1, &entry("a", 1, 0)),
        Err(StoreError::Corrupt(_))
    ));
    feed(&m, 2, &entry("a", 0, 0)).expect("a0");
    let again = feed(&m, 3, &entry("a", 0, 1));
    assert!(
        matches!(again, Err(StoreError::Corrupt(_))),
        "revision 0 again, at a new position: {again:?}"
    );
}

#[test]
fn an_event_id_seen_twice_is_corruption() {
    let (_dir, m) = fresh();
    let a0 = entry("a", 0, 0);
    let mut b0 = entry("b", 0, 1);
    feed(&m, 1, &a0).expect("a0");
    b0.event_id = a0.event_id;
    let twice = feed(&m, 2, &b0);
    assert!(
        matches!(&twice, Err(StoreError::Corrupt(why)) if why.contains(&a0.event_id.to_string())),
        "{twice:?}"
    );
}

#[test]
fn merkle_nodes_match_a_tree_built_from_the_leaves() {
    let (_dir, m) = fresh();
    let entries: Vec<_> = (0..7).map(|i| entry(&format!("s{i}"), 0, i)).collect();
    let mut builder = RootBuilder::new();
    // Batches of 1, 2 and 4: nodes computed across batch boundaries and within batches.
    let mut at = 0;
    for chunk in [&entries[0..1], &entries[1..3], &entries[3..7]] {
        let batch: Vec<(u64, &StoredEntry)> = chunk
            .iter()
            .map(|e| {
                at += 1;
                (at, e)
            })
            .collect();
        feed_batch(&m, &batch).expect("feed");
        chunk.iter().for_each(|e| builder.push(e.leaf_hash));
    }
    let leaves: Vec<_> = entries.iter().map(|e| e.leaf_hash).collect();
    let expected = MemoryNodes::from_leaves(&leaves);
    let s = m.store();
    assert_eq!(s.node(2, 0).expect("node"), expected.node(2, 0).ok());
    assert_eq!(s.node(0, 6).expect("node"), Some(entries[6].leaf_hash));
    assert_eq!(
        s.node(3, 0).expect("node"),
        None,
        "an incomplete node is never served"
    );
    let root = merkle::root(&StoreNodes(s), 7).expect("root");
    assert_eq!(root, builder.root());
}

#[test]
fn checkpoints_are_kept_apart_from_entries() {
    let (_dir, m) = fresh();
    let cp = signed_checkpoint(&[]);
    feed_checkpoint(&m, 1, 0, &cp);
    assert_eq!(m.size().expect("size"), 0);
    assert_eq!(m.store().latest_checkpoint().expect("latest"), Some(cp));
    assert_eq!(m.tip().checkpoint_events(), 1);
}

#[test]
fn readers_never_wait_on_the_commit_lock() {
    use std::sync::{mpsc, Arc};
    use std::thread;

    let (_dir, m) = fresh();
    feed(&m, 1, &entry("a", 0, 0)).expect("a0");
    let m = Arc::new(m);
    // The feeder holds this lock across its SQLite commit and fsync.
    let held = m.state.lock().expect("commit lock");
    let (tx, rx) = mpsc::channel();
    let reader = {
        let m = m.clone();
        thread::spawn(move || {
            let view = m.tip();
            let waited = m.wait_until(Instant::now() + Duration::from_millis(10), |v| v.size() > 1);
            tx.send((view, waited)).expect("send");
        })
    };
    // What async code on the client runtime does: it must get an answer at once.
    let (view, waited) = rx
        .recv_timeout(Duration::from_secs(2))
        .expect("reading the tip must not wait for a commit in progress");
    assert_eq!((view.size(), view.seen()), (1, Some(pos(1))));
    assert_eq!(waited, view);
    drop(held);
    reader.join().expect("reader");
}

#[test]
fn a_commit_that_fails_publishes_nothing() {
    let (dir, m) = fresh();
    let a0 = entry("a", 0, 0);
    // Another connection holds SQLite's write lock: the commit fails after the batch was
    // built, and the view must not show what was never committed.
    let blocker = rusqlite::Connection::open(dir.path().join(MIRROR_FILE)).expect("open");
    blocker
        .execute_batch("BEGIN IMMEDIATE")
        .expect("write lock");
    let failed = feed(&m, 1, &a0);
    assert!(
        matches!(failed, Err(StoreError::Unavailable(_))),
        "{failed:?}"
    );
    assert_eq!((m.tip().size(), m.tip().seen()), (0, None));
    blocker.execute_batch("ROLLBACK").expect("release");
    feed(&m, 1, &a0).expect("fed once the lock is gone");
    assert_eq!((m.tip().size(), m.tip().seen()), (1, Some(pos(1))));
    assert_eq!(m.store().read_all(0, 10).expect("all"), vec![a0]);
}
