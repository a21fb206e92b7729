//! Deciding one request against the write-side state: idempotent repeats (rule 6), the
//! expected revision, then the rules for each event, staging the entries of those admitted.
//! A writer who may not read the stream is never told its revision.

use chrono::{DateTime, Utc};

use super::super::entry;
use super::super::rules::{decide_write, Code, RuleViolation};
use super::super::scope::{can_read_stream, Reader};
use super::super::state::Applied;
use super::super::{ExpectedRevision, Outcome, Receipt, Verified, WriteError};
use super::{Request, Writer};
use crate::domain::StreamId;
use crate::log::merkle;
use crate::log::tiles::MAX_BUNDLED_ENTRY;
use crate::store::{CommitGroup, StoreError, StoredEntry};

impl Writer {
    pub(super) fn admit(
        &mut self,
        req: &Request,
        recorded_at: DateTime<Utc>,
        stamp: &str,
        group: &mut CommitGroup,
        applied: &mut Vec<(StoredEntry, Verified)>,
    ) -> Result<Outcome, WriteError> {
        if let Some(repeat) = self.repeat(req, group, recorded_at)? {
            return Ok(Outcome::Repeated(repeat));
        }
        let next = self.state.next_revision(&req.stream);
        // A request too large for the store (measured from the request alone, see
        // `within_append_limit`) is refused before the rules touch the state, and before the
        // expected revision is compared: whether the guess was right must not change which
        // refusal a writer who may not read the stream gets. The entries themselves hold
        // their real revisions, `next + i`.
        let encoded: Vec<Vec<u8>> = (req.events.iter().zip(next..))
            .map(|(v, revision)| entry::encode(&req.stream, revision, stamp, &v.envelope.to_wire()))
            .collect();
        self.within_append_limit(req, stamp, &encoded, next)?;
        let fits = match req.expected {
            ExpectedRevision::Any => true,
            ExpectedRevision::NoStream => next == 0,
            ExpectedRevision::Exact(n) => next.checked_sub(1) == Some(n),
        };
        if !fits {
            return Err(self.not_at_expected(req, next, recorded_at));
        }
        let undo = (req.events.len() > 1).then(|| self.state.save(&req.events[0].event.stream));
        let mut receipts = Vec::with_capacity(req.events.len());
        let mut staged = Vec::with_capacity(req.events.len());
        for ((i, v), bytes) in req.events.iter().enumerate().zip(encoded) {
            if let Err(rule) = decide_write(&self.state, &v.event, v.envelope.keyid(), recorded_at)
            {
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
            let (index, revision) = self.apply_next(&req.stream, v, recorded_at);
            debug_assert_eq!(revision, next + i as u64, "encoded at this revision");
            let stored = StoredEntry {
                index,
                stream: req.stream.clone(),
                revision,
                event_id: v.event.event_id,
                recorded_at: stamp.to_owned(),
                leaf_hash: merkle::leaf_hash(&bytes),
                bytes,
            };
            receipts.push(Receipt::of(&stored));
            let mut v = v.clone();
            v.recorded_at = Some(recorded_at);
            staged.push((stored, v));
        }
        for (stored, v) in staged {
            group.entries.push(stored.clone());
            applied.push((stored, v));
        }
        group.request_ends.push(group.entries.len());
        Ok(Outcome::Created(receipts))
    }

    /// Refuses entries that would not fit in one append of a store that bounds its appends
    /// (EventStoreDB's `MaxAppendSize`): a batch is written whole or not at all; and any
    /// entry over 65,535 bytes, which no C2SP tile entry bundle could carry (its length is a
    /// 16-bit number): one such entry would stop every tile client following the log. Each
    /// entry is measured as if its revision took the most digits one can (20), not at its
    /// real revision: the answer then depends on the request alone, so it tells a writer who
    /// may not read the stream nothing of its length, and no earlier write tips it over.
    fn within_append_limit(
        &self,
        req: &Request,
        stamp: &str,
        encoded: &[Vec<u8>],
        next: u64,
    ) -> Result<(), WriteError> {
        let refuse = |detail: String| {
            Err(WriteError::Rule(RuleViolation::new(
                Code::PayloadTooLarge,
                detail,
            )))
        };
        let digits = |n: u64| n.checked_ilog10().map_or(1, |d| d as usize + 1);
        let store_limit = self.store.append_limit();
        let mut size = 0;
        for (i, (entry, revision)) in encoded.iter().zip(next..).enumerate() {
            let widest = entry.len() - digits(revision) + digits(u64::MAX);
            if widest > MAX_BUNDLED_ENTRY {
                let which = match req.events.len() {
                    1 => String::new(),
                    _ => format!(" (event {i} of the batch)"),
                };
                return refuse(format!(
                    "the entry{which} would take up to {widest} bytes in the log, over its \
                     limit of {MAX_BUNDLED_ENTRY} per entry (the 16-bit length of a C2SP tile \
                     entry bundle); send a smaller event"
                ));
            }
            if store_limit.is_some() {
                let wide = entry::encode(
                    &req.stream,
                    u64::MAX,
                    stamp,
                    &req.events[i].envelope.to_wire(),
                );
                size += self.store.append_size(&wide);
            }
        }
        let Some(limit) = store_limit else {
            return Ok(());
        };
        if size <= limit {
            return Ok(());
        }
        refuse(format!(
            "the request's entries take {size} bytes in one append, over the store's \
             limit of {limit} (EventStoreDB's MaxAppendSize, set with max_append_bytes in \
             --store); a batch is written whole or not at all, so send fewer or smaller \
             events per request"
        ))
    }

    /// The answer to a request whose expected revision does not fit. A writer who may read
    /// the stream is told its revision (`wrong_expected_revision`, as EventStoreDB does).
    /// Anyone else is not: the revision would tell them that a case exists and how many
    /// events it holds. They get the refusal the rules give the request's events, decided in
    /// order as if the revision fitted (a batch refused at its second event would otherwise
    /// tell a right guess from a wrong one), or, if the rules would take them all, a
    /// conflict that names no revision.
    fn not_at_expected(
        &mut self,
        req: &Request,
        next: u64,
        recorded_at: DateTime<Utc>,
    ) -> WriteError {
        let conflict = |message: String| {
            WriteError::Rule(RuleViolation::new(Code::WrongExpectedRevision, message))
        };
        let Some(first) = req.events.first() else {
            return conflict(format!("expected {}", req.expected));
        };
        if self.reads(req, &first.event.stream) {
            let actual = match next {
                0 => "no_stream".to_owned(),
                n => (n - 1).to_string(),
            };
            return conflict(format!(
                "stream {} is at revision {actual}, expected {}",
                req.stream, req.expected
            ));
        }
        match self.decide_in_order(req, recorded_at) {
            Err(refused) => refused,
            Ok(()) => conflict(format!(
                "stream {} does not match the expected revision {}",
                req.stream, req.expected
            )),
        }
    }

    /// Whether the request's writer (its first event's actor) may read `stream`.
    fn reads(&self, req: &Request, stream: &StreamId) -> bool {
        let actor =
            (req.events.first()).and_then(|v| self.state.registry.principals.get(&v.event.actor));
        actor.is_some_and(|p| {
            let reader = Reader {
                id: &p.id,
                agency: &p.agency,
                roles: &p.roles,
            };
            can_read_stream(&self.state, &reader, stream)
        })
    }

    /// Applies `v` to the write-side state as the log's next entry and the stream's next
    /// revision; that index and revision.
    fn apply_next(&mut self, stream: &str, v: &Verified, recorded_at: DateTime<Utc>) -> (u64, u64) {
        let index = self.state.size;
        let revision = self.state.next_revision(stream);
        self.state.apply(&Applied {
            index,
            revision,
            recorded_at,
            keyid: v.envelope.keyid(),
            event: &v.event,
        });
        (index, revision)
    }

    /// Decides the request's events in order, each against the state the ones before it
    /// leave, and rolls the state back either way; the first refusal (`events[i]: …` in a
    /// batch), if any.
    fn decide_in_order(
        &mut self,
        req: &Request,
        recorded_at: DateTime<Utc>,
    ) -> Result<(), WriteError> {
        let Some(first) = req.events.first() else {
            return Ok(());
        };
        let undo = self.state.save(&first.event.stream);
        // Ids recorded before (a conflicting repeat, decided for a writer who may not read
        // where it is): applying the request points them elsewhere, and `restore` forgets
        // every id of the request; they are put back as they were.
        let known: Vec<_> = (req.events.iter())
            .filter_map(|v| {
                let id = v.event.event_id;
                self.state.event_ids.get(&id).map(|&index| (id, index))
            })
            .collect();
        let mut refused = None;
        for (i, v) in req.events.iter().enumerate() {
            if let Err(rule) = decide_write(&self.state, &v.event, v.envelope.keyid(), recorded_at)
            {
                refused = Some(match req.events.len() {
                    1 => rule,
                    _ => RuleViolation::new(rule.code, format!("events[{i}]: {}", rule.message)),
                });
                break;
            }
            self.apply_next(&req.stream, v, recorded_at);
        }
        // Every event id the loop may have added, then those known before as they were.
        self.state
            .restore(undo, req.events.iter().map(|v| v.event.event_id));
        self.state.event_ids.extend(known);
        refused.map_or(Ok(()), |rule| Err(WriteError::Rule(rule)))
    }

    /// Idempotency (rule 6): all events known with identical bytes -> the original receipts;
    /// any known event with different bytes -> conflict; none known -> a new write. The
    /// conflict names where the event is only to a writer who may read its stream; anyone
    /// else gets the refusal the rules give the request, or a conflict that names no place.
    pub(super) fn repeat(
        &mut self,
        req: &Request,
        group: &CommitGroup,
        recorded_at: DateTime<Utc>,
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
                        WriteError::Store(StoreError::Corrupt(format!(
                            "entry {index} is indexed but missing"
                        )))
                    })?,
            };
            let same = entry::decode(&stored.bytes)
                .map(|d| d.envelope.to_wire() == v.envelope.to_wire())
                .unwrap_or(false);
            if !same {
                let conflict = format!(
                    "event_id {} is already recorded with different bytes",
                    v.event.event_id
                );
                let reads = stored.stream.parse().is_ok_and(|s| self.reads(req, &s));
                if !reads {
                    self.decide_in_order(req, recorded_at)?;
                }
                return Err(WriteError::Rule(RuleViolation::new(
                    Code::DuplicateEventConflict,
                    match reads {
                        true => format!("{conflict} (index {index})"),
                        false => conflict,
                    },
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
