//! The start-up checks against the latest signed checkpoint: which entries it covers (by
//! the size its note states), and that the stored entries hash to its root.

use rayon::prelude::*;

use super::super::state::LedgerState;
use super::super::OpenError;
use crate::log::checkpoint::Checkpoint;
use crate::log::merkle::{self, Hash, RootBuilder};
use crate::log::note::NoteSigner;
use crate::store::{EventStore, StoreError, StoredCheckpoint};

/// The tree size a checkpoint note states, unverified ([`check_against_checkpoint`] verifies
/// the note); 0 when it cannot be read, so that every entry is checked.
pub(super) fn stated_size(note: &str) -> u64 {
    note.split_once("\n\n")
        .and_then(|(body, _)| Checkpoint::parse(&format!("{body}\n")).ok())
        .map_or(0, |c| c.size)
}

/// The checkpoint start-up judges a fold of `size` entries by: the latest. On a shared log,
/// where other nodes go on writing during the fold, a checkpoint past `size` may have arrived
/// since the fold began: then the newest whose row and note both state at most `size`, and
/// none if there is none (the fold then checks every entry as an uncovered tail). The fold
/// ([`super::load_for_open_showing`]) and the check after it both judge by this choice, so no
/// entry between a checkpoint and the fold's end goes unchecked.
pub(super) fn judged_checkpoint(
    store: &dyn EventStore,
    size: u64,
) -> Result<Option<StoredCheckpoint>, StoreError> {
    let within = |c: &StoredCheckpoint| c.size <= size && stated_size(&c.note) <= size;
    let latest = store.latest_checkpoint()?;
    if !store.is_shared() || latest.as_ref().is_none_or(within) {
        return Ok(latest);
    }
    Ok(store
        .checkpoints()?
        .into_iter()
        .filter(within)
        .max_by_key(|c| c.size))
}

/// Re-hashes the stored entries below `folded_from` (naming the first whose bytes do not
/// match its leaf hash; the fold already checked those from `folded_from` on) and returns the
/// root of all `state.size` of them. The latest checkpoint must be signed by our key and
/// commit to the stored leaves below its size.
///
/// Every entry is checked, not only those below the checkpoint: entries a projection
/// snapshot covers are not folded again, and a checkpoint signed at start-up for entries
/// appended after the latest one must rest on their bytes, not on stored hashes alone.
pub(in crate::ledger) fn check_against_checkpoint(
    store: &dyn EventStore,
    signer: &NoteSigner,
    state: &LedgerState,
    folded_from: u64,
) -> Result<Hash, OpenError> {
    // A fresh mirror takes the key it is given, and keeps only checkpoints that verify under
    // it: none kept while the shared stream holds some is another key's log, not an unsigned
    // one. Counted first: a mirror stores a checkpoint before it counts it, so one that
    // arrives in between is found by the read after.
    let published = store.published_checkpoints();
    if published > 0 && store.latest_checkpoint()?.is_none() {
        return Err(OpenError::ForeignCheckpoints { published });
    }
    let cp = judged_checkpoint(store, state.size)?;
    let last_covered = cp.as_ref().map_or(0, |c| c.size.saturating_sub(1));
    let integrity = |reason: String| OpenError::Integrity {
        index: last_covered,
        reason,
    };
    let opened = match &cp {
        Some(cp) => Some(
            Checkpoint::open_signed(&cp.note, &signer.verifier())
                .map_err(|e| integrity(format!("latest checkpoint does not verify: {e}")))?,
        ),
        None => None,
    };
    if let (Some(row), Some(opened)) = (&cp, &opened) {
        if row.size != opened.size {
            return Err(integrity(format!(
                "the latest checkpoint is stored as covering {} entries, but its signed note \
                 states {}",
                row.size, opened.size
            )));
        }
    }
    if let Some(opened) = &opened {
        if opened.size > state.size {
            return Err(integrity(format!(
                "checkpoint covers {} entries but the log holds {}",
                opened.size, state.size
            )));
        }
    }
    let mut builder = RootBuilder::new();
    let mut at_checkpoint = None;
    let mut next = 0;
    while next < state.size {
        let chunk = store.read_all(next, 8192)?;
        let covered = &chunk[..chunk.len().min((state.size - next) as usize)];
        if let Some(e) = covered
            .par_iter()
            .filter(|e| e.index < folded_from)
            .find_first(|e| merkle::leaf_hash(&e.bytes) != e.leaf_hash)
        {
            return Err(OpenError::Integrity {
                index: e.index,
                reason: format!(
                    "stream {} revision {}: entry bytes do not match their leaf hash",
                    e.stream, e.revision
                ),
            });
        }
        for e in covered {
            if opened.as_ref().is_some_and(|o| o.size == builder.size()) {
                at_checkpoint = Some(builder.root());
            }
            builder.push(e.leaf_hash);
        }
        next += chunk.len() as u64;
        if chunk.is_empty() {
            break;
        }
    }
    if let Some(opened) = &opened {
        if opened.size == builder.size() {
            at_checkpoint = Some(builder.root());
        }
        if at_checkpoint != Some(opened.root) {
            if let Some(index) = first_leaf_off_tree(store, opened.size)? {
                return Err(OpenError::Integrity {
                    index,
                    reason: "its stored leaf hash differs from the committed Merkle tree's leaf"
                        .into(),
                });
            }
            return Err(integrity(format!(
                "the stored entries do not hash to the root of the signed checkpoint at size {}",
                opened.size
            )));
        }
    }
    Ok(builder.root())
}

/// The first entry whose stored leaf hash differs from the tree's leaf node: names the
/// entry when both its bytes and its leaf hash were edited. Only run once the root is off.
fn first_leaf_off_tree(store: &dyn EventStore, size: u64) -> Result<Option<u64>, OpenError> {
    let mut next = 0;
    while next < size {
        let chunk = store.read_all(next, 8192)?;
        for e in chunk.iter().take_while(|e| e.index < size) {
            if store.node(0, e.index)? != Some(e.leaf_hash) {
                return Ok(Some(e.index));
            }
        }
        if chunk.is_empty() {
            break;
        }
        next += chunk.len() as u64;
    }
    Ok(None)
}
