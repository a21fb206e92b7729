//! The EventStoreDB / KurrentDB backend (DESIGN §6) on the `eventstore` crate.
//!
//! - Each ledger stream is one EventStoreDB stream `<prefix><stream>`; an entry is appended
//!   with the expected revision its ledger revision implies, the envelope's `event_id` as
//!   event id, the ledger event type as event type, and the entry's exact bytes as JSON data.
//! - The global order is `$all` filtered (server side) to our prefix; the global index is
//!   the position in that order. Each node keeps an on-disk
//!   [`Mirror`](super::esdb_mirror::Mirror) of it (a SQLite file), rebuilding the Merkle
//!   nodes (EventStoreDB does not hold them), fed by a subscription that resumes from the
//!   position the mirror persisted.
//! - Checkpoints go to `<prefix>$checkpoints` with an expected revision: of two nodes racing
//!   to publish, the loser re-reads and, finding a head that covers its own, agrees.
//! - `commit` is not atomic across streams (EventStoreDB has no multi-stream transaction):
//!   see [`EsdbStore::commit`] for what that means and how the writer stays safe.
//!
//! The trait is synchronous; the async client runs on a runtime this store owns. Callers
//! block on a channel, never inside that runtime, so no thread ever nests `block_on`.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eventstore::{AppendToStreamOptions, EventData, ExpectedRevision};
use serde_json::value::RawValue;
use uuid::Uuid;

use super::esdb_client::Clients;
use super::esdb_feed::{self, Shared, OP_TIMEOUT};
use super::esdb_mapping::{self as mapping, AllPosition, EsdbConfig, Expected};
use super::esdb_scan::{self, ScanLimits};
use super::esdb_target::{landed, Target};
use super::{CommitGroup, EventStore, StoreError, StoredCheckpoint, StoredEntry};
use crate::log::merkle::Hash;

/// How long `sync` waits for the subscription before reading `$all` itself: not at all.
/// The last event in `$all` is often a system event the filtered subscription never
/// delivers, so waiting would add latency to every group; the read is one short round trip.
const SUBSCRIPTION_GRACE: Duration = Duration::ZERO;

/// How long an append is repeated while its outcome is unknown (see
/// [`esdb_scan::leader_append`]); each try is bounded by [`OP_TIMEOUT`]. The writer waits
/// that long per append before it answers 503 and decides anything else. A group of several
/// streams, the wait for the mirror and the checkpoint's publication add to it, so a write
/// forwarded by a reading node (which waits 30 s) may get 502 `bad_gateway` meanwhile: its
/// outcome unknown there, and a retry idempotent.
const APPEND_DEADLINE: Duration = Duration::from_secs(20);

/// Attempts at publishing one checkpoint against other nodes' checkpoints.
const CHECKPOINT_ATTEMPTS: usize = 5;

/// The backend. Dropping it stops its runtime (without blocking, so it may be dropped
/// anywhere, including inside another runtime).
pub struct EsdbStore {
    pub(super) shared: Arc<Shared>,
    pub(super) clients: Arc<Clients>,
    pub(super) rt: Option<tokio::runtime::Runtime>,
}

impl Drop for EsdbStore {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

fn to_es(e: Expected) -> ExpectedRevision {
    match e {
        Expected::NoStream => ExpectedRevision::NoStream,
        Expected::Exact(n) => ExpectedRevision::Exact(n),
    }
}

impl EsdbStore {
    /// The parsed configuration.
    pub fn config(&self) -> &EsdbConfig {
        &self.shared.cfg
    }

    /// Runs `fut` on the store's runtime and waits for it from the calling thread.
    pub(super) fn run<T: Send + 'static>(
        &self,
        fut: impl Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let rt = self.rt.as_ref().ok_or_else(|| {
            StoreError::Unavailable("the EventStoreDB runtime has stopped".into())
        })?;
        rt.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv()
            .unwrap_or_else(|_| Err(StoreError::Unavailable("EventStoreDB task lost".into())))
    }

    /// Makes the mirror hold everything `$all` holds now: waits up to `grace` for the
    /// subscription to pass the current head, then reads the rest itself.
    pub(super) fn catch_up(&self, grace: Duration) -> Result<u64, StoreError> {
        let (clients, cfg) = (self.clients.clone(), self.shared.cfg.clone());
        let deadline = Instant::now() + OP_TIMEOUT;
        let head = self.run(async move { esdb_feed::head(&clients, &cfg, deadline).await })?;
        self.shared.note_head(head.unwrap_or_default());
        let Some(head) = head else {
            self.shared.mirror.advance(AllPosition::default())?;
            return self.shared.mirror.size();
        };
        self.reach(Target::Position(head), grace)
    }

