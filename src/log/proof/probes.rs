//! Corruption probes from transparency-dev/merkle `proof/verify_test.go`
//! (`corruptInclusionProof`, `corruptConsistencyProof`), with checkers that assert a
//! correct proof verifies and every probe is rejected.

use super::*;
use crate::log::merkle::leaf_hash;

pub fn some_hash() -> Hash {
    leaf_hash(b"some other hash")
}

fn with_last(proof: &[Hash], h: Hash) -> Vec<Hash> {
    proof.iter().copied().chain([h]).collect()
}

fn with_first(proof: &[Hash], h: Hash) -> Vec<Hash> {
    [h].into_iter().chain(proof.iter().copied()).collect()
}

/// Wrong index, size, leaf or root; hashes added, removed or bit-flipped.
fn inclusion_probes(
    index: u64,
    size: u64,
    proof: &[Hash],
    leaf: Hash,
    root: Hash,
) -> Vec<(String, u64, u64, Vec<Hash>, Hash, Hash)> {
    let p = proof.to_vec();
    let mut probes = vec![
        (
            "index - 1",
            index.wrapping_sub(1),
            size,
            p.clone(),
            leaf,
            root,
        ),
        ("index + 1", index + 1, size, p.clone(), leaf, root),
        ("index ^ 2", index ^ 2, size, p.clone(), leaf, root),
        ("size * 2", index, size * 2, p.clone(), leaf, root),
        ("size / 2", index, size / 2, p.clone(), leaf, root),
        (
            "wrong leaf",
            index,
            size,
            p.clone(),
            leaf_hash(b"WrongLeaf"),
            root,
        ),
        ("empty root", index, size, p.clone(), leaf, empty_root()),
        ("random root", index, size, p.clone(), leaf, some_hash()),
        (
            "trailing garbage",
            index,
            size,
            with_last(proof, [0; 32]),
            leaf,
            root,
        ),
        (
            "trailing root",
            index,
            size,
            with_last(proof, root),
            leaf,
            root,
        ),
        (
            "preceding garbage",
            index,
            size,
            with_first(proof, [0; 32]),
            leaf,
            root,
        ),
        (
            "preceding root",
            index,
            size,
            with_first(proof, root),
            leaf,
            root,
        ),
    ]
    .into_iter()
    .map(|(d, i, s, p, l, r)| (d.to_owned(), i, s, p, l, r))
    .collect::<Vec<_>>();
    for i in 0..proof.len() {
        let mut wrong = p.clone();
        wrong[i][0] ^= 8;
        probes.push((
            format!("flipped bit in proof[{i}]"),
            index,
            size,
            wrong,
            leaf,
            root,
        ));
    }
    if let Some((_, rest)) = proof.split_first() {
        probes.push((
            "removed first".into(),
            index,
            size,
            rest.to_vec(),
            leaf,
            root,
        ));
        probes.push((
            "removed last".into(),
            index,
            size,
            p[..p.len() - 1].to_vec(),
            leaf,
            root,
        ));
    }
    if proof.len() > 1 {
        let inserted = [proof[0], some_hash()]
            .into_iter()
            .chain(proof[1..].iter().copied());
        probes.push((
            "inserted".into(),
            index,
            size,
            inserted.collect(),
            leaf,
            root,
        ));
    }
    probes
}

/// Checks a correct inclusion proof verifies and every corruption of it does not.
pub fn check_inclusion(index: u64, size: u64, proof: &[Hash], leaf: Hash, root: Hash) {
    verify_inclusion(&leaf, index, size, proof, &root)
        .unwrap_or_else(|e| panic!("valid proof ({index}, {size}) rejected: {e}"));
    assert_eq!(
        root_from_inclusion_proof(&leaf, index, size, proof),
        Ok(root)
    );
    for (desc, i, s, p, l, r) in inclusion_probes(index, size, proof, leaf, root) {
        let result = verify_inclusion(&l, i, s, &p, &r);
        assert!(
            result.is_err(),
            "probe '{desc}' accepted for index {index} size {size}"
        );
    }
}

/// Wrong sizes or roots; hashes added, removed or bit-flipped.
fn consistency_probes(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: Hash,
    root2: Hash,
) -> Vec<(String, u64, u64, Vec<Hash>, Hash, Hash)> {
    let p = proof.to_vec();
    let mut probes = vec![
        ("size1 - 1", size1 - 1, size2, p.clone(), root1, root2),
        ("size1 + 1", size1 + 1, size2, p.clone(), root1, root2),
        ("size1 ^ 2", size1 ^ 2, size2, p.clone(), root1, root2),
        ("size2 * 2", size1, size2 * 2, p.clone(), root1, root2),
        ("size2 / 2", size1, size2 / 2, p.clone(), root1, root2),
        ("wrong root1", size1, size2, p.clone(), some_hash(), root2),
        ("wrong root2", size1, size2, p.clone(), root1, some_hash()),
        ("swapped roots", size1, size2, p.clone(), root2, root1),
        ("empty proof", size1, size2, vec![], root1, root2),
        (
            "trailing garbage",
            size1,
            size2,
            with_last(proof, [0; 32]),
            root1,
            root2,
        ),
        (
            "trailing root1",
            size1,
            size2,
            with_last(proof, root1),
            root1,
            root2,
        ),
        (
            "trailing root2",
            size1,
            size2,
            with_last(proof, root2),
            root1,
            root2,
        ),
        (
            "preceding garbage",
            size1,
            size2,
            with_first(proof, [0; 32]),
            root1,
            root2,
        ),
        (
            "preceding root1",
            size1,
            size2,
            with_first(proof, root1),
            root1,
            root2,
        ),
        (
            "preceding root2",
            size1,
            size2,
            with_first(proof, root2),
            root1,
            root2,
        ),
        (
            "preceding proof[0]",
            size1,
            size2,
            with_first(proof, proof[0]),
            root1,
            root2,
        ),
        ("removed first", size1, size2, p[1..].to_vec(), root1, root2),
        (
            "removed last",
            size1,
            size2,
            p[..p.len() - 1].to_vec(),
            root1,
            root2,
        ),
    ]
    .into_iter()
    .map(|(d, a, b, p, r1, r2)| (d.to_owned(), a, b, p, r1, r2))
    .collect::<Vec<_>>();
    for i in 0..proof.len() {
        let mut wrong = p.clone();
        wrong[i][0] ^= 16;
        probes.push((
            format!("flipped bit in proof[{i}]"),
            size1,
            size2,
            wrong,
            root1,
            root2,
        ));
    }
    probes
}

/// Checks a correct consistency proof verifies and every corruption of it does not.
/// As in verify_test.go, probes apply to non-trivial proofs (size1 < size2).
pub fn check_consistency(size1: u64, size2: u64, proof: &[Hash], root1: Hash, root2: Hash) {
    verify_consistency(size1, size2, proof, &root1, &root2)
        .unwrap_or_else(|e| panic!("valid proof ({size1}, {size2}) rejected: {e}"));
    if proof.is_empty() {
        return;
    }
    for (desc, a, b, p, r1, r2) in consistency_probes(size1, size2, proof, root1, root2) {
        let result = verify_consistency(a, b, &p, &r1, &r2);
        assert!(
            result.is_err(),
            "probe '{desc}' accepted for sizes {size1}, {size2}"
        );
    }
}
