//! RFC 6962 / RFC 9162 Merkle tree hashing over a store of persisted complete nodes.
//!
//! Node `(level, index)` is the hash of the complete subtree over leaves
//! `[index << level, (index + 1) << level)`; leaves are level 0. Only complete nodes are
//! ever persisted, so a node never changes once written and the store is append-only.
//! Everything else (roots, proof siblings on the right border) is folded on demand
//! from O(log n) complete nodes.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

/// A SHA-256 digest: a leaf hash, a node hash or a tree root.
pub type Hash = [u8; 32];

/// Hash of a log entry: `SHA-256(0x00 || entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(entry);
    h.finalize().into()
}

/// Hash of an interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Errors from reading the tree or asking it for something it cannot answer.
#[derive(thiserror::Error, Debug)]
pub enum TreeError {
    /// A complete node that should have been persisted is absent: the tree is
    /// smaller than the caller assumed, or the store is damaged.
    #[error("missing tree node level {level} index {index}")]
    MissingNode { level: u8, index: u64 },
    /// A leaf index at or beyond the tree size.
    #[error("index {index} out of range for tree size {size}")]
    OutOfRange { index: u64, size: u64 },
    /// A leaf range that is empty, reversed, overflows, or is not a subtree that
    /// RFC 9162 hashing ever asks for (see [`subtree_hash`]).
    #[error("invalid range [{start}, {end})")]
    InvalidRange { start: u64, end: u64 },
    /// Consistency proof sizes outside `0 < size1 <= size2`.
    #[error("invalid consistency proof sizes {size1} and {size2}")]
    InvalidSizes { size1: u64, size2: u64 },
    /// The backing store failed.
    #[error("node storage: {0}")]
    Storage(String),
}

/// Read access to persisted complete nodes.
///
/// The store implements this over its node table. Every function in this module
/// reads at most O(log n) nodes per call, so a per-call query is acceptable.
pub trait NodeSource {
    /// The complete node `(level, index)`, or [`TreeError::MissingNode`].
    fn node(&self, level: u8, index: u64) -> Result<Hash, TreeError>;
}

/// Node hashes in memory, for tests, verifiers and small trees.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryNodes(HashMap<(u8, u64), Hash>);

impl MemoryNodes {
    /// An empty node set (the tree of size 0).
    pub fn new() -> Self {
        Self::default()
    }

    /// All nodes of the tree whose leaf hashes are `leaves`.
    pub fn from_leaves(leaves: &[Hash]) -> Self {
        let mut nodes = Self::new();
        // Appending to an empty tree reads nothing from the source, so this cannot fail.
        let new = append_nodes(&nodes, 0, leaves).expect("append to an empty tree reads no nodes");
        nodes.extend(new);
        nodes
    }

    /// Stores one node, replacing any previous value.
    pub fn insert(&mut self, level: u8, index: u64, hash: Hash) {
        self.0.insert((level, index), hash);
    }

    /// Appends `leaves` to a tree of `size` leaves held here, storing every new node.
    pub fn append(&mut self, size: u64, leaves: &[Hash]) -> Result<(), TreeError> {
        let new = append_nodes(self, size, leaves)?;
        self.extend(new);
        Ok(())
    }

    /// Number of stored nodes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no node is stored.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Extend<(u8, u64, Hash)> for MemoryNodes {
    fn extend<I: IntoIterator<Item = (u8, u64, Hash)>>(&mut self, iter: I) {
        for (level, index, hash) in iter {
            self.insert(level, index, hash);
        }
    }
}

impl NodeSource for MemoryNodes {
    fn node(&self, level: u8, index: u64) -> Result<Hash, TreeError> {
        self.0
            .get(&(level, index))
            .copied()
            .ok_or(TreeError::MissingNode { level, index })
    }
}

/// Every new complete node (leaves included) to persist when `leaves` are appended
/// to a tree of `size` leaves, as `(level, index, hash)`.
///
/// Only the left siblings already in the store are read, each at most once (at most
/// one per level); siblings created within the batch come from the batch itself.
/// Amortised O(1) hashing per leaf.
pub fn append_nodes(
    src: &impl NodeSource,
    size: u64,
    leaves: &[Hash],
) -> Result<Vec<(u8, u64, Hash)>, TreeError> {
    let end = u64::try_from(leaves.len())
        .ok()
        .and_then(|n| size.checked_add(n))
        .ok_or(TreeError::InvalidRange {
            start: size,
            end: u64::MAX,
        })?;
    // The right border of the tree: its complete subtrees, largest first. Existing ones
    // are read lazily because a small append only ever merges with the smallest few.
    let mut frontier: Vec<(u8, u64, Option<Hash>)> = decompose(0, size)
        .map(|(level, index)| (level, index, None))
        .collect();
    let mut out = Vec::with_capacity(leaves.len() * 2);
    for (index, leaf) in (size..end).zip(leaves) {
        let (mut level, mut index, mut hash) = (0u8, index, *leaf);
        out.push((level, index, hash));
        while let Some(&(l, left_index, cached)) = frontier.last() {
            if l != level {
                break;
            }
            frontier.pop();
            let left = match cached {
                Some(h) => h,
                None => src.node(l, left_index)?,
            };
            hash = node_hash(&left, &hash);
            level += 1;
            index >>= 1;
            out.push((level, index, hash));
        }
        frontier.push((level, index, Some(hash)));
    }
    Ok(out)
}

