//! Embedded SQLite backend: WAL mode with `synchronous=FULL`, one writer connection used by
//! the ledger's single writer thread (one transaction and one fsync per group commit), and a
//! small pool of reader connections so reads never wait behind a commit.

use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use uuid::Uuid;

use super::sqlite_tree;
use super::{CommitGroup, EventStore, StoreError, StoredCheckpoint, StoredEntry};
use crate::log::merkle::Hash;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS entries (
    idx INTEGER PRIMARY KEY,
    stream TEXT NOT NULL,
    revision INTEGER NOT NULL,
    event_id BLOB NOT NULL UNIQUE,
    recorded_at TEXT NOT NULL,
    leaf_hash BLOB NOT NULL,
    bytes BLOB NOT NULL,
    tree BLOB NOT NULL DEFAULT x'',
    UNIQUE (stream, revision)
);
CREATE TABLE IF NOT EXISTS checkpoints (
    size INTEGER PRIMARY KEY,
    note TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
";

/// The embedded store in `<data dir>/ledger.db`.
pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// Committed size, for `wait_for_growth`; a std mutex because it is held for
    /// nanoseconds and waited on from blocking threads, never across an await.
    size: Mutex<u64>,
    grew: Condvar,
}

fn open_conn(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
    // Each connection is used by one thread at a time (the writer behind its mutex, readers
    // taken from the pool), so SQLite's per-call locking is pure overhead.
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

fn row_to_entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredEntry> {
    let id = row.get_ref(3)?.as_blob()?;
    let leaf = row.get_ref(5)?.as_blob()?;
    Ok(StoredEntry {
        index: row.get::<_, i64>(0)? as u64,
        stream: row.get(1)?,
        revision: row.get::<_, i64>(2)? as u64,
        event_id: Uuid::from_slice(id).unwrap_or_default(),
        recorded_at: row.get(4)?,
        leaf_hash: leaf.try_into().unwrap_or([0; 32]),
        bytes: row.get_ref(6)?.as_blob()?.to_vec(),
    })
}

/// How much of the database file each reader connection maps into memory (SQLite caps it
/// at its compiled-in maximum, about 2 GiB by default; the rest is read as usual).
const READER_MMAP_BYTES: i64 = 1 << 32;

const ENTRY_COLS: &str = "idx, stream, revision, event_id, recorded_at, leaf_hash, bytes";

impl SqliteStore {
    /// Opens (creating if needed) the database file, moving a store of an earlier version
    /// to this version's layout. Only for the process that holds the data directory's
    /// writer lock (or creates it).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut writer = open_conn(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        )?;
        writer.execute_batch(SCHEMA)?;
        if sqlite_tree::migrate(&mut writer)? {
            tracing::info!(path = %path.display(), "moved the Merkle nodes into the entry rows");
        }
        Self::from_writer(path, writer)
    }

    /// Opens an existing database file beside the process that may be writing it (`export`,
    /// `report`): nothing is created or migrated; a store of an earlier version's layout is
    /// refused, naming what moves it.
    pub fn open_existing(path: &Path) -> Result<Self, StoreError> {
        let writer = open_conn(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        if !sqlite_tree::is_current(&writer)? {
            return Err(StoreError::Unavailable(format!(
                "{} is in an earlier version's layout; start `caseledger serve` on it once (or \
                 run `caseledger rebuild`) to move it to this version's",
                path.display()
            )));
        }
        Self::from_writer(path, writer)
    }

    fn from_writer(path: &Path, writer: Connection) -> Result<Self, StoreError> {
        let size: i64 =
            writer.query_row("SELECT COALESCE(MAX(idx) + 1, 0) FROM entries", [], |r| {
                r.get(0)
            })?;
        Ok(Self {
            path: path.to_owned(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            size: Mutex::new(size as u64),
            grew: Condvar::new(),
        })
    }

    /// Runs `f` on a pooled read connection.
    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = self.readers.lock().expect("reader pool").pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                let conn = open_conn(&self.path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
                // Large scans (start-up fold, export) read the file through a memory map
                // instead of copying every page in with a system call.
                conn.pragma_update(None, "mmap_size", READER_MMAP_BYTES)?;
                conn
            }
        };
        let out = f(&conn);
        let mut pool = self.readers.lock().expect("reader pool");
        if pool.len() < 16 {
            pool.push(conn);
        }
        out
    }

    /// Reads a value from the `meta` table.
    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|c| {
            Ok(
                c.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                    .optional()?,
            )
        })
    }

    /// Writes a value to the `meta` table (durably).
    pub fn set_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        let conn = self.writer.lock().expect("writer connection");
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Like [`EventStore::commit`], and upserts `meta` rows in the same transaction, so they
    /// become durable (or are rolled back) together with the group they describe.
    pub fn commit_with_meta(
        &self,
        group: CommitGroup,
        meta: &[(&str, &[u8])],
    ) -> Result<(), StoreError> {
        let mut conn = self.writer.lock().expect("writer connection");
        let tx = conn.transaction()?;
        Self::commit_in(&tx, &group)?;
        for (key, value) in meta {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )?;
        }
        // With synchronous=FULL in WAL mode, COMMIT returns after the WAL is fsynced.
        tx.commit()?;
        drop(conn);
        if let Some(last) = group.entries.last() {
            let mut size = self.size.lock().expect("size");
            *size = last.index + 1;
            self.grew.notify_all();
        }
        Ok(())
    }

    fn commit_in(tx: &rusqlite::Transaction<'_>, group: &CommitGroup) -> Result<(), StoreError> {
        // Statements prepared once per connection: a single-event commit would otherwise
        // spend a good part of its CPU time compiling SQL.
        let size: i64 = tx
            .prepare_cached("SELECT COALESCE(MAX(idx) + 1, 0) FROM entries")?
            .query_row([], |r| r.get(0))?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO entries (idx, stream, revision, event_id, recorded_at, leaf_hash, bytes, tree)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        let trees = sqlite_tree::blobs(group.entries.iter().map(|e| e.index), &group.nodes)?;
        let mut head = tx.prepare_cached("SELECT MAX(revision) FROM entries WHERE stream = ?1")?;
        for ((next, e), tree) in (size as u64..).zip(&group.entries).zip(trees) {
            if e.index != next {
                return Err(StoreError::Conflict(format!(
                    "log size is {next}, writer assumed {}",
                    e.index
                )));
            }
            let current: Option<i64> = head.query_row([&e.stream], |r| r.get(0))?;
            let expected = current.map_or(0, |r| r as u64 + 1);
            if e.revision != expected {
                return Err(StoreError::Conflict(format!(
                    "stream {} is at next revision {expected}, writer assumed {}",
                    e.stream, e.revision
                )));
            }
            insert.execute(params![
                e.index as i64,
                e.stream,
                e.revision as i64,
                e.event_id.as_bytes().as_slice(),
                e.recorded_at,
                e.leaf_hash.as_slice(),
                e.bytes,
                tree,
            ])?;
        }
        if let Some(cp) = &group.checkpoint {
            tx.prepare_cached("INSERT OR REPLACE INTO checkpoints (size, note) VALUES (?1, ?2)")?
                .execute(params![cp.size as i64, cp.note])?;
        }
        Ok(())
    }
}

