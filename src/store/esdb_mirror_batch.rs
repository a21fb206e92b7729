//! Turning a batch of events seen on `$all` into one mirror commit: each event checked
//! (stream, revision, event id) against the mirror and the batch before it, the new Merkle
//! nodes computed over the tree's right border, and the `$all` position the batch reaches.
//! Nothing here writes: a batch with one bad event is refused whole. A checkpoint event
//! that cannot be read or does not verify is not a bad event: it is skipped (with a
//! warning) and counted, so that whoever can append to the checkpoint stream cannot stop
//! the mirror.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use super::esdb_mapping::{
    decode_checkpoint, decode_entry, AllPosition, EsdbConfig, RecordedEntry, StreamKind,
};
use super::esdb_mirror::{SeenEvent, Tip};
use super::sqlite::SqliteStore;
use super::{CommitGroup, EventStore, StoreError, StoreNodes, StoredCheckpoint, StoredEntry};
use crate::log::checkpoint::Checkpoint;
use crate::log::merkle::{self, Hash, MemoryNodes, NodeSource, TreeError};
use crate::log::note::NoteVerifier;

/// One commit of the mirror.
pub struct Batch {
    /// The entries, their Merkle nodes, and the largest checkpoint of the batch that
    /// verifies.
    pub group: CommitGroup,
    /// Everything in `$all` up to here has been seen once the batch is committed.
    pub seen: AllPosition,
    /// The next revision of the checkpoint stream once the batch is committed.
    pub checkpoint_events: u64,
}

/// The batch being built, over the mirror's committed state.
struct Builder<'a> {
    cfg: &'a EsdbConfig,
    log_key: Option<&'a NoteVerifier>,
    db: &'a SqliteStore,
    tip: &'a Tip,
    seen: Option<AllPosition>,
    entries: Vec<StoredEntry>,
    /// Next revision of each stream the batch has written to.
    streams: HashMap<String, u64>,
    ids: HashSet<Uuid>,
    /// The batch's checkpoint events, in `$all` order; checked once the tree is known.
    checkpoints: Vec<StoredCheckpoint>,
    checkpoint_events: u64,
}

