//! One writing process per data directory: the writer lock.

use std::path::Path;

use super::{io, DataDirError};

/// The file a process writing to the data directory holds locked.
pub const LOCK_FILE: &str = "writer.lock";

/// The writer lock, held while this lives: the directory itself (where the platform can
/// lock one) and its `writer.lock` file.
#[derive(Debug)]
pub struct WriterLock {
    _dir: Option<std::fs::File>,
    _file: std::fs::File,
}

/// Locks the data directory for one writing process. A second one (another `serve`, or
/// `demo` with `--data`) would see every commit conflict with the first's appends and
/// keep a stale state (revoked tokens still valid): it is refused here instead. The lock goes
/// with the returned value, so with the ledger that holds it.
///
/// The directory itself is locked (it cannot be removed while it holds the ledger, unlike
/// a lock file someone could delete as "stale" under a running server), and so is
/// `writer.lock`, the file versions before this one locked. Where a directory cannot be
/// locked (Windows; it is a local lock only on network filesystems), `writer.lock` alone is.
pub fn lock_writer(dir: &Path) -> Result<WriterLock, DataDirError> {
    let dir_held = match std::fs::File::open(dir) {
        Ok(handle) => match wait_for_lock(handle, dir)? {
            Ok(held) => Some(held),
            Err(e) if cannot_lock_directories(&e) => {
                tracing::warn!(error = %e, "this filesystem cannot lock the data directory itself; writer.lock only");
                None
            }
            Err(e) => return Err(io(dir)(e)),
        },
        // Windows opens no directory as a file.
        Err(e) if cfg!(not(unix)) => {
            tracing::warn!(error = %e, "cannot open the data directory to lock it; writer.lock only");
            None
        }
        Err(e) => return Err(io(dir)(e)),
    };
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io(&path))?;
    Ok(WriterLock {
        _file: wait_for_lock(file, dir)?.map_err(io(&path))?,
        _dir: dir_held,
    })
}

/// Whether failing to lock the directory means the platform or filesystem cannot lock a
/// directory at all (rather than something to report).
fn cannot_lock_directories(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        matches!(
            e.raw_os_error(),
            Some(libc::ENOLCK | libc::EOPNOTSUPP | libc::EINVAL | libc::EBADF)
        )
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        true
    }
}

/// Locks `file`, giving a holder that is finishing (a process exiting, or a dropped ledger
/// whose writer thread is committing what was queued) a moment. Held by another process:
/// the outer error; a file that cannot be locked at all: the inner one.
fn wait_for_lock(
    file: std::fs::File,
    dir: &Path,
) -> Result<std::io::Result<std::fs::File>, DataDirError> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Ok(file)),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(DataDirError::Invalid(format!(
                    "{} is in use by another caseledger process (serve, demo, bench, rebuild, \
                     init or token); stop it first",
                    dir.display()
                )))
            }
            Err(std::fs::TryLockError::Error(e)) => return Ok(Err(e)),
        }
    }
}

/// How long opening waits for the writer lock's holder to finish.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
