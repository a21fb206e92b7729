//! The signature stage: jobs from the in-order replay are gathered in windows of
//! [`WINDOW`] batches, grouped by key (so that [`super::batch`] can coalesce each key's
//! terms), cut into batches of [`BATCH`] and verified on a pool of their own, while this
//! thread goes on preparing and replaying the next entries. Nothing waits for a chunk's signatures before the next chunk is read; the
//! number of batches in flight is bounded, so memory is too.
//!
//! A pool of its own, because in one pool with the preparation, queued batches would go
//! first and leave the cores idle while the replay (one thread) catches up. The operating
//! system shares the cores between the two.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::OnceLock;

use crossbeam_channel::{Receiver, Sender};

use super::batch::{self, Queued};
use super::entry::SigJob;
use super::report::Failure;
use super::sample::SignatureSample;

/// Signatures per batch. The multiscalar multiplication inside costs less per point as
/// the batch grows (Pippenger's method from about 95 points on). Raw rates on the 2-core
/// Zen 2 build machine, 65 536 signatures of a real log written by 300 caseworkers, in
/// batches of 1024 / 2048 / 4096 / 8192 / 16 384: ed25519-dalek's `verify_batch`
/// 129k / 137k / 134k-139k / 132k-141k / 129k per second; this verifier's key-coalescing
/// equation, grouped as below, 177k-188k / 198k / 187k-204k / 204k-206k / 207k. Verifying
/// the 1M-entry bundle of that log took 105.7k entries/s with batches of 1024, 112k with
/// 4096 and 113k with 8192. A failing batch is re-checked one signature at a time (about
/// 200 ms for 4096 here) to name the culprit, hence not larger.
pub const BATCH: usize = 4096;
/// Batches whose jobs are grouped by key together. A window of 16 384 consecutive entries
/// of a log written by 300 caseworkers holds nearly every key; grouped, a batch of 4096
/// holds about 75 of them, each key's terms coalesced into one point.
/// Memory: four batches of jobs waiting (~24 MB).
const WINDOW: usize = 4;
/// Batches queued or running at a time, at least: two windows, so that the pool does not
/// run dry while the replay fills the next window (with one, verification took ~2%
/// longer here); their jobs (about 1.5 KB each, the message included) stay near 48 MB on
/// 2 cores. Twice the pool's threads on a larger machine (and [`in_flight_bytes`] lets
/// them be).
const IN_FLIGHT: usize = 2 * WINDOW;
/// The bytes of jobs a batch, a window and the batches in flight hold at most, whatever the
/// count: signed events of up to 16 MiB (`serve --max-event-bytes`; 64 KiB by default) would
/// otherwise keep gigabytes of messages waiting. A real log's jobs (about 1.5 KB) stay
/// under them, so only logs of large events get smaller batches.
const BATCH_BYTES: usize = 8 << 20;
const WINDOW_BYTES: usize = WINDOW * BATCH_BYTES;

/// The bytes of the batches in flight at most: two windows' worth (64 MiB), or two full
/// batches per thread of the pool where that is more, so that on a larger machine the byte
/// bound does not keep cores idle (a real log's batch of 4096 holds about 6 MB): 16 MiB per
/// thread from 5 threads on, about 770 MB of a real log's jobs on 64 threads.
fn in_flight_bytes() -> usize {
    in_flight_bytes_for(pool().current_num_threads())
}

fn in_flight_bytes_for(threads: usize) -> usize {
    (2 * WINDOW_BYTES).max(2 * threads * BATCH_BYTES)
}
/// The smallest piece a last, partial batch is split into so that all cores share it (a
/// case bundle holds fewer than [`BATCH`] signatures).
const SMALLEST_PIECE: usize = 128;

/// The pool that verifies batches: as many threads as rayon's global pool by default.
fn pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("verify-signatures-{i}"))
            .build()
            .expect("a thread pool for signature verification")
    })
}

