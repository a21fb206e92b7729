//! Unit tests of what the mirror being on disk adds: everything survives a reopen, the tree
//! continues where it stopped, repeats stay ignored, a mirror of another log or prefix is
//! refused, and a batch (its position included) commits whole or not at all.

use super::super::esdb_mapping::tests::entry;
use super::super::esdb_mirror_meta::{self as meta, ClusterView, SEEN_KEY};
use super::super::{CommitGroup, StoreNodes, StoredEntry};
use super::tests::{
    cfg, feed, feed_batch, feed_checkpoint, fresh, open_in, pos, signed_checkpoint,
};
use super::*;
use crate::log::merkle::{self, RootBuilder};

/// Everything a reader or the feeder can observe of a mirror.
fn observe(m: &Mirror) -> impl PartialEq + std::fmt::Debug {
    let s = m.store();
    let tip = m.tip();
    (
        s.read_all(0, 100).expect("all"),
        s.read_stream("agency-a", 0, 100).expect("stream"),
        (0..8)
            .map(|i| s.node(0, i).expect("leaf"))
            .chain((0..4).map(|i| s.node(1, i).expect("node")))
            .chain([s.node(2, 0).expect("node")])
            .collect::<Vec<_>>(),
        s.checkpoints().expect("checkpoints"),
        s.latest_checkpoint().expect("latest"),
        (tip.size(), tip.seen(), tip.checkpoint_events()),
    )
}

#[test]
fn everything_survives_a_reopen() {
    let (dir, m) = fresh();
    let (a0, b0, a1, c0) = (
        entry("a", 0, 0),
        entry("b", 0, 1),
        entry("a", 1, 2),
        entry("c", 0, 3),
    );
    feed_batch(&m, &[(1, &a0), (2, &b0), (3, &a1)]).expect("batch");
    feed_checkpoint(&m, 4, 0, &signed_checkpoint(&[&a0, &b0, &a1]));
    feed(&m, 5, &c0).expect("c0");
    feed_checkpoint(&m, 6, 1, &signed_checkpoint(&[&a0, &b0, &a1, &c0]));
    assert_eq!(m.store().checkpoints().expect("checkpoints").len(), 2);
    let before = observe(&m);
    drop(m);
    let m = open_in(dir.path());
    assert_eq!(observe(&m), before);
    assert_eq!(m.tip().seen(), Some(pos(6)));
    assert_eq!(m.tip().checkpoint_events(), 2);
    assert_eq!(m.store().find_event(&b0.event_id).expect("find"), Some(b0));
}

#[test]
fn moves_of_the_position_alone_are_written_at_most_once_a_second() {
    let (dir, m) = fresh();
    feed(&m, 1, &entry("a", 0, 0)).expect("a0");
    drop(m);
    let m = open_in(dir.path());
    m.advance(pos(9))
        .expect("the first since opening is written");
    m.advance(pos(10)).expect("the next only in memory");
    assert_eq!(m.tip().seen(), Some(pos(10)));
    drop(m);
    let m = open_in(dir.path());
    assert_eq!(m.tip().seen(), Some(pos(9)), "resumes from the one written");
    feed(&m, 11, &entry("b", 0, 1)).expect("b0");
    m.advance(pos(12))
        .expect("just after a commit: only in memory");
    drop(m);
    let m = open_in(dir.path());
    assert_eq!(m.tip().seen(), Some(pos(11)), "written with the entry");
}

#[test]
fn a_mirror_without_entries_reads_all_again_from_the_start() {
    let (dir, m) = fresh();
    m.advance(pos(9)).expect("written");
    feed_checkpoint(&m, 10, 0, &signed_checkpoint(&[]));
    drop(m);
    let m = open_in(dir.path());
    assert_eq!(m.tip().seen(), None, "nothing proves it is of this cluster");
    feed_checkpoint(&m, 10, 0, &signed_checkpoint(&[]));
    assert_eq!(
        m.tip().checkpoint_events(),
        1,
        "reading it again counts nothing twice"
    );
    assert_eq!(m.store().checkpoints().expect("checkpoints").len(), 1);
}

