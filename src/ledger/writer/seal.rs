//! Sealing a group: the Merkle nodes its entries add and the signed checkpoint that covers
//! them, computed over the committed nodes plus the group's own.

use super::{WriteError, Writer};
use crate::log::checkpoint::Checkpoint;
use crate::log::merkle::{self, Hash, MemoryNodes, NodeSource, TreeError};
use crate::log::note::NoteSigner;
use crate::store::{CommitGroup, EventStore, StoreError, StoreNodes, StoredCheckpoint};

/// New tree nodes layered over the committed ones.
struct Overlay<'a> {
    new: MemoryNodes,
    base: StoreNodes<'a>,
}

impl NodeSource for Overlay<'_> {
    fn node(&self, level: u8, index: u64) -> Result<Hash, TreeError> {
        match self.new.node(level, index) {
            Ok(h) => Ok(h),
            Err(_) => self.base.node(level, index),
        }
    }
}

impl Writer {
    /// Adds the group's Merkle nodes and a signed checkpoint for the new size.
    pub(super) fn seal(&self, group: &mut CommitGroup, size_before: u64) -> Result<(), WriteError> {
        seal(
            self.store.as_ref(),
            &self.signer,
            &self.origin,
            group,
            size_before,
        )
    }
}

/// Adds to `group` (appended to a log of `size_before` entries) its new Merkle nodes and a
/// checkpoint for the new size signed with `signer`. The writer's own sealing step, public
/// so `bench-log` can measure exactly what the tree and checkpoints cost an append.
pub fn seal(
    store: &dyn EventStore,
    signer: &NoteSigner,
    origin: &str,
    group: &mut CommitGroup,
    size_before: u64,
) -> Result<(), WriteError> {
    let leaves: Vec<Hash> = group.entries.iter().map(|e| e.leaf_hash).collect();
    let tree_err =
        |e: TreeError| WriteError::Store(StoreError::Corrupt(format!("merkle tree: {e}")));
    let base = StoreNodes(store);
    let nodes = merkle::append_nodes(&base, size_before, &leaves).map_err(tree_err)?;
    let mut new = MemoryNodes::default();
    for (level, index, hash) in &nodes {
        new.insert(*level, *index, *hash);
    }
    let size = size_before + leaves.len() as u64;
    let root = merkle::root(&Overlay { new, base }, size).map_err(tree_err)?;
    let note = Checkpoint {
        origin: origin.to_owned(),
        size,
        root,
    }
    .sign(signer)
    .map_err(|e| WriteError::Store(StoreError::Corrupt(e.to_string())))?;
    group.nodes = nodes;
    group.checkpoint = Some(StoredCheckpoint { size, note });
    Ok(())
}