/// What one batch found.
struct Checked {
    signatures: u64,
    /// The bytes of its jobs.
    bytes: usize,
    /// The first failure in the batch, with the number of jobs pushed before it.
    failure: Option<(u64, Failure)>,
    /// A panic inside the batch, raised again on the thread that waits.
    panic: Option<Box<dyn Any + Send>>,
}

/// Batches in flight and what came back.
pub(super) struct Signatures {
    strict: bool,
    /// Jobs not yet in a batch, and their bytes.
    pending: Vec<Queued>,
    pending_bytes: usize,
    /// Jobs pushed so far.
    pushed: u64,
    in_flight: usize,
    in_flight_bytes: usize,
    done_tx: Sender<Checked>,
    done_rx: Receiver<Checked>,
    /// The failing signature pushed first among the batches back so far, and the
    /// number of jobs pushed before it.
    failure: Option<(u64, Failure)>,
    /// Signatures verified so far.
    verified: u64,
    /// The first signatures, kept for a raw-rate reference (see [`super::signature_sample`]).
    pub sample: Option<(usize, Vec<SignatureSample>)>,
}

impl Signatures {
    pub fn new(strict: bool) -> Self {
        let (done_tx, done_rx) = crossbeam_channel::unbounded();
        Self {
            strict,
            pending: Vec::with_capacity(WINDOW * BATCH),
            pending_bytes: 0,
            pushed: 0,
            in_flight: 0,
            in_flight_bytes: 0,
            done_tx,
            done_rx,
            failure: None,
            verified: 0,
            sample: None,
        }
    }

    /// Queues one job, in log order; a full batch goes to the pool at once. Blocks while
    /// too many batches are in flight: call it on the thread that drives the verifier,
    /// never on a pool thread.
    pub fn push(&mut self, job: SigJob) {
        if let Some((n, sample)) = &mut self.sample {
            if sample.len() < *n {
                sample.push((job.message.clone(), job.signature, job.key));
            }
        }
        self.pending_bytes += job.bytes();
        self.pending.push(Queued {
            seq: self.pushed,
            job,
        });
        self.pushed += 1;
        if self.pending.len() >= WINDOW * BATCH || self.pending_bytes >= WINDOW_BYTES {
            self.send_window();
        }
    }

    /// Groups the pending jobs by key and sends them in batches.
    fn send_window(&mut self) {
        let mut window = std::mem::replace(&mut self.pending, Vec::with_capacity(WINDOW * BATCH));
        self.pending_bytes = 0;
        group_by_key(&mut window);
        self.send_in_batches(window, BATCH);
    }

    /// Sends `jobs` in batches of `size` (fewer past [`BATCH_BYTES`]), waiting while too
    /// many batches or bytes are in flight. Each job is moved once (a job is ~330 bytes
    /// besides its message; `split_off` would copy the rest for every batch).
    fn send_in_batches(&mut self, jobs: Vec<Queued>, size: usize) {
        let mut jobs = jobs.into_iter().peekable();
        while jobs.peek().is_some() {
            let (batch, bytes) = next_batch(&mut jobs, size);
            self.send(batch, bytes);
            let most = IN_FLIGHT.max(2 * pool().current_num_threads());
            self.wait_until(most, in_flight_bytes());
        }
    }

    fn send(&mut self, batch: Vec<Queued>, bytes: usize) {
        let (strict, done) = (self.strict, self.done_tx.clone());
        self.in_flight += 1;
        self.in_flight_bytes += bytes;
        pool().spawn(move || {
            let checked =
                std::panic::catch_unwind(AssertUnwindSafe(|| batch::check(&batch, strict)));
            let (failure, panic) = match checked {
                Ok(failure) => (failure, None),
                Err(panic) => (None, Some(panic)),
            };
            // The receiver outlives every batch it waits for; one nobody waits for is moot.
            let _ = done.send(Checked {
                signatures: batch.len() as u64,
                bytes,
                failure,
                panic,
            });
        });
    }

