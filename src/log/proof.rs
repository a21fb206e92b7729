//! RFC 9162 §2.1.3 inclusion and §2.1.4 consistency proofs: generation from persisted
//! nodes and verification.
//!
//! Generation walks the RFC's recursive definitions top-down over leaf ranges and asks
//! [`subtree_hash`] for each sibling, so it reads O(log n) nodes and never holds the
//! tree. Verification follows transparency-dev/merkle `proof/verify.go` step for step,
//! which checks the proof length against the sizes before hashing anything.

use super::merkle::{
    empty_root, largest_power_of_two_below, node_hash, subtree_hash, Hash, NodeSource, TreeError,
};

/// Why a proof was rejected.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum ProofError {
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} out of range for tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// The proof has the wrong number of hashes for the claimed index and sizes.
    #[error("wrong proof size: expected {expected} hashes, got {got}")]
    WrongProofSize { expected: usize, got: usize },
    /// The proof is well-formed but hashes to a different root.
    #[error("calculated root does not match the expected root")]
    RootMismatch,
    /// Consistency sizes with `size2 < size1`.
    #[error("invalid consistency sizes: size2 {size2} is smaller than size1 {size1}")]
    InvalidSizes { size1: u64, size2: u64 },
    /// A consistency proof between different sizes must not be empty.
    #[error("empty consistency proof between different tree sizes")]
    EmptyProof,
}

/// The RFC 9162 inclusion proof (audit path) for leaf `index` in the tree of `size`
/// leaves, deepest sibling first.
///
/// `size` must not exceed the stored tree size; missing nodes surface as
/// [`TreeError::MissingNode`].
pub fn inclusion_proof(
    src: &impl NodeSource,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, TreeError> {
    if index >= size {
        return Err(TreeError::OutOfRange { index, size });
    }
    // PATH(m, D[lo:hi]) descends into the half holding the leaf; the other half's
    // hash is the sibling. Collected top-down, returned bottom-up as the RFC orders it.
    let (mut lo, mut hi) = (0u64, size);
    let mut proof = Vec::new();
    while hi - lo > 1 {
        let mid = lo + largest_power_of_two_below(hi - lo);
        if index < mid {
            proof.push(subtree_hash(src, mid, hi)?);
            hi = mid;
        } else {
            proof.push(subtree_hash(src, lo, mid)?);
            lo = mid;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// The RFC 9162 consistency proof between the trees of `size1` and `size2` leaves,
/// `0 < size1 <= size2`; empty when the sizes are equal.
pub fn consistency_proof(
    src: &impl NodeSource,
    size1: u64,
    size2: u64,
) -> Result<Vec<Hash>, TreeError> {
    if size1 == 0 || size1 > size2 {
        return Err(TreeError::InvalidSizes { size1, size2 });
    }
    // SUBPROOF(m, D[lo:hi], b) unrolled: `m` is size1 relative to `lo`, and
    // `known` is the RFC's `b` (whether MTH(D[lo:lo+m]) is the verifier's old root).
    let (mut lo, mut hi, mut m, mut known) = (0u64, size2, size1, true);
    let mut proof = Vec::new();
    while m != hi - lo {
        let k = largest_power_of_two_below(hi - lo);
        if m <= k {
            proof.push(subtree_hash(src, lo + k, hi)?);
            hi = lo + k;
        } else {
            proof.push(subtree_hash(src, lo, lo + k)?);
            lo += k;
            m -= k;
            known = false;
        }
    }
    if !known {
        proof.push(subtree_hash(src, lo, hi)?);
    }
    proof.reverse();
    Ok(proof)
}

/// Checks that `leaf` is at `index` in the tree of `size` leaves with root `root`.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let calculated = root_from_inclusion_proof(leaf, index, size, proof)?;
    verify_match(&calculated, root)
}

/// The root implied by an inclusion proof, after checking its length.
pub fn root_from_inclusion_proof(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (inner, border) = decomp_incl_proof(index, size);
    check_len(proof.len(), inner + border)?;
    let (inner_proof, border_proof) = proof.split_at(inner);
    let hash = chain_inner(*leaf, inner_proof, index);
    Ok(chain_border_right(hash, border_proof))
}

/// Checks that the tree of `size2` leaves with root `root2` extends the tree of
/// `size1` leaves with root `root1`.
///
/// Stricter than verify.go in one place: for `size1 == 0` it also requires `root1` to
/// be the empty-tree root, so a corrupt size-0 checkpoint is not silently accepted.
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> Result<(), ProofError> {
    if size2 < size1 {
        return Err(ProofError::InvalidSizes { size1, size2 });
    }
    if size1 == size2 {
        check_len(proof.len(), 0)?;
        return verify_match(root1, root2);
    }
    if size1 == 0 {
        check_len(proof.len(), 0)?;
        return verify_match(root1, &empty_root());
    }
    if proof.is_empty() {
        return Err(ProofError::EmptyProof);
    }

    let (inner, border) = decomp_incl_proof(size1 - 1, size2);
    let shift = size1.trailing_zeros() as usize;
    // shift < inner whenever size1 < size2.
    let inner = inner - shift;
    // The proof starts with the root of the subtree of size 2^shift holding leaf
    // size1-1, unless size1 is that very subtree, whose root the verifier has.
    let (seed, start) = if size1 == 1 << shift {
        (*root1, 0)
    } else {
        (proof[0], 1)
    };
    check_len(proof.len(), start + inner + border)?;
    let (inner_proof, border_proof) = proof[start..].split_at(inner);

    // Chaining starts at level `shift`.
    let mask = (size1 - 1) >> shift;
    let hash1 = chain_inner_right(seed, inner_proof, mask);
    verify_match(&chain_border_right(hash1, border_proof), root1)?;
    let hash2 = chain_inner(seed, inner_proof, mask);
    verify_match(&chain_border_right(hash2, border_proof), root2)
}

fn check_len(got: usize, expected: usize) -> Result<(), ProofError> {
    if got == expected {
        Ok(())
    } else {
        Err(ProofError::WrongProofSize { expected, got })
    }
}

fn verify_match(calculated: &Hash, expected: &Hash) -> Result<(), ProofError> {
    if calculated == expected {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// Splits the inclusion proof length for `index` in a tree of `size` into the part
/// below the point where the leaf's path meets the right border (`inner`) and the
/// border part (one hash per set bit of the index above that level).
fn decomp_incl_proof(index: u64, size: u64) -> (usize, usize) {
    let inner = (64 - (index ^ (size - 1)).leading_zeros()) as usize;
    // `inner` is 64 for an index past 2^63 (a shift by 64 would overflow): no border then.
    let border = index.checked_shr(inner as u32).unwrap_or(0).count_ones() as usize;
    (inner, border)
}

fn chain_inner(seed: Hash, proof: &[Hash], index: u64) -> Hash {
    proof.iter().enumerate().fold(seed, |acc, (i, h)| {
        if index >> i & 1 == 0 {
            node_hash(&acc, h)
        } else {
            node_hash(h, &acc)
        }
    })
}

fn chain_inner_right(seed: Hash, proof: &[Hash], index: u64) -> Hash {
    proof.iter().enumerate().fold(seed, |acc, (i, h)| {
        if index >> i & 1 == 1 {
            node_hash(h, &acc)
        } else {
            acc
        }
    })
}

fn chain_border_right(seed: Hash, proof: &[Hash]) -> Hash {
    proof.iter().fold(seed, |acc, h| node_hash(h, &acc))
}

#[cfg(test)]
mod probes;
#[cfg(test)]
mod tests;
