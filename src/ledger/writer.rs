//! The single writer: drains queued submissions, decides each against the write-side state
//! in arrival order, assigns indexes and revisions, extends the Merkle tree, signs a
//! checkpoint and commits the whole group in one transaction (one fsync). Only then are the
//! submitters answered and the read side updated, so an acknowledged write is durable.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use crossbeam_channel::Receiver;
use tokio::sync::oneshot;

use super::entry;
use super::rules::{decide, Code, RuleViolation};
use super::state::{Applied, LedgerState};
use super::{ExpectedRevision, Outcome, Receipt, Verified, WriteError};
use crate::log::checkpoint::Checkpoint;
use crate::log::merkle::{self, Hash, MemoryNodes, NodeSource, TreeError};
use crate::log::note::NoteSigner;
use crate::metrics::Metrics;
use crate::store::{CommitGroup, EventStore, StoreNodes, StoredCheckpoint, StoredEntry};

/// Upper bound on events in one group commit.
const MAX_GROUP_EVENTS: usize = 2048;

/// A queued submission: events for one stream, answered through `reply`.
pub(super) struct Request {
    pub stream: String,
    pub events: Vec<Verified>,
    pub expected: ExpectedRevision,
    pub reply: oneshot::Sender<Result<Outcome, WriteError>>,
}

/// The clock the writer stamps `recorded_at` with (a value, so tests can fix time).
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

pub(super) struct Writer {
    pub store: Arc<dyn EventStore>,
    pub state: LedgerState,
    pub read: Arc<RwLock<LedgerState>>,
    pub signer: NoteSigner,
    pub origin: String,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
}

/// New tree nodes layered over the committed ones.
struct Overlay<'a> {
    new: MemoryNodes,
    base: StoreNodes<'a>,
}

impl NodeSource for Overlay<'_> {
    fn node(&self, level: u8, index: u64) -> Result<Hash, TreeError> {
        match self.new.node(level, index) {
            Ok(h) => Ok(h),
            Err(_) => self.base.node(level, index),
        }
    }
}

/// What one admitted request contributed to the group.
struct Admitted {
    reply: oneshot::Sender<Result<Outcome, WriteError>>,
    outcome: Outcome,
}

impl Writer {
    pub fn run(mut self, rx: Receiver<Request>) {
        while let Ok(first) = rx.recv() {
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
            self.process(batch);
        }
    }

