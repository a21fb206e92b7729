use proptest::prelude::*;

use super::*;
use crate::log::merkle::{leaf_hash, Hash, MemoryNodes, NodeSource, RootBuilder};

fn hashes(level: u8, index: u64, width: u16) -> Tile {
    Tile {
        kind: TileKind::Hashes(level),
        index,
        width,
    }
}

#[test]
fn paths_are_read_and_written_as_the_spec_spells_them() {
    let cases = [
        ("0/x001/x234/067", hashes(0, 1_234_067, 256)),
        ("0/000", hashes(0, 0, 256)),
        ("3/999", hashes(3, 999, 256)),
        ("1/x001/000", hashes(1, 1000, 256)),
        ("2/000.p/1", hashes(2, 0, 1)),
        (
            "63/x018/x446/x744/x073/x709/x551/615.p/255",
            hashes(63, u64::MAX, 255),
        ),
        (
            "entries/x001/x234/067.p/8",
            Tile {
                kind: TileKind::Entries,
                index: 1_234_067,
                width: 8,
            },
        ),
    ];
    for (path, tile) in cases {
        assert_eq!(Tile::parse(path), Ok(tile), "{path}");
        assert_eq!(tile.to_string(), path);
    }
}

#[test]
fn every_other_spelling_is_refused() {
    for path in [
        "",
        "0",
        "0/",
        "0/1",
        "0/01",
        "0/0001",
        "0/x000/001",
        "0/x001",
        "0/001/002",
        "0/x01/002",
        "0/xx01/002",
        "0/x001//002",
        "0/000/",
        "00/000",
        "01/000",
        "64/000",
        "-1/000",
        "+1/000",
        "a/000",
        "Entries/000",
        "0/000.p/0",
        "0/000.p/256",
        "0/000.p/012",
        "0/000.p/",
        "0/000.p/1/",
        "0/000.p",
        "0/+01",
        "0/x001/x234/067/",
        "0/x018/x446/x744/x073/x709/x551/616",
        "0/x/123456",
        "0/x123456/x/789",
        "0/x000000/x/123",
        "entries/x/x/123456789",
        "0/x0001/23",
    ] {
        assert!(Tile::parse(path).is_err(), "{path:?} was accepted");
    }
}

/// The spec's example: a tree of 70,000 leaves has 273 full level-0 tiles and a partial one
/// of 112, a full level-1 tile and a partial one of 17, and a partial level-2 tile of 1.
#[test]
fn the_tiles_of_a_tree_are_those_whose_nodes_are_complete() {
    let exists = |t: Tile| t.nodes_within(70_000).is_some();
    assert!(exists(hashes(0, 272, 256)));
    assert!(!exists(hashes(0, 273, 256)));
    assert!(exists(hashes(0, 273, 112)));
    assert!(!exists(hashes(0, 273, 113)));
    assert!(!exists(hashes(0, 274, 1)));
    assert!(exists(hashes(1, 0, 256)));
    assert!(exists(hashes(1, 1, 17)));
    assert!(!exists(hashes(1, 1, 18)));
    assert!(exists(hashes(2, 0, 1)));
    assert!(!exists(hashes(2, 0, 2)));
    assert!(!exists(hashes(3, 0, 1)));
    // A partial width of a tile that is full by now is still its first hashes.
    assert!(exists(hashes(0, 5, 3)));
    // A tree of 256 has a full level-0 tile and a level-1 tile of width 1.
    assert!(exists(hashes(0, 0, 256)) && exists(hashes(1, 0, 1)));
    assert_eq!(hashes(1, 0, 1).nodes_within(256), Some((8, 0, 1)));
    assert!(hashes(1, 0, 1).nodes_within(255).is_none());
    assert!(hashes(0, 0, 1).nodes_within(0).is_none());
    // Levels and indexes past any 64-bit log.
    assert!(hashes(8, 0, 1).nodes_within(u64::MAX).is_none());
    assert!(hashes(7, 0, 1).nodes_within(u64::MAX).is_some());
    assert!(hashes(0, u64::MAX, 1).nodes_within(u64::MAX).is_none());
    assert!(hashes(63, u64::MAX, 255).nodes_within(u64::MAX).is_none());
}

