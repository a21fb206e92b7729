//! The witness's memory: per log origin, the latest checkpoint it cosigned, in a SQLite file
//! written with `synchronous=FULL`. Checking a submission against it and recording the new
//! checkpoint happen in one transaction under one lock, so two submissions racing cannot
//! roll the record back (tlog-witness's warning), and a cosignature is only sent once its
//! checkpoint is on disk: after a crash the witness never cosigns an older or forked tree.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use super::{authenticate, extends, Accepted, Latest, Refusal, Submission};
use crate::log::NoteVerifier;

/// The witness's record of each log.
pub struct WitnessState {
    conn: Mutex<Connection>,
}

fn unavailable(e: rusqlite::Error) -> Refusal {
    tracing::error!(error = %e, "witness state");
    Refusal::Unavailable(
        "the witness could not read or write its state; nothing was cosigned".into(),
    )
}

impl WitnessState {
    /// Creates the state file of a new witness; refuses if one exists.
    pub fn create(path: &Path) -> rusqlite::Result<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
        if path.exists() {
            return Err(rusqlite::Error::InvalidPath(path.to_owned()));
        }
        Self::with(Connection::open_with_flags(path, flags)?)
    }

    /// Opens the state file `create` made, never creating one: a witness whose record is
    /// gone must not start afresh, or it would cosign a fork of a tree it cosigned before.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        Self::with(Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE,
        )?)
    }

    fn with(conn: Connection) -> rusqlite::Result<Self> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS logs (
                origin TEXT PRIMARY KEY,
                size INTEGER NOT NULL,
                root BLOB NOT NULL,
                note TEXT NOT NULL
            )",
        )?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// Checks `sub` (see [`super::check`]) and, if it may be cosigned, records it as the log's latest
    /// before returning it. The signature is checked before the record is locked; a
    /// checkpoint that is the record already is cosigned again without a write.
    pub fn advance(&self, sub: &Submission, logs: &[NoteVerifier]) -> Result<Accepted, Refusal> {
        let accepted = authenticate(sub, logs)?;
        let cp = &accepted.checkpoint;
        let size = i64::try_from(cp.size)
            .map_err(|_| Refusal::BadRequest("tree size past 2^63 - 1".into()))?;
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(unavailable)?;
        let latest = latest(&tx, &cp.origin).map_err(unavailable)?;
        if extends(sub, &accepted, latest)? {
            tx.execute(
                "INSERT INTO logs (origin, size, root, note) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (origin) DO UPDATE SET size = ?2, root = ?3, note = ?4",
                params![cp.origin, size, cp.root.to_vec(), sub.note],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
        }
        Ok(accepted)
    }

    /// What the witness last cosigned for `origin`.
    pub fn latest(&self, origin: &str) -> Result<Option<Latest>, Refusal> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        latest(&conn, origin).map_err(unavailable)
    }
}

fn latest(conn: &Connection, origin: &str) -> rusqlite::Result<Option<Latest>> {
    conn.query_row(
        "SELECT size, root FROM logs WHERE origin = ?1",
        [origin],
        |r| {
            let size: i64 = r.get(0)?;
            let root: Vec<u8> = r.get(1)?;
            Ok((size, root))
        },
    )
    .optional()?
    .map(|(size, root)| {
        let corrupt =
            || rusqlite::Error::InvalidColumnType(1, "root".into(), rusqlite::types::Type::Blob);
        Ok(Latest {
            size: u64::try_from(size).map_err(|_| corrupt())?,
            root: root.try_into().map_err(|_| corrupt())?,
        })
    })
    .transpose()
}
