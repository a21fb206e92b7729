//! The `EventStore` abstraction (DESIGN §6): an append-only global sequence of log entries,
//! per-stream revisions with optimistic concurrency, Merkle tree nodes and signed checkpoints.
//! The embedded SQLite backend is the default; the EventStoreDB backend lives beside it.

#[cfg(feature = "eventstore")]
mod esdb_client;
#[cfg(feature = "eventstore")]
mod esdb_connect;
#[cfg(feature = "eventstore")]
mod esdb_feed;
pub mod esdb_mapping;
pub mod esdb_mirror;
mod esdb_mirror_batch;
pub mod esdb_mirror_meta;
#[cfg(feature = "eventstore")]
mod esdb_scan;
#[cfg(feature = "eventstore")]
mod esdb_subscription;
#[cfg(feature = "eventstore")]
mod esdb_target;
#[cfg(feature = "eventstore")]
mod esdb_tls;
#[cfg(feature = "eventstore")]
pub mod eventstore;
pub mod redact;
#[cfg(test)]
pub mod scripted;
pub mod sqlite;
mod sqlite_tree;

use std::time::Duration;

use uuid::Uuid;

use crate::log::merkle::{Hash, NodeSource, TreeError};

/// One committed log entry as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    /// Global position: leaf index in the Merkle tree.
    pub index: u64,
    pub stream: String,
    /// Position within the stream, from 0.
    pub revision: u64,
    pub event_id: Uuid,
    pub recorded_at: String,
    pub leaf_hash: Hash,
    /// The entry's exact bytes (DESIGN §3); never re-serialised.
    pub bytes: Vec<u8>,
}

/// A checkpoint note as signed by the log key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub size: u64,
    pub note: String,
}

/// Everything one group commit writes, atomically: entries (with their indexes and
/// revisions already assigned by the single writer), the new Merkle nodes, and the
/// checkpoint that covers them.
#[derive(Debug, Default)]
pub struct CommitGroup {
    pub entries: Vec<StoredEntry>,
    pub nodes: Vec<(u8, u64, Hash)>,
    pub checkpoint: Option<StoredCheckpoint>,
    /// Where each request's entries end (positions in `entries`, ascending). A store whose
    /// appends are bounded cuts a stream's run into several appends only there, so that
    /// every request stays atomic. Empty: no cut anywhere.
    pub request_ends: Vec<usize>,
}

/// Storage failures, mapped to HTTP by the API layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// 409: a stream's revision or the global size moved under the writer (another node
    /// appended first). The writer re-reads, re-runs the rules and retries.
    #[error("conflict: {0}")]
    Conflict(String),
    /// 500: the stored data does not hold together (a tampered or damaged store).
    #[error("store integrity: {0}")]
    Corrupt(String),
    /// 503: the backend is unreachable or failed; nothing was acknowledged.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

impl From<rusqlite::Error> for StoreError {
    /// What trying again cannot heal (a damaged file, a row whose columns have the wrong
    /// type) is `Corrupt`; the rest (a busy or locked file, an I/O error, a full disk) is
    /// `Unavailable`.
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ffi::ErrorCode;
        use rusqlite::Error as E;
        let damaged = match &e {
            E::SqliteFailure(f, _) => {
                matches!(f.code, ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
            }
            E::FromSqlConversionFailure(..)
            | E::InvalidColumnType(..)
            | E::IntegralValueOutOfRange(..) => true,
            _ => false,
        };
        match damaged {
            true => StoreError::Corrupt(format!("sqlite: {e}")),
            false => StoreError::Unavailable(format!("sqlite: {e}")),
        }
    }
}

impl From<StoreError> for TreeError {
    fn from(e: StoreError) -> Self {
        TreeError::Storage(e.to_string())
    }
}

