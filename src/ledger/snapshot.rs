//! Projection snapshots (DESIGN §5): the folded [`LedgerState`] written to a file in the data
//! directory with the log position it covers and the leaf hash at that position. Start-up
//! folds only the entries after it; a snapshot whose leaf hash no longer matches the log (a
//! rewritten or replaced log) is refused, and the caller folds from scratch instead.

use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::LedgerState;
use crate::store::{EventStore, StoreError};

/// File name inside the data directory.
pub const SNAPSHOT_FILE: &str = "projections.snapshot.json";

const FORMAT: &str = "caseledger-projections/v1";

#[derive(Serialize, Deserialize)]
struct Snapshot {
    format: String,
    /// Entries folded.
    size: u64,
    /// Hex leaf hash of entry `size - 1` (empty for an empty log).
    leaf_hash: String,
    state: LedgerState,
}

/// Why a snapshot could not be written or used.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("snapshot format: {0}")]
    Format(#[from] serde_json::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The snapshot does not describe this log (longer, or another leaf at its end).
    #[error("snapshot does not match the log: {0}")]
    Mismatch(String),
    /// The snapshot is of another format (another version), or inconsistent in itself.
    #[error("snapshot not usable: {0}")]
    Unusable(String),
}

fn leaf_hash_at(store: &dyn EventStore, size: u64) -> Result<String, SnapshotError> {
    if size == 0 {
        return Ok(String::new());
    }
    let entry = store
        .read_all(size - 1, 1)?
        .pop()
        .ok_or_else(|| SnapshotError::Mismatch(format!("the log has no entry {}", size - 1)))?;
    Ok(hex::encode(entry.leaf_hash))
}

/// Writes `state` atomically (temporary file, fsync, rename).
pub fn save(path: &Path, state: &LedgerState, store: &dyn EventStore) -> Result<(), SnapshotError> {
    let snap = Snapshot {
        format: FORMAT.into(),
        size: state.size,
        leaf_hash: leaf_hash_at(store, state.size)?,
        state: state.clone(),
    };
    let tmp = path.with_extension("tmp");
    // The snapshot holds the case projection and token hashes: owner-only, like the keys.
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let file = opts.open(&tmp)?;
    let mut out = BufWriter::new(file);
    serde_json::to_writer(&mut out, &snap)?;
    out.flush()?;
    out.get_ref().sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Reads a snapshot and checks it against the log. `Ok(None)` when there is none.
pub fn load(path: &Path, store: &dyn EventStore) -> Result<Option<LedgerState>, SnapshotError> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let snap: Snapshot = serde_json::from_reader(BufReader::new(file))?;
    if snap.format != FORMAT {
        return Err(SnapshotError::Unusable(format!(
            "unknown format {}",
            snap.format
        )));
    }
    if snap.size != snap.state.size {
        return Err(SnapshotError::Unusable(format!(
            "it says it covers {} entries but holds the state after {}",
            snap.size, snap.state.size
        )));
    }
    let size = store.size()?;
    if snap.size > size {
        return Err(SnapshotError::Mismatch(format!(
            "it covers {} entries but the log holds {size}",
            snap.size
        )));
    }
    if leaf_hash_at(store, snap.size)? != snap.leaf_hash {
        return Err(SnapshotError::Mismatch(format!(
            "the leaf hash at index {} differs (rewritten log?)",
            snap.size.saturating_sub(1)
        )));
    }
    Ok(Some(snap.state))
}
