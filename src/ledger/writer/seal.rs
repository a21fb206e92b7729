//! Sealing a group: the Merkle nodes its entries add and the signed checkpoint that covers
//! them, computed over the committed nodes plus the group's own; and when to sign one.

use std::time::{Duration, Instant};

use super::{WriteError, Writer};
use crate::log::checkpoint::Checkpoint;
use crate::log::merkle::{self, Hash, MemoryNodes, NodeSource, TreeError};
use crate::log::note::NoteSigner;
use crate::store::{CommitGroup, EventStore, StoreError, StoreNodes, StoredCheckpoint};

/// The tree's right border: the complete subtrees of the log size's binary decomposition.
/// Appending reads only these nodes (left siblings) and the root is folded from them, so
/// keeping them in memory means sealing a group reads nothing from the store. Complete
/// nodes never change, so a border left behind by entries appended elsewhere (another node
/// of a shared store) is still correct, merely incomplete: missing nodes are read through.
#[derive(Debug, Default)]
pub struct Frontier {
    nodes: MemoryNodes,
}

/// The (level, index) of each complete subtree in the binary decomposition of `size`.
fn border(size: u64) -> impl Iterator<Item = (u8, u64)> {
    let mut start = 0u64;
    (0..64u8)
        .rev()
        .filter(move |level| size >> level & 1 == 1)
        .map(move |level| {
            let index = start >> level;
            start += 1 << level;
            (level, index)
        })
}

impl Frontier {
    /// Reads the border of a log of `size` entries from the store (O(log n) reads).
    pub fn load(store: &dyn EventStore, size: u64) -> Self {
        let mut f = Self::default();
        for (level, index) in border(size) {
            if let Ok(Some(h)) = store.node(level, index) {
                f.nodes.insert(level, index, h);
            }
        }
        f
    }

    /// Moves the border to `size` once a group adding `added` nodes is committed.
    pub fn advance(&mut self, size: u64, added: &[(u8, u64, Hash)]) {
        let mut all = std::mem::take(&mut self.nodes);
        all.extend(added.iter().copied());
        for (level, index) in border(size) {
            if let Ok(h) = all.node(level, index) {
                self.nodes.insert(level, index, h);
            }
        }
    }
}

/// When the writer signs a checkpoint (DESIGN §3): after every committed group, except
/// that under load (more requests already queued behind the group) it signs at most once
/// per `interval`. The group that leaves the queue empty is always signed, so whenever the
/// writer goes idle the latest checkpoint covers the whole log; under load it lags by at
/// most `interval` plus one group.
#[derive(Debug)]
pub struct CheckpointPacer {
    last: Option<Instant>,
    interval: Duration,
}

impl Default for CheckpointPacer {
    fn default() -> Self {
        Self::new(Duration::from_secs(1))
    }
}

impl CheckpointPacer {
    /// A pacer that signs at most once per `interval` under load.
    pub fn new(interval: Duration) -> Self {
        Self {
            last: None,
            interval,
        }
    }

    /// Whether the group being sealed at `now` gets a checkpoint.
    pub fn due(&self, under_load: bool, now: Instant) -> bool {
        !under_load
            || self
                .last
                .is_none_or(|t| now.duration_since(t) >= self.interval)
    }

    /// Records a checkpoint signed at `now` and committed.
    pub fn signed(&mut self, now: Instant) {
        self.last = Some(now);
    }
}

/// The border's own nodes (and nothing else): enough for `merkle::append_nodes` and
/// `merkle::root` at the border's size, which read only these.
impl NodeSource for Frontier {
    fn node(&self, level: u8, index: u64) -> Result<Hash, TreeError> {
        self.nodes.node(level, index)
    }
}

/// A group's new nodes, over the border, over the committed tree.
struct Overlay<'a> {
    new: MemoryNodes,
    border: &'a MemoryNodes,
    base: StoreNodes<'a>,
}

impl NodeSource for Overlay<'_> {
    fn node(&self, level: u8, index: u64) -> Result<Hash, TreeError> {
        self.new
            .node(level, index)
            .or_else(|_| self.border.node(level, index))
            .or_else(|_| self.base.node(level, index))
    }
}

