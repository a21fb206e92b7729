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

/// Signatures per batch. From about 95 signatures on, the multiscalar
/// multiplication inside switches from Straus's method to Pippenger's, which costs less per
/// point as the batch grows: on 2 cores the raw rate of ed25519-dalek's `verify_batch` was
/// about 100k/s in batches of 64, 125k/s in batches of 128, 137k/s of 256, 143k/s of 512 and 150k/s of 1024. A failing
/// batch is re-checked one signature at a time (about 50 ms for 1024) to name the culprit.
pub const BATCH: usize = 1024;
/// Batches whose jobs are grouped by key together. A batch of 1024 consecutive entries of a
/// log written by 300 caseworkers holds ~150 keys (each case's three caseworkers); grouped
/// over eight batches, ~40, and the raw coalesced rate is within 3% of one key's.
/// Memory: eight batches of jobs waiting (~12 MB).
const WINDOW: usize = 8;
/// Batches queued or running at a time, at least: two windows, so that the pool does not
/// run dry while the replay fills the next window (with one, verification took ~2%
/// longer here); their jobs (about 1.5 KB each, the message included) stay near 24 MB. Twice
/// the pool's threads on a larger machine.
const IN_FLIGHT: usize = 2 * WINDOW;
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
    /// The first failure in the batch, with the number of jobs pushed before it.
    failure: Option<(u64, Failure)>,
    /// A panic inside the batch, raised again on the thread that waits.
    panic: Option<Box<dyn Any + Send>>,
}

