//! A node's local view of the caseledger part of EventStoreDB's `$all`: entries in the
//! filtered `$all` order (the global index is the position in that order), the Merkle nodes
//! rebuilt from them (EventStoreDB does not hold them), per-stream and per-event indexes,
//! and the checkpoint stream. Pure and in memory; the backend feeds it from a subscription.

use std::collections::HashMap;

use uuid::Uuid;

use super::esdb_mapping::StreamKind;
use super::esdb_mapping::{
    decode_checkpoint, decode_entry, AllPosition, EsdbConfig, RecordedEntry,
};
use super::{StoreError, StoredCheckpoint, StoredEntry};
use crate::log::merkle::{Hash, MemoryNodes, NodeSource};

/// One event seen on `$all`, as the mirror needs it.
pub struct SeenEvent<'a> {
    pub position: AllPosition,
    pub stream: &'a str,
    pub revision: u64,
    pub event_id: Uuid,
    pub data: &'a [u8],
}

/// The mirror itself.
#[derive(Default)]
pub struct Mirror {
    entries: Vec<StoredEntry>,
    streams: HashMap<String, Vec<u64>>,
    events: HashMap<Uuid, u64>,
    nodes: MemoryNodes,
    checkpoints: Vec<StoredCheckpoint>,
    /// Everything in `$all` up to here has been seen (events or filter checkpoints).
    seen: Option<AllPosition>,
}

impl Mirror {
    /// Number of entries (the next global index).
    pub fn size(&self) -> u64 {
        self.entries.len() as u64
    }

    /// How far `$all` has been seen.
    pub fn seen(&self) -> Option<AllPosition> {
        self.seen
    }

    /// Whether everything up to `p` has been seen.
    pub fn has_seen(&self, p: AllPosition) -> bool {
        self.seen.is_some_and(|s| s >= p)
    }

    /// Records that nothing of ours lies before `p` unseen (a filtered subscription's
    /// checkpoint, or the end of a scan).
    pub fn advance(&mut self, p: AllPosition) {
        if !self.has_seen(p) {
            self.seen = Some(p);
        }
    }

    /// Folds one event. Events at or before the seen position are repeats (two feeders,
    /// or a resubscription) and are ignored, so feeding is idempotent.
    pub fn ingest(&mut self, cfg: &EsdbConfig, ev: &SeenEvent<'_>) -> Result<(), StoreError> {
        if self.has_seen(ev.position) {
            return Ok(());
        }
        match cfg.classify(ev.stream) {
            StreamKind::Ledger(stream) => {
                let index = self.size();
                let e = decode_entry(
                    &RecordedEntry {
                        ledger_stream: stream,
                        revision: ev.revision,
                        event_id: ev.event_id,
                        data: ev.data,
                    },
                    index,
                )?;
                self.push_entry(e)?;
            }
            StreamKind::Checkpoints => self.checkpoints.push(decode_checkpoint(ev.data)?),
            StreamKind::Foreign => {}
        }
        self.seen = Some(ev.position);
        Ok(())
    }

    fn push_entry(&mut self, e: StoredEntry) -> Result<(), StoreError> {
        let revs = self.streams.entry(e.stream.clone()).or_default();
        if e.revision != revs.len() as u64 {
            return Err(StoreError::Corrupt(format!(
                "stream {} jumps to revision {} after {} entries",
                e.stream,
                e.revision,
                revs.len()
            )));
        }
        revs.push(e.index);
        self.nodes
            .append(e.index, &[e.leaf_hash])
            .map_err(|err| StoreError::Corrupt(format!("merkle tree: {err}")))?;
        self.events.insert(e.event_id, e.index);
        self.entries.push(e);
        Ok(())
    }

    /// Entries in global order from `from`, at most `limit`.
    pub fn read_all(&self, from: u64, limit: usize) -> Vec<StoredEntry> {
        let start = (from as usize).min(self.entries.len());
        let end = start.saturating_add(limit).min(self.entries.len());
        self.entries[start..end].to_vec()
    }

    /// Entries of one stream from `from`, at most `limit`.
    pub fn read_stream(&self, stream: &str, from: u64, limit: usize) -> Vec<StoredEntry> {
        let Some(idx) = self.streams.get(stream) else {
            return Vec::new();
        };
        idx.iter()
            .skip(from as usize)
            .take(limit)
            .map(|&i| self.entries[i as usize].clone())
            .collect()
    }

    /// The next revision of a stream.
    pub fn next_revision(&self, stream: &str) -> u64 {
        self.streams.get(stream).map_or(0, |r| r.len() as u64)
    }

    /// The entry with this event id.
    pub fn find_event(&self, id: &Uuid) -> Option<StoredEntry> {
        self.events
            .get(id)
            .map(|&i| self.entries[i as usize].clone())
    }

    /// A complete Merkle node.
    pub fn node(&self, level: u8, index: u64) -> Option<Hash> {
        self.nodes.node(level, index).ok()
    }

    /// Checkpoints, oldest first.
    pub fn checkpoints(&self) -> &[StoredCheckpoint] {
        &self.checkpoints
    }

    /// The checkpoint covering the most entries (the stream only grows, but a late loser
    /// could never make it shrink either way).
    pub fn latest_checkpoint(&self) -> Option<&StoredCheckpoint> {
        self.checkpoints.iter().max_by_key(|c| c.size)
    }
}

#[cfg(test)]
#[path = "esdb_mirror_tests.rs"]
mod tests;