impl Writer {
    /// Adds the group's Merkle nodes and, if the pacer says it is due, a signed checkpoint
    /// for the new size.
    pub(super) fn seal(&self, group: &mut CommitGroup, size_before: u64) -> Result<(), WriteError> {
        let sign = self.pacer.due(self.under_load, Instant::now());
        seal(
            self.store.as_ref(),
            &self.frontier,
            &self.signer,
            &self.origin,
            group,
            size_before,
            sign,
        )
    }
}

/// Adds to `group` (appended to a log of `size_before` entries) its new Merkle nodes and,
/// with `sign`, a checkpoint for the new size signed with `signer`. The writer's own sealing
/// step, public so `bench-log` can measure exactly what the tree and checkpoints cost.
pub fn seal(
    store: &dyn EventStore,
    frontier: &Frontier,
    signer: &NoteSigner,
    origin: &str,
    group: &mut CommitGroup,
    size_before: u64,
    sign: bool,
) -> Result<(), WriteError> {
    let leaves: Vec<Hash> = group.entries.iter().map(|e| e.leaf_hash).collect();
    let tree_err =
        |e: TreeError| WriteError::Store(StoreError::Corrupt(format!("merkle tree: {e}")));
    let mut overlay = Overlay {
        new: MemoryNodes::default(),
        border: &frontier.nodes,
        base: StoreNodes(store),
    };
    let nodes = merkle::append_nodes(&overlay, size_before, &leaves).map_err(tree_err)?;
    if sign {
        overlay.new.extend(nodes.iter().copied());
        let size = size_before + leaves.len() as u64;
        group.checkpoint = Some(sign_checkpoint(&overlay, signer, origin, size)?);
    }
    group.nodes = nodes;
    Ok(())
}

/// A checkpoint for the first `size` leaves of the tree `src` holds, signed with `signer`.
fn sign_checkpoint(
    src: &impl NodeSource,
    signer: &NoteSigner,
    origin: &str,
    size: u64,
) -> Result<StoredCheckpoint, StoreError> {
    let root =
        merkle::root(src, size).map_err(|e| StoreError::Corrupt(format!("merkle tree: {e}")))?;
    let note = Checkpoint {
        origin: origin.to_owned(),
        size,
        root,
    }
    .sign(signer)
    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(StoredCheckpoint { size, note })
}

/// Signs and commits a checkpoint for the whole log of `size` committed entries if the
/// latest one covers less: a crash under load can stop the writer between two paced
/// checkpoints, and a log must never be left without a head that commits to all of it.
/// `root` is the root the caller recomputed from the entries' bytes; the stored tree must
/// agree with it, so a checkpoint is never signed over nodes nobody re-hashed.
pub fn cover_log(
    store: &dyn EventStore,
    frontier: &Frontier,
    signer: &NoteSigner,
    size: u64,
    root: &Hash,
) -> Result<(), StoreError> {
    // Also when nothing is to be signed: the next group's checkpoint is computed over these
    // nodes, and a damaged one would have the writer sign a head inconsistent with the last.
    stored_tree_matches(store, frontier, size, root)?;
    let covered = store.latest_checkpoint()?.map_or(0, |c| c.size);
    if size == 0 || covered >= size {
        return Ok(());
    }
    tracing::info!(
        size,
        covered,
        "signing a checkpoint for entries committed without one"
    );
    sign_tail(store, frontier, signer, size, Some(root))
}

/// The stored tree (O(log n) node reads) has `expected` as the root of its first `size`
/// leaves: the root recomputed from the entries' bytes.
pub fn stored_tree_matches(
    store: &dyn EventStore,
    frontier: &Frontier,
    size: u64,
    expected: &Hash,
) -> Result<(), StoreError> {
    if size == 0 {
        return Ok(());
    }
    let overlay = Overlay {
        new: MemoryNodes::default(),
        border: &frontier.nodes,
        base: StoreNodes(store),
    };
    let tree = merkle::root(&overlay, size)
        .map_err(|e| StoreError::Corrupt(format!("merkle tree: {e}")))?;
    if &tree != expected {
        return Err(StoreError::Corrupt(format!(
            "the stored Merkle nodes do not hash to the root of the {size} stored entries"
        )));
    }
    Ok(())
}

