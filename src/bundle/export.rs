//! Writing bundles from a store: the full log (streamed, constant memory but for a cache of
//! the upper tree levels) or one case with the identity entries it depends on.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

mod case;

pub use case::{gather_case, identity_streams, scan_identity_streams, write_case, CaseBundle};

use super::FORMAT;
use crate::log::merkle::{append_nodes, Hash, MemoryNodes, NodeSource, TreeError};
use crate::log::note::NoteSigner;
use crate::log::proof::inclusion_proof;
use crate::store::{EventStore, StoreError, StoredCheckpoint, StoredEntry};

/// Entries per block read from the store; a power of two so a block is one complete subtree.
const BLOCK: u64 = 1 << BLOCK_LEVEL;
const BLOCK_LEVEL: u8 = 10;

/// Why a bundle could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// 404: the case stream has no entries (under the checkpoint).
    #[error("no entries for {0}")]
    NotFound(String),
    /// The case stream has entries, every one past the bundle's checkpoint (the latest, or
    /// the witnessed one).
    #[error(
        "{stream} has {entries} entries, all past the {} (size {checkpoint_size}): a \
         bundle holds only what a signed checkpoint covers; {}",
        if *witnessed { "witnessed checkpoint" } else { "checkpoint of the bundle" },
        if *witnessed {
            "the witnesses cosign a new checkpoint within seconds of a write while they answer"
        } else {
            "a running server signs one within about a second of a write, and at start-up \
             after a crash"
        }
    )]
    Uncovered {
        stream: String,
        entries: u64,
        checkpoint_size: u64,
        /// Whether the bundle was asked for at the witnessed checkpoint.
        witnessed: bool,
    },
    /// The log has no signed checkpoint yet (an uninitialised data directory).
    #[error("the log has no checkpoint yet")]
    NoCheckpoint,
    /// A bundle at the witnessed checkpoint was asked for, and every witness has cosigned
    /// none of the checkpoints kept (or there are no witnesses).
    #[error("no checkpoint cosigned by every witness is kept")]
    NotWitnessed,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("merkle tree: {0}")]
    Tree(#[from] TreeError),
    #[error("writing the bundle: {0}")]
    Io(#[from] std::io::Error),
}

/// The identity of the log the bundle comes from.
#[derive(Debug, Clone)]
pub struct LogIdentity {
    pub origin: String,
    /// The signed-note verifier key.
    pub log_key: String,
    /// The log key, to sign a case bundle's identity heads (see [`super::heads`]); without
    /// it a case bundle goes without them.
    pub signer: Option<NoteSigner>,
    /// Witnesses' cosignatures collected by a server (`serve --witness`): the bundle's
    /// checkpoint carries those of its checkpoint.
    pub cosignatures: Option<std::sync::Arc<crate::witness::feeder::Cosignatures>>,
    /// Prove the bundle against the newest checkpoint every witness cosigned (from
    /// `cosignatures`) instead of the latest one.
    pub witnessed: bool,
}

impl LogIdentity {
    /// The identity of the log `signer` signs, which signs identity heads too.
    pub fn of(signer: &NoteSigner) -> Self {
        Self {
            origin: signer.name().to_owned(),
            log_key: signer.verifier().to_text(),
            signer: Some(signer.clone()),
            cosignatures: None,
            witnessed: false,
        }
    }

    /// The checkpoint a bundle is proved against: the latest, or with `witnessed` the
    /// newest every witness cosigned (the cosignatures only hold checkpoints of the store's
    /// tree: the feeder's come from the store, kept ones are checked on reading). With the
    /// text the bundle carries: the note and the cosignatures collected for it, taken
    /// together with the choice.
    fn bundle_checkpoint(&self, store: &dyn EventStore) -> Result<Chosen, ExportError> {
        if self.witnessed {
            let (cp, text) = self
                .cosignatures
                .as_ref()
                .and_then(|c| c.newest_witnessed())
                .ok_or(ExportError::NotWitnessed)?;
            return Ok(Chosen { cp, text });
        }
        let cp = store
            .latest_checkpoint()?
            .ok_or(ExportError::NoCheckpoint)?;
        let text = match &self.cosignatures {
            Some(c) => c.attach(&cp.note),
            None => cp.note.clone(),
        };
        Ok(Chosen { cp, text })
    }
}

/// A bundle's checkpoint, and its text as the bundle carries it (with cosignatures).
#[derive(Debug, Clone)]
pub(crate) struct Chosen {
    cp: StoredCheckpoint,
    text: String,
}

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportSummary {
    pub entries: u64,
    pub checkpoint_size: u64,
    /// Entries the bundle would hold (of the log, or of the case) that the store already
    /// has past the checkpoint: a bundle holds only what a signed checkpoint covers.
    pub after_checkpoint: u64,
    /// Witnesses' cosignatures on the bundle's checkpoint.
    pub cosignatures: usize,
}

/// Tree nodes for proofs: the current block's low levels computed from its stored leaf
/// hashes, the upper levels read from the store once and cached. Sequential export thus
/// costs about one node read per thousand entries instead of ~log n per entry.
struct ExportNodes<'a> {
    store: &'a dyn EventStore,
    block: MemoryNodes,
    upper: RefCell<HashMap<(u8, u64), Hash>>,
}

impl<'a> ExportNodes<'a> {
    fn new(store: &'a dyn EventStore) -> Self {
        Self {
            store,
            block: MemoryNodes::new(),
            upper: RefCell::default(),
        }
    }

