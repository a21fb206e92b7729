//! The single writer: drains queued submissions, decides each against the write-side state
//! in arrival order, assigns indexes and revisions, extends the Merkle tree, signs a
//! checkpoint and commits the whole group in one transaction (one fsync). Only then are the
//! submitters answered and the read side updated, so an acknowledged write is durable.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use crossbeam_channel::{Receiver, RecvTimeoutError};
use tokio::sync::oneshot;

use super::clock::Clock;
use super::entry;
use super::state::{Applied, LedgerState};
use super::{ExpectedRevision, Outcome, Verified, WriteError};
use crate::log::note::NoteSigner;
use crate::metrics::Metrics;
use crate::store::{CommitGroup, EventStore, StoreError, StoredEntry};

mod admit;
mod catch_up;
mod idle;
mod seal;
#[cfg(test)]
mod tests;

pub(super) use idle::Owed;
pub use seal::{cover_log, seal, stored_tree_matches, CheckpointPacer, Frontier};

/// Upper bound on events in one group commit.
const MAX_GROUP_EVENTS: usize = 2048;

/// How often an idle writer looks for entries other nodes appended to a shared store, so the
/// read side (case views, the registry that authenticates tokens) follows the log on a node
/// that never writes (`serve --read-only`).
const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// Retries of a batch after store conflicts before answering `wrong_expected_revision` to
/// what is still pending (the admitted requests and the refusals that rested on them).
const CONFLICT_RETRIES: usize = 3;

/// A queued submission: events for one stream, answered through `reply`.
pub(super) struct Request {
    pub stream: String,
    pub events: Vec<Verified>,
    pub expected: ExpectedRevision,
    pub reply: oneshot::Sender<Result<Outcome, WriteError>>,
}

pub(super) struct Writer {
    pub store: Arc<dyn EventStore>,
    pub state: LedgerState,
    pub read: Arc<RwLock<LedgerState>>,
    pub signer: NoteSigner,
    pub origin: String,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    /// The tree's right border, so sealing reads no nodes from the store.
    pub frontier: Frontier,
    /// When to sign checkpoints.
    pub pacer: CheckpointPacer,
    /// Whether more requests were queued behind the group being decided.
    pub under_load: bool,
    /// Entries covered by the last checkpoint this writer committed.
    pub signed_size: u64,
    /// A checkpoint that failed or went unpublished (idle, or at start-up): its size, and
    /// when to sign it again.
    pub owed: Option<idle::Owed>,
    /// After a failed idle fold: when to try again (the failure is logged once).
    pub follow_failing: Option<std::time::Instant>,
    /// When an idle writer next asks the store itself to catch up (see
    /// [`Writer::follow`]).
    pub next_sync: std::time::Instant,
    /// Whether the last of those failed (logged once until one succeeds).
    pub sync_failing: bool,
    /// The data directory's writer lock, if the ledger holds one: shared with the ledger's
    /// handles, so it is released only when they and this writer are gone.
    pub _lock: Arc<std::sync::OnceLock<super::HeldLock>>,
}

/// What one admitted request contributed to the group.
pub(super) struct Admitted {
    pub req: Request,
    pub outcome: Outcome,
}

impl Admitted {
    fn retry(self) -> Pending {
        Pending {
            created_before: matches!(self.outcome, Outcome::Created(_)),
            req: self.req,
        }
    }
}

/// A request to decide, remembering whether an earlier, conflicted try had admitted it as
/// new (so finding it already written, after a partial commit, still answers 201).
struct Pending {
    req: Request,
    created_before: bool,
}

/// A refused request, answered only once the group it was decided with has committed: the
/// refusal may rest on an earlier request of the same group (a stream it created, a consent
/// it granted), and if that commit fails, on a state that never existed.
struct Refused {
    req: Request,
    error: WriteError,
    created_before: bool,
    /// Whether the group held new entries when this was decided.
    on_group: bool,
}

impl Refused {
    /// The answer once the group's fate is known: a refusal that rested on entries that
    /// were never stored is 503, like the writes it followed (a failure, not counted as a
    /// rejection).
    fn answer(self, metrics: &Metrics, commit_failed: Option<&WriteError>) {
        let error = match commit_failed {
            Some(e) if self.on_group => unavailable(e),
            _ => {
                metrics.rejected.inc();
                self.error
            }
        };
        let _ = self.req.reply.send(Err(error));
    }
}