#[test]
fn a_reopened_mirror_continues_the_same_merkle_root() {
    let entries: Vec<_> = (0..7).map(|i| entry(&format!("s{i}"), 0, i)).collect();
    let (dir, m) = fresh();
    let (_other, uninterrupted) = fresh();
    for (i, e) in entries[..5].iter().enumerate() {
        feed(&m, i as u64 + 1, e).expect("feed");
    }
    drop(m);
    let m = open_in(dir.path());
    let mut reference = RootBuilder::new();
    for (i, e) in entries.iter().enumerate() {
        let at = i as u64 + 1;
        if i >= 5 {
            feed(&m, at, e).expect("after the reopen");
        }
        feed(&uninterrupted, at, e).expect("uninterrupted");
        reference.push(e.leaf_hash);
        if i >= 5 {
            let size = at;
            let got = merkle::root(&StoreNodes(m.store()), size).expect("root");
            let want = merkle::root(&StoreNodes(uninterrupted.store()), size).expect("root");
            assert_eq!(got, reference.root(), "size {size}");
            assert_eq!(got, want, "size {size}");
            let state = m.state.lock().expect("commit lock");
            let border = merkle::root(state.frontier(), size).expect("border alone");
            drop(state);
            assert_eq!(
                border, got,
                "the border in memory is complete at size {size}"
            );
        }
    }
}

#[test]
fn repeats_after_a_reopen_are_ignored() {
    let (dir, m) = fresh();
    let (a0, b0, a1) = (entry("a", 0, 0), entry("b", 0, 1), entry("a", 1, 2));
    feed_batch(&m, &[(1, &a0), (2, &b0)]).expect("batch");
    drop(m);
    let m = open_in(dir.path());
    // A resubscription from an older position delivers the same events again.
    feed_batch(&m, &[(1, &a0), (2, &b0)]).expect("repeats ignored");
    feed(&m, 1, &a0).expect("repeat ignored");
    assert_eq!(m.size().expect("size"), 2);
    feed_batch(&m, &[(2, &b0), (3, &a1)]).expect("a repeat, then news");
    assert_eq!(m.size().expect("size"), 3);
    assert_eq!(m.tip().seen(), Some(pos(3)));
}

#[test]
fn a_mirror_of_another_prefix_is_refused() {
    let (dir, m) = fresh();
    feed(&m, 1, &entry("a", 0, 0)).expect("a0");
    drop(m);
    let other = EsdbConfig::parse("esdb://h:2113?tls=false&prefix=other-").expect("parses");
    let file = dir.path().join(MIRROR_FILE);
    let refused = Mirror::open(&file, &other).map(|_| ());
    let Err(StoreError::Corrupt(why)) = refused else {
        panic!("another prefix must be refused: {refused:?}");
    };
    for part in [
        "caseledger-",
        "other-",
        "delete",
        &file.display().to_string(),
    ] {
        assert!(why.contains(part), "`{part}` in: {why}");
    }
    open_in(dir.path());
}

#[test]
fn a_database_that_is_not_a_mirror_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join(MIRROR_FILE);
    let ledger = SqliteStore::open(&file).expect("a plain ledger file");
    ledger
        .commit(CommitGroup {
            entries: vec![entry("a", 0, 0)],
            ..CommitGroup::default()
        })
        .expect("commit");
    drop(ledger);
    let refused = Mirror::open(&file, &cfg()).map(|_| ());
    assert!(
        matches!(refused, Err(StoreError::Corrupt(_))),
        "{refused:?}"
    );
}

