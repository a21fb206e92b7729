//! The cosignatures a server's feeder collects, kept for its recent checkpoints: what
//! `GET /v1/log/checkpoint`, `/v1/log/checkpoint/witnessed` and exports append. A server
//! also keeps them in a file of its own ([`super::kept`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::RwLock;

use super::kept::{Kept, Row};
use crate::log::cosignature::{cosignatures, WitnessKey};
use crate::log::merkle::{self, Hash};
use crate::log::{Checkpoint, NoteVerifier};
use crate::store::{EventStore, StoreNodes, StoredCheckpoint};

/// How many recent checkpoints keep their cosignatures: a witness's line for one that another
/// witness has passed already still counts for it.
pub(super) const KEPT: usize = 16;

/// What kept cosignatures are checked against: the log key, and the store whose tree the
/// checkpoints must be of.
#[derive(Clone, Copy)]
pub struct Log<'a> {
    pub key: &'a NoteVerifier,
    pub store: &'a dyn EventStore,
}

impl Log<'_> {
    /// Whether the store's tree of `size` leaves has `root` (false when it is smaller, or
    /// cannot be read).
    fn holds(&self, size: u64, root: &Hash) -> bool {
        self.store.size().is_ok_and(|n| size <= n)
            && merkle::root(&StoreNodes(self.store), size).is_ok_and(|r| r == *root)
    }
}

/// The cosignatures collected for the recent checkpoints the witnesses were given.
#[derive(Default)]
pub struct Cosignatures {
    /// How many witnesses the server submits to.
    witnesses: usize,
    /// Recent checkpoints, oldest first, with each witness's line for them, by witness.
    recent: RwLock<Vec<Collected>>,
    /// The file they are also kept in, and the witnesses' key texts by position.
    kept: Option<(Kept, Vec<String>)>,
}

impl std::fmt::Debug for Cosignatures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cosignatures")
            .field("witnesses", &self.witnesses)
            .field("kept", &self.kept.as_ref().map(|(_, keys)| keys))
            .finish_non_exhaustive()
    }
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
    /// Collects the cosignatures of `witnesses` witnesses, in memory only.
    pub fn new(witnesses: usize) -> Self {
        Self {
            witnesses,
            recent: RwLock::default(),
            kept: None,
        }
    }

    /// Collects the cosignatures of the witnesses of `keys` (in the feeder's order) and
    /// keeps them in the file at `path` (created if need be), starting from the lines it
    /// holds for these witnesses that check against `log` (see [`Self::load`]). Lines of
    /// other witnesses (or other keys) are dropped.
    pub fn kept(path: &Path, keys: &[WitnessKey], log: Log<'_>) -> rusqlite::Result<Self> {
        let texts: Vec<String> = keys.iter().map(WitnessKey::to_text).collect();
        let file = Kept::open(path)?;
        file.set_witnesses(&texts)?;
        let rows = file.rows()?;
        let this = Self {
            witnesses: keys.len(),
            recent: RwLock::default(),
            kept: Some((file, texts)),
        };
        this.load(rows, keys, log);
        Ok(this)
    }

    /// The cosignatures a server kept in the file at `path`, for the witnesses it was last
    /// started with (their keys as the file records them), checked as [`Self::kept`] checks
    /// them; `None` without a file.
    pub fn read(path: &Path, log: Log<'_>) -> Result<Option<Self>, String> {
        let failed = |e: rusqlite::Error| format!("{}: {e}", path.display());
        let Some(file) = Kept::read_only(path).map_err(failed)? else {
            return Ok(None);
        };
        let keys = file
            .witnesses()
            .map_err(failed)?
            .iter()
            .map(|t| {
                WitnessKey::parse(t)
                    .map_err(|e| format!("{}: witness key {t:?}: {e}", path.display()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let rows = file.rows().map_err(failed)?;
        let this = Self::new(keys.len());
        this.load(rows, &keys, log);
        Ok(Some(this))
    }

    /// Takes in the kept `rows` that check, without writing them back: the note is a
    /// checkpoint the log key signed of a tree the store holds (the same root at that size:
    /// not one of a restored older copy, nor of another log with the same key), and the line
    /// is one line, its witness's, verifying under its key.
    fn load(&self, rows: Vec<Row>, keys: &[WitnessKey], log: Log<'_>) {
        for row in rows {
            let Some(which) = keys.iter().position(|k| k.to_text() == row.witness) else {
                continue;
            };
            let key = &keys[which];
            let in_store = Checkpoint::open_signed(&row.note, log.key)
                .is_ok_and(|c| c.size == row.size && log.holds(c.size, &c.root));
            let one_line = row.line.ends_with('\n')
                && row.line.matches('\n').count() == 1
                && row.line.starts_with(&format!("— {} ", key.name()));
            let cosigned = format!("{}{}", row.note, row.line);
            let verified = one_line
                && cosignatures(&cosigned, std::slice::from_ref(key))
                    .is_ok_and(|found| found.len() == 1);
            if !(in_store && verified) {
                tracing::warn!(
                    size = row.size,
                    witness = %key.name(),
                    "a kept cosignature is not of this log's tree or does not verify: left out"
                );
                continue;
            }
            let cp = StoredCheckpoint {
                size: row.size,
                note: row.note,
            };
            self.insert(&cp, which, row.line);
        }
    }

    /// How many witnesses the cosignatures are collected from.
    pub fn witnesses(&self) -> usize {
        self.witnesses
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
        self.newest_witnessed().map(|(_, cosigned)| cosigned)
    }

    /// The checkpoint [`Self::witnessed`] returns: as the store keeps it, and with the
    /// cosignatures (taken together, so a newer one pushing it out in between cannot leave
    /// it without them).
    pub fn newest_witnessed(&self) -> Option<(StoredCheckpoint, String)> {
        let recent = self.recent.read().unwrap_or_else(|p| p.into_inner());
        let c = recent.iter().rev().find(|c| self.complete(c))?;
        let cp = StoredCheckpoint {
            size: c.size,
            note: c.note.clone(),
        };
        Some((cp, c.cosigned()))
    }

    /// Witness `which`'s line for checkpoint `cp`, kept beside the others' for it (and in
    /// the file, if there is one); the [`KEPT`] newest checkpoints are kept, and the newest
    /// one every witness cosigned; a line for one older than all of them is dropped.
    pub(super) fn publish(&self, cp: &StoredCheckpoint, which: usize, line: String) {
        if let Some((file, keys)) = &self.kept {
            let row = Row {
                size: cp.size,
                note: cp.note.clone(),
                witness: keys[which].clone(),
                line: line.clone(),
            };
            if let Err(e) = file.record(&row, KEPT) {
                tracing::warn!(error = %e, size = cp.size, "keeping a cosignature in its file (--cosignatures)");
            }
        }
        self.insert(cp, which, line);
    }

    fn insert(&self, cp: &StoredCheckpoint, which: usize, line: String) {
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
        // The oldest goes, but never the newest checkpoint every witness cosigned: with one
        // witness down, checkpoints only the others cosigned would push it out, and nothing
        // witnessed would be left to serve or export. Kept beside the KEPT newest, as the
        // file keeps it.
        let held = usize::from(recent.iter().rposition(|c| self.complete(c)) == Some(0));
        if recent.len() > KEPT + held {
            recent.remove(held);
        }
    }

    fn complete(&self, c: &Collected) -> bool {
        self.witnesses > 0 && c.lines.len() == self.witnesses
    }
}