/// The admitted requests and the refused ones, each in arrival order.
fn split(decided: Vec<Result<Admitted, Refused>>) -> (Vec<Admitted>, Vec<Refused>) {
    let mut admitted = Vec::new();
    let mut refused = Vec::new();
    for d in decided {
        match d {
            Ok(a) => admitted.push(a),
            Err(r) => refused.push(r),
        }
    }
    (admitted, refused)
}

/// Whether a refusal is of a request too large for the store (decided on the request alone).
fn is_too_large(e: &WriteError) -> bool {
    matches!(e, WriteError::Rule(v) if v.code == super::Code::PayloadTooLarge)
}

pub(super) fn unavailable(e: &WriteError) -> WriteError {
    WriteError::Store(StoreError::Unavailable(e.to_string()))
}

impl Writer {
    pub fn run(mut self, rx: Receiver<Request>) {
        loop {
            let first = match rx.recv_timeout(FOLLOW_EVERY) {
                Ok(request) => request,
                Err(RecvTimeoutError::Timeout) => {
                    self.follow();
                    self.sign_owed();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => return,
            };
            let mut count = first.events.len();
            let mut batch = vec![first];
            while count < MAX_GROUP_EVENTS {
                match rx.try_recv() {
                    Ok(r) => {
                        count += r.events.len();
                        batch.push(r);
                    }
                    Err(_) => break,
                }
            }
            self.under_load = !rx.is_empty();
            self.process(batch);
            if rx.is_empty() {
                self.sign_idle_tail();
            }
        }
    }

    /// Decides and commits one batch. A store `Conflict` (another node appended to one of
    /// the streams, or ahead of us in the log) is answered by catching up from the store and
    /// re-running the rules for the requests that were admitted, and for the refusals that
    /// rested on them, a bounded number of times.
    fn process(&mut self, batch: Vec<Request>) {
        let mut pending: Vec<Pending> = batch
            .into_iter()
            .map(|req| Pending {
                req,
                created_before: false,
            })
            .collect();
        for attempt in 0..=CONFLICT_RETRIES {
            if let Err(e) = self.catch_up() {
                tracing::error!(error = %e, "cannot catch up with the store");
                for p in pending {
                    let _ = p.req.reply.send(Err(unavailable(&e)));
                }
                return;
            }
            match self.attempt(pending) {
                Some(retry) => {
                    tracing::warn!(attempt, "group commit conflicted; catching up and retrying");
                    pending = retry;
                }
                None => return,
            }
        }
        self.give_up(pending);
    }

    /// One try at a batch. Returns the requests to retry after a `Conflict`: the admitted
    /// ones and the refusals decided after them.
    fn attempt(&mut self, batch: Vec<Pending>) -> Option<Vec<Pending>> {
        let size_before = self.state.size;
        let recorded_at = self.recorded_at();
        let stamp = entry::format_time(&recorded_at);
        let mut group = CommitGroup::default();
        // In arrival order, so that a retry decides them in the same order again.
        let mut decided: Vec<Result<Admitted, Refused>> = Vec::new();
        let mut applied_events: Vec<(StoredEntry, Verified)> = Vec::new();
        for p in batch {
            let on_group = !group.entries.is_empty();
            decided.push(
                match self.admit(&p.req, recorded_at, &stamp, &mut group, &mut applied_events) {
                    Ok(outcome) => Ok(Admitted {
                        outcome: catch_up::as_first_write(outcome, p.created_before),
                        req: p.req,
                    }),
                    Err(error) => Err(Refused {
                        req: p.req,
                        // Too large for the store whatever the group holds.
                        on_group: on_group && !is_too_large(&error),
                        error,
                        created_before: p.created_before,
                    }),
                },
            );
        }
        if group.entries.is_empty() {
            let (admitted, refused) = split(decided);
            for a in admitted {
                let _ = a.req.reply.send(Ok(a.outcome));
            }
            for r in refused {
                r.answer(&self.metrics, None);
            }
            return None;
        }
        let assumed: Vec<(uuid::Uuid, u64)> = group
            .entries
            .iter()
            .map(|e| (e.event_id, e.index))
            .collect();
        let started = std::time::Instant::now();
        let mut sealed = (0, Vec::new());
        let mut signed = false;
        let result = self.seal(&mut group, size_before).and_then(|()| {
            sealed = (
                size_before + group.entries.len() as u64,
                group.nodes.clone(),
            );
            signed = group.checkpoint.is_some();
            self.store.commit(group).map_err(WriteError::Store)
        });
        match result {
            Ok(()) => {
                if signed && self.published(sealed.0) {
                    self.pacer.signed(started);
                    self.signed_size = sealed.0;
                }
                self.metrics
                    .observe_commit(applied_events.len(), started.elapsed());
                tracing::debug!(
                    entries = applied_events.len(),
                    size = sealed.0,
                    signed,
                    took_us = started.elapsed().as_micros() as u64,
                    "group committed"
                );
                let (admitted, refused) = split(decided);
                self.committed(admitted, &applied_events, &assumed, sealed);
                for r in refused {
                    r.answer(&self.metrics, None);
                }
                None
            }
            Err(WriteError::Store(StoreError::Conflict(why))) => {
                tracing::info!(%why, "store conflict");
                self.rewind();
                // A refusal decided on the committed state stands (as any refusal does while
                // other nodes append); one that rested on the group is decided again with it.
                let mut retry = Vec::new();
                for d in decided {
                    match d {
                        Ok(a) => retry.push(a.retry()),
                        Err(r) if r.on_group => retry.push(Pending {
                            req: r.req,
                            created_before: r.created_before,
                        }),
                        Err(r) => r.answer(&self.metrics, None),
                    }
                }
                Some(retry)
            }
            Err(e) => {
                let (admitted, refused) = split(decided);
                self.failed(admitted, &e, size_before);
                for r in refused {
                    r.answer(&self.metrics, Some(&e));
                }
                None
            }
        }
    }

    /// Any other failure: nothing acknowledged. The write state goes back to the committed
    /// state (the read side), and both then fold whatever of the group the store did keep
    /// (on EventStoreDB some streams' runs may have been written). A repeat stands only if
    /// what it repeats was committed before this group (an earlier event of it was not).
    fn failed(&mut self, admitted: Vec<Admitted>, e: &WriteError, size_before: u64) {
        tracing::error!(error = %e, "group commit failed; back to the committed state");
        self.metrics.commit_failed();
        for a in admitted {
            let failed = match &a.outcome {
                Outcome::Repeated(receipts) if receipts.iter().all(|r| r.index < size_before) => {
                    Ok(a.outcome)
                }
                _ => Err(WriteError::Store(StoreError::Unavailable(e.to_string()))),
            };
            let _ = a.req.reply.send(failed);
        }
        self.rewind();
        if let Err(e) = self.fold_view() {
            tracing::error!(error = %e, "cannot fold the store; the next group retries");
        }
    }

    /// Whether the store holds a checkpoint of `size` after a commit that carried one. A
    /// shared store publishes it after the entries and may fail to (the entries are stored
    /// all the same); the next group then signs again. A local store commits both at once.
    pub(super) fn published(&self, size: u64) -> bool {
        !self.store.is_shared()
            || self
                .store
                .latest_checkpoint()
                .is_ok_and(|cp| cp.is_some_and(|c| c.size >= size))
    }

    /// Server time, never earlier than the last entry (ordering is by the server clock).
    fn recorded_at(&self) -> DateTime<Utc> {
        // Truncated to the microseconds entries carry, so the rules decide (and the state
        // folds) on exactly the time a replay of the stored entry will see.
        let now = chrono::DurationRound::duration_trunc(
            self.clock.now(),
            chrono::TimeDelta::microseconds(1),
        )
        .unwrap_or_else(|_| self.clock.now());
        match self.state.last_recorded_at {
            Some(last) if last > now => last,
            _ => now,
        }
    }

    /// Publishes committed entries to the read side, then the submitters are answered.
    fn publish(&self, applied: &[(StoredEntry, Verified)]) {
        let mut read = self.read.write().expect("read state");
        for (e, v) in applied {
            read.apply(&Applied {
                index: e.index,
                revision: e.revision,
                recorded_at: v.recorded_at.expect("stamped"),
                keyid: v.envelope.keyid(),
                event: &v.event,
            });
        }
    }
}
