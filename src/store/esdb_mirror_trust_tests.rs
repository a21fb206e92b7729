//! The mirror keeps only checkpoints that verify under the log key and match its tree:
//! whoever can append to the shared checkpoint stream cannot make a node serve, or stall
//! on, a checkpoint the log never signed.

use super::super::esdb_mapping::checkpoint_data;
use super::super::esdb_mapping::tests::entry;
use super::super::{StoreNodes, StoredCheckpoint, StoredEntry};
use super::tests::{cfg, feed_batch, open_in, pos, test_log};
use super::*;
use crate::log::checkpoint::Checkpoint;
use crate::log::merkle::{self, MemoryNodes, RootBuilder};
use crate::log::note::NoteSigner;

const ORIGIN: &str = "caseledger.test/mirror";

/// A mirror holding `n` entries that trusts [`test_log`]'s checkpoints, or no key yet.
fn mirror_of(trusting: bool, n: u64) -> (tempfile::TempDir, Mirror, Vec<StoredEntry>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = match trusting {
        true => open_in(dir.path()),
        false => Mirror::open(&dir.path().join(MIRROR_FILE), &cfg()).expect("open mirror"),
    };
    let entries: Vec<StoredEntry> = (0..n).map(|i| entry(&format!("a{i}"), 0, i)).collect();
    let batch: Vec<(u64, &StoredEntry)> = entries.iter().zip(1..).map(|(e, p)| (p, e)).collect();
    feed_batch(&m, &batch).expect("entries");
    (dir, m, entries)
}

/// The checkpoint of the first `size` entries, signed by `signer`, filed under `filed`.
fn signed(signer: &NoteSigner, entries: &[StoredEntry], size: u64, filed: u64) -> StoredCheckpoint {
    let mut root = RootBuilder::new();
    for e in &entries[..size as usize] {
        root.push(e.leaf_hash);
    }
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        size,
        root: root.root(),
    };
    StoredCheckpoint {
        size: filed,
        note: cp.sign(signer).expect("signs"),
    }
}

/// Feeds checkpoint events (revisions from `first`) at positions from `at`, as one batch.
fn feed_checkpoints(m: &Mirror, at: u64, first: u64, cps: &[StoredCheckpoint]) {
    feed_checkpoint_data(m, at, first, cps.iter().map(checkpoint_data).collect());
}

/// Feeds checkpoint events with the given data.
fn feed_checkpoint_data(m: &Mirror, at: u64, first: u64, data: Vec<Vec<u8>>) {
    let stream = cfg().checkpoint_stream();
    let events: Vec<SeenEvent<'_>> = data
        .iter()
        .zip(0..)
        .map(|(d, k)| SeenEvent {
            position: pos(at + k),
            stream: &stream,
            revision: first + k,
            event_id: Uuid::new_v4(),
            data: d,
        })
        .collect();
    m.ingest(&events, None)
        .expect("a bad checkpoint never stops the mirror");
}

fn latest(m: &Mirror) -> Option<u64> {
    m.store()
        .latest_checkpoint()
        .expect("latest")
        .map(|c| c.size)
}

#[test]
fn a_checkpoint_of_the_log_key_matching_the_tree_is_mirrored() {
    let log = test_log();
    let (_dir, m, entries) = mirror_of(true, 5);
    let cp = signed(&log, &entries, 3, 3);
    feed_checkpoints(&m, 10, 0, std::slice::from_ref(&cp));
    assert_eq!(m.store().latest_checkpoint().expect("latest"), Some(cp));
    // Of several in one batch, the largest that verifies.
    let five = signed(&log, &entries, 5, 5);
    feed_checkpoints(&m, 20, 1, &[signed(&log, &entries, 4, 4), five.clone()]);
    assert_eq!(m.store().latest_checkpoint().expect("latest"), Some(five));
    assert_eq!(m.tip().checkpoint_events(), 3);
}

#[test]
fn checkpoints_that_do_not_verify_or_match_the_tree_are_skipped() {
    let log = test_log();
    let stranger = NoteSigner::generate(ORIGIN).expect("key");
    let (_dir, m, entries) = mirror_of(true, 5);
    feed_checkpoints(&m, 10, 0, &[signed(&log, &entries, 2, 2)]);
    // The root of other leaves, properly signed by the log key.
    let mut other = entries.clone();
    other.swap(0, 1);
    let wrong_root = signed(&log, &other, 3, 3);
    let mut placeholder = signed(&log, &entries, 3, 3);
    placeholder.note = "head from a".into();
    let bad = [
        ("another key", signed(&stranger, &entries, 4, 4)),
        ("a wrong root", wrong_root),
        ("an unsigned note", placeholder),
        ("filed under another size", signed(&log, &entries, 3, 5)),
    ];
    for (k, (what, cp)) in (1..).zip(bad) {
        feed_checkpoints(&m, 10 + k, k, &[cp]);
        assert_eq!(latest(&m), Some(2), "{what} was mirrored");
        // Counted all the same: a node publishing its own checkpoint waits for the count.
        assert_eq!(m.tip().checkpoint_events(), k + 1, "{what}");
    }
    // Larger than the log: signed by the log key over a longer log, as a fork would be.
    let mut longer = entries.clone();
    longer.push(entry("a5", 0, 5));
    feed_checkpoints(&m, 30, 5, &[signed(&log, &longer, 6, 6)]);
    assert_eq!(latest(&m), Some(2));
    // A forged larger checkpoint beside a valid smaller one: the valid one is kept.
    let four = signed(&log, &entries, 4, 4);
    feed_checkpoints(
        &m,
        40,
        6,
        &[four.clone(), signed(&stranger, &entries, 5, 5)],
    );
    assert_eq!(m.store().latest_checkpoint().expect("latest"), Some(four));
}

