//! The offline verifier (`caseledger verify`): checks a bundle against the log's verifier key
//! alone — no network, no data directory. See docs/verify.md for what each check proves and
//! what a case bundle cannot prove.
//!
//! Pipeline per chunk of entries: decoding and inclusion proofs in parallel
//! (`entry::prepare`), then the in-order checks and the rule replay on this thread
//! (`replay::Replay`), which hands each entry's signature to the signature stage
//! (`signatures::Signatures`): batches verified on a pool of their own, without waiting
//! for one chunk's signatures before the next chunk.

mod batch;
mod buffers;
mod earlier;
mod entry;
#[cfg(test)]
mod final_tests;
mod header;
mod identity;
mod proofs;
mod replay;
pub mod report;
mod sample;
mod signatures;
mod stream;
mod strict_r;

use std::sync::atomic::AtomicBool;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rayon::prelude::*;

pub use batch::holds as batch_holds;
pub use earlier::{ConsistencyProof, Since};
pub use report::{Check, Failure, HeadsHeld, Kind, Report, StreamEnd};
pub use sample::{signature_sample, SignatureSample};
pub use signatures::{grouped_as_verified, BATCH};
pub use stream::{
    verify_bundle, verify_reader, verify_reader_pausing, verify_reader_since, wait_for_freeing,
};

use crate::bundle::read::{Item, RawChunk, ReadError};
use crate::log::note::NoteVerifier;
use crate::log::Checkpoint;
use buffers::{reuse, Buffers};
use replay::Replay;
use signatures::Signatures;

/// Entries handed from the reader to the verifier at a time.
pub const CHUNK: usize = proofs::CHUNK;
/// Chunks of entries held while the header has not come yet (64 MB or so of the
/// exporter's entries)...
const MAX_WAITING: usize = 8;
/// ...and at most this many bytes of entries, whatever they are (the one that would pass
/// it included).
const MAX_WAITING_BYTES: usize = 96 << 20;
/// Replays of at least this many entries are freed on a thread of their own.
const FREE_APART: u64 = 100_000;

/// Verification options.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Check every signature with `verify_strict` instead of in batches.
    pub strict: bool,
    /// Fail unless the bundle holds the whole log.
    pub require_full: bool,
    /// Fail when a partial bundle carries no identity heads (none given with `--heads`
    /// either): without them nothing shows that no entry was left out.
    pub require_heads: bool,
}

/// Feeds a bundle through the checks, item by item.
pub struct Verifier<'k> {
    key: &'k NoteVerifier,
    opts: Options,
    checkpoint: Option<Checkpoint>,
    /// The checkpoint member as the bundle holds it (witnesses' cosignatures are read on it).
    checkpoint_note: String,
    waiting: Vec<RawChunk>,
    /// Entries handed over so far (their positions in the bundle).
    position: u64,
    replay: Replay,
    signatures: Signatures,
    failure: Option<Failure>,
    /// Entries (and signatures) before the failing signature, when one failed.
    before_failure: Option<u64>,
    /// Where chunks go once checked, to be filled again by the reader.
    spare: Option<crossbeam_channel::Sender<RawChunk>>,
    buffers: Buffers,
    /// The bundle's signed identity heads, if it has them (checked at the end).
    identity_heads: Option<String>,
}

impl<'k> Verifier<'k> {
    /// A verifier trusting only `key`.
    pub fn new(key: &'k NoteVerifier, opts: Options) -> Self {
        Self {
            key,
            opts,
            checkpoint: None,
            checkpoint_note: String::new(),
            waiting: Vec::new(),
            position: 0,
            replay: Replay::default(),
            signatures: Signatures::new(opts.strict),
            failure: None,
            before_failure: None,
            spare: None,
            buffers: Buffers::default(),
            identity_heads: None,
        }
    }

    /// Checks the bundle's checkpoint against earlier ones too (see [`Since`]).
    pub fn since(mut self, since: Since) -> Self {
        self.replay.since = since;
        self
    }

