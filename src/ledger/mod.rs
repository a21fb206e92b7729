//! The ledger: write-side rules and the single group-committing writer, the read-side state
//! that queries are served from, and the start-up fold with its integrity check.

pub mod case_rules;
pub mod cases;
mod clock;
pub mod entry;
mod load;
pub mod registry;
pub mod rules;
pub mod scope;
pub mod snapshot;
pub mod state;
mod writer;

use std::fmt;
use std::sync::{Arc, RwLock, RwLockReadGuard};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Serialize;

pub use clock::{Clock, SystemClock};
pub(crate) use load::fold_both;
pub use load::{check_every_node, load_state, load_state_from, load_state_until};
pub use rules::{Code, RuleViolation};
pub use state::LedgerState;
pub use writer::{seal, CheckpointPacer, Frontier};

use crate::domain::EventPayload;
use crate::envelope::Envelope;
use crate::log::note::NoteSigner;
use crate::metrics::Metrics;
use crate::store::{EventStore, StoreError, StoredEntry};

/// An event whose signature has been verified against the key its envelope names.
#[derive(Debug, Clone)]
pub struct Verified {
    pub envelope: Envelope,
    pub event: EventPayload,
    /// Set by the writer when the event is admitted.
    pub recorded_at: Option<DateTime<Utc>>,
}

/// EventStoreDB-style optimistic concurrency on a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedRevision {
    /// No check.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream's last entry must have this revision.
    Exact(u64),
}

impl ExpectedRevision {
    /// Parses `N | no_stream | any`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "any" => Some(Self::Any),
            "no_stream" => Some(Self::NoStream),
            n if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                // Revisions are stored as SQLite integers: anything above i64::MAX cannot exist.
                n.parse::<u64>()
                    .ok()
                    .filter(|n| *n <= i64::MAX as u64)
                    .map(Self::Exact)
            }
            _ => None,
        }
    }
}

impl fmt::Display for ExpectedRevision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("any"),
            Self::NoStream => f.write_str("no_stream"),
            Self::Exact(n) => write!(f, "{n}"),
        }
    }
}

/// Where an accepted event landed (the 201 body of `POST /v1/events`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt {
    pub stream: String,
    pub revision: u64,
    pub index: u64,
    /// Standard base64 of the RFC 6962 leaf hash.
    pub leaf_hash: String,
    pub recorded_at: String,
}

impl Receipt {
    fn of(e: &StoredEntry) -> Self {
        Self {
            stream: e.stream.clone(),
            revision: e.revision,
            index: e.index,
            leaf_hash: B64.encode(e.leaf_hash),
            recorded_at: e.recorded_at.clone(),
        }
    }
}

/// The result of a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Newly appended (201).
    Created(Vec<Receipt>),
    /// An idempotent repeat of events already in the log (200).
    Repeated(Vec<Receipt>),
}

/// Why a submission was not appended. Nothing is written in either case.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Rule(#[from] RuleViolation),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The writer thread has stopped (a panic): nothing can be written until the node is
    /// restarted, so a retry here cannot succeed.
    #[error(
        "the ledger writer has stopped (see the node's log); no write can succeed until the \
         node is restarted"
    )]
    WriterStopped,
}

/// Failure to open the ledger.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("integrity check failed at entry {index}: {reason}")]
    Integrity { index: u64, reason: String },
    /// A shared log whose checkpoints all fail under this node's log key: signing over it
    /// would put this key's name on a tree that is not its log's.
    #[error(
        "the shared log's checkpoint stream holds {published} checkpoint(s), and none verifies \
         under this node's log key with the log's root (each is named in a warning above): \
         this node's log.key is not the key of this log, or the store's prefix names another \
         ledger. Nothing was signed"
    )]
    ForeignCheckpoints { published: u64 },
}

/// Handle to an open ledger; cheap to clone.
#[derive(Clone)]
pub struct Ledger {
    tx: crossbeam_channel::Sender<writer::Request>,
    read: Arc<RwLock<LedgerState>>,
    store: Arc<dyn EventStore>,
    origin: String,
    verifier_key: String,
    /// The log key: the writer signs checkpoints with it, exports sign identity heads.
    note_signer: NoteSigner,
    metrics: Arc<Metrics>,
    /// A lock on the data directory, released when the last clone of the ledger and its
    /// writer thread are gone.
    lock: Arc<std::sync::OnceLock<HeldLock>>,
}

/// Whatever keeps the data directory locked (see `datadir::lock_writer`), held by the
/// ledger and its writer thread.
pub type HeldLock = Box<dyn std::any::Any + Send + Sync>;

impl Ledger {
    /// The ledger, holding `lock` for as long as it lives.
    pub fn holding(self, lock: impl std::any::Any + Send + Sync) -> Self {
        // Set once, by the one caller that opened the directory.
        let _ = self.lock.set(Box::new(lock));
        self
    }

