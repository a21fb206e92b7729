//! Two caseledger nodes sharing one EventStoreDB cluster (DESIGN §6): two stores, each
//! with its own mirror file in its own directory, under one stream prefix. Concurrent
//! commits on one stream have exactly one winner; both nodes converge on the same log and
//! Merkle roots; checkpoints published by both never conflict (the loser re-reads and
//! agrees).
//!
//! Runs only when `CASELEDGER_TEST_EVENTSTORE_URL` is set (as the conformance suite's
//! EventStoreDB run); otherwise each test prints a SKIPPED line and passes. Each run uses a
//! fresh prefix, so runs never see each other's events.

#![cfg(feature = "eventstore")]

mod common;

use std::sync::{Arc, Barrier};
use std::time::Duration;

use caseledger::domain::PrincipalId;
use caseledger::envelope::KeyFile;
use caseledger::log::merkle;
use caseledger::store::esdb_mapping::EsdbConfig;
use caseledger::store::{
    open_backend, Backend, CommitGroup, EventStore, StoreError, StoreNodes, StoredCheckpoint,
    StoredEntry,
};

const ESDB_ENV: &str = "CASELEDGER_TEST_EVENTSTORE_URL";

/// Two connected stores on one prefix; the directories hold their mirrors.
struct Nodes {
    _dirs: [tempfile::TempDir; 2],
    /// The `--store` value both use.
    spec: String,
    a: Arc<dyn EventStore>,
    b: Arc<dyn EventStore>,
}

/// Two stores on the cluster the environment names, or `None` (and a SKIPPED line).
fn two_nodes(test: &str) -> Option<Nodes> {
    let Ok(url) = std::env::var(ESDB_ENV) else {
        eprintln!(
            "SKIPPED: EventStoreDB two-node test `{test}` (set \
             {ESDB_ENV}=esdb://localhost:2113?tls=false to run)"
        );
        return None;
    };
    let sep = if url.contains('?') { '&' } else { '?' };
    let spec = format!(
        "{url}{sep}prefix=two-nodes-{}-",
        uuid::Uuid::new_v4().simple()
    );
    let open = || {
        let dir = tempfile::tempdir().expect("tempdir");
        let mirror = dir.path().join("esdb-mirror.db");
        // The mirrors keep only checkpoints of the log key they trust.
        let log_key = common::store_log().verifier();
        match open_backend(&spec, &mirror, Duration::from_secs(30), Some(&log_key)) {
            Ok(Backend::Shared(store)) => (dir, store),
            Ok(Backend::Sqlite) => panic!("{ESDB_ENV} must be an esdb:// URL"),
            Err(e) => panic!("{ESDB_ENV} is set but EventStoreDB is not usable: {e}"),
        }
    };
    let ((dir_a, a), (dir_b, b)) = (open(), open());
    Some(Nodes {
        _dirs: [dir_a, dir_b],
        spec,
        a,
        b,
    })
}

/// How many events the cluster's checkpoint stream holds, read with a client of its own
/// (the store's view folds several events for one size into one row).
fn checkpoint_events(spec: &str) -> usize {
    let cfg = EsdbConfig::parse(spec).expect("spec");
    let settings = cfg
        .connection
        .parse::<eventstore::ClientSettings>()
        .expect("settings");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let client = eventstore::Client::new(settings).expect("client");
        let opts = eventstore::ReadStreamOptions::default().requires_leader(true);
        let mut events = match client.read_stream(cfg.checkpoint_stream(), &opts).await {
            Ok(events) => events,
            Err(eventstore::Error::ResourceNotFound) => return 0,
            Err(e) => panic!("reading the checkpoint stream: {e}"),
        };
        let mut n = 0;
        loop {
            match events.next().await {
                Ok(Some(_)) => n += 1,
                Ok(None) | Err(eventstore::Error::ResourceNotFound) => return n,
                Err(e) => panic!("reading the checkpoint stream: {e}"),
            }
        }
    })
}

/// A signed entry on `agency-<agency>` at `revision`, to sit at `index`. Every call makes
/// a new event id, so two nodes never write the same event by accident.
fn entry_at(agency: &str, revision: u64, index: u64) -> StoredEntry {
    let key = KeyFile {
        principal: PrincipalId::parse("admin").expect("slug"),
        key: ed25519_dalek::SigningKey::from_bytes(&[7; 32]),
    };
    common::stored_agency_entry(&key, agency, revision, index, chrono::Utc::now())
}

/// A group as the writer builds it: the entries, their Merkle nodes, and a checkpoint.
fn group(
    store: &dyn EventStore,
    entries: Vec<StoredEntry>,
    checkpoint: Option<StoredCheckpoint>,
) -> CommitGroup {
    let size = entries.first().map_or(0, |e| e.index);
    let leaves: Vec<_> = entries.iter().map(|e| e.leaf_hash).collect();
    let nodes = merkle::append_nodes(&StoreNodes(store), size, &leaves).expect("nodes");
    CommitGroup {
        entries,
        nodes,
        checkpoint,
        request_ends: Vec::new(),
    }
}

/// The test log's checkpoint of the first `size` entries of `store` followed by `more`.
fn checkpoint(store: &dyn EventStore, size: u64, more: &[&StoredEntry]) -> StoredCheckpoint {
    let held = store.read_all(0, size as usize).expect("entries");
    let leaves: Vec<_> = held
        .iter()
        .chain(more.iter().copied())
        .map(|e| e.leaf_hash)
        .collect();
    common::store_checkpoint(&leaves)
}

/// What one node does in a race.
type Step<T> = Box<dyn FnOnce(&dyn EventStore) -> T + Send>;

