//! The signature stage: jobs from the in-order replay are cut into batches of [`BATCH`] and
//! verified on a pool of their own, while this thread goes on preparing and replaying the
//! next entries. Nothing waits for a chunk's signatures before the next chunk is read; the
//! number of batches in flight is bounded, so memory is too.
//!
//! A pool of its own, because in one pool with the preparation, queued batches would go
//! first and leave the cores idle while the replay (one thread) catches up. The operating
//! system shares the cores between the two.

use std::sync::OnceLock;

use crossbeam_channel::{Receiver, Sender};

use super::entry::{check_batch, SigJob};
use super::report::Failure;
use super::sample::SignatureSample;

/// Signatures per `verify_batch` call. From about 95 signatures on, the multiscalar
/// multiplication inside switches from Straus's method to Pippenger's, which costs less per
/// point as the batch grows: on 2 cores the raw rate was about 100k/s in batches of 64,
/// 125k/s in batches of 128, 137k/s of 256, 143k/s of 512 and 150k/s of 1024. A failing
/// batch is re-checked one signature at a time (about 50 ms for 1024) to name the culprit.
pub const BATCH: usize = 1024;
/// Batches queued or running at a time: enough that the pool never waits for the replay,
/// few enough that their jobs (about 1.5 KB each, the message included) stay near 12 MB.
const IN_FLIGHT: usize = 8;

/// The pool that verifies batches, one thread per core (as many as rayon's global pool).
fn pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(rayon::current_num_threads())
            .thread_name(|i| format!("verify-signatures-{i}"))
            .build()
            .expect("a thread pool for signature verification")
    })
}

/// What one batch found.
struct Checked {
    signatures: u64,
    failure: Option<Failure>,
}

/// Batches in flight and what came back.
pub(super) struct Signatures {
    strict: bool,
    /// Jobs not yet in a batch.
    pending: Vec<SigJob>,
    in_flight: usize,
    done_tx: Sender<Checked>,
    done_rx: Receiver<Checked>,
    /// The failing signature with the lowest index among the batches back so far.
    pub failure: Option<Failure>,
    /// Signatures verified so far.
    pub verified: u64,
    /// The first signatures, kept for a raw-rate reference (see [`super::signature_sample`]).
    pub sample: Option<(usize, Vec<SignatureSample>)>,
}

impl Signatures {
    pub fn new(strict: bool) -> Self {
        let (done_tx, done_rx) = crossbeam_channel::unbounded();
        Self {
            strict,
            pending: Vec::with_capacity(BATCH),
            in_flight: 0,
            done_tx,
            done_rx,
            failure: None,
            verified: 0,
            sample: None,
        }
    }

    /// Queues one job, in log order; a full batch goes to the pool at once.
    pub fn push(&mut self, job: SigJob) {
        if let Some((n, sample)) = &mut self.sample {
            if sample.len() < *n {
                sample.push((job.message.clone(), job.signature, job.key));
            }
        }
        self.pending.push(job);
        if self.pending.len() >= BATCH {
            self.send();
        }
    }

    /// Sends the pending jobs as one batch.
    fn send(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let batch = std::mem::replace(&mut self.pending, Vec::with_capacity(BATCH));
        let (strict, done) = (self.strict, self.done_tx.clone());
        self.in_flight += 1;
        pool().spawn(move || {
            let failure = check_batch(&batch, strict);
            // The receiver outlives every batch it waits for; one nobody waits for is moot.
            let _ = done.send(Checked {
                signatures: batch.len() as u64,
                failure,
            });
        });
    }

    fn take(&mut self, c: Checked) {
        self.in_flight -= 1;
        match c.failure {
            Some(f) if self.failure.as_ref().is_none_or(|g| f.index < g.index) => {
                self.failure = Some(f)
            }
            Some(_) => {}
            None => self.verified += c.signatures,
        }
    }

    /// Takes what came back, and waits while more than `at_most` batches are in flight.
    fn wait_until(&mut self, at_most: usize) {
        while let Ok(c) = self.done_rx.try_recv() {
            self.take(c);
        }
        while self.in_flight > at_most {
            match self.done_rx.recv() {
                Ok(c) => self.take(c),
                // Unreachable: this holds a sender.
                Err(_) => break,
            }
        }
    }

    /// Takes what came back; waits only if too many batches are in flight.
    pub fn keep_up(&mut self) {
        self.wait_until(IN_FLIGHT);
    }

    /// Waits for every batch sent so far (a paused benchmark must leave no work running).
    pub fn drain(&mut self) {
        self.wait_until(0);
    }

    /// Sends the last, partial batch and waits for everything.
    pub fn finish(&mut self) {
        self.send();
        self.drain();
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer, SigningKey};

    use super::*;
    use crate::verify::Check;

    /// `n` jobs signed by one key, in log order, with the signatures at `forged` broken.
    fn jobs(n: usize, forged: &[usize]) -> Vec<SigJob> {
        let key = SigningKey::from_bytes(&[7; 32]);
        (0..n)
            .map(|i| {
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
                    signature: key.sign(signed),
                    message,
                }
            })
            .collect()
    }

    fn run(jobs: Vec<SigJob>, strict: bool) -> Signatures {
        let mut s = Signatures::new(strict);
        s.sample = Some((3, Vec::new()));
        for job in jobs {
            s.push(job);
            // As the verifier does between chunks: never more than IN_FLIGHT batches.
            s.keep_up();
            assert!(s.in_flight <= IN_FLIGHT);
        }
        s.finish();
        assert_eq!(s.in_flight, 0);
        s
    }

    #[test]
    fn every_signature_is_checked_across_batches_and_a_partial_last_one() {
        let n = 3 * BATCH + 5;
        for strict in [false, true] {
            let s = run(jobs(n, &[]), strict);
            assert_eq!((s.verified, s.failure.is_none()), (n as u64, true));
            let sample = s.sample.expect("sample").1;
            assert_eq!(sample.len(), 3);
            assert_eq!(sample[2].0, b"entry 2");
        }
    }

    #[test]
    fn of_failures_in_several_batches_the_lowest_index_is_reported() {
        let n = 3 * BATCH + 5;
        // In the last full batch, the second, and the partial one; whichever comes back first.
        let forged = [3 * BATCH + 1, 2 * BATCH + 9, BATCH + 3];
        for strict in [false, true] {
            let s = run(jobs(n, &forged), strict);
            let f = s.failure.expect("forged signatures found");
            assert_eq!(
                (f.index, f.check, f.stream.as_deref(), f.revision),
                (
                    Some(BATCH as u64 + 3),
                    Check::Signature,
                    Some("agency-a"),
                    Some(BATCH as u64 + 3)
                )
            );
            // Only the batches without a forged signature count as verified.
            assert_eq!(s.verified, BATCH as u64, "strict: {strict}");
        }
    }
}
