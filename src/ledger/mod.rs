//! The ledger: write-side rules and the single group-committing writer, the read-side state
//! that queries are served from, and the start-up fold with its integrity check.

pub mod case_rules;
pub mod cases;
pub mod entry;
pub mod registry;
pub mod rules;
pub mod snapshot;
pub mod state;
mod writer;

use std::fmt;
use std::sync::{Arc, RwLock, RwLockReadGuard};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::{DateTime, Utc};
use rayon::prelude::*;
use serde::Serialize;

pub use rules::{Code, RuleViolation};
pub use state::LedgerState;
pub use writer::{seal, Clock, Frontier, SystemClock};

use crate::domain::EventPayload;
use crate::envelope::Envelope;
use crate::log::merkle::{self, RootBuilder};
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
}

/// Failure to open the ledger.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("integrity check failed at entry {index}: {reason}")]
    Integrity { index: u64, reason: String },
}

/// Handle to an open ledger; cheap to clone.
#[derive(Clone)]
pub struct Ledger {
    tx: crossbeam_channel::Sender<writer::Request>,
    read: Arc<RwLock<LedgerState>>,
    store: Arc<dyn EventStore>,
    origin: String,
    verifier_key: String,
    metrics: Arc<Metrics>,
}

impl Ledger {
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
        let state = load_state_from(store.as_ref(), start, &|_, _| {})?;
        check_against_checkpoint(store.as_ref(), &signer, &state)?;
        let read = Arc::new(RwLock::new(state.clone()));
        let (tx, rx) = crossbeam_channel::unbounded();
        let frontier = writer::Frontier::load(store.as_ref(), state.size);
        let w = writer::Writer {
            store: store.clone(),
            state,
            read: read.clone(),
            signer,
            origin: origin.clone(),
            clock,
            metrics: metrics.clone(),
            frontier,
        };
        std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || w.run(rx))
            .expect("spawn writer thread");
        Ok(Self {
            tx,
            read,
            store,
            origin,
            verifier_key,
            metrics,
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
            .map_err(|_| writer_gone())?
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
            .map_err(|_| writer_gone())?
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
        self.tx.send(req).map_err(|_| writer_gone())?;
        Ok(rx)
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

    /// Metrics registry.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }
}

fn writer_gone() -> WriteError {
    WriteError::Store(StoreError::Unavailable("ledger writer stopped".into()))
}

/// Folds the whole log into a fresh state. Entries are decoded in parallel; each entry's
/// leaf hash is recomputed from its bytes and must match the stored one, so an edited entry
/// is named by index here.
pub fn load_state(store: &dyn EventStore) -> Result<LedgerState, OpenError> {
    load_state_from(store, LedgerState::default(), &|_, _| {})
}

/// Folds the entries the store holds beyond `state.size` into `state`, with the same
/// per-entry checks as [`load_state`]. The writer uses it to catch up with entries other
/// nodes appended to a shared store. On error `state` is left as it was.
pub fn fold_into(store: &dyn EventStore, state: &mut LedgerState) -> Result<(), OpenError> {
    if store.size()? <= state.size {
        return Ok(());
    }
    *state = load_state_from(store, state.clone(), &|_, _| {})?;
    Ok(())
}

/// Folds the entries after `state.size` into `state`, calling `progress(done, total)` after
/// each chunk (for `caseledger rebuild`).
pub fn load_state_from(
    store: &dyn EventStore,
    mut state: LedgerState,
    progress: &dyn Fn(u64, u64),
) -> Result<LedgerState, OpenError> {
    let size = store.size()?;
    let mut cursor = state.size;
    let mut current = read_decoded(store, cursor, size)?;
    // The fold is sequential; reading and decoding the next chunk overlaps with it.
    while let Some((chunk, decoded)) = current {
        cursor += chunk.len() as u64;
        let (folded, upcoming) = rayon::join(
            || fold_chunk(&mut state, &chunk, decoded),
            || read_decoded(store, cursor, size),
        );
        folded?;
        current = upcoming?;
        progress(state.size, size);
    }
    Ok(state)
}

type Decoded = Vec<Result<entry::DecodedEntry, OpenError>>;

/// Reads the chunk at `from` (if below `size`) and decodes it in parallel, checking each
/// entry's bytes against its stored leaf hash.
fn read_decoded(
    store: &dyn EventStore,
    from: u64,
    size: u64,
) -> Result<Option<(Vec<StoredEntry>, Decoded)>, OpenError> {
    if from >= size {
        return Ok(None);
    }
    let chunk = store.read_all(from, 8192)?;
    if chunk.is_empty() {
        return Ok(None);
    }
    let decoded = chunk
        .par_iter()
        .map(|e| {
            if merkle::leaf_hash(&e.bytes) != e.leaf_hash {
                return Err(OpenError::Integrity {
                    index: e.index,
                    reason: format!(
                        "stream {} revision {}: entry bytes do not match their leaf hash",
                        e.stream, e.revision
                    ),
                });
            }
            entry::decode(&e.bytes).map_err(|err| OpenError::Integrity {
                index: e.index,
                reason: format!("stream {} revision {}: {err}", e.stream, e.revision),
            })
        })
        .collect();
    Ok(Some((chunk, decoded)))
}

fn fold_chunk(
    state: &mut LedgerState,
    chunk: &[StoredEntry],
    decoded: Decoded,
) -> Result<(), OpenError> {
    for (e, d) in chunk.iter().zip(decoded) {
        let d = d?;
        if e.index != state.size || d.revision != state.next_revision(&d.stream) {
            return Err(OpenError::Integrity {
                index: e.index,
                reason: format!(
                    "stream {} revision {} is out of sequence",
                    d.stream, d.revision
                ),
            });
        }
        state.apply(&state::Applied {
            index: e.index,
            revision: d.revision,
            recorded_at: d.recorded_at,
            keyid: d.envelope.keyid(),
            event: &d.payload,
        });
    }
    Ok(())
}

/// The latest checkpoint must be signed by our key and commit to the stored leaves.
fn check_against_checkpoint(
    store: &dyn EventStore,
    signer: &NoteSigner,
    state: &LedgerState,
) -> Result<(), OpenError> {
    let Some(cp) = store.latest_checkpoint()? else {
        return Ok(());
    };
    let integrity = |reason: String| OpenError::Integrity {
        index: cp.size.saturating_sub(1),
        reason,
    };
    let opened = crate::log::checkpoint::Checkpoint::open_signed(&cp.note, &signer.verifier())
        .map_err(|e| integrity(format!("latest checkpoint does not verify: {e}")))?;
    if opened.size > state.size {
        return Err(integrity(format!(
            "checkpoint covers {} entries but the log holds {}",
            opened.size, state.size
        )));
    }
    let mut builder = RootBuilder::new();
    let mut next = 0;
    while next < opened.size {
        let chunk = store.read_all(next, 8192)?;
        let covered = &chunk[..chunk.len().min((opened.size - next) as usize)];
        // The entries under a projection snapshot are not folded again, so their bytes are
        // re-hashed here: an edited entry is named wherever it lies.
        if let Some(e) = covered
            .par_iter()
            .find_first(|e| merkle::leaf_hash(&e.bytes) != e.leaf_hash)
        {
            return Err(OpenError::Integrity {
                index: e.index,
                reason: format!(
                    "stream {} revision {}: entry bytes do not match their leaf hash",
                    e.stream, e.revision
                ),
            });
        }
        for e in covered {
            builder.push(e.leaf_hash);
        }
        next += chunk.len() as u64;
        if chunk.is_empty() {
            break;
        }
    }
    if builder.root() != opened.root {
        if let Some(index) = first_leaf_off_tree(store, opened.size)? {
            return Err(OpenError::Integrity {
                index,
                reason: "its stored leaf hash differs from the committed Merkle tree's leaf".into(),
            });
        }
        return Err(integrity(format!(
            "the stored entries do not hash to the root of the signed checkpoint at size {}",
            opened.size
        )));
    }
    Ok(())
}

/// The first entry whose stored leaf hash differs from the tree's leaf node: names the
/// entry when both its bytes and its leaf hash were edited. Only run once the root is off.
fn first_leaf_off_tree(store: &dyn EventStore, size: u64) -> Result<Option<u64>, OpenError> {
    let mut next = 0;
    while next < size {
        let chunk = store.read_all(next, 8192)?;
        for e in chunk.iter().take_while(|e| e.index < size) {
            if store.node(0, e.index)? != Some(e.leaf_hash) {
                return Ok(Some(e.index));
            }
        }
        if chunk.is_empty() {
            break;
        }
        next += chunk.len() as u64;
    }
    Ok(None)
}
