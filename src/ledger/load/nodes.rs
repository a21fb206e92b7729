//! The full check of the stored Merkle tree (`caseledger rebuild`): every node above the
//! leaves, recomputed from the entries. Start-up checks only the nodes on the tree's right
//! edge (O(log n) reads); a damaged node inside the tree would otherwise show only as
//! proofs that fail to verify on the clients' side.

use super::super::OpenError;
use crate::log::merkle::{self, RootBuilder};
use crate::store::{EventStore, StoreError};

/// Entries read at a time.
const CHUNK: usize = 4096;

/// Recomputes every complete Merkle node of the first `size` entries from their bytes and
/// compares it with the stored one; the first entry whose bytes or whose completed nodes
/// differ is named. Calls `progress(done, size)` as it goes.
pub fn check_every_node(
    store: &dyn EventStore,
    size: u64,
    progress: &dyn Fn(u64, u64),
) -> Result<(), OpenError> {
    let mut tree = RootBuilder::new();
    while tree.size() < size {
        let want = usize::try_from(size - tree.size()).map_or(CHUNK, |left| left.min(CHUNK));
        let chunk = store.read_all(tree.size(), want)?;
        if chunk.is_empty() {
            return Err(StoreError::Corrupt(format!(
                "the log holds {} of its {size} entries",
                tree.size()
            ))
            .into());
        }
        for e in chunk {
            let at = |reason: String| OpenError::Integrity {
                index: e.index,
                reason,
            };
            if e.index != tree.size() {
                return Err(at(format!("read in place of entry {}", tree.size())));
            }
            let leaf = merkle::leaf_hash(&e.bytes);
            if leaf != e.leaf_hash {
                return Err(at(format!(
                    "stream {} revision {}: entry bytes do not match their leaf hash",
                    e.stream, e.revision
                )));
            }
            let stored_as =
                |level: u8, index: u64, hash: &merkle::Hash| match store.node(level, index)? {
                    Some(stored) if stored == *hash => Ok(()),
                    Some(_) => Err(at(format!(
                        "the stored Merkle node {level}/{index} (completed by this entry) differs \
                     from the hash of the entries under it"
                    ))),
                    None => Err(at(format!(
                        "the Merkle node {level}/{index} (completed by this entry) is not stored"
                    ))),
                };
            // The leaf's own node (level 0) is a sibling in proofs too.
            stored_as(0, e.index, &leaf)?;
            tree.push_completing(leaf, stored_as)?;
        }
        progress(tree.size(), size);
    }
    Ok(())
}
