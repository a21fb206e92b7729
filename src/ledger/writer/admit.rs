//! Deciding one request against the write-side state: idempotent repeats (rule 6), the
//! expected revision, then the rules for each event, staging the entries of those admitted.
//! A writer refused for who it is (role, agency, key) learns that, never the stream's
//! revision.

use chrono::{DateTime, Utc};

use super::super::entry;
use super::super::rules::{decide_write, Code, RuleViolation};
use super::super::state::Applied;
use super::super::{ExpectedRevision, Outcome, Receipt, Verified, WriteError};
use super::{Request, Writer};
use crate::log::merkle;
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
        if let Some(repeat) = self.repeat(req, group)? {
            return Ok(Outcome::Repeated(repeat));
        }
        let next = self.state.next_revision(&req.stream);
        let fits = match req.expected {
            ExpectedRevision::Any => true,
            ExpectedRevision::NoStream => next == 0,
            ExpectedRevision::Exact(n) => next.checked_sub(1) == Some(n),
        };
        if !fits {
            // Who may write here is decided first: the stream's revision is the writer's to
            // know, not anyone's who holds a token (it tells a case exists and how busy it is).
            if let Some(first) = req.events.first() {
                match decide_write(
                    &self.state,
                    &first.event,
                    first.envelope.keyid(),
                    recorded_at,
                ) {
                    Err(rule) if rule.code.is_about_the_writer() => {
                        return Err(WriteError::Rule(rule))
                    }
                    _ => {}
                }
            }
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
                        WriteError::Store(StoreError::Corrupt(format!(
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