/// Builds the commit for `events` (in `$all` order) followed by the knowledge that nothing
/// of ours lies unseen before `then`. Events at or before what the mirror has seen are
/// repeats and are skipped. `None` when the batch holds nothing new. Checkpoints are
/// mirrored only if they verify under `log_key` and match the tree (without a key, none).
pub fn build(
    cfg: &EsdbConfig,
    log_key: Option<&NoteVerifier>,
    db: &SqliteStore,
    tip: &Tip,
    events: &[SeenEvent<'_>],
    then: Option<AllPosition>,
) -> Result<Option<Batch>, StoreError> {
    let mut b = Builder {
        cfg,
        log_key,
        db,
        tip,
        seen: tip.seen(),
        entries: Vec::new(),
        streams: HashMap::new(),
        ids: HashSet::new(),
        checkpoints: Vec::new(),
        checkpoint_events: tip.checkpoint_events(),
    };
    for ev in events {
        b.push(ev)?;
    }
    if let Some(p) = then {
        b.reach(p);
    }
    match b.seen {
        Some(seen) if b.seen != tip.seen() => b.finish(seen).map(Some),
        _ => Ok(None),
    }
}

impl Builder<'_> {
    fn reach(&mut self, p: AllPosition) {
        if self.seen.is_none_or(|s| s < p) {
            self.seen = Some(p);
        }
    }

    fn push(&mut self, ev: &SeenEvent<'_>) -> Result<(), StoreError> {
        if self.seen.is_some_and(|s| s >= ev.position) {
            return Ok(());
        }
        match self.cfg.classify(ev.stream) {
            StreamKind::Ledger(stream) => self.push_entry(stream, ev)?,
            StreamKind::Checkpoints => {
                match decode_checkpoint(ev.data) {
                    Ok(cp) => self.checkpoints.push(cp),
                    Err(e) => tracing::warn!(
                        revision = ev.revision,
                        "a checkpoint event is not mirrored: {e}"
                    ),
                }
                self.checkpoint_events = self.checkpoint_events.max(ev.revision.saturating_add(1));
            }
            StreamKind::Foreign => {}
        }
        self.seen = Some(ev.position);
        Ok(())
    }

    fn push_entry(&mut self, stream: &str, ev: &SeenEvent<'_>) -> Result<(), StoreError> {
        let index = self.tip.size() + self.entries.len() as u64;
        let e = decode_entry(
            &RecordedEntry {
                ledger_stream: stream,
                revision: ev.revision,
                event_id: ev.event_id,
                data: ev.data,
            },
            index,
        )?;
        self.check_revision(&e)?;
        self.check_event_id(&e)?;
        self.streams.insert(e.stream.clone(), e.revision + 1);
        self.ids.insert(e.event_id);
        self.entries.push(e);
        Ok(())
    }

    /// The entry's revision must be its stream's next one: a gap or a repeat at a new
    /// position means `$all` does not hold together.
    fn check_revision(&self, e: &StoredEntry) -> Result<(), StoreError> {
        let follows = match self.streams.get(&e.stream) {
            Some(&next) => e.revision == next,
            None => {
                // The mirror holds exactly revision r − 1 and nothing after it.
                let from = e.revision.saturating_sub(1);
                let held = self.db.read_stream(&e.stream, from, 2)?;
                let revs: Vec<u64> = held.iter().map(|h| h.revision).collect();
                match e.revision {
                    0 => revs.is_empty(),
                    r => revs == [r - 1],
                }
            }
        };
        if follows {
            return Ok(());
        }
        Err(StoreError::Corrupt(format!(
            "stream {} jumps to revision {}, which does not follow the revisions the mirror holds",
            e.stream, e.revision
        )))
    }

    /// The mirror keys entries by event id, so an id `$all` holds twice (possible only in
    /// two different streams) cannot be kept.
    fn check_event_id(&self, e: &StoredEntry) -> Result<(), StoreError> {
        let earlier = match self.ids.contains(&e.event_id) {
            true => Some("earlier in the same batch".to_owned()),
            false => self
                .db
                .find_event(&e.event_id)?
                .map(|h| format!("at stream {} revision {}", h.stream, h.revision)),
        };
        match earlier {
            None => Ok(()),
            Some(place) => Err(StoreError::Corrupt(format!(
                "event id {} appears twice in $all: {place}, and at stream {} revision {}",
                e.event_id, e.stream, e.revision
            ))),
        }
    }

    /// The commit: the entries with their Merkle nodes, read only from the right border
    /// (the store is read only if the border is incomplete).
    fn finish(mut self, seen: AllPosition) -> Result<Batch, StoreError> {
        let leaves: Vec<Hash> = self.entries.iter().map(|e| e.leaf_hash).collect();
        let border = Border {
            tip: self.tip,
            db: self.db,
        };
        let nodes = merkle::append_nodes(&border, self.tip.size(), &leaves)
            .map_err(|e| tree_error(e, "merkle tree"))?;
        let checkpoint = self.trusted_checkpoint(&border, &nodes)?;
        Ok(Batch {
            group: CommitGroup {
                entries: self.entries,
                nodes,
                checkpoint,
                request_ends: Vec::new(),
            },
            seen,
            checkpoint_events: self.checkpoint_events,
        })
    }
}