    /// Waits until the mirror holds `target` (see [`Shared::reach`]): for the subscription
    /// at most `grace` and not while it is down, then by scanning `$all`.
    fn reach(&self, target: Target, grace: Duration) -> Result<u64, StoreError> {
        self.shared.reach(&target, grace, || {
            let (clients, shared) = (self.clients.clone(), self.shared.clone());
            let target = target.clone();
            self.run(async move {
                esdb_scan::scan(clients.as_ref(), &shared, &target, ScanLimits::default()).await
            })
        })
    }

    /// Appends events to one EventStoreDB stream with an expected revision: `Ok(Err(_))`
    /// is a wrong expected revision. The position the server reports is not used, neither
    /// to wait for the events nor as a known head (see [`Target::appended`]).
    ///
    /// An append refused the way an election explains (a follower's `NotLeaderException`,
    /// or a `ServerError` from a node in an election) is tried again, as reads are, and so
    /// is an append whose outcome is unknown (a timeout, the server's commit timeout): each
    /// try bounded by [`OP_TIMEOUT`], all of them by [`APPEND_DEADLINE`]
    /// ([`esdb_scan::leader_append`]). The crate only reconnects to the new leader after a
    /// request failed. A repeat is safe: with the same expected revision and event ids, the
    /// server takes events it already holds as an idempotent success and writes nothing
    /// twice.
    fn append(
        &self,
        stream: String,
        expected: Expected,
        events: Vec<EventData>,
    ) -> Result<Result<(), eventstore::Error>, StoreError> {
        let (clients, cfg) = (self.clients.clone(), self.shared.cfg.clone());
        self.run(async move {
            let opts = AppendToStreamOptions::default().expected_revision(to_es(expected));
            let deadline = Instant::now() + APPEND_DEADLINE;
            esdb_scan::leader_append(&cfg, deadline, OP_TIMEOUT, || {
                let (stream, opts, events) = (stream.clone(), opts.clone(), events.clone());
                clients.call(|client| async move {
                    match client.append_to_stream(stream, &opts, events).await {
                        Ok(_) => Ok(Ok(())),
                        Err(e @ eventstore::Error::WrongExpectedVersion { .. }) => Ok(Err(e)),
                        Err(e) => Err(e),
                    }
                })
            })
            .await
        })
    }

    /// Publishes a checkpoint unless one covering at least as many entries already is.
    /// Losing a race re-reads the checkpoint stream and tries again; agreeing is success.
    fn publish_checkpoint(&self, cp: &StoredCheckpoint) -> Result<(), StoreError> {
        for _ in 0..CHECKPOINT_ATTEMPTS {
            let held = self.shared.mirror.tip().checkpoint_events();
            let covered = self
                .shared
                .mirror
                .store()
                .latest_checkpoint()?
                .is_some_and(|c| c.size >= cp.size);
            if covered {
                return Ok(());
            }
            let data = mapping::CheckpointData {
                size: cp.size,
                note: cp.note.clone(),
            };
            let event = EventData::json(mapping::CHECKPOINT_EVENT_TYPE, &data)
                .map_err(|e| StoreError::Corrupt(format!("checkpoint event: {e}")))?
                .id(Uuid::new_v4());
            let stream = self.shared.cfg.checkpoint_stream();
            match self.append(stream, mapping::expected_checkpoint(held), vec![event])? {
                // Written at revision `held`: wait until the mirror has seen it.
                Ok(()) => {
                    self.reach(Target::Checkpoint(held), OP_TIMEOUT)?;
                    return Ok(());
                }
                Err(_) => {
                    self.catch_up(SUBSCRIPTION_GRACE)?;
                }
            }
        }
        tracing::warn!(
            size = cp.size,
            "checkpoint stream kept moving; not published"
        );
        Ok(())
    }
}

/// The EventStoreDB event for an entry.
fn event_data(e: &StoredEntry) -> Result<EventData, StoreError> {
    let kind = mapping::entry_event_type(&e.bytes)?;
    let text = String::from_utf8(e.bytes.clone())
        .map_err(|_| StoreError::Corrupt("entry bytes are not UTF-8".into()))?;
    let raw = RawValue::from_string(text)
        .map_err(|err| StoreError::Corrupt(format!("entry bytes are not JSON: {err}")))?;
    let meta = mapping::entry_metadata(e);
    // `RawValue` serialises verbatim, so the stored data is the entry's exact bytes.
    EventData::json(kind, &raw)
        .and_then(|d| d.metadata_as_json(&meta))
        .map(|d| d.id(e.event_id))
        .map_err(|err| StoreError::Corrupt(format!("entry event: {err}")))
}

