//! One writing process per data directory: the writer lock.

use std::path::Path;

use super::{io, DataDirError};

/// The file a process writing to the data directory holds locked.
pub const LOCK_FILE: &str = "writer.lock";

/// Locks the data directory for one writing process. A second one (another `serve`, or
/// `demo` with `--data`) would see every commit conflict with the first's appends and
/// keep a stale state (revoked tokens still valid): it is refused here instead. The lock goes
/// with the returned file, so with the ledger that holds it.
pub fn lock_writer(dir: &Path) -> Result<std::fs::File, DataDirError> {
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io(&path))?;
    // A holder that is finishing (a process exiting, or a dropped ledger whose writer thread
    // is committing what was queued) gets a moment.
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(DataDirError::Invalid(format!(
                    "{} is in use by another caseledger process (serve, demo, bench, rebuild \
                     or init); stop it first",
                    dir.display()
                )))
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(&path)(e)),
        }
    }
}

/// How long opening waits for the writer lock's holder to finish.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
