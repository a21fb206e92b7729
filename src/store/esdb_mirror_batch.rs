//! Turning a batch of events seen on `$all` into one mirror commit: each event checked
//! (stream, revision, event id) against the mirror and the batch before it, the new Merkle
//! nodes computed over the tree's right border, and the `$all` position the batch reaches.
//! Nothing here writes: a batch with one bad event is refused whole. A checkpoint event
//! that does not verify is not a bad event: it is skipped (with a warning), so that whoever
//! can append to the checkpoint stream cannot stop the mirror.

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
/// repeats and are skipped. `None` when the batch holds nothing new.
pub fn build(
    cfg: &EsdbConfig,
    db: &SqliteStore,
    tip: &Tip,
    events: &[SeenEvent<'_>],
    then: Option<AllPosition>,
) -> Result<Option<Batch>, StoreError> {
    let mut b = Builder {
        cfg,
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
                self.checkpoints.push(decode_checkpoint(ev.data)?);
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
            .map_err(|e| StoreError::Corrupt(format!("merkle tree: {e}")))?;
        let checkpoint = self.trusted_checkpoint(&border, &nodes);
        Ok(Batch {
            group: CommitGroup {
                entries: self.entries,
                nodes,
                checkpoint,
            },
            seen,
            checkpoint_events: self.checkpoint_events,
        })
    }
}

impl Builder<'_> {
    /// The largest of the batch's checkpoints (the later one of equal sizes) that verifies
    /// under the log key and whose root is the tree's root at its size; the others are
    /// skipped with a warning. Without a log key (while `init` runs), the largest.
    fn trusted_checkpoint(
        &mut self,
        border: &Border<'_>,
        nodes: &[(u8, u64, Hash)],
    ) -> Option<StoredCheckpoint> {
        let mut candidates = std::mem::take(&mut self.checkpoints);
        // Stable: of equal sizes, the later event stays behind the earlier, then reversed.
        candidates.sort_by_key(|c| c.size);
        let Some(key) = &self.cfg.log_key else {
            return candidates.pop();
        };
        let size = self.tip.size() + self.entries.len() as u64;
        let mut tree = MemoryNodes::new();
        tree.extend(nodes.iter().copied());
        let tree = Over { new: &tree, border };
        candidates.into_iter().rev().find(|cp| {
            let checked = Checkpoint::open_signed(&cp.note, key)
                .map_err(|e| format!("it does not verify under the log key: {e}"))
                .and_then(|opened| matches_tree(&opened, cp.size, size, &tree));
            if let Err(why) = &checked {
                tracing::warn!(
                    size = cp.size,
                    "a checkpoint in the shared checkpoint stream is not mirrored: {why}"
                );
            }
            checked.is_ok()
        })
    }
}

/// Whether a verified checkpoint, stored as of `stored_size` entries, is the tree's state
/// at its size; the tree holds `size` entries.
fn matches_tree(
    opened: &Checkpoint,
    stored_size: u64,
    size: u64,
    tree: &impl NodeSource,
) -> Result<(), String> {
    if opened.size != stored_size {
        return Err(format!(
            "it is filed under size {stored_size} but its note says {}",
            opened.size
        ));
    }
    if opened.size > size {
        return Err(format!(
            "it covers {} entries; the log holds {size}",
            opened.size
        ));
    }
    match merkle::root(tree, opened.size) {
        Ok(root) if root == opened.root => Ok(()),
        Ok(_) => Err(format!(
            "its root is not the log's root at size {}",
            opened.size
        )),
        Err(e) => Err(format!("the tree at size {}: {e}", opened.size)),
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