impl EventStore for EsdbStore {
    /// Appends the group stream by stream (each run of one stream is one atomic append with
    /// its expected revision, cut at request ends where it would exceed the server's
    /// `MaxAppendSize`, see [`mapping::appends`]), in group order, then waits until the
    /// mirror holds the appended events (by event id, see `Target::appended`).
    ///
    /// An error after an append was acknowledged (waiting for the mirror timed out, or the
    /// mirror found corrupt data) leaves the events stored in EventStoreDB. The writer
    /// answers 503/500; the next group's `sync` folds them in, and a client's retry finds
    /// its `event_id` (which is the EventStoreDB event id) recorded: an idempotent repeat.
    ///
    /// Not atomic across streams: if a later stream conflicts, the earlier runs stay written
    /// and `Conflict` is returned. That is safe because the writer only groups entries it
    /// decided against a caught-up state, and answers `Conflict` by re-reading the store
    /// and re-running the rules: runs already written come back as idempotent repeats.
    /// The group's Merkle nodes are not sent (every node derives them from `$all`); the
    /// checkpoint is published only if the entries landed at the indexes the writer
    /// assumed, i.e. no other node's entries slipped in between.
    fn commit(&self, group: CommitGroup) -> Result<(), StoreError> {
        if let Some(first) = group.entries.first() {
            let size = self.shared.mirror.size()?;
            if first.index != size {
                return Err(StoreError::Conflict(format!(
                    "the log holds {size} entries, the writer assumed {}",
                    first.index
                )));
            }
        }
        let limit = self.shared.cfg.max_append;
        for run in mapping::appends(&group.entries, &group.request_ends, limit) {
            let events = run.iter().map(event_data).collect::<Result<Vec<_>, _>>()?;
            let stream = self.shared.cfg.stream_name(&run[0].stream);
            match self.append(stream, mapping::expected_for(run[0].revision), events)? {
                Ok(()) => {}
                Err(e) => {
                    return Err(StoreError::Conflict(format!(
                        "stream {} moved under the writer: {e}",
                        run[0].stream
                    )))
                }
            }
        }
        if !group.entries.is_empty() {
            self.reach(Target::appended(&group.entries), OP_TIMEOUT)?;
        }
        let mirror = self.shared.mirror.store();
        let placed = landed(&group.entries, |id| mirror.find_event(id))?;
        match (&group.checkpoint, placed) {
            // The entries are stored: a checkpoint that could not be published is not a
            // failure of the write (the writer sees it missing and signs with the next
            // group, see `Writer::published`).
            (Some(cp), true) => {
                if let Err(e) = self.publish_checkpoint(cp) {
                    tracing::warn!(error = %e, size = cp.size, "entries stored, checkpoint not published");
                }
                Ok(())
            }
            (Some(_), false) => {
                tracing::info!(
                    "another node's entries interleaved; checkpoint left to the next group"
                );
                Ok(())
            }
            (None, _) => Ok(()),
        }
    }

    fn size(&self) -> Result<u64, StoreError> {
        match self.shared.down() {
            Some(e @ (StoreError::Corrupt(_) | StoreError::Unavailable(_))) => Err(e),
            Some(e) => Err(StoreError::Unavailable(e.to_string())),
            None => self.shared.mirror.size(),
        }
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn published_checkpoints(&self) -> u64 {
        self.shared.mirror.tip().checkpoint_events()
    }

    fn append_limit(&self) -> Option<usize> {
        Some(self.shared.cfg.max_append)
    }

    fn append_size(&self, entry_bytes: &[u8]) -> usize {
        mapping::append_size(entry_bytes)
    }

    fn trust_log_key(&self, key: &crate::log::note::NoteVerifier) -> Result<(), StoreError> {
        self.shared.mirror.trust(key)
    }

    fn sync(&self) -> Result<u64, StoreError> {
        self.catch_up(SUBSCRIPTION_GRACE)
    }

    fn read_all(&self, from: u64, limit: usize) -> Result<Vec<StoredEntry>, StoreError> {
        self.shared.mirror.store().read_all(from, limit)
    }

    fn read_stream(
        &self,
        stream: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        self.shared.mirror.store().read_stream(stream, from, limit)
    }

    fn find_event(&self, event_id: &Uuid) -> Result<Option<StoredEntry>, StoreError> {
        self.shared.mirror.store().find_event(event_id)
    }

    fn node(&self, level: u8, index: u64) -> Result<Option<Hash>, StoreError> {
        self.shared.mirror.store().node(level, index)
    }

    fn nodes(&self, level: u8, first: u64, count: u64) -> Result<Vec<Option<Hash>>, StoreError> {
        self.shared.mirror.store().nodes(level, first, count)
    }

    fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        self.shared.mirror.store().latest_checkpoint()
    }

    fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        self.shared.mirror.store().checkpoints()
    }

    fn wait_for_growth(&self, size: u64, timeout: Duration) -> Result<u64, StoreError> {
        let deadline = Instant::now() + timeout;
        Ok(self
            .shared
            .mirror
            .wait_until(deadline, |t| t.size() > size)
            .size())
    }
}
