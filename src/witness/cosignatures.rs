//! The cosignatures a server's feeder collects, kept for its recent checkpoints: what
//! `GET /v1/log/checkpoint`, `/v1/log/checkpoint/witnessed` and API exports append.

use std::collections::BTreeMap;
use std::sync::RwLock;

use crate::store::StoredCheckpoint;

/// How many recent checkpoints keep their cosignatures: a witness's line for one that another
/// witness has passed already still counts for it.
pub(super) const KEPT: usize = 16;

/// The cosignatures collected for the recent checkpoints the witnesses were given.
#[derive(Debug, Default)]
pub struct Cosignatures {
    /// How many witnesses the server submits to.
    witnesses: usize,
    /// Recent checkpoints, oldest first, with each witness's line for them, by witness.
    recent: RwLock<Vec<Collected>>,
}

#[derive(Debug)]
struct Collected {
    size: u64,
    note: String,
    lines: BTreeMap<usize, String>,
}

impl Collected {
    fn cosigned(&self) -> String {
        let lines: String = self.lines.values().map(String::as_str).collect();
        format!("{}{lines}", self.note)
    }
}

impl Cosignatures {
    /// Collects the cosignatures of `witnesses` witnesses.
    pub fn new(witnesses: usize) -> Self {
        Self {
            witnesses,
            recent: RwLock::default(),
        }
    }

    /// `note` with the cosignature lines collected for it appended (each verified against
    /// its witness's pinned key when it came), or `note` alone.
    pub fn attach(&self, note: &str) -> String {
        let recent = self.recent.read().unwrap_or_else(|p| p.into_inner());
        match recent.iter().find(|c| c.note == note) {
            Some(c) => c.cosigned(),
            None => note.to_owned(),
        }
    }

    /// The newest checkpoint that every witness has cosigned, with their cosignatures (none
    /// without witnesses, or before they all cosigned one).
    pub fn witnessed(&self) -> Option<String> {
        let recent = self.recent.read().unwrap_or_else(|p| p.into_inner());
        recent
            .iter()
            .rev()
            .find(|c| self.witnesses > 0 && c.lines.len() == self.witnesses)
            .map(Collected::cosigned)
    }

    /// Witness `which`'s line for checkpoint `cp`, kept beside the others' for it; the
    /// [`KEPT`] newest checkpoints are kept, a line for an older one is dropped.
    pub(super) fn publish(&self, cp: &StoredCheckpoint, which: usize, line: String) {
        let mut recent = self.recent.write().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = recent.iter_mut().find(|c| c.note == cp.note) {
            c.lines.insert(which, line);
            return;
        }
        let at = recent.partition_point(|c| c.size < cp.size);
        if recent.len() >= KEPT && at == 0 {
            return;
        }
        let collected = Collected {
            size: cp.size,
            note: cp.note.clone(),
            lines: BTreeMap::from([(which, line)]),
        };
        recent.insert(at, collected);
        if recent.len() > KEPT {
            recent.remove(0);
        }
    }
}
