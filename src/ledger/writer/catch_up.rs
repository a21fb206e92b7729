//! How the writer stays in step with a store other nodes also append to (EventStoreDB):
//! it folds their entries before deciding, rewinds and re-decides after a `Conflict`, and
//! fixes receipts when another node's entries landed among its own. With SQLite the store
//! never moves under the writer, so all of this is a no-op there.

use std::time::{Duration, Instant};

use super::{unavailable, Admitted, Pending, WriteError, Writer};
use crate::ledger::rules::{Code, RuleViolation};
use crate::ledger::{fold_both, OpenError, Outcome};
use crate::store::{CommitGroup, EventStore, StoreError};

/// How long an idle writer waits before following again after a failed fold.
const FOLLOW_BACKOFF: Duration = Duration::from_secs(2);
/// How often an idle writer asks the store itself to catch up (EventStoreDB: the leader's
/// head, then a scan for what the subscription has not delivered), instead of folding only
/// what the node's view holds: a subscription that stays open but delivers nothing (a node
/// cut off, a stalled stream) would otherwise leave a reading node stale for good.
const SYNC_IDLE_EVERY: Duration = Duration::from_secs(10);

fn open_error(e: OpenError) -> WriteError {
    match e {
        OpenError::Store(s) => WriteError::Store(s),
        other => WriteError::Store(StoreError::Corrupt(other.to_string())),
    }
}

impl Writer {
    /// After the last try conflicted too: what of it the store kept (on EventStoreDB a
    /// stream's run can be written before another stream conflicts) is answered as written,
    /// as a retry would find it; the rest is told to re-read and retry.
    pub(super) fn give_up(&mut self, pending: Vec<Pending>) {
        let caught = self.catch_up();
        let recorded_at = self.recorded_at();
        for p in pending {
            let written = match &caught {
                Ok(()) => self.repeat(&p.req, &CommitGroup::default(), recorded_at),
                Err(_) => Ok(None),
            };
            let answer = match written {
                Ok(Some(receipts)) => Ok(as_first_write(
                    Outcome::Repeated(receipts),
                    p.created_before,
                )),
                Ok(None) => Err(gave_up()),
                Err(e) => Err(e),
            };
            if answer.is_err() {
                self.metrics.rejected.inc();
            }
            let _ = p.req.reply.send(answer);
        }
    }

    /// Folds entries the store holds beyond the write state (other nodes' appends, or our own
    /// runs of a partially committed group) into the write state and the read side.
    pub(super) fn catch_up(&mut self) -> Result<(), WriteError> {
        let size = self.store.sync()?;
        self.fold_to(size)
    }

    /// Between writes: folds what this node's view of the store already holds beyond the
    /// write state. Unlike `catch_up` it asks no remote node (EventStoreDB's subscription
    /// feeds the view), and with nothing new it reads one cached number, so it can run
    /// whenever the writer is idle; new entries are applied, not the state copied. Every
    /// [`SYNC_IDLE_EVERY`] it first asks the store itself to catch up (see
    /// [`Writer::sync_idle`]).
    /// While folding fails (a corrupt entry, the store unreachable) it retries every
    /// [`FOLLOW_BACKOFF`], not on every tick, and logs the failure once.
    pub(super) fn follow(&mut self) {
        if self
            .follow_failing
            .is_some_and(|retry_at| Instant::now() < retry_at)
        {
            return;
        }
        if Instant::now() >= self.next_sync {
            self.sync_idle();
        }
        match (self.fold_view(), self.follow_failing) {
            (Err(e), failing) => {
                if failing.is_none() {
                    tracing::warn!(error = %e, "cannot follow the store; retrying");
                }
                self.follow_failing = Some(Instant::now() + FOLLOW_BACKOFF);
            }
            (Ok(()), Some(_)) => {
                tracing::info!(size = self.state.size, "following the store again");
                self.follow_failing = None;
            }
            (Ok(()), None) => {}
        }
    }

    /// Asks the store to bring this node's view up to date (`sync`, as a write does; with
    /// SQLite the same cheap read), for [`Writer::follow`] to fold. The next one is
    /// [`SYNC_IDLE_EVERY`] after this one ends, which can take seconds when the cluster does
    /// not answer; a failure is logged once until one succeeds, and what the view holds is
    /// folded all the same.
    fn sync_idle(&mut self) {
        let synced = self.store.sync();
        self.next_sync = Instant::now() + SYNC_IDLE_EVERY;
        match (synced, self.sync_failing) {
            (Err(e), false) => {
                tracing::warn!(error = %e, "cannot bring this node up to date with the store; serving what it holds, trying again every 10 s");
                self.sync_failing = true;
            }
            (Ok(size), true) => {
                tracing::info!(size, "up to date with the store again");
                self.sync_failing = false;
            }
            _ => {}
        }
    }

