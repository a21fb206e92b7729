//! Proofs against the RFC 6962 vectors and a full sweep of small trees, each valid
//! proof also run through the corruption probes.

use proptest::prelude::*;

use super::probes::{check_consistency, check_inclusion, some_hash};
use super::*;
use crate::log::merkle::{root, MemoryNodes};
use crate::log::vectors::{hash, rfc6962, synthetic_leaves, Counting};

#[test]
fn vector_inclusion_proofs_are_generated_and_verify() {
    let v = rfc6962();
    let leaves = v.leaves();
    let nodes = MemoryNodes::from_leaves(&leaves);
    for case in &v.inclusion_proofs {
        let expected: Vec<Hash> = case.proof.iter().map(|h| hash(h)).collect();
        let generated = inclusion_proof(&nodes, case.leaf_index, case.tree_size).unwrap();
        assert_eq!(
            generated, expected,
            "({}, {})",
            case.leaf_index, case.tree_size
        );
        let root = hash(&v.roots_by_tree_size_hex[&case.tree_size]);
        let leaf = leaves[case.leaf_index as usize];
        check_inclusion(case.leaf_index, case.tree_size, &expected, leaf, root);
    }
}

#[test]
fn vector_consistency_proofs_are_generated_and_verify() {
    let v = rfc6962();
    let nodes = MemoryNodes::from_leaves(&v.leaves());
    for case in &v.consistency_proofs {
        let expected: Vec<Hash> = case.proof.iter().map(|h| hash(h)).collect();
        let generated = consistency_proof(&nodes, case.size1, case.size2).unwrap();
        assert_eq!(generated, expected, "({}, {})", case.size1, case.size2);
        let root1 = hash(&v.roots_by_tree_size_hex[&case.size1]);
        let root2 = hash(&v.roots_by_tree_size_hex[&case.size2]);
        check_consistency(case.size1, case.size2, &expected, root1, root2);
    }
}

#[test]
fn every_inclusion_and_consistency_proof_in_small_trees() {
    let leaves = synthetic_leaves(33);
    let nodes = MemoryNodes::from_leaves(&leaves);
    for size2 in 1..=33u64 {
        let root2 = root(&nodes, size2).unwrap();
        for index in 0..size2 {
            let proof = inclusion_proof(&nodes, index, size2).unwrap();
            check_inclusion(index, size2, &proof, leaves[index as usize], root2);
        }
        for size1 in 1..=size2 {
            let proof = consistency_proof(&nodes, size1, size2).unwrap();
            check_consistency(size1, size2, &proof, root(&nodes, size1).unwrap(), root2);
        }
    }
}

#[test]
fn bad_requests_are_refused() {
    let nodes = MemoryNodes::from_leaves(&synthetic_leaves(8));
    assert!(matches!(
        inclusion_proof(&nodes, 8, 8),
        Err(TreeError::OutOfRange { .. })
    ));
    assert!(matches!(
        inclusion_proof(&nodes, 0, 0),
        Err(TreeError::OutOfRange { .. })
    ));
    assert!(matches!(
        consistency_proof(&nodes, 0, 8),
        Err(TreeError::InvalidSizes { .. })
    ));
    assert!(matches!(
        consistency_proof(&nodes, 5, 4),
        Err(TreeError::InvalidSizes { .. })
    ));
    // Beyond the stored tree: the missing node is reported, not invented.
    assert!(matches!(
        inclusion_proof(&nodes, 0, 9),
        Err(TreeError::MissingNode { .. })
    ));
}

#[test]
fn consistency_from_the_empty_tree() {
    let nodes = MemoryNodes::from_leaves(&synthetic_leaves(5));
    let root5 = root(&nodes, 5).unwrap();
    assert_eq!(verify_consistency(0, 5, &[], &empty_root(), &root5), Ok(()));
    assert_eq!(
        verify_consistency(0, 0, &[], &empty_root(), &empty_root()),
        Ok(())
    );
    assert!(verify_consistency(0, 5, &[root5], &empty_root(), &root5).is_err());
    assert!(verify_consistency(0, 5, &[], &some_hash(), &root5).is_err());
    assert!(verify_consistency(5, 5, &[], &root5, &some_hash()).is_err());
    assert!(verify_consistency(5, 5, &[root5], &root5, &root5).is_err());
}

#[test]
fn proofs_read_logarithmically_many_nodes() {
    let size = 1000u64;
    let nodes = MemoryNodes::from_leaves(&synthetic_leaves(size));
    // Each proof hash is one complete node, except at most one right-border range,
    // which costs one read per set bit of its length: at most 2 * ceil(log2 n) reads.
    let bound = 2 * 10;
    for (a, b) in [
        (0, size),
        (999, size),
        (500, size),
        (1, 999),
        (512, 1000),
        (733, 1000),
    ] {
        let src = Counting::new(&nodes);
        inclusion_proof(&src, a, b).unwrap();
        assert!(
            src.reads.get() <= bound,
            "inclusion({a}, {b}): {} reads",
            src.reads.get()
        );
        let src = Counting::new(&nodes);
        consistency_proof(&src, a.max(1), b).unwrap();
        assert!(
            src.reads.get() <= bound,
            "consistency({a}, {b}): {} reads",
            src.reads.get()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_inclusion_proofs_resist_corruption(size in 1u64..=200, seed in any::<u64>()) {
        let leaves = synthetic_leaves(size);
        let nodes = MemoryNodes::from_leaves(&leaves);
        let index = seed % size;
        let proof = inclusion_proof(&nodes, index, size).unwrap();
        check_inclusion(index, size, &proof, leaves[index as usize], root(&nodes, size).unwrap());
    }

    #[test]
    fn random_consistency_proofs_resist_corruption(size2 in 1u64..=200, seed in any::<u64>()) {
        let nodes = MemoryNodes::from_leaves(&synthetic_leaves(size2));
        let size1 = 1 + seed % size2;
        let proof = consistency_proof(&nodes, size1, size2).unwrap();
        let (root1, root2) = (root(&nodes, size1).unwrap(), root(&nodes, size2).unwrap());
        check_consistency(size1, size2, &proof, root1, root2);
    }
}

#[test]
fn trees_past_two_to_the_63_take_proofs_of_64_hashes() {
    // Leaf 1 of a tree of 2^63 + 1 leaves: its path meets the right border only at the
    // root, so the proof has 64 inner hashes and no border one (a shift by 64 used to
    // overflow here).
    let size = (1u64 << 63) + 1;
    assert_eq!(decomp_incl_proof(1, size), (64, 0));
    let proof = vec![some_hash(); 64];
    let leaf = some_hash();
    let root = chain_inner(leaf, &proof, 1);
    assert_eq!(verify_inclusion(&leaf, 1, size, &proof, &root), Ok(()));
    assert!(matches!(
        verify_inclusion(&leaf, 1, size, &proof[..63], &root),
        Err(ProofError::WrongProofSize {
            expected: 64,
            got: 63
        })
    ));
}