/// The storage contract both backends meet; the conformance suite in
/// `tests/store_conformance.rs` runs against each.
pub trait EventStore: Send + Sync + 'static {
    /// Atomically appends a group. Each entry's `revision` must be the stream's next one and
    /// `index` the log's next one, else `Conflict` and nothing is written. Durable on return.
    fn commit(&self, group: CommitGroup) -> Result<(), StoreError>;
    /// Number of entries in the log (the next index), as this node sees it.
    fn size(&self) -> Result<u64, StoreError>;
    /// Brings this node's view up to date with everything the backend acknowledged before
    /// the call (other nodes' appends included) and returns the size then. The writer calls
    /// it before deciding a group, so it decides against a caught-up state. A store with
    /// a single writer (SQLite) is always up to date: the default is `size()`.
    fn sync(&self) -> Result<u64, StoreError> {
        self.size()
    }
    /// Whether other nodes may append to this store too (EventStoreDB). Start-up then only
    /// warns about a rule the uncovered tail breaks: two writing nodes can race past the
    /// rules (a documented limit), and refusing would keep every node from starting.
    fn is_shared(&self) -> bool {
        false
    }
    /// Checkpoints the shared log's checkpoint stream holds, whether or not they verify
    /// under this node's log key (only those that do are [`EventStore::latest_checkpoint`]).
    /// Start-up refuses to sign over a log whose checkpoints are all someone else's. A store
    /// that keeps only its own checkpoints (SQLite): 0.
    fn published_checkpoints(&self) -> u64 {
        0
    }
    /// The most bytes one atomic append may hold, for a store that bounds them
    /// (EventStoreDB's `MaxAppendSize`), as [`EventStore::append_size`] counts them. The
    /// writer refuses a request over it before anything is written: it could not be
    /// written whole. `None`: no bound (SQLite).
    fn append_limit(&self) -> Option<usize> {
        None
    }
    /// The bytes an entry (given by its exact bytes) takes against
    /// [`EventStore::append_limit`].
    fn append_size(&self, entry_bytes: &[u8]) -> usize {
        entry_bytes.len()
    }
    /// Trusts only checkpoints signed with `key` from now on. A shared store mirrors the
    /// checkpoints other nodes publish and keeps only those (`init` calls this once it has
    /// created the key); a store only this node writes needs nothing.
    fn trust_log_key(&self, key: &crate::log::note::NoteVerifier) -> Result<(), StoreError> {
        let _ = key;
        Ok(())
    }
    /// Entries in global order from `from`, at most `limit`.
    fn read_all(&self, from: u64, limit: usize) -> Result<Vec<StoredEntry>, StoreError>;
    /// Entries of one stream from revision `from`, at most `limit`.
    fn read_stream(
        &self,
        stream: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<StoredEntry>, StoreError>;
    /// The entry with this event id, if any.
    fn find_event(&self, event_id: &Uuid) -> Result<Option<StoredEntry>, StoreError>;
    /// A complete Merkle node (level, index).
    fn node(&self, level: u8, index: u64) -> Result<Option<Hash>, StoreError>;
    /// The nodes `(level, first)` to `(level, first + count - 1)`, each as [`node`] reads
    /// it; a tile of the C2SP tile API reads its 256 hashes this way. `count` is a tile's
    /// width at most: the answer is held in memory.
    ///
    /// [`node`]: EventStore::node
    fn nodes(&self, level: u8, first: u64, count: u64) -> Result<Vec<Option<Hash>>, StoreError> {
        (first..first.saturating_add(count))
            .map(|i| self.node(level, i))
            .collect()
    }
    /// The newest checkpoint.
    fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError>;
    /// Every kept checkpoint, oldest first.
    fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError>;
    /// Blocks until the log holds more than `size` entries or `timeout` passes; returns the
    /// size then. This is what subscriptions are built on.
    fn wait_for_growth(&self, size: u64, timeout: Duration) -> Result<u64, StoreError>;
}

/// Reads Merkle nodes through any store.
pub struct StoreNodes<'a>(pub &'a dyn EventStore);

impl NodeSource for StoreNodes<'_> {
    fn node(&self, level: u8, index: u64) -> Result<Hash, TreeError> {
        self.0
            .node(level, index)?
            .ok_or(TreeError::MissingNode { level, index })
    }
}

/// A catch-up subscription over `$all`: yields entries in global order from a position,
/// then waits for new ones. Projections and followers use it.
pub struct Subscription<'a> {
    store: &'a dyn EventStore,
    next: u64,
    buffer: std::collections::VecDeque<StoredEntry>,
}

impl<'a> Subscription<'a> {
    /// Starts at global index `from`.
    pub fn new(store: &'a dyn EventStore, from: u64) -> Self {
        Self {
            store,
            next: from,
            buffer: Default::default(),
        }
    }

    /// The next entry, waiting at most `timeout` for one to be committed.
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<StoredEntry>, StoreError> {
        if self.buffer.is_empty() {
            let mut batch = self.store.read_all(self.next, 1024)?;
            if batch.is_empty() {
                self.store.wait_for_growth(self.next, timeout)?;
                batch = self.store.read_all(self.next, 1024)?;
            }
            self.buffer.extend(batch);
        }
        let entry = self.buffer.pop_front();
        if let Some(e) = &entry {
            self.next = e.index + 1;
        }
        Ok(entry)
    }
}

/// The backend a `--store` value names.
pub enum Backend {
    /// `sqlite`: `ledger.db` in the data directory.
    Sqlite,
    /// A store shared by several caseledger nodes (EventStoreDB), already connected.
    Shared(std::sync::Arc<dyn EventStore>),
}

/// Opens the backend `spec` names: `sqlite`, or `esdb://host:2113?tls=false[&prefix=…]`.
/// EventStoreDB keeps its local mirror in the SQLite file `mirror` (by default
/// `esdb-mirror.db` in the data directory); connecting waits at most `timeout` for the
/// server to answer and the mirror to catch up. `log_key` is the log's verifier key:
/// EventStoreDB checkpoints that do not verify under it are not mirrored (`None` only while
/// `init` creates the keys).
pub fn open_backend(
    spec: &str,
    mirror: &std::path::Path,
    timeout: Duration,
    log_key: Option<&crate::log::note::NoteVerifier>,
) -> Result<Backend, StoreError> {
    if spec == "sqlite" {
        return Ok(Backend::Sqlite);
    }
    if !esdb_mapping::is_esdb_url(spec) {
        return Err(StoreError::Unavailable(format!(
            "unknown store `{}`: use `sqlite` or `esdb://host:2113?tls=false`",
            redact::redact_url(spec)
        )));
    }
    #[cfg(feature = "eventstore")]
    {
        let store = eventstore::EsdbStore::connect(spec, mirror, timeout, log_key.cloned())?;
        Ok(Backend::Shared(std::sync::Arc::new(store)))
    }
    #[cfg(not(feature = "eventstore"))]
    {
        let _ = (mirror, timeout, log_key);
        Err(StoreError::Unavailable(
            "this build has no EventStoreDB support (cargo feature `eventstore`)".into(),
        ))
    }
}