/// Runs `a` on node a and `b` on node b at the same moment; returns both outcomes.
fn race<T: Send + 'static>(n: &Nodes, a: Step<T>, b: Step<T>) -> (T, T) {
    let start = Arc::new(Barrier::new(2));
    let run = |store: Arc<dyn EventStore>, f: Step<T>| {
        let start = start.clone();
        std::thread::spawn(move || {
            start.wait();
            f(store.as_ref())
        })
    };
    let ta = run(n.a.clone(), a);
    let tb = run(n.b.clone(), b);
    (
        ta.join().expect("node a thread"),
        tb.join().expect("node b thread"),
    )
}

/// Brings both nodes up to date and checks they hold the same log, roots and checkpoints.
fn assert_converged(n: &Nodes) -> u64 {
    let size = n.a.sync().expect("sync a");
    assert_eq!(n.b.sync().expect("sync b"), size, "same size on both nodes");
    let all = |s: &dyn EventStore| s.read_all(0, 10_000).expect("read all");
    assert_eq!(
        all(n.a.as_ref()),
        all(n.b.as_ref()),
        "same entries, same order"
    );
    for k in 1..=size {
        let root = |s: &dyn EventStore| merkle::root(&StoreNodes(s), k).expect("root");
        assert_eq!(root(n.a.as_ref()), root(n.b.as_ref()), "root at size {k}");
    }
    assert_eq!(
        n.a.checkpoints().expect("a"),
        n.b.checkpoints().expect("b"),
        "same checkpoints"
    );
    size
}

#[test]
fn concurrent_commits_on_one_stream_have_one_winner_and_both_nodes_converge() {
    let Some(n) = two_nodes("concurrent_commits_on_one_stream") else {
        return;
    };
    let size = n.a.sync().expect("sync a");
    assert_eq!(n.b.sync().expect("sync b"), size);
    let (ea, eb) = (entry_at("race", 0, size), entry_at("race", 0, size));
    let (ra, rb) = race(
        &n,
        Box::new(move |s| s.commit(group(s, vec![ea], None))),
        Box::new(move |s| s.commit(group(s, vec![eb], None))),
    );
    let outcomes = [&ra, &rb];
    let wins = outcomes.iter().filter(|o| o.is_ok()).count();
    let conflicts = outcomes
        .iter()
        .filter(|o| matches!(o, Err(StoreError::Conflict(_))))
        .count();
    assert_eq!((wins, conflicts), (1, 1), "a: {ra:?}, b: {rb:?}");
    assert_eq!(assert_converged(&n), size + 1);
    // The loser re-reads, then writes the stream's next revision; then both write to
    // streams of their own, one after the other, each after catching up.
    let loser = if ra.is_ok() { &n.b } else { &n.a };
    let at = loser.sync().expect("loser sync");
    let next = entry_at("race", 1, at);
    loser
        .commit(group(loser.as_ref(), vec![next], None))
        .expect("the loser's retry");
    for (i, node) in [&n.a, &n.b, &n.a].into_iter().enumerate() {
        let at = node.sync().expect("sync");
        let e = entry_at(&format!("own{i}"), 0, at);
        node.commit(group(node.as_ref(), vec![e], None))
            .expect("commit");
    }
    assert_eq!(assert_converged(&n), size + 5);
}

#[test]
fn checkpoints_from_both_nodes_never_conflict_and_both_agree() {
    let Some(n) = two_nodes("checkpoints_from_both_nodes") else {
        return;
    };
    let at = n.a.sync().expect("sync a");
    let e = entry_at("cp", 0, at);
    n.a.commit(group(n.a.as_ref(), vec![e], None))
        .expect("an entry");
    let size = assert_converged(&n);
    // Both publish a head for the same size at once: neither may fail.
    let (ra, rb) = race(
        &n,
        Box::new(move |s| s.commit(group(s, vec![], Some(checkpoint(s, size, &[]))))),
        Box::new(move |s| s.commit(group(s, vec![], Some(checkpoint(s, size, &[]))))),
    );
    assert!(ra.is_ok() && rb.is_ok(), "a: {ra:?}, b: {rb:?}");
    // The mirror keeps one checkpoint row per size, so only the stream itself shows
    // whether the loser appended a second event for the same size.
    assert_eq!(
        checkpoint_events(&n.spec),
        1,
        "both nodes published a head for size {size} at once: the loser must re-read and \
         agree, not append a second checkpoint event"
    );
    assert_converged(&n);
    let held = n.a.checkpoints().expect("checkpoints");
    let [cp] = held.as_slice() else {
        panic!("one head, for size {size}: {held:?}");
    };
    assert_eq!(cp, &checkpoint(n.a.as_ref(), size, &[]));
    // A newer head from b; a's older one is then covered and published by nobody.
    let at = n.b.sync().expect("sync b");
    let e = entry_at("cp", 1, at);
    let newer = checkpoint(n.b.as_ref(), at, &[&e]);
    n.b.commit(group(n.b.as_ref(), vec![e], Some(newer.clone())))
        .expect("entry and head");
    n.a.sync().expect("sync a");
    n.a.commit(group(
        n.a.as_ref(),
        vec![],
        Some(checkpoint(n.a.as_ref(), size, &[])),
    ))
    .expect("a covered head is agreement, not an error");
    assert_converged(&n);
    assert_eq!(n.a.latest_checkpoint().expect("latest"), Some(newer));
    assert_eq!(n.a.checkpoints().expect("checkpoints").len(), 2);
    assert_eq!(
        checkpoint_events(&n.spec),
        2,
        "a's covered head was not appended"
    );
}