    /// Feeds the next item; `false` once a failure is known (reading on is pointless).
    pub fn feed(&mut self, item: Item) -> bool {
        if self.failure.is_some() {
            return false;
        }
        match item {
            Item::Header(h) => match header::check(self.key, &h) {
                Ok(cp) => {
                    // Earlier checkpoints with a proof are judged here, before any entry.
                    let since = self.replay.since.start(&cp);
                    self.checkpoint = Some(cp);
                    self.checkpoint_note = h.checkpoint;
                    if let Err(f) = since {
                        self.failure = Some(f);
                        return false;
                    }
                    for chunk in std::mem::take(&mut self.waiting) {
                        if !self.chunk(chunk) {
                            return false;
                        }
                    }
                }
                Err(f) => self.failure = Some(f),
            },
            // Entries before the header: kept until the checkpoint is known, within reason.
            Item::Entries(c) if self.checkpoint.is_none() => {
                let waiting: usize = self.waiting.iter().map(RawChunk::bytes_held).sum();
                if self.waiting.len() >= MAX_WAITING || waiting + c.bytes_held() > MAX_WAITING_BYTES
                {
                    self.failure = Some(header::late(MAX_WAITING * CHUNK, MAX_WAITING_BYTES));
                } else {
                    self.waiting.push(c);
                }
            }
            Item::Entries(c) => return self.chunk(c),
            Item::IdentityHeads(h) => self.identity_heads = Some(h),
        }
        self.failure.is_none()
    }

    /// Records a failure found outside the verifier (an unreadable document).
    pub fn fail(&mut self, f: Failure) {
        self.failure.get_or_insert(f);
    }

    /// Records how the reader ended: a document it could not read is a format failure;
    /// stopping because the verifier asked to is not.
    fn reading_ended(&mut self, ended: Result<(), ReadError>) {
        if let Err(ReadError::Invalid(m)) = ended {
            self.fail(Failure::bundle(Check::Format, m));
        }
    }

    fn chunk(&mut self, chunk: RawChunk) -> bool {
        let Some(cp) = self.checkpoint.clone() else {
            return false;
        };
        let (held, failure) = replay_chunk(
            &mut self.replay,
            &chunk,
            self.position,
            &cp,
            &mut self.buffers,
            &mut self.signatures,
        );
        self.position += held;
        if let Some(spare) = &self.spare {
            // A full return queue only means the reader has buffers enough.
            let _ = spare.try_send(chunk);
        }
        if failure.is_some() || self.signatures.failed() {
            self.failure = failure;
            self.finish_signatures();
            return false;
        }
        true
    }

    /// Waits for every signature batch sent; a failing signature is the first failure in
    /// log order: every signature sent is of an entry before any failure found otherwise.
    fn finish_signatures(&mut self) {
        if let Some((before, f)) = self.signatures.finish() {
            self.failure = Some(f);
            self.before_failure = Some(before);
        }
    }

    /// Waits until no signature batch is running (for a benchmark's pause); whether a
    /// failure is known.
    fn idle(&mut self) -> bool {
        self.signatures.drain() || self.failure.is_some()
    }

