//! The file where a server keeps the cosignatures its witnesses returned (`serve
//! --cosignatures`; by default `cosignatures.db` in the data directory, or beside the
//! EventStoreDB mirror), so that they outlive a restart (the witnessed checkpoint is served
//! at once, also while a witness is down) and `caseledger export` can put them in a bundle.
//!
//! Nothing of the log is in it: a cosignature is a witness's statement about a checkpoint
//! the store keeps anyway. Losing the file, or a write to it, loses only cosignatures that
//! the witnesses give again for the next checkpoint; so it is written with
//! `synchronous=NORMAL` and a failed write is a warning, never a failed request. What is
//! read back is checked again (see [`super::cosignatures::Cosignatures::kept`]).

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OpenFlags};

/// The file's name in a data directory (the default place).
pub const FILE: &str = "cosignatures.db";

/// How long a reader or writer waits for the other (the server writes while `export`
/// reads; a server's first open after a crash recovers the write-ahead log).
const BUSY: std::time::Duration = std::time::Duration::from_secs(10);

/// One witness's cosignature line for one checkpoint note, as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub size: u64,
    pub note: String,
    /// The witness's key text.
    pub witness: String,
    pub line: String,
}

/// The open file.
pub struct Kept {
    conn: Mutex<Connection>,
}

impl Kept {
    /// Opens the file at `path` to write, creating it if need be.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS witness (
                position INTEGER PRIMARY KEY,
                key TEXT NOT NULL
            );
            CREATE TABLE IF NOT EXISTS cosignature (
                note TEXT NOT NULL,
                size INTEGER NOT NULL,
                witness TEXT NOT NULL,
                line TEXT NOT NULL,
                PRIMARY KEY (note, witness)
            );",
        )?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// Opens the file at `path` to read only (beside a server writing it); `None` when
    /// there is none.
    pub fn read_only(path: &Path) -> rusqlite::Result<Option<Self>> {
        if !path.exists() {
            return Ok(None);
        }
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.busy_timeout(BUSY)?;
        Ok(Some(Self {
            conn: Mutex::new(conn),
        }))
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the witnesses the server submits to, in order (their key texts), in place of
    /// those of an earlier start.
    pub fn set_witnesses(&self, keys: &[String]) -> rusqlite::Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM witness", [])?;
        for (position, key) in keys.iter().enumerate() {
            tx.execute(
                "INSERT INTO witness (position, key) VALUES (?1, ?2)",
                params![position as i64, key],
            )?;
        }
        tx.commit()
    }

    /// The witnesses recorded by [`Self::set_witnesses`], in order.
    pub fn witnesses(&self) -> rusqlite::Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT key FROM witness ORDER BY position")?;
        let keys = stmt.query_map([], |r| r.get(0))?;
        keys.collect()
    }

    /// Every kept line, by increasing checkpoint size.
    pub fn rows(&self) -> rusqlite::Result<Vec<Row>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT size, note, witness, line FROM cosignature ORDER BY size, note")?;
        let rows = stmt.query_map([], |r| {
            Ok(Row {
                size: r.get::<_, i64>(0)? as u64,
                note: r.get(1)?,
                witness: r.get(2)?,
                line: r.get(3)?,
            })
        })?;
        rows.collect()
    }

    /// Keeps `row` (in place of that witness's earlier line for the same note), and only the
    /// lines of the `keep` largest checkpoints and of the largest one every recorded witness
    /// cosigned.
    pub fn record(&self, row: &Row, keep: usize) -> rusqlite::Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO cosignature (note, size, witness, line)
             VALUES (?1, ?2, ?3, ?4)",
            params![row.note, row.size as i64, row.witness, row.line],
        )?;
        tx.execute(
            "DELETE FROM cosignature WHERE note NOT IN (
                SELECT note FROM cosignature GROUP BY note ORDER BY max(size) DESC LIMIT ?1
            ) AND note NOT IN (
                SELECT note FROM cosignature WHERE witness IN (SELECT key FROM witness)
                GROUP BY note
                HAVING count(DISTINCT witness) = (SELECT count(*) FROM witness)
                ORDER BY max(size) DESC LIMIT 1
            )",
            params![keep as i64],
        )?;
        tx.commit()
    }
}