#[test]
fn a_checkpoint_in_the_same_batch_as_its_entries_is_checked_against_them() {
    // Catching up reads entries and the checkpoint after them in one batch: the root at
    // its size comes from the batch's new nodes over the mirror's.
    let log = test_log();
    let (_dir, m, entries) = mirror_of(true, 3);
    let more: Vec<StoredEntry> = (3..7).map(|i| entry(&format!("a{i}"), 0, i)).collect();
    let all: Vec<StoredEntry> = entries.iter().chain(&more).cloned().collect();
    let cp = signed(&log, &all, 6, 6);
    let names: Vec<String> = more.iter().map(|e| cfg().stream_name(&e.stream)).collect();
    let data = checkpoint_data(&cp);
    let stream = cfg().checkpoint_stream();
    let mut events: Vec<SeenEvent<'_>> = more
        .iter()
        .zip(&names)
        .zip(10..)
        .map(|((e, name), p)| SeenEvent {
            position: pos(p),
            stream: name,
            revision: 0,
            event_id: e.event_id,
            data: &e.bytes,
        })
        .collect();
    events.push(SeenEvent {
        position: pos(20),
        stream: &stream,
        revision: 0,
        event_id: Uuid::new_v4(),
        data: &data,
    });
    m.ingest(&events, None).expect("batch");
    assert_eq!(m.store().latest_checkpoint().expect("latest"), Some(cp));
    let reference = MemoryNodes::from_leaves(&all.iter().map(|e| e.leaf_hash).collect::<Vec<_>>());
    assert_eq!(
        merkle::root(&StoreNodes(m.store() as &dyn EventStore), 7).expect("root"),
        merkle::root(&reference, 7).expect("root")
    );
}

#[test]
fn an_unreadable_checkpoint_event_is_skipped_and_its_count_survives_a_reopen() {
    let log = test_log();
    let (dir, m, entries) = mirror_of(true, 3);
    feed_checkpoints(&m, 10, 0, &[signed(&log, &entries, 3, 3)]);
    // Not a checkpoint at all, then a forged one, each alone in its batch.
    feed_checkpoint_data(&m, 11, 1, vec![b"{}".to_vec()]);
    feed_checkpoint_data(&m, 12, 2, vec![b"not json".to_vec()]);
    let stranger = NoteSigner::generate(ORIGIN).expect("key");
    feed_checkpoints(&m, 13, 3, &[signed(&stranger, &entries, 3, 3)]);
    assert_eq!(latest(&m), Some(3));
    assert_eq!(m.tip().checkpoint_events(), 4);
    drop(m);
    // The count is the next revision this node appends its own checkpoint at: a reopened
    // mirror that lost it would expect a stale revision and never publish again.
    let m = open_in(dir.path());
    assert_eq!(m.tip().checkpoint_events(), 4);
    assert_eq!(m.tip().seen(), Some(pos(13)));
    assert_eq!(latest(&m), Some(3));
}

#[test]
fn without_a_key_no_checkpoint_is_kept() {
    // A node connected before `init` created its key, or before `log.key` was copied to it:
    // it cannot tell the log's checkpoints from forged ones, so it keeps none (and signs its
    // own once it has the key).
    let log = test_log();
    let (_dir, m, entries) = mirror_of(false, 2);
    feed_checkpoints(&m, 10, 0, &[signed(&log, &entries, 2, 2)]);
    assert_eq!(latest(&m), None);
    assert_eq!(m.tip().checkpoint_events(), 1, "counted all the same");
    // Once trusted, a key stays: another one is refused, the same one accepted again.
    m.trust(&log.verifier()).expect("trusted");
    feed_checkpoints(&m, 11, 1, &[signed(&log, &entries, 2, 2)]);
    assert_eq!(latest(&m), Some(2));
    m.trust(&log.verifier()).expect("the same key again");
    let other = NoteSigner::generate(ORIGIN).expect("key");
    assert!(m.trust(&other.verifier()).is_err());
}

#[test]
fn a_mirror_records_its_log_key_and_refuses_another() {
    let (dir, m, _) = mirror_of(true, 2);
    drop(m);
    // The same key again: fine.
    open_in(dir.path());
    let other = NoteSigner::generate(ORIGIN).expect("key");
    let m = Mirror::open(&dir.path().join(MIRROR_FILE), &cfg()).expect("open mirror");
    let refused = m.trust(&other.verifier()).expect_err("another key");
    let message = refused.to_string();
    assert!(message.contains(MIRROR_FILE), "names the file: {message}");
    assert!(message.contains("delete"), "says what to do: {message}");
    // A mirror that holds nothing proves nothing about a key: it takes the new one.
    let (dir, m, _) = mirror_of(true, 0);
    drop(m);
    let m = Mirror::open(&dir.path().join(MIRROR_FILE), &cfg()).expect("open mirror");
    m.trust(&other.verifier())
        .expect("an empty mirror starts again");
}

#[test]
fn checkpoints_kept_before_a_key_was_recorded_are_checked_first() {
    // As a mirror built by an earlier version holds them: stored without any check.
    let log = test_log();
    for (forged, trusted) in [(false, true), (true, false)] {
        let (_dir, m, entries) = mirror_of(false, 3);
        let signer = match forged {
            true => NoteSigner::generate(ORIGIN).expect("key"),
            false => test_log(),
        };
        let held = signed(&signer, &entries, 3, 3);
        m.store()
            .commit(super::super::CommitGroup {
                entries: vec![],
                nodes: vec![],
                checkpoint: Some(held),
                request_ends: vec![],
            })
            .expect("stored as is");
        assert_eq!(
            m.trust(&log.verifier()).is_ok(),
            trusted,
            "forged: {forged}"
        );
    }
}
