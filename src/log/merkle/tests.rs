//! Tree hashing against the RFC 6962 vectors and a naive reference.

use proptest::prelude::*;

use super::*;
use crate::log::vectors::{hash, naive_root, rfc6962, synthetic_leaves, Counting};

#[test]
fn hashing_primitives_match_rfc6962() {
    let v = rfc6962();
    assert_eq!(empty_root(), hash(&v.roots_by_tree_size_hex[&0]));
    assert_eq!(leaf_hash(b""), hash(&v.roots_by_tree_size_hex[&1]));
}

#[test]
fn vector_roots_from_appended_nodes_and_root_builder() {
    let v = rfc6962();
    let leaves = v.leaves();
    for (&size, expected) in &v.roots_by_tree_size_hex {
        let n = size as usize;
        let nodes = MemoryNodes::from_leaves(&leaves[..n]);
        assert_eq!(root(&nodes, size).unwrap(), hash(expected), "root({size})");

        let mut builder = RootBuilder::new();
        leaves[..n].iter().for_each(|l| builder.push(*l));
        assert_eq!(builder.size(), size);
        assert_eq!(builder.root(), hash(expected), "RootBuilder({size})");
    }
}

#[test]
fn push_completing_names_every_complete_node_once_with_its_hash() {
    let leaves = synthetic_leaves(300);
    let mut builder = RootBuilder::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, leaf) in leaves.iter().enumerate() {
        builder
            .push_completing(*leaf, |level, index, hash| {
                let width = 1usize << level;
                let under = &leaves[index as usize * width..(index as usize + 1) * width];
                assert_eq!(*hash, naive_root(under), "node {level}/{index}");
                assert_eq!((index as usize + 1) * width, i + 1, "completed by leaf {i}");
                assert!(seen.insert((level, index)), "node {level}/{index} twice");
                Ok::<_, ()>(())
            })
            .unwrap();
        assert_eq!(builder.root(), naive_root(&leaves[..=i]));
    }
    // Every complete node above the leaves of a 300-leaf tree: 150 + 75 + 37 + 18 + 9 + 4
    // + 2 + 1.
    assert_eq!(seen.len(), 296);
    // An error stops the push and leaves the builder as it was (301 leaves: the next one
    // completes a node).
    builder.push(leaves[0]);
    let before = builder.clone();
    let stopped = builder.push_completing(leaves[0], |_, _, _| Err("stop"));
    assert_eq!(stopped, Err("stop"));
    assert_eq!(
        (builder.size(), builder.root()),
        (before.size(), before.root())
    );
}

#[test]
fn root_matches_naive_mth_for_every_size_up_to_300() {
    let leaves = synthetic_leaves(300);
    let nodes = MemoryNodes::from_leaves(&leaves);
    let mut builder = RootBuilder::new();
    for size in 0..=300u64 {
        let expected = naive_root(&leaves[..size as usize]);
        assert_eq!(root(&nodes, size).unwrap(), expected, "root({size})");
        assert_eq!(builder.root(), expected, "RootBuilder({size})");
        if let Some(leaf) = leaves.get(size as usize) {
            builder.push(*leaf);
        }
    }
}

#[test]
fn only_complete_nodes_are_persisted() {
    let nodes = MemoryNodes::from_leaves(&synthetic_leaves(7));
    // 7 leaves + 3 level-1 + 1 level-2 complete nodes; the ragged right border is never stored.
    assert_eq!(nodes.len(), 11);
    assert!(nodes.node(1, 3).is_err());
    assert!(nodes.node(2, 1).is_err());
}

#[test]
fn root_reads_one_node_per_set_bit() {
    let nodes = MemoryNodes::from_leaves(&synthetic_leaves(300));
    for size in [1u64, 2, 7, 64, 255, 300] {
        let src = Counting::new(&nodes);
        root(&src, size).unwrap();
        assert_eq!(src.reads.get(), size.count_ones() as usize, "size {size}");
    }
}

#[test]
fn append_reads_only_existing_left_siblings() {
    let leaves = synthetic_leaves(300);
    let mut nodes = MemoryNodes::new();
    for (size, leaf) in leaves.iter().enumerate() {
        let size = size as u64;
        let src = Counting::new(&nodes);
        let new = append_nodes(&src, size, std::slice::from_ref(leaf)).unwrap();
        // One read per subtree the new leaf completes, i.e. per trailing one bit.
        assert_eq!(
            src.reads.get(),
            size.trailing_ones() as usize,
            "size {size}"
        );
        assert_eq!(new.len(), 1 + size.trailing_ones() as usize);
        nodes.extend(new);
    }
    // A batch never re-reads what it created itself: only the 8 border nodes of 255.
    let complete_nodes = |size: u64| (0..64).map(|level| size >> level).sum::<u64>() as usize;
    let src = Counting::new(&nodes);
    let new = append_nodes(&src, 255, &leaves[255..]).unwrap();
    assert_eq!(src.reads.get(), 8);
    assert_eq!(new.len(), complete_nodes(300) - complete_nodes(255));
    assert_eq!(nodes.len(), complete_nodes(300));
}

#[test]
fn append_to_a_tree_with_missing_nodes_fails() {
    let nodes = MemoryNodes::new();
    let err = append_nodes(&nodes, 3, &synthetic_leaves(1)).unwrap_err();
    assert!(
        matches!(err, TreeError::MissingNode { level: 0, index: 2 }),
        "{err}"
    );
    assert!(matches!(
        root(&nodes, 1),
        Err(TreeError::MissingNode { level: 0, index: 0 })
    ));
}

#[test]
fn subtree_hash_matches_naive_for_every_rfc_range() {
    let leaves = synthetic_leaves(40);
    let nodes = MemoryNodes::from_leaves(&leaves);
    for start in 0..40u64 {
        for end in start + 1..=40 {
            let n = end - start;
            let aligned = n == 1 || start % crate::log::merkle::largest_power_of_two_below(n) == 0;
            let got = subtree_hash(&nodes, start, end);
            if aligned {
                let expected = naive_root(&leaves[start as usize..end as usize]);
                assert_eq!(got.unwrap(), expected, "[{start}, {end})");
            } else {
                assert!(
                    matches!(got, Err(TreeError::InvalidRange { .. })),
                    "[{start}, {end})"
                );
            }
        }
    }
    assert!(subtree_hash(&nodes, 5, 5).is_err());
    assert!(subtree_hash(&nodes, 6, 5).is_err());
}

fn nodes_with_batches(leaves: &[Hash], cuts: &[usize]) -> MemoryNodes {
    let mut nodes = MemoryNodes::new();
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&leaves.len())) {
        let cut = cut.clamp(start, leaves.len());
        nodes.append(start as u64, &leaves[start..cut]).unwrap();
        start = cut;
    }
    nodes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_batch_split_persists_the_same_nodes(
        n in 0usize..200,
        mut cuts in proptest::collection::vec(0usize..200, 0..12),
    ) {
        cuts.sort_unstable();
        let leaves = synthetic_leaves(n as u64);
        let one_batch = MemoryNodes::from_leaves(&leaves);
        let singles: Vec<usize> = (1..n).collect();
        prop_assert_eq!(&nodes_with_batches(&leaves, &cuts), &one_batch);
        prop_assert_eq!(&nodes_with_batches(&leaves, &singles), &one_batch);
        prop_assert_eq!(root(&one_batch, n as u64).unwrap(), naive_root(&leaves));
    }
}
