//! The in-order checks: index order, revision contiguity, `recorded_at` order, event-id
//! uniqueness, and the DESIGN §2.4 rules replayed with the server's own
//! [`decide`](crate::ledger::rules::decide) and [`LedgerState::apply`].
//!
//! Replaying over a subset of the log (a case bundle) is sound because of what `decide`
//! reads: the identity registry (every identity entry below the case's last entry is in
//! the bundle, from genesis), the case's own state (the whole case stream is there), and
//! `state.size`, only to recognise the genesis entry. Before each entry `size` is set to
//! the entry's real index, so entry 0 is judged as genesis and nothing else is. Entries of
//! other cases are omitted; case rules never read another case.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use super::earlier::Since;
use super::entry::{Prepared, SigJob};
use super::report::{Check, Failure, StreamEnd};
use crate::domain::{EventData, EventPayload, PrincipalId, StreamId};
use crate::ledger::rules::decide;
use crate::ledger::state::Applied;
use crate::ledger::LedgerState;
use crate::log::merkle::RootBuilder;

/// State carried from one entry to the next.
#[derive(Default)]
pub(super) struct Replay {
    pub state: LedgerState,
    last_index: Option<u64>,
    last_recorded_at: Option<DateTime<Utc>>,
    /// Root of the entries so far, while they are exactly 0..n.
    pub root: RootBuilder,
    pub gap: bool,
    pub cases: BTreeSet<String>,
    /// Entries that passed every in-order check.
    pub entries: u64,
    /// Whether each signing key met so far has no small-order component (a scalar
    /// multiplication per key, not per signature; see [`super::batch`]).
    torsion_free: HashMap<[u8; 32], bool>,
    /// Earlier checkpoints the entries' root is compared with as it reaches their sizes.
    pub since: Since,
    /// The indexes of each principal and agency stream's entries, in revision order (its
    /// revisions are contiguous from 0, so entry `r` is revision `r`). Identity entries are
    /// a small part of a log.
    pub identity_indexes: HashMap<String, Vec<u64>>,
    /// For each principal an entry relied on (its signer, or the coordinator it named),
    /// the index of the last such entry.
    relied: HashMap<PrincipalId, u64>,
    /// The index of the last case entry.
    last_case_index: Option<u64>,
}

impl Replay {
    /// Index order: strictly increasing from the genesis entry, below the checkpoint size.
    pub fn check_order(&self, index: u64, size: u64) -> Result<(), Failure> {
        let order = |m: String| Err(Failure::at(index, Check::Order, m));
        match self.last_index {
            None if index != 0 => {
                return order(format!(
                    "a bundle starts at the genesis entry, index 0; the first entry has index {index}"
                ))
            }
            Some(last) if index <= last => {
                return order(format!(
                    "index {index} follows index {last}: entries must be in increasing index order, without repeats"
                ))
            }
            _ => {}
        }
        if index >= size {
            return order(format!(
                "index {index} is beyond the checkpoint's tree size {size}"
            ));
        }
        Ok(())
    }

    /// Checks one prepared entry in log order and folds it; returns its signature job.
    pub fn step(&mut self, p: &mut Prepared<'_>) -> Result<SigJob, Failure> {
        let (index, d) = (p.index, &p.decoded);
        let fail =
            |check, msg: String| Failure::at(index, check, msg).in_stream(&d.stream, d.revision);
        self.last_index = Some(index);
        if !self.gap && index == self.root.size() {
            self.root.push(p.leaf);
            let size = self.root.size();
            if self.since.next() == Some(size) {
                let root = self.root.root();
                self.since
                    .reached(index, size, &root)
                    .map_err(|f| f.in_stream(&d.stream, d.revision))?;
            }
        } else {
            self.gap = true;
        }
        let expected = self.state.next_revision(&d.stream);
        if d.revision != expected {
            return Err(fail(
                Check::Revision,
                format!(
                    "expected revision {expected} of {}, found {}",
                    d.stream, d.revision
                ),
            ));
        }
        if let Some(last) = self.last_recorded_at.filter(|l| d.recorded_at < *l) {
            return Err(fail(
                Check::RecordedAt,
                format!(
                    "recorded_at {} is earlier than the previous entry's {}",
                    d.recorded_at, last
                ),
            ));
        }
        if let Some(first) = self.state.event_ids.get(&d.payload.event_id) {
            return Err(fail(
                Check::DuplicateEvent,
                format!(
                    "event_id {} was already recorded at index {first}",
                    d.payload.event_id
                ),
            ));
        }
        self.rules(index, p)?;
        self.last_recorded_at = Some(d.recorded_at);
        // Revisions are contiguous from 0 (checked above): a case is met at its first entry.
        if d.revision == 0 && matches!(d.payload.stream, StreamId::Case(_)) {
            self.cases.insert(d.stream.clone());
        }
        self.note_reliance(index, &d.stream, &d.payload);
        self.entries += 1;
        let keyid = d.envelope.keyid();
        let key = self
            .state
            .registry
            .keys
            .get(keyid)
            .map(|k| k.key)
            .ok_or_else(|| fail(Check::Signature, format!("no key {keyid} is registered")))?;
        let signature = *d.envelope.signature();
        let key_torsion_free = *self
            .torsion_free
            .entry(*key.as_bytes())
            .or_insert_with(|| key.to_edwards().is_torsion_free());
        Ok(SigJob {
            index,
            revision: d.revision,
            stream: std::mem::take(&mut p.decoded.stream),
            key,
            key_torsion_free,
            message: p.decoded.envelope.take_signed_message(),
            signature,
        })
    }