    fn process(&mut self, batch: Vec<Request>) {
        let size_before = self.state.size;
        let recorded_at = self.recorded_at();
        let stamp = entry::format_time(&recorded_at);
        let mut group = CommitGroup::default();
        let mut admitted = Vec::new();
        let mut applied_events: Vec<(StoredEntry, Verified)> = Vec::new();
        for req in batch {
            match self.admit(&req, recorded_at, &stamp, &mut group, &mut applied_events) {
                Ok(outcome) => admitted.push(Admitted {
                    reply: req.reply,
                    outcome,
                }),
                Err(e) => {
                    self.metrics.rejected.inc();
                    let _ = req.reply.send(Err(e));
                }
            }
        }
        if group.entries.is_empty() {
            for a in admitted {
                let _ = a.reply.send(Ok(a.outcome));
            }
            return;
        }
        let started = std::time::Instant::now();
        let result = self
            .seal(&mut group, size_before)
            .and_then(|()| self.store.commit(group).map_err(WriteError::Store));
        match result {
            Ok(()) => {
                self.metrics
                    .observe_commit(applied_events.len(), started.elapsed());
                self.publish(&applied_events);
                for a in admitted {
                    let _ = a.reply.send(Ok(a.outcome));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "group commit failed; reloading write state");
                for a in admitted {
                    let failed = match &a.outcome {
                        Outcome::Repeated(_) => Ok(a.outcome),
                        Outcome::Created(_) => Err(WriteError::Store(
                            crate::store::StoreError::Unavailable(e.to_string()),
                        )),
                    };
                    let _ = a.reply.send(failed);
                }
                match super::load_state(self.store.as_ref()) {
                    Ok(s) => self.state = s,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot reload state; writer stops");
                        std::process::exit(70);
                    }
                }
            }
        }
    }

    /// Server time, never earlier than the last entry (ordering is by the server clock).
    fn recorded_at(&self) -> DateTime<Utc> {
        let now = self.clock.now();
        match self.state.last_recorded_at {
            Some(last) if last > now => last,
            _ => now,
        }
    }

    /// Adds the group's Merkle nodes and a signed checkpoint for the new size.
    fn seal(&self, group: &mut CommitGroup, size_before: u64) -> Result<(), WriteError> {
        seal(
            self.store.as_ref(),
            &self.signer,
            &self.origin,
            group,
            size_before,
        )
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

    fn admit(
        &mut self,
        req: &Request,
        recorded_at: DateTime<Utc>,
        stamp: &str,
        group: &mut CommitGroup,
        applied: &mut Vec<(StoredEntry, Verified)>,
    ) -> Result<Outcome, WriteError> {
        if let Some(repeat) = self.repeat(req, group)? {
            return Ok(Outcome::Repeated(repeat));
        }
        let next = self.state.next_revision(&req.stream);
        let fits = match req.expected {
            ExpectedRevision::Any => true,
            ExpectedRevision::NoStream => next == 0,
            ExpectedRevision::Exact(n) => next == n + 1,
        };
        if !fits {
            let actual = match next {
                0 => "no_stream".to_owned(),
                n => (n - 1).to_string(),
            };
            return Err(WriteError::Rule(RuleViolation::new(
                Code::WrongExpectedRevision,
                format!(
                    "stream {} is at revision {actual}, expected {}",
                    req.stream, req.expected
                ),
            )));
        }
        let undo = (req.events.len() > 1).then(|| self.state.save(&req.events[0].event.stream));
        let mut receipts = Vec::with_capacity(req.events.len());
        let mut staged = Vec::with_capacity(req.events.len());
        for (i, v) in req.events.iter().enumerate() {
            if let Err(rule) = decide(&self.state, &v.event, v.envelope.keyid(), recorded_at) {
                if let Some(undo) = undo {
                    let added = req.events[..i].iter().map(|v| v.event.event_id);
                    self.state.restore(undo, added);
                }
                let detail = if req.events.len() > 1 {
                    RuleViolation::new(rule.code, format!("events[{i}]: {}", rule.message))
                } else {
                    rule
                };
                return Err(WriteError::Rule(detail));
            }
            let index = self.state.size;
            let revision = self.state.next_revision(&req.stream);
            let bytes = entry::encode(&req.stream, revision, stamp, &v.envelope.to_wire());
            let stored = StoredEntry {
                index,
                stream: req.stream.clone(),
                revision,
                event_id: v.event.event_id,
                recorded_at: stamp.to_owned(),
                leaf_hash: merkle::leaf_hash(&bytes),
                bytes,
            };
            self.state.apply(&Applied {
                index,
                revision,
                recorded_at,
                keyid: v.envelope.keyid(),
                event: &v.event,
            });
            receipts.push(Receipt::of(&stored));
            let mut v = v.clone();
            v.recorded_at = Some(recorded_at);
            staged.push((stored, v));
        }
        for (stored, v) in staged {
            group.entries.push(stored.clone());
            applied.push((stored, v));
        }
        Ok(Outcome::Created(receipts))
    }

    /// Idempotency (rule 6): all events known with identical bytes -> the original receipts;
    /// any known event with different bytes -> conflict; none known -> a new write.
    fn repeat(
        &self,
        req: &Request,
        group: &CommitGroup,
    ) -> Result<Option<Vec<Receipt>>, WriteError> {
        let mut originals = Vec::new();
        for v in &req.events {
            let Some(&index) = self.state.event_ids.get(&v.event.event_id) else {
                continue;
            };
            let stored = match group.entries.iter().find(|e| e.index == index) {
                Some(e) => e.clone(),
                None => self
                    .store
                    .read_all(index, 1)
                    .map_err(WriteError::Store)?
                    .pop()
                    .ok_or_else(|| {
                        WriteError::Store(crate::store::StoreError::Corrupt(format!(
                            "entry {index} is indexed but missing"
                        )))
                    })?,
            };
            let same = entry::decode(&stored.bytes)
                .map(|d| d.envelope.to_wire() == v.envelope.to_wire())
                .unwrap_or(false);
            if !same {
                return Err(WriteError::Rule(RuleViolation::new(
                    Code::DuplicateEventConflict,
                    format!(
                        "event_id {} is already recorded with different bytes (index {index})",
                        v.event.event_id
                    ),
                )));
            }
            originals.push(Receipt::of(&stored));
        }
        match originals.len() {
            0 => Ok(None),
            n if n == req.events.len() => Ok(Some(originals)),
            _ => Err(WriteError::Rule(RuleViolation::new(
                Code::DuplicateEventConflict,
                "the batch mixes already-recorded events with new ones",
            ))),
        }
    }
}

/// Adds to `group` (appended to a log of `size_before` entries) its new Merkle nodes and a
/// checkpoint for the new size signed with `signer`. The writer's own sealing step, public
/// so `bench-log` can measure exactly what the tree and checkpoints cost an append.
pub fn seal(
    store: &dyn EventStore,
    signer: &NoteSigner,
    origin: &str,
    group: &mut CommitGroup,
    size_before: u64,
) -> Result<(), WriteError> {
    let leaves: Vec<Hash> = group.entries.iter().map(|e| e.leaf_hash).collect();
    let tree_err = |e: TreeError| {
        WriteError::Store(crate::store::StoreError::Corrupt(format!(
            "merkle tree: {e}"
        )))
    };
    let base = StoreNodes(store);
    let nodes = merkle::append_nodes(&base, size_before, &leaves).map_err(tree_err)?;
    let mut new = MemoryNodes::default();
    for (level, index, hash) in &nodes {
        new.insert(*level, *index, *hash);
    }
    let size = size_before + leaves.len() as u64;
    let root = merkle::root(&Overlay { new, base }, size).map_err(tree_err)?;
    let note = Checkpoint {
        origin: origin.to_owned(),
        size,
        root,
    }
    .sign(signer)
    .map_err(|e| WriteError::Store(crate::store::StoreError::Corrupt(e.to_string())))?;
    group.nodes = nodes;
    group.checkpoint = Some(StoredCheckpoint { size, note });
    Ok(())
}