/// Batches in flight and what came back.
pub(super) struct Signatures {
    strict: bool,
    /// Jobs not yet in a batch.
    pending: Vec<Queued>,
    /// Jobs pushed so far.
    pushed: u64,
    in_flight: usize,
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
            pushed: 0,
            in_flight: 0,
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
        self.pending.push(Queued {
            seq: self.pushed,
            job,
        });
        self.pushed += 1;
        if self.pending.len() >= WINDOW * BATCH {
            self.send_window();
        }
    }

    /// Groups the pending jobs by key and sends them in batches.
    fn send_window(&mut self) {
        let mut window = std::mem::replace(&mut self.pending, Vec::with_capacity(WINDOW * BATCH));
        group_by_key(&mut window);
        self.send_in_batches(window, BATCH);
    }

    /// Sends `jobs` in batches of `size`, waiting while too many are in flight. Each job is
    /// moved once (a job is ~330 bytes; `split_off` would copy the rest for every batch).
    fn send_in_batches(&mut self, jobs: Vec<Queued>, size: usize) {
        let mut jobs = jobs.into_iter();
        loop {
            let batch: Vec<Queued> = jobs.by_ref().take(size).collect();
            if batch.is_empty() {
                return;
            }
            self.send(batch);
            self.wait_until(IN_FLIGHT.max(2 * pool().current_num_threads()));
        }
    }

    fn send(&mut self, batch: Vec<Queued>) {
        let (strict, done) = (self.strict, self.done_tx.clone());
        self.in_flight += 1;
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
                failure,
                panic,
            });
        });
    }

    fn take(&mut self, c: Checked) {
        self.in_flight -= 1;
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

    /// Takes what came back, and waits while more than `at_most` batches are in flight.
    fn wait_until(&mut self, at_most: usize) {
        while let Ok(c) = self.done_rx.try_recv() {
            self.take(c);
        }
        while self.in_flight > at_most {
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
        self.wait_until(0);
        self.failure.is_some()
    }

    /// Sends what is pending, split so that every thread of the pool shares it, and waits
    /// for everything. The first failing signature in log order, with the number of
    /// entries before it, if any; then every signature before it has verified.
    pub fn finish(&mut self) -> Option<(u64, Failure)> {
        let mut rest = std::mem::take(&mut self.pending);
        group_by_key(&mut rest);
        let piece = rest
            .len()
            .div_ceil(pool().current_num_threads())
            .clamp(SMALLEST_PIECE, BATCH);
        self.send_in_batches(rest, piece);
        self.wait_until(0);
        self.failure.take()
    }

    /// Takes what came back without waiting; whether a signature failed.
    pub fn failed(&mut self) -> bool {
        self.wait_until(usize::MAX);
        self.failure.is_some()
    }

    /// Signatures verified (all of them, when `finish` found no failure).
    pub fn verified(&self) -> u64 {
        self.verified
    }
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
mod tests {
    use ed25519_dalek::{Signer, SigningKey};

    use super::*;
    use crate::verify::Check;

    /// `n` jobs signed by one key, in log order, with the signatures at `forged` broken.
    fn jobs(n: usize, forged: &[usize]) -> Vec<SigJob> {
        jobs_by(n, 1, forged)
    }

    /// `n` jobs signed by `keys` keys in turn, in log order, the ones at `forged` broken.
    fn jobs_by(n: usize, keys: usize, forged: &[usize]) -> Vec<SigJob> {
        let keys: Vec<SigningKey> = (0..keys)
            .map(|k| SigningKey::from_bytes(&[k as u8 + 7; 32]))
            .collect();
        (0..n)
            .map(|i| {
                let key = &keys[i % keys.len()];
                let message = format!("entry {i}").into_bytes();
                let signed = if forged.contains(&i) {
                    b"other"
                } else {
                    &message[..]
                };
                SigJob {
                    index: i as u64,
                    stream: "agency-a".into(),
                    revision: i as u64,
                    key: key.verifying_key(),
                    key_torsion_free: true,
                    signature: key.sign(signed),
                    message,
                }
            })
            .collect()
    }

    /// Pushes every job, as the replay does, and finishes.
    fn run(jobs: Vec<SigJob>, strict: bool) -> (Signatures, Option<(u64, Failure)>) {
        let mut s = Signatures::new(strict);
        s.sample = Some((3, Vec::new()));
        let bound = IN_FLIGHT.max(2 * pool().current_num_threads());
        for job in jobs {
            s.push(job);
            assert!(s.in_flight <= bound);
        }
        let failure = s.finish();
        assert_eq!((s.in_flight, s.pending.len()), (0, 0));
        (s, failure)
    }

    #[test]
    fn every_signature_is_checked_across_batches_and_a_partial_last_one() {
        // Full batches and a partial one; fewer than one batch (split among the threads);
        // fewer than the smallest piece.
        for n in [3 * BATCH + 5, BATCH - 1, 5] {
            for strict in [false, true] {
                let (s, failure) = run(jobs(n, &[]), strict);
                assert!(failure.is_none());
                assert_eq!((s.verified(), s.pushed), (n as u64, n as u64));
                let sample = s.sample.expect("sample").1;
                assert_eq!(sample.len(), 3);
                assert_eq!(sample[2].0, b"entry 2");
            }
        }
    }

    #[test]
    fn of_failures_in_several_batches_the_lowest_index_is_reported() {
        let n = 3 * BATCH + 5;
        // In the last full batch, the second, and the partial one; whichever comes back first.
        let forged = [3 * BATCH + 1, 2 * BATCH + 9, BATCH + 3];
        for strict in [false, true] {
            let (_, failure) = run(jobs(n, &forged), strict);
            let (before, f) = failure.expect("forged signatures found");
            assert_eq!(before, BATCH as u64 + 3, "entries before the failure");
            assert_eq!(
                (f.index, f.check, f.stream.as_deref(), f.revision),
                (
                    Some(BATCH as u64 + 3),
                    Check::Signature,
                    Some("agency-a"),
                    Some(BATCH as u64 + 3)
                )
            );
        }
        // In a last batch split among the threads.
        let (_, failure) = run(jobs(700, &[650, 600]), false);
        assert_eq!(
            failure.map(|(before, f)| (before, f.index)),
            Some((600, Some(600)))
        );
    }

    #[test]
    fn jobs_grouped_by_key_still_report_the_first_failure_in_log_order() {
        // Five keys in turn: grouping a window by key sends each key's jobs (about 1640)
        // together, so the forgeries at 3 (key 3) and 4001 (key 1) are in different
        // batches, whichever comes back first, and the one at n - 2 in the partial window.
        let n = WINDOW * BATCH + 700;
        for strict in [false, true] {
            let (s, failure) = run(jobs_by(n, 5, &[4001, 3, 4003, n - 2]), strict);
            let (before, f) = failure.expect("forged signatures found");
            assert_eq!((before, f.index, f.revision), (3, Some(3), Some(3)));
            assert_eq!(s.pushed, n as u64);
        }
        // Within one batch: two keys, whichever sorts first, one of these puts the lower
        // forgery after the other in the batch.
        for forged in [[2, 39], [3, 38]] {
            let (_, failure) = run(jobs_by(40, 2, &forged), false);
            let lower = forged[0].min(forged[1]) as u64;
            assert_eq!(
                failure.map(|(b, f)| (b, f.index)),
                Some((lower, Some(lower)))
            );
        }
        // Every signature of a valid window and a partial one verifies.
        let (s, failure) = run(jobs_by(n, 5, &[]), false);
        assert!(failure.is_none());
        assert_eq!(s.verified(), n as u64);
    }

    #[test]
    fn a_window_is_grouped_by_key_in_the_order_pushed() {
        let mut window: Vec<Queued> = jobs_by(40, 3, &[])
            .into_iter()
            .enumerate()
            .map(|(i, job)| Queued { seq: i as u64, job })
            .collect();
        group_by_key(&mut window);
        for pair in window.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            let order = a.job.key.as_bytes().cmp(b.job.key.as_bytes());
            assert!(order.is_lt() || (order.is_eq() && a.seq < b.seq));
        }
        let keys: std::collections::HashSet<_> =
            window.iter().map(|q| *q.job.key.as_bytes()).collect();
        assert_eq!(keys.len(), 3);
    }
}