    /// Notes where each principal stream ends, and which principals entries rely on: every
    /// entry's signer (rule 1: its key active, itself active, its role and agency), so also
    /// whoever registered a case entry's signer or added its key, and so on back; and a
    /// coordinator a case entry names (an active caseworker of the owner agency). No agency
    /// entry can undo a registration the rules rely on, so agencies are not relied on; where
    /// their streams end is noted for the identity heads (see [`super::identity`]).
    fn note_reliance(&mut self, index: u64, stream: &str, e: &EventPayload) {
        let mut relies_on = |p: &PrincipalId| match self.relied.get_mut(p) {
            Some(last) => *last = index,
            None => {
                self.relied.insert(p.clone(), index);
            }
        };
        relies_on(&e.actor);
        match &e.stream {
            StreamId::Case(_) => {
                self.last_case_index = Some(index);
                match &e.data {
                    EventData::CaseOpened(c) => relies_on(&c.coordinator),
                    EventData::CaseCoordinatorAssigned(c) => relies_on(&c.coordinator),
                    _ => {}
                }
            }
            StreamId::Principal(_) | StreamId::Agency(_) => {
                match self.identity_indexes.get_mut(stream) {
                    Some(indexes) => indexes.push(index),
                    None => {
                        self.identity_indexes.insert(stream.to_owned(), vec![index]);
                    }
                }
            }
        }
    }

    /// The principal streams that entries relied on and whose last entry comes before the
    /// last entry relying on them: in a partial bundle, an entry of theirs in
    /// between (a key revocation, a deactivation) could have been left out without a gap in
    /// their revisions, and the rules would have been replayed without it. Those that go on
    /// past it are complete up to it (their revisions are contiguous from 0).
    pub fn open_identity_streams(&self) -> Vec<StreamEnd> {
        let mut open: Vec<StreamEnd> = self
            .relied
            .iter()
            .filter_map(|(p, &needed_until)| {
                let stream = format!("principal-{p}");
                let indexes = self.identity_indexes.get(&stream)?;
                let (revision, &index) = (indexes.len() as u64 - 1, indexes.last()?);
                (index < needed_until).then_some(StreamEnd {
                    stream,
                    revision,
                    index,
                    needed_until,
                })
            })
            .collect();
        open.sort_by(|a, b| a.stream.cmp(&b.stream));
        open
    }

    /// The index of the last case entry, if any.
    pub fn last_case_index(&self) -> Option<u64> {
        self.last_case_index
    }

    /// `decide` then `apply`, exactly as the server's writer does.
    fn rules(&mut self, index: u64, p: &Prepared<'_>) -> Result<(), Failure> {
        let d = &p.decoded;
        let keyid = d.envelope.keyid();
        let key_before = self.state.registry.keys.get(keyid).map(|k| k.key);
        self.state.size = index;
        if let Err(rule) = decide(&self.state, &d.payload, keyid, d.recorded_at) {
            // Rule 1 comes first: a forged signature is reported as such.
            if let Some(key) = key_before {
                if key
                    .verify_strict(d.envelope.signed_message(), d.envelope.signature())
                    .is_err()
                {
                    return Err(Failure::at(
                        index,
                        Check::Signature,
                        "the DSSE signature does not verify under the signer's registered key",
                    )
                    .in_stream(&d.stream, d.revision));
                }
            }
            let mut f =
                Failure::at(index, Check::Rule, rule.message).in_stream(&d.stream, d.revision);
            f.code = Some(rule.code.as_str());
            return Err(f);
        }
        self.state.apply(&Applied {
            index,
            revision: d.revision,
            recorded_at: d.recorded_at,
            keyid,
            event: &d.payload,
        });
        Ok(())
    }
}
