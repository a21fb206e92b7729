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

/// Writes `state` atomically: a new owner-only temporary file beside `path` (a fresh random
/// name, created exclusively, so neither a link planted there nor a leftover file's mode is
/// followed), fsynced, renamed over `path`, and the directory fsynced.
pub fn save(path: &Path, state: &LedgerState, store: &dyn EventStore) -> Result<(), SnapshotError> {
    let snap = Snapshot {
        format: FORMAT.into(),
        size: state.size,
        leaf_hash: leaf_hash_at(store, state.size)?,
        state: state.clone(),
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // The snapshot holds the case projection and token hashes: owner-only (tempfile
    // creates its files 0600), like the keys.
    let tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)?;
    let mut out = BufWriter::new(tmp.as_file());
    serde_json::to_writer(&mut out, &snap)?;
    out.flush()?;
    drop(out);
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // The rename made durable; where a directory cannot be opened (Windows) the snapshot is
    // in place all the same, and losing it costs only a longer start-up.
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// The prefix of a snapshot being written (see [`save`]).
const TEMP_PREFIX: &str = ".projections.snapshot-";

/// Removes what a save interrupted (a kill, a power loss) left behind in `dir`: each such
/// file holds the projections and token hashes. Call with the writer lock held.
pub fn remove_leftovers(dir: &Path) {
    crate::leftovers::remove(dir, TEMP_PREFIX, "an unfinished snapshot");
}

/// Moves a snapshot that does not match the log (evidence that the log was rolled back or
/// rewritten since it was written) aside, beside any kept before (named by the time in
/// nanoseconds), so that the next save does not overwrite it; where it went.
pub fn set_aside(path: &Path) -> std::io::Result<std::path::PathBuf> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let aside = path.with_extension(format!("json.mismatch-{now}"));
    std::fs::rename(path, &aside)?;
    Ok(aside)
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