    /// Finishes the pending checks and reports.
    pub fn finish(mut self) -> Report {
        self.finish_signatures();
        let cp = self.checkpoint.clone();
        // The entries checked: those before the failing entry, if one failed.
        let entry_failed = self.failure.as_ref().is_some_and(|f| f.index.is_some());
        let kind = cp.as_ref().map(|cp| {
            if entry_failed {
                Kind::Partial
            } else {
                self.kind(cp)
            }
        });
        if self.failure.is_none() {
            self.failure = self.final_checks(cp.as_ref(), kind);
        }
        let full = kind == Some(Kind::Full);
        let notes: Vec<String> = (self.identity_heads.take().into_iter())
            .chain(std::mem::take(&mut self.replay.since.heads))
            .collect();
        let heads = match (&cp, &self.failure) {
            (Some(cp), None) => {
                let require = self.opts.require_heads && !full;
                identity::check_all(&notes, self.key, cp, &self.replay, full, require)
                    .map_err(|f| self.failure = Some(f))
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        };
        // What a partial bundle leaves open is said of one that verified.
        let partial = kind == Some(Kind::Partial) && self.failure.is_none();
        let report = Report {
            ok: self.failure.is_none(),
            origin: cp.as_ref().map(|c| c.origin.clone()),
            kind,
            checkpoint_size: cp.as_ref().map(|c| c.size),
            checkpoint_root: cp.as_ref().map(|c| B64.encode(c.root)),
            entries: self.before_failure.unwrap_or(self.replay.entries),
            signatures: self
                .before_failure
                .unwrap_or_else(|| self.signatures.verified()),
            streams: self.replay.state.streams.len(),
            cases: std::mem::take(&mut self.replay.cases).into_iter().collect(),
            consistent_with: self.replay.since.shown(),
            last_case_index: self.replay.last_case_index().filter(|_| partial),
            open_identity_streams: match partial && heads.is_empty() {
                true => self.replay.open_identity_streams(),
                false => Vec::new(),
            },
            identity_heads_before: heads.first().map(|h| h.before),
            identity_heads_case: heads.first().map(|h| h.case.clone()),
            heads_held: heads,
            checkpoint_note: std::mem::take(&mut self.checkpoint_note),
            failure: self.failure.take(),
            ..Report::default()
        };
        // Freeing the folded state of a large log (a million event ids, every stream and
        // case) takes a noticeable share of the run.
        if self.replay.entries >= FREE_APART {
            stream::free_apart(std::mem::take(&mut self.replay));
        }
        report
    }

    fn kind(&self, cp: &Checkpoint) -> Kind {
        if !self.replay.gap && self.replay.root.size() == cp.size {
            Kind::Full
        } else {
            Kind::Partial
        }
    }

    fn final_checks(&self, cp: Option<&Checkpoint>, kind: Option<Kind>) -> Option<Failure> {
        let Some(cp) = cp else {
            return Some(Failure::bundle(Check::Format, "the bundle has no header"));
        };
        if self.replay.entries == 0 {
            return Some(Failure::bundle(
                Check::Format,
                "the bundle holds no entries",
            ));
        }
        if kind == Some(Kind::Full) && self.replay.root.root() != cp.root {
            return Some(Failure::bundle(
                Check::Root,
                "the entries do not hash to the checkpoint root",
            ));
        }
        if let Err(f) = self.replay.since.finish(cp) {
            return Some(f);
        }
        if self.opts.require_full && kind != Some(Kind::Full) {
            return Some(Failure::bundle(
                Check::Completeness,
                format!(
                    "the bundle holds {} of the checkpoint's {} entries",
                    self.replay.entries, cp.size
                ),
            ));
        }
        None
    }
}

/// Prepares a chunk in parallel, then runs the in-order checks, handing the signatures of
/// the entries that pass to `signatures`; the number of entries the chunk held and the
/// failure that stopped the chunk.
fn replay_chunk(
    replay: &mut Replay,
    chunk: &RawChunk,
    position: u64,
    cp: &Checkpoint,
    buffers: &mut Buffers,
    signatures: &mut Signatures,
) -> (u64, Option<Failure>) {
    let candidates = chunk.is_tentative();
    let declined = AtomicBool::new(false);
    let raw: Vec<&[u8]> = chunk.entries().collect();
    // Written in place (an indexed collect), not gathered from per-thread lists.
    let mut prepared = reuse(std::mem::take(&mut buffers.prepared));
    raw.par_iter()
        .enumerate()
        .map(|(k, r)| entry::prepare(r, position + k as u64, candidates.then_some(&declined)))
        .collect_into_vec(&mut prepared);
    let declined = declined.into_inner();
    let outcome = (!declined).then(|| {
        let failure = replay_prepared(replay, &mut prepared, cp, signatures);
        (raw.len() as u64, failure)
    });
    buffers.prepared = reuse(prepared);
    match outcome {
        Some(outcome) => outcome,
        // A line the exact scan could not read: split the chunk exactly, then judge, in
        // pieces of at most a chunk's entries, stopping at the first failure.
        None => {
            let (mut held, mut failure) = (0, None);
            let split = chunk.resolve(CHUNK, &mut |piece| {
                let (n, f) = replay_chunk(replay, &piece, position + held, cp, buffers, signatures);
                held += n;
                failure = f;
                failure.is_none()
            });
            match split {
                Err(e) if failure.is_none() => {
                    (held, Some(Failure::bundle(Check::Format, e.to_string())))
                }
                _ => (held, failure),
            }
        }
    }
}

/// Checks the proofs of prepared entries, then replays them in order.
fn replay_prepared(
    replay: &mut Replay,
    prepared: &mut [Result<entry::Prepared<'_>, Failure>],
    cp: &Checkpoint,
    signatures: &mut Signatures,
) -> Option<Failure> {
    proofs::check(prepared, cp);
    // By reference: a prepared entry is half a kilobyte, not worth moving.
    for slot in prepared {
        // Order first: a misplaced entry is reported as such, whatever else is wrong.
        let index = match slot {
            Ok(p) => Some(p.index),
            Err(f) => f.index,
        };
        let step = index
            .map_or(Ok(()), |i| {
                replay.check_order(i, cp.size).map_err(|f| match slot {
                    // Named by its stream and revision when the entry could be read.
                    Ok(p) => f.in_stream(&p.decoded.stream, p.decoded.revision),
                    Err(_) => f,
                })
            })
            .and_then(|()| match slot {
                Ok(p) => replay.step(p),
                Err(f) => Err(f.clone()),
            });
        match step {
            Ok(job) => signatures.push(job),
            Err(f) => return Some(f),
        }
    }
    None
}