    /// Folds the whole log with the checks `open` makes (each entry against its leaf hash,
    /// the latest checkpoint's signature and root, the signatures and rules of the entries
    /// past it), without starting a writer or signing anything: for `caseledger rebuild`.
    pub fn check_log(
        store: &dyn EventStore,
        signer: &NoteSigner,
        progress: &dyn Fn(u64, u64),
    ) -> Result<LedgerState, OpenError> {
        let (state, from) = load::load_for_open_showing(store, LedgerState::default(), progress)?;
        let root = load::check_against_checkpoint(store, signer, &state, from)?;
        // The stored Merkle nodes the next checkpoint would be computed from, as `open`
        // checks them (reads only).
        let frontier = writer::Frontier::load(store, state.size);
        writer::stored_tree_matches(store, &frontier, state.size, &root)?;
        Ok(state)
    }

    /// Folds the log, checks its integrity against the latest checkpoint, and starts the writer.
    pub fn open(
        store: Arc<dyn EventStore>,
        signer: NoteSigner,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, OpenError> {
        Self::open_from(store, signer, clock, metrics, LedgerState::default())
    }

    /// Like `open`, but folds only the entries after `start` (a verified projection
    /// snapshot, see [`snapshot`]).
    pub fn open_from(
        store: Arc<dyn EventStore>,
        signer: NoteSigner,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
        start: LedgerState,
    ) -> Result<Self, OpenError> {
        let origin = signer.name().to_owned();
        let verifier_key = signer.verifier().to_text();
        let (state, folded_from) = load::load_for_open(store.as_ref(), start)?;
        let root = load::check_against_checkpoint(store.as_ref(), &signer, &state, folded_from)?;
        let read = Arc::new(RwLock::new(state.clone()));
        let (tx, rx) = crossbeam_channel::unbounded();
        let lock = Arc::new(std::sync::OnceLock::new());
        let frontier = writer::Frontier::load(store.as_ref(), state.size);
        writer::cover_log(store.as_ref(), &frontier, &signer, state.size, &root)?;
        // A shared store may not have published what `cover_log` signed: then the writer
        // owes that checkpoint and signs it again as soon as it is idle.
        let state_size = state.size;
        let covered = match store.latest_checkpoint() {
            Ok(cp) => cp.map_or(0, |c| c.size).min(state_size),
            Err(_) => 0,
        };
        let w = writer::Writer {
            store: store.clone(),
            state,
            read: read.clone(),
            signer: signer.clone(),
            origin: origin.clone(),
            clock,
            metrics: metrics.clone(),
            frontier,
            pacer: writer::CheckpointPacer::default(),
            under_load: false,
            signed_size: covered,
            owed: (covered < state_size).then(|| writer::Owed::now(state_size)),
            follow_failing: None,
            next_sync: std::time::Instant::now(),
            sync_failing: false,
            _lock: lock.clone(),
        };
        let stopped = StoppedOnExit(metrics.clone());
        std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || {
                let _stopped = stopped;
                w.run(rx)
            })
            .expect("spawn writer thread");
        Ok(Self {
            tx,
            read,
            store,
            origin,
            verifier_key,
            note_signer: signer,
            metrics,
            lock,
        })
    }

    /// Queues events for one stream and waits for the group commit that makes them durable.
    pub async fn submit(
        &self,
        stream: String,
        events: Vec<Verified>,
        expected: ExpectedRevision,
    ) -> Result<Outcome, WriteError> {
        self.enqueue(stream, events, expected)?
            .await
            .map_err(|_| self.writer_gone())?
    }

    /// Blocking form of `submit`, for the CLI outside an async runtime.
    pub fn submit_blocking(
        &self,
        stream: String,
        events: Vec<Verified>,
        expected: ExpectedRevision,
    ) -> Result<Outcome, WriteError> {
        self.enqueue(stream, events, expected)?
            .blocking_recv()
            .map_err(|_| self.writer_gone())?
    }

    /// Hands a request to the writer; the receiver gets its answer after the commit.
    fn enqueue(
        &self,
        stream: String,
        events: Vec<Verified>,
        expected: ExpectedRevision,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<Outcome, WriteError>>, WriteError> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let req = writer::Request {
            stream,
            events,
            expected,
            reply,
        };
        self.tx.send(req).map_err(|_| self.writer_gone())?;
        Ok(rx)
    }

    /// The writer dropped a request unanswered, or no longer takes any: its thread has
    /// ended. Marked here too, not only by the thread's guard (which runs last as the thread
    /// unwinds), so that readiness says so before the refused client can ask.
    fn writer_gone(&self) -> WriteError {
        self.metrics.writer_stopped.set(1);
        WriteError::WriterStopped
    }

    /// The committed state (read side).
    pub fn state(&self) -> RwLockReadGuard<'_, LedgerState> {
        self.read.read().expect("read state")
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    /// The log's origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The log's signed-note verifier key.
    pub fn verifier_key(&self) -> &str {
        &self.verifier_key
    }

    /// The log key (for statements a bundle carries besides checkpoints).
    pub fn note_signer(&self) -> &NoteSigner {
        &self.note_signer
    }

    /// Metrics registry.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }
}

/// Marks the writer stopped when its thread ends, by return or by panic (a panic unwinds
/// through this guard): readiness and `caseledger_writer_stopped` then say so, where the
/// thread's end would otherwise show only as refused writes.
struct StoppedOnExit(Arc<Metrics>);

impl Drop for StoppedOnExit {
    fn drop(&mut self) {
        self.0.writer_stopped.set(1);
    }
}