    /// Loads the low levels of the block starting at `start` (aligned to `BLOCK`) from its
    /// stored leaf hashes, if they agree with the committed tree's node over the block.
    /// Otherwise (a partial last block, or a leaf-hash column edited after the fact) every
    /// node comes from the committed tree, so proofs never vouch for edited leaf hashes.
    fn load_block(&mut self, start: u64, leaves: &[Hash]) -> Result<(), TreeError> {
        self.block = MemoryNodes::new();
        if leaves.len() as u64 != BLOCK {
            return Ok(());
        }
        let mut block = MemoryNodes::new();
        for (level, index, hash) in append_nodes(&MemoryNodes::new(), 0, leaves)? {
            block.insert(level, index + (start >> level), hash);
        }
        let top = (BLOCK_LEVEL, start >> BLOCK_LEVEL);
        if block.node(top.0, top.1)? == self.node(top.0, top.1)? {
            self.block = block;
        } else {
            tracing::warn!(
                start,
                "stored leaf hashes disagree with the tree; reading nodes"
            );
        }
        Ok(())
    }
}

impl NodeSource for ExportNodes<'_> {
    fn node(&self, level: u8, index: u64) -> Result<Hash, TreeError> {
        if let Ok(h) = self.block.node(level, index) {
            return Ok(h);
        }
        if let Some(h) = self.upper.borrow().get(&(level, index)) {
            return Ok(*h);
        }
        let h = self
            .store
            .node(level, index)?
            .ok_or(TreeError::MissingNode { level, index })?;
        if level >= BLOCK_LEVEL {
            self.upper.borrow_mut().insert((level, index), h);
        }
        Ok(h)
    }
}

fn json_str(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// Writes a bundle's members up to its entries; returns how many cosignatures its
/// checkpoint carries.
fn write_header(
    out: &mut dyn Write,
    id: &LogIdentity,
    chosen: &Chosen,
    identity_heads: Option<&str>,
) -> std::io::Result<usize> {
    let checkpoint = &chosen.text;
    write!(
        out,
        "{{\"format\":{},\"origin\":{},\"log_key\":{},\"checkpoint\":{},",
        json_str(FORMAT),
        json_str(&id.origin),
        json_str(&id.log_key),
        json_str(checkpoint)
    )?;
    if let Some(h) = identity_heads {
        write!(out, "\"identity_heads\":{},", json_str(h))?;
    }
    out.write_all(b"\"entries\":[")?;
    Ok(checkpoint[chosen.cp.note.len()..].lines().count())
}

/// Writes one entry. Stored bytes that are not UTF-8 (a damaged or edited store) cannot be
/// carried exactly in a JSON string; they are written lossily so that the verifier, which
/// re-hashes the bytes, names that entry instead of the export silently skipping it.
fn write_entry(
    out: &mut dyn Write,
    first: bool,
    e: &StoredEntry,
    proof: &[Hash],
) -> std::io::Result<()> {
    let text = String::from_utf8_lossy(&e.bytes);
    if matches!(text, std::borrow::Cow::Owned(_)) {
        tracing::warn!(
            index = e.index,
            "entry bytes are not UTF-8; exported lossily"
        );
    }
    let hashes: Vec<String> = proof.iter().map(|h| json_str(&B64.encode(h))).collect();
    write!(
        out,
        "{}\n{{\"index\":{},\"entry\":{},\"proof\":[{}]}}",
        if first { "" } else { "," },
        e.index,
        json_str(&text),
        hashes.join(",")
    )
}

/// Writes a full-log bundle: every entry from 0 to the latest checkpoint's size.
/// `progress` is called with the number of entries written so far and the total.
pub fn write_full(
    store: &dyn EventStore,
    id: &LogIdentity,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ExportSummary, ExportError> {
    let chosen = id.bundle_checkpoint(store)?;
    let cosignatures = write_header(out, id, &chosen, None)?;
    let cp = chosen.cp;
    let mut nodes = ExportNodes::new(store);
    let mut next = 0u64;
    while next < cp.size {
        let want = BLOCK.min(cp.size - next) as usize;
        let block = store.read_all(next, want)?;
        if block.len() != want || block.iter().zip(next..).any(|(e, i)| e.index != i) {
            return Err(StoreError::Corrupt(format!(
                "entries from index {next} are missing below the checkpoint size {}",
                cp.size
            ))
            .into());
        }
        let leaves: Vec<Hash> = block.iter().map(|e| e.leaf_hash).collect();
        nodes.load_block(next, &leaves)?;
        for e in &block {
            let proof = inclusion_proof(&nodes, e.index, cp.size)?;
            write_entry(out, e.index == 0, e, &proof)?;
        }
        next += want as u64;
        progress(next, cp.size);
    }
    out.write_all(b"\n]}\n")?;
    out.flush()?;
    Ok(ExportSummary {
        entries: cp.size,
        checkpoint_size: cp.size,
        after_checkpoint: store.size()?.saturating_sub(cp.size),
        cosignatures,
    })
}

#[cfg(test)]
mod tests {
    use super::ExportError;

    /// The refusal names the checkpoint the bundle was asked at, and what would cover the
    /// case: witnesses are mentioned only when the bundle is to be witnessed.
    #[test]
    fn an_uncovered_case_is_explained_for_the_checkpoint_asked_for() {
        let uncovered = |witnessed| {
            ExportError::Uncovered {
                stream: "case-1".into(),
                entries: 2,
                checkpoint_size: 7,
                witnessed,
            }
            .to_string()
        };
        let latest = uncovered(false);
        assert!(
            latest.starts_with(
                "case-1 has 2 entries, all past the checkpoint of the bundle (size 7)"
            ),
            "{latest}"
        );
        assert!(
            latest.contains("signs one within about a second") && !latest.contains("witness"),
            "{latest}"
        );
        let witnessed = uncovered(true);
        assert!(
            witnessed.contains("all past the witnessed checkpoint (size 7)"),
            "{witnessed}"
        );
        assert!(witnessed.contains("the witnesses cosign"), "{witnessed}");
    }
}