/// Root of the tree of `size` leaves: the complete subtrees of `size`'s binary
/// decomposition folded right to left. O(log n) node reads.
pub fn root(src: &impl NodeSource, size: u64) -> Result<Hash, TreeError> {
    if size == 0 {
        return Ok(empty_root());
    }
    fold(src, decompose(0, size))
}

/// RFC 6962 `MTH(D[start:end])` of the leaves in `[start, end)`, from complete nodes.
///
/// Defined for the ranges that RFC 9162 hashing and proofs produce: a single leaf, or
/// `start` a multiple of `k`, the largest power of two below `end - start`. Such a
/// range is a complete node of size `k` followed by the binary decomposition of the
/// rest; any other range would need every leaf and is refused as
/// [`TreeError::InvalidRange`]. O(log n) node reads.
pub fn subtree_hash(src: &impl NodeSource, start: u64, end: u64) -> Result<Hash, TreeError> {
    let invalid = TreeError::InvalidRange { start, end };
    if start >= end {
        return Err(invalid);
    }
    let n = end - start;
    if n.is_power_of_two() && start.is_multiple_of(n) {
        // A complete node: one read (proof siblings off the right border are all this).
        let level = n.trailing_zeros() as u8;
        return src.node(level, start >> level);
    }
    let k = largest_power_of_two_below(n);
    if !start.is_multiple_of(k) {
        return Err(invalid);
    }
    let level = k.trailing_zeros() as u8;
    let left = std::iter::once((level, start >> level));
    fold(src, left.chain(decompose(start + k, n - k)))
}

/// Largest power of two strictly below `n`; `n` must be at least 2.
pub(crate) fn largest_power_of_two_below(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// The complete subtrees `(level, index)` covering `[start, start + len)`, largest
/// first, by the binary decomposition of `len`. `start` must be aligned to the first.
fn decompose(start: u64, len: u64) -> impl Iterator<Item = (u8, u64)> {
    let mut pos = start;
    (0..64u8).rev().filter_map(move |level| {
        if len >> level & 1 == 0 {
            return None;
        }
        let node = (level, pos >> level);
        pos += 1 << level;
        Some(node)
    })
}

/// Hashes the given adjacent subtrees (left to right, non-empty) into one, right to left.
fn fold(src: &impl NodeSource, nodes: impl Iterator<Item = (u8, u64)>) -> Result<Hash, TreeError> {
    let hashes = nodes
        .map(|(level, index)| src.node(level, index))
        .collect::<Result<Vec<_>, _>>()?;
    let (last, rest) = hashes
        .split_last()
        .ok_or(TreeError::InvalidRange { start: 0, end: 0 })?;
    Ok(rest
        .iter()
        .rev()
        .fold(*last, |acc, left| node_hash(left, &acc)))
}

/// Streaming root calculator ("compact range") for verifiers: push leaf hashes in
/// order, read the root at any point. Holds one hash per set bit of the size.
#[derive(Debug, Clone, Default)]
pub struct RootBuilder {
    size: u64,
    // Roots of the complete subtrees of `size`'s decomposition, largest first.
    stack: Vec<Hash>,
}

impl RootBuilder {
    /// A builder for the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the next leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let pushed: Result<(), std::convert::Infallible> =
            self.push_completing(leaf, |_, _, _| Ok(()));
        let Ok(()) = pushed;
    }

    /// Appends the next leaf hash, calling `completed(level, index, hash)` for every node
    /// of the tree it completes above the leaf, lowest first (RFC 6962 numbering: node
    /// `index` of `level` covers leaves `index·2^level ..< (index+1)·2^level`). Stops at
    /// the first error, leaving the builder as it was.
    pub fn push_completing<E>(
        &mut self,
        leaf: Hash,
        mut completed: impl FnMut(u8, u64, &Hash) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut hash = leaf;
        let mut merged = self.size;
        let mut level = 0u8;
        // Each trailing one bit of the old size is a subtree the new leaf completes.
        while merged & 1 == 1 {
            let left = self.stack[self.stack.len() - 1 - usize::from(level)];
            hash = node_hash(&left, &hash);
            merged >>= 1;
            level += 1;
            completed(level, merged, &hash)?;
        }
        let keep = self.stack.len() - usize::from(level);
        self.stack.truncate(keep);
        self.stack.push(hash);
        self.size += 1;
        Ok(())
    }

    /// Number of leaves pushed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Root of the tree of the leaves pushed so far.
    pub fn root(&self) -> Hash {
        match self.stack.split_last() {
            None => empty_root(),
            Some((last, rest)) => rest
                .iter()
                .rev()
                .fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }
}

#[cfg(test)]
mod tests;