/// Signs a checkpoint for the first `size` entries over the committed tree (checked against
/// `expected` if given) and commits it on its own.
pub(super) fn sign_tail(
    store: &dyn EventStore,
    frontier: &Frontier,
    signer: &NoteSigner,
    size: u64,
    expected: Option<&Hash>,
) -> Result<(), StoreError> {
    let overlay = Overlay {
        new: MemoryNodes::default(),
        border: &frontier.nodes,
        base: StoreNodes(store),
    };
    let checkpoint = sign_checkpoint(&overlay, signer, signer.name(), size)?;
    if let Some(expected) = expected {
        stored_tree_matches(store, frontier, size, expected)?;
    }
    store.commit(CommitGroup {
        checkpoint: Some(checkpoint),
        ..CommitGroup::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::merkle::RootBuilder;
    use crate::store::sqlite::SqliteStore;
    use crate::store::StoredEntry;

    fn group(from: u64, n: u64) -> CommitGroup {
        let entries = (from..from + n)
            .map(|i| StoredEntry {
                index: i,
                stream: "agency-a".into(),
                revision: i,
                event_id: uuid::Uuid::new_v4(),
                recorded_at: String::new(),
                leaf_hash: merkle::leaf_hash(&i.to_be_bytes()),
                bytes: Vec::new(),
            })
            .collect();
        CommitGroup {
            entries,
            ..CommitGroup::default()
        }
    }

    #[test]
    fn border_is_the_binary_decomposition_of_the_size() {
        assert_eq!(border(0).count(), 0);
        assert_eq!(border(1).collect::<Vec<_>>(), vec![(0, 0)]);
        assert_eq!(border(6).collect::<Vec<_>>(), vec![(2, 0), (1, 2)]);
        assert_eq!(border(7).collect::<Vec<_>>(), vec![(2, 0), (1, 2), (0, 6)]);
    }

    #[test]
    fn with_the_border_in_memory_sealing_reads_no_node_from_the_store() {
        // The store holds no nodes at all: any read through to it would fail the seal.
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("t.db")).expect("store");
        let signer = NoteSigner::generate("test.local/seal").expect("signer");
        let verifier = signer.verifier();
        let mut frontier = Frontier::default();
        let mut reference = RootBuilder::new();
        let mut size = 0;
        for n in [1, 2, 3, 1, 7, 16, 5, 1, 1, 33] {
            let mut g = group(size, n);
            let sign = n != 7;
            seal(
                &store,
                &frontier,
                &signer,
                "test.local/seal",
                &mut g,
                size,
                sign,
            )
            .expect("seal");
            for e in &g.entries {
                reference.push(e.leaf_hash);
            }
            size += n;
            frontier.advance(size, &g.nodes);
            let Some(cp) = g.checkpoint else {
                assert!(!sign, "a checkpoint was asked for");
                continue;
            };
            let note = cp.note;
            let cp = Checkpoint::open_signed(&note, &verifier).expect("opens");
            assert_eq!((cp.size, cp.root), (size, reference.root()));
        }
    }

    #[test]
    fn under_load_checkpoints_are_paced_and_an_idle_writer_always_signs() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut pacer = CheckpointPacer::new(Duration::from_secs(1));
        assert!(pacer.due(true, t0), "the first group under load is signed");
        pacer.signed(t0);
        assert!(
            !pacer.due(true, ms(10)),
            "a group under load within the second is not"
        );
        assert!(!pacer.due(true, ms(999)));
        assert!(
            pacer.due(false, ms(10)),
            "the group that empties the queue is"
        );
        assert!(
            pacer.due(true, ms(1000)),
            "under load, once the second has passed"
        );
        pacer.signed(ms(1000));
        assert!(!pacer.due(true, ms(1500)));
    }
}