    /// Folds what this node's view of the store holds beyond the write state.
    pub(super) fn fold_view(&mut self) -> Result<(), WriteError> {
        let size = self.store.size()?;
        self.fold_to(size)
    }

    /// Folds the store's entries beyond the write state, up to `size`, into it and the read
    /// side alike (see [`fold_both`]).
    fn fold_to(&mut self, size: u64) -> Result<(), WriteError> {
        if size <= self.state.size {
            return Ok(());
        }
        fold_both(self.store.as_ref(), &mut self.state, &self.read, size).map_err(open_error)
    }

    /// After a successful commit: publish and answer. If another node's entries landed
    /// among ours (possible only with a shared store), the receipts get the real indexes
    /// and both states are rebuilt from the store's order instead.
    pub(super) fn committed(
        &mut self,
        admitted: Vec<Admitted>,
        applied: &[(crate::store::StoredEntry, crate::ledger::Verified)],
        assumed: &[(uuid::Uuid, u64)],
        (size, nodes): (u64, Vec<(u8, u64, crate::log::merkle::Hash)>),
    ) {
        match placed(self.store.as_ref(), self.state.size, assumed) {
            Ok(true) => {
                self.frontier.advance(size, &nodes);
                self.publish(applied);
                for a in admitted {
                    let _ = a.req.reply.send(Ok(a.outcome));
                }
            }
            placed => {
                tracing::warn!(
                    ?placed,
                    "entries interleaved with another node's; re-reading"
                );
                self.rewind();
                let caught = self.catch_up();
                // The group's checkpoint was not published (it assumed other positions):
                // the next idle moment signs one.
                self.signed_size = 0;
                // The group's own nodes assumed other positions: re-read the border.
                self.frontier = super::Frontier::load(self.store.as_ref(), self.state.size);
                for a in admitted {
                    let answer = match &caught {
                        Ok(()) => reindex(self.store.as_ref(), a.outcome),
                        Err(e) => Err(unavailable(e)),
                    };
                    let _ = a.req.reply.send(answer);
                }
            }
        }
    }

    /// Drops what the failed group applied to the write state: the read side is exactly
    /// the committed state the group started from.
    pub(super) fn rewind(&mut self) {
        self.state = self.read.read().expect("read state").clone();
    }
}

/// Whether each entry of the group sits at the index the writer gave it. Only a shared
/// store can say no; with the log exactly as large as the writer's state, it cannot. A
/// size the store will not give (EventStoreDB's, while its subscription is down) is no
/// answer: the entries are looked up instead, which the mirror can still do, rather than
/// every commit of an outage being taken for an interleaved one.
pub(super) fn placed(
    store: &dyn EventStore,
    size: u64,
    assumed: &[(uuid::Uuid, u64)],
) -> Result<bool, StoreError> {
    if store.size().ok() == Some(size) {
        return Ok(true);
    }
    for (id, index) in assumed {
        if store.find_event(id)?.map(|e| e.index) != Some(*index) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The receipts with the indexes the store actually gave the entries.
pub(super) fn reindex(store: &dyn EventStore, outcome: Outcome) -> Result<Outcome, WriteError> {
    let fix = |mut receipts: Vec<crate::ledger::Receipt>| {
        for r in &mut receipts {
            let stored = store.read_stream(&r.stream, r.revision, 1)?;
            let e = stored.first().ok_or_else(|| {
                StoreError::Corrupt(format!("{} revision {} vanished", r.stream, r.revision))
            })?;
            r.index = e.index;
        }
        Ok::<_, StoreError>(receipts)
    };
    Ok(match outcome {
        Outcome::Created(r) => Outcome::Created(fix(r)?),
        Outcome::Repeated(r) => Outcome::Repeated(fix(r)?),
    })
}

/// A request admitted as new in a conflicted try and found already written on the retry
/// (its stream's run was committed before another stream conflicted) was written by us:
/// it is answered as created, not as a client's repeat.
pub(super) fn as_first_write(outcome: Outcome, created_before: bool) -> Outcome {
    match outcome {
        Outcome::Repeated(r) if created_before => Outcome::Created(r),
        other => other,
    }
}

/// The answer when concurrent writers kept winning every retry.
pub(super) fn gave_up() -> WriteError {
    WriteError::Rule(RuleViolation::new(
        Code::WrongExpectedRevision,
        "the stream kept changing under concurrent writes; re-read it and retry",
    ))
}