    fn take(&mut self, c: Checked) {
        self.in_flight -= 1;
        self.in_flight_bytes -= c.bytes;
        if let Some(panic) = c.panic {
            std::panic::resume_unwind(panic);
        }
        match c.failure {
            Some((at, f)) => {
                if self.failure.as_ref().is_none_or(|(seq, _)| at < *seq) {
                    self.failure = Some((at, f));
                }
            }
            None => self.verified += c.signatures,
        }
    }

    /// Takes what came back, and waits while more than `at_most` batches, or more than
    /// `at_most_bytes` of jobs, are in flight.
    fn wait_until(&mut self, at_most: usize, at_most_bytes: usize) {
        while let Ok(c) = self.done_rx.try_recv() {
            self.take(c);
        }
        while self.in_flight > at_most || self.in_flight_bytes > at_most_bytes {
            // This holds a sender, so `recv` fails only if a batch never reports, which
            // `catch_unwind` rules out.
            let c = self.done_rx.recv().expect("a signature batch reports back");
            self.take(c);
        }
    }

    /// Sends what is pending and waits for every batch (a paused benchmark must leave no
    /// work running, and have verified every signature handed over); whether a signature
    /// failed.
    pub fn drain(&mut self) -> bool {
        self.send_window();
        self.wait_until(0, 0);
        self.failure.is_some()
    }

    /// Sends what is pending, split so that every thread of the pool shares it, and waits
    /// for everything. The first failing signature in log order, with the number of
    /// entries before it, if any; then every signature before it has verified.
    pub fn finish(&mut self) -> Option<(u64, Failure)> {
        let mut rest = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        group_by_key(&mut rest);
        let piece = rest
            .len()
            .div_ceil(pool().current_num_threads())
            .clamp(SMALLEST_PIECE, BATCH);
        self.send_in_batches(rest, piece);
        self.wait_until(0, 0);
        self.failure.take()
    }

    /// Takes what came back without waiting; whether a signature failed.
    pub fn failed(&mut self) -> bool {
        self.wait_until(usize::MAX, usize::MAX);
        self.failure.is_some()
    }

    /// Signatures verified (all of them, when `finish` found no failure).
    pub fn verified(&self) -> u64 {
        self.verified
    }
}

/// The next batch of `jobs`: at most `size` jobs, and fewer than [`BATCH_BYTES`] of them
/// unless it is one job; with its bytes.
fn next_batch(
    jobs: &mut std::iter::Peekable<std::vec::IntoIter<Queued>>,
    size: usize,
) -> (Vec<Queued>, usize) {
    let mut bytes = 0;
    let mut batch = Vec::with_capacity(size);
    while let Some(q) = jobs.next_if(|q| {
        batch.len() < size && (batch.is_empty() || bytes + q.job.bytes() <= BATCH_BYTES)
    }) {
        bytes += q.job.bytes();
        batch.push(q);
    }
    (batch, bytes)
}

/// Signatures grouped by key in windows, as the stage groups its jobs before cutting
/// batches: for a raw reference measured over the verifier's own batches.
pub fn grouped_as_verified(sample: &[SignatureSample]) -> Vec<SignatureSample> {
    let mut grouped = sample.to_vec();
    for window in grouped.chunks_mut(WINDOW * BATCH) {
        window.sort_by(|a, b| a.2.as_bytes().cmp(b.2.as_bytes()));
    }
    grouped
}

/// Orders jobs by key, each key's in the order they were pushed. Sorts the keys with their
/// places, then moves each job once (a merge sort of the jobs themselves moved each ~12
/// times, 2.5% of the verifier's time).
fn group_by_key(jobs: &mut [Queued]) {
    jobs.sort_by_cached_key(|q| *q.job.key.as_bytes());
}

#[cfg(test)]
mod tests;