fn leaves(n: u64) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
}

/// `MTH(D[start:end])` straight from the leaves, sharing nothing with the stored tree.
fn mth(leaves: &[Hash], start: u64, end: u64) -> Hash {
    let mut b = RootBuilder::new();
    for l in &leaves[start as usize..end as usize] {
        b.push(*l);
    }
    b.root()
}

fn read(nodes: &MemoryNodes, tile: Tile, size: u64) -> Vec<Hash> {
    let (level, first, count) = tile.nodes_within(size).expect("tile exists");
    (first..first + count)
        .map(|i| nodes.node(level, i).expect("node"))
        .collect()
}

#[test]
fn tile_hashes_are_the_merkle_tree_hashes_the_spec_defines() {
    let size = 70_000;
    let all = leaves(size);
    let nodes = MemoryNodes::from_leaves(&all);
    // The n-th tile at level l, hash i: MTH(D[(n·256 + i)·256^l : (n·256 + i + 1)·256^l]).
    for (tile, span) in [
        (hashes(0, 273, 112), 1),
        (hashes(1, 1, 17), 256),
        (hashes(2, 0, 1), 65_536),
    ] {
        for (i, h) in read(&nodes, tile, size).iter().enumerate() {
            let start = (tile.index * 256 + i as u64) * span;
            assert_eq!(*h, mth(&all, start, start + span), "{tile} hash {i}");
        }
    }
    // A level-1 hash is the MTH of the full level-0 tile below it.
    let below = read(&nodes, hashes(0, 7, 256), size);
    assert_eq!(
        read(&nodes, hashes(1, 0, 256), size)[7],
        mth(&below, 0, 256)
    );
}

#[test]
fn entry_bundles_prefix_each_entry_with_its_length() {
    let entries: [&[u8]; 3] = [b"{}", b"", &[7u8; 300]];
    let bundle = entry_bundle(entries).unwrap();
    assert_eq!(&bundle[..4], &[0, 2, b'{', b'}']);
    assert_eq!(&bundle[4..7], &[0, 0, 1]);
    assert_eq!(split_entry_bundle(&bundle), Some(entries.to_vec()));
    // 65,535 bytes fit; one more does not, and the refusal names which entry.
    let big = vec![b'x'; MAX_BUNDLED_ENTRY];
    assert!(entry_bundle([&big[..]]).is_ok());
    let bigger = vec![b'x'; MAX_BUNDLED_ENTRY + 1];
    assert_eq!(
        entry_bundle([&b"a"[..], &bigger[..]]),
        Err((1, MAX_BUNDLED_ENTRY + 1))
    );
    // A truncated bundle does not split.
    assert_eq!(split_entry_bundle(&bundle[..bundle.len() - 1]), None);
    assert_eq!(split_entry_bundle(&[0]), None);
}

fn any_tile() -> impl Strategy<Value = Tile> {
    let kind = prop_oneof![
        (0u8..=63).prop_map(TileKind::Hashes),
        Just(TileKind::Entries)
    ];
    let index = prop_oneof![0u64..2000, any::<u64>()];
    (kind, index, 1u16..=256).prop_map(|(kind, index, width)| Tile { kind, index, width })
}

proptest! {
    #[test]
    fn written_paths_read_back(tile in any_tile()) {
        prop_assert_eq!(Tile::parse(&tile.to_string()), Ok(tile));
    }

    /// One spelling per tile: whatever parses is written back exactly as it was given.
    #[test]
    fn only_the_canonical_spelling_parses(path in "(entries|[0-9]{1,3})/(x?[0-9]{0,7}/){0,3}x?[0-9]{0,7}(\\.p/[0-9]{0,4})?") {
        if let Ok(tile) = Tile::parse(&path) {
            prop_assert_eq!(tile.to_string(), path);
        }
    }
}
