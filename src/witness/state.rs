//! The witness's memory: per log origin, the latest checkpoint it cosigned, in a SQLite file
//! written with `synchronous=FULL`. Checking a submission against it and recording the new
//! checkpoint happen in one transaction under one lock, so two submissions racing cannot
//! roll the record back (tlog-witness's warning), and a cosignature is only sent once its
//! checkpoint is on disk: after a crash the witness never cosigns an older or forked tree.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{check, Accepted, Latest, Refusal, Submission};
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
    /// Opens (creating if needed) the state file.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
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

    /// Checks `sub` (see [`check`]) and, if it may be cosigned, records it as the log's latest
    /// before returning it.
    pub fn advance(&self, sub: &Submission, logs: &[NoteVerifier]) -> Result<Accepted, Refusal> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(unavailable)?;
        let accepted = check(sub, logs, |origin| latest(&tx, origin).map_err(unavailable))?;
        let cp = &accepted.checkpoint;
        let size = i64::try_from(cp.size)
            .map_err(|_| Refusal::BadRequest("tree size past 2^63 - 1".into()))?;
        tx.execute(
            "INSERT INTO logs (origin, size, root, note) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (origin) DO UPDATE SET size = ?2, root = ?3, note = ?4",
            params![cp.origin, size, cp.root.to_vec(), sub.note],
        )
        .map_err(unavailable)?;
        tx.commit().map_err(unavailable)?;
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
