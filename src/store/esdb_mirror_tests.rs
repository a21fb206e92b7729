//! Unit tests of the mirror: global order, dedup of repeated feeding, Merkle nodes.

use super::super::esdb_mapping::tests::entry;
use super::*;
use crate::log::merkle::{self, RootBuilder};

fn cfg() -> EsdbConfig {
    EsdbConfig::parse("esdb://h:2113?tls=false").expect("parses")
}

fn pos(n: u64) -> AllPosition {
    AllPosition {
        commit: n * 100,
        prepare: n * 100,
    }
}

fn feed(m: &mut Mirror, at: u64, e: &StoredEntry) -> Result<(), StoreError> {
    let stream = cfg().stream_name(&e.stream);
    m.ingest(
        &cfg(),
        &SeenEvent {
            position: pos(at),
            stream: &stream,
            revision: e.revision,
            event_id: e.event_id,
            data: &e.bytes,
        },
    )
}

#[test]
fn entries_take_their_index_from_the_filtered_order() {
    let mut m = Mirror::default();
    let (a0, b0, a1) = (entry("a", 0, 0), entry("b", 0, 1), entry("a", 1, 2));
    feed(&mut m, 1, &a0).expect("a0");
    m.ingest(
        &cfg(),
        &SeenEvent {
            position: pos(2),
            stream: "$stats-x",
            revision: 0,
            event_id: Uuid::nil(),
            data: b"{}",
        },
    )
    .expect("foreign events are skipped");
    feed(&mut m, 3, &b0).expect("b0");
    feed(&mut m, 4, &a1).expect("a1");
    assert_eq!(m.size(), 3);
    assert_eq!(m.read_all(0, 10), vec![a0.clone(), b0.clone(), a1.clone()]);
    assert_eq!(m.read_stream("agency-a", 1, 10), vec![a1.clone()]);
    assert_eq!(m.next_revision("agency-a"), 2);
    assert_eq!(m.find_event(&b0.event_id), Some(b0));
    assert_eq!(m.seen(), Some(pos(4)));
}

#[test]
fn feeding_the_same_position_twice_changes_nothing() {
    let mut m = Mirror::default();
    let a0 = entry("a", 0, 0);
    feed(&mut m, 1, &a0).expect("first");
    feed(&mut m, 1, &a0).expect("repeat ignored");
    m.advance(pos(9));
    feed(&mut m, 5, &entry("b", 0, 1)).expect("behind the seen position");
    assert_eq!(m.size(), 1);
}

#[test]
fn a_revision_gap_is_corruption() {
    let mut m = Mirror::default();
    assert!(matches!(
        feed(&mut m, 1, &entry("a", 1, 0)),
        Err(StoreError::Corrupt(_))
    ));
}

#[test]
fn merkle_nodes_match_a_tree_built_from_the_leaves() {
    let mut m = Mirror::default();
    let entries: Vec<_> = (0..7).map(|i| entry(&format!("s{i}"), 0, i)).collect();
    let mut builder = RootBuilder::new();
    for (i, e) in entries.iter().enumerate() {
        feed(&mut m, i as u64 + 1, e).expect("feed");
        builder.push(e.leaf_hash);
    }
    let leaves: Vec<_> = entries.iter().map(|e| e.leaf_hash).collect();
    let expected = MemoryNodes::from_leaves(&leaves);
    assert_eq!(m.node(2, 0), expected.node(2, 0).ok());
    assert_eq!(m.node(0, 6), Some(entries[6].leaf_hash));
    assert_eq!(m.node(3, 0), None, "an incomplete node is never served");
    let root = merkle::root(&m.nodes, 7).expect("root");
    assert_eq!(root, builder.root());
}

#[test]
fn checkpoints_are_kept_apart_from_entries() {
    let mut m = Mirror::default();
    let cp = StoredCheckpoint {
        size: 0,
        note: "n".into(),
    };
    let data = super::super::esdb_mapping::checkpoint_data(&cp);
    m.ingest(
        &cfg(),
        &SeenEvent {
            position: pos(1),
            stream: "caseledger-$checkpoints",
            revision: 0,
            event_id: Uuid::nil(),
            data: &data,
        },
    )
    .expect("checkpoint");
    assert_eq!(m.size(), 0);
    assert_eq!(m.latest_checkpoint(), Some(&cp));
}