impl EventStore for SqliteStore {
    fn commit(&self, group: CommitGroup) -> Result<(), StoreError> {
        self.commit_with_meta(group, &[])
    }

    fn size(&self) -> Result<u64, StoreError> {
        Ok(*self.size.lock().expect("size"))
    }

    fn read_all(&self, from: u64, limit: usize) -> Result<Vec<StoredEntry>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {ENTRY_COLS} FROM entries WHERE idx >= ?1 ORDER BY idx LIMIT ?2"
            ))?;
            let rows = st.query_map(params![from as i64, limit as i64], row_to_entry)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn read_stream(
        &self,
        stream: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {ENTRY_COLS} FROM entries WHERE stream = ?1 AND revision >= ?2
                 ORDER BY revision LIMIT ?3"
            ))?;
            let rows = st.query_map(params![stream, from as i64, limit as i64], row_to_entry)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn find_event(&self, event_id: &Uuid) -> Result<Option<StoredEntry>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {ENTRY_COLS} FROM entries WHERE event_id = ?1"
            ))?;
            Ok(st
                .query_row([event_id.as_bytes().as_slice()], row_to_entry)
                .optional()?)
        })
    }

    fn node(&self, level: u8, index: u64) -> Result<Option<Hash>, StoreError> {
        self.read(|c| sqlite_tree::read_node(c, level, index))
    }

    fn nodes(&self, level: u8, first: u64, count: u64) -> Result<Vec<Option<Hash>>, StoreError> {
        self.read(|c| sqlite_tree::read_nodes(c, level, first, count))
    }

    fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1",
                [],
                |r| {
                    Ok(StoredCheckpoint {
                        size: r.get::<_, i64>(0)? as u64,
                        note: r.get(1)?,
                    })
                },
            )
            .optional()?)
        })
    }

    fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare("SELECT size, note FROM checkpoints ORDER BY size")?;
            let rows = st.query_map([], |r| {
                Ok(StoredCheckpoint {
                    size: r.get::<_, i64>(0)? as u64,
                    note: r.get(1)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn wait_for_growth(&self, size: u64, timeout: Duration) -> Result<u64, StoreError> {
        let guard = self.size.lock().expect("size");
        let (guard, _) = self
            .grew
            .wait_timeout_while(guard, timeout, |s| *s <= size)
            .expect("size");
        Ok(*guard)
    }
}