#[test]
fn a_mirror_of_another_log_is_refused() {
    let (_dir, m) = fresh();
    let (a0, a1) = (entry("a", 0, 0), entry("a", 1, 1));
    feed(&m, 3, &a0).expect("a0");
    feed(&m, 4, &a1).expect("a1");
    let same = ClusterView {
        first: Some((a0.event_id, a0.leaf_hash)),
        last: Some((a1.event_id, a1.leaf_hash)),
        head: Some(pos(4)),
    };
    m.check_cluster(&same).expect("the same log");
    let places = m.end_places().expect("places");
    let agency = |r| Some(("agency-a".to_owned(), r));
    assert_eq!(places, [agency(0), agency(1)]);
    let other_event = ClusterView {
        first: Some((Uuid::new_v4(), a0.leaf_hash)),
        ..same.clone()
    };
    let other_bytes = ClusterView {
        first: Some((a0.event_id, [7; 32])),
        ..same.clone()
    };
    let no_stream = ClusterView {
        first: None,
        ..same.clone()
    };
    // A cluster restored from a backup older than the mirror: its last entry is gone, or
    // another event took its place, though $all has grown past what the mirror saw.
    let last_gone = ClusterView {
        last: None,
        head: Some(pos(9)),
        ..same.clone()
    };
    let last_replaced = ClusterView {
        last: Some((Uuid::new_v4(), [5; 32])),
        head: Some(pos(9)),
        ..same.clone()
    };
    let shorter = ClusterView {
        head: Some(pos(3)),
        ..same.clone()
    };
    let empty = ClusterView::default();
    for view in [
        other_event,
        other_bytes,
        no_stream,
        last_gone,
        last_replaced,
        shorter,
        empty,
    ] {
        let refused = m.check_cluster(&view);
        assert!(
            matches!(&refused, Err(StoreError::Corrupt(why)) if why.contains("delete")),
            "{view:?}: {refused:?}"
        );
    }
    let (_dir, empty_mirror) = fresh();
    empty_mirror
        .check_cluster(&ClusterView::default())
        .expect("a new mirror fits any cluster");
    assert_eq!(empty_mirror.end_places().expect("places"), [None, None]);
}

#[test]
fn a_batch_that_fails_midway_leaves_nothing_behind() {
    let (dir, m) = fresh();
    let (a0, b0, gap) = (entry("a", 0, 0), entry("b", 0, 1), entry("a", 2, 2));
    let failed = feed_batch(&m, &[(1, &a0), (2, &b0), (3, &gap)]);
    assert!(matches!(failed, Err(StoreError::Corrupt(_))), "{failed:?}");
    let nothing = |m: &Mirror| {
        assert_eq!(m.size().expect("size"), 0);
        assert_eq!(m.tip().seen(), None);
        assert_eq!(m.store().read_all(0, 10).expect("all"), vec![]);
        assert_eq!(m.store().meta(SEEN_KEY).expect("meta"), None);
    };
    nothing(&m);
    drop(m);
    let m = open_in(dir.path());
    nothing(&m);
    feed_batch(&m, &[(1, &a0), (2, &b0)]).expect("the good part alone");
    assert_eq!(m.tip().seen(), Some(pos(2)));
}

#[test]
fn a_commit_that_fails_in_sqlite_rolls_back_its_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join(MIRROR_FILE);
    let db = SqliteStore::open(&file).expect("db");
    let (a0, b0) = (entry("a", 0, 0), entry("b", 0, 1));
    // The second entry claims index 0 again: SQLite fails after the first was inserted.
    let clash = StoredEntry {
        index: 0,
        ..b0.clone()
    };
    let seen = meta::encode_position(pos(9));
    let failed = db.commit_with_meta(
        CommitGroup {
            entries: vec![a0.clone(), clash],
            ..CommitGroup::default()
        },
        &[(SEEN_KEY, &seen)],
    );
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(db.meta(SEEN_KEY).expect("meta"), None);
    assert_eq!(db.read_all(0, 10).expect("all"), vec![]);
    let seen = meta::encode_position(pos(2));
    db.commit_with_meta(
        CommitGroup {
            entries: vec![a0, b0],
            ..CommitGroup::default()
        },
        &[(SEEN_KEY, &seen)],
    )
    .expect("commit");
    let seen = db.meta(SEEN_KEY).expect("meta").expect("published");
    assert_eq!(meta::decode_position(&seen).expect("position"), pos(2));
}