impl Builder<'_> {
    /// The largest of the batch's checkpoints (the later one of equal sizes) that verifies
    /// under the log key and whose root is the tree's root at its size; larger ones that
    /// fail are skipped with a warning. Without a key (only `init`'s throwaway mirror, before
    /// `init` has created the key) none is kept. A tree that cannot be read fails the batch
    /// (it is fed again), rather than skipping a checkpoint that may be good.
    fn trusted_checkpoint(
        &mut self,
        border: &Border<'_>,
        nodes: &[(u8, u64, Hash)],
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        let mut candidates = std::mem::take(&mut self.checkpoints);
        if candidates.is_empty() {
            return Ok(None);
        }
        let Some(key) = self.log_key else {
            tracing::warn!(
                checkpoints = candidates.len(),
                "checkpoints in the shared checkpoint stream are not mirrored: this node \
                 trusts no log key yet"
            );
            return Ok(None);
        };
        // Stable: of equal sizes the later event ends up last, so it is tried first.
        candidates.sort_by_key(|c| c.size);
        let size = self.tip.size() + self.entries.len() as u64;
        let mut new = MemoryNodes::new();
        new.extend(nodes.iter().copied());
        let tree = Over { new: &new, border };
        for cp in candidates.into_iter().rev() {
            match refusal(key, &cp, size, &tree)? {
                None => return Ok(Some(cp)),
                Some(why) => tracing::warn!(
                    size = cp.size,
                    "a checkpoint in the shared checkpoint stream is not mirrored: {why}"
                ),
            }
        }
        Ok(None)
    }
}

/// Why a checkpoint filed under `cp.size` is not the log's, if it is not: a log of `size`
/// entries whose tree is `tree`, signed with `key`.
pub(super) fn refusal(
    key: &NoteVerifier,
    cp: &StoredCheckpoint,
    size: u64,
    tree: &impl NodeSource,
) -> Result<Option<String>, StoreError> {
    let opened = match Checkpoint::open_signed(&cp.note, key) {
        Ok(opened) => opened,
        Err(e) => return Ok(Some(format!("it does not verify under the log key: {e}"))),
    };
    if opened.size != cp.size {
        return Ok(Some(format!(
            "it is filed under size {} but its note says {}",
            cp.size, opened.size
        )));
    }
    if opened.size > size {
        return Ok(Some(format!(
            "it covers {} entries; the log holds {size}",
            opened.size
        )));
    }
    let root = merkle::root(tree, opened.size)
        .map_err(|e| tree_error(e, &format!("merkle tree at size {}", opened.size)))?;
    Ok((root != opened.root)
        .then(|| format!("its root is not the log's root at size {}", opened.size)))
}

/// A tree that could not be read: a failed read of the mirror file (which the next feed
/// may pass) is `Unavailable`, so the batch is fed again; a missing node is `Corrupt`.
fn tree_error(e: merkle::TreeError, what: &str) -> StoreError {
    match e {
        merkle::TreeError::Storage(m) => StoreError::Unavailable(format!("{what}: {m}")),
        other => StoreError::Corrupt(format!("{what}: {other}")),
    }
}

/// The batch's new nodes over the mirror's.
struct Over<'a> {
    new: &'a MemoryNodes,
    border: &'a Border<'a>,
}

impl NodeSource for Over<'_> {
    fn node(&self, level: u8, index: u64) -> Result<Hash, TreeError> {
        self.new
            .node(level, index)
            .or_else(|_| self.border.node(level, index))
    }
}

/// The right border in memory, then the committed nodes.
struct Border<'a> {
    tip: &'a Tip,
    db: &'a SqliteStore,
}

impl NodeSource for Border<'_> {
    fn node(&self, level: u8, index: u64) -> Result<Hash, TreeError> {
        self.tip
            .frontier()
            .node(level, index)
            .or_else(|_| StoreNodes(self.db as &dyn EventStore).node(level, index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_read_of_the_tree_is_fed_again_and_a_missing_node_stops_the_feed() {
        let read = tree_error(merkle::TreeError::Storage("disk I/O error".into()), "tree");
        assert!(matches!(read, StoreError::Unavailable(m) if m == "tree: disk I/O error"));
        let missing = merkle::TreeError::MissingNode { level: 1, index: 2 };
        assert!(matches!(
            tree_error(missing, "tree"),
            StoreError::Corrupt(_)
        ));
    }
}
