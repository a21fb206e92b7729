//! Signing when the queue is empty: the checkpoint the last group went without, and, while
//! no write comes, again and again after a failure until one is published.

use std::time::{Duration, Instant};

use super::seal::sign_tail;
use super::Writer;

/// The first wait before signing again after a failed or unpublished idle checkpoint; it
/// doubles after each failure, up to [`SIGN_RETRY_MAX`].
const SIGN_RETRY_FIRST: Duration = Duration::from_secs(1);
const SIGN_RETRY_MAX: Duration = Duration::from_secs(30);

/// A checkpoint this writer owes: the size it covers, when to sign it again, and the wait
/// after that. Always that size, whatever the writer follows meanwhile while idle: a node
/// that never writes (`serve --read-only`) then signs only what its start-up fold checked.
/// (A writing node's next checkpoint covers the entries it caught up with, as every group's
/// does on a shared log.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Owed {
    pub size: u64,
    pub at: Instant,
    pub wait: Duration,
}

impl Owed {
    /// A checkpoint of `size` owed from now on, for a first try at once (a log found
    /// uncovered at start-up, its tail checked by the start-up fold).
    pub fn now(size: u64) -> Self {
        Self {
            size,
            at: Instant::now(),
            wait: SIGN_RETRY_FIRST,
        }
    }
}

impl Writer {
    /// Once the queue is empty, signs a checkpoint if the log grew past the last one this
    /// writer committed: the last group under load may have gone unsigned, and the group
    /// after it may have written nothing (every request refused) or failed. When signing
    /// fails, or the shared store does not publish the checkpoint, it is owed, and
    /// [`Writer::sign_owed`] tries again while the writer stays idle.
    pub(super) fn sign_idle_tail(&mut self) {
        self.sign_at(self.state.size);
    }

    /// While no write comes: signs the checkpoint this writer owes, once it is due, at the
    /// size owed.
    pub(super) fn sign_owed(&mut self) {
        if let Some(owed) = self.owed.filter(|o| Instant::now() >= o.at) {
            self.sign_at(owed.size);
        }
    }

    fn sign_at(&mut self, size: u64) {
        if self.signed_size >= size {
            self.owed = None;
            return;
        }
        let signed = sign_tail(
            self.store.as_ref(),
            &self.frontier,
            &self.signer,
            size,
            None,
        );
        let wait = self.owed.map_or(SIGN_RETRY_FIRST, |o| o.wait);
        let owe = Some(Owed {
            size,
            at: Instant::now() + wait,
            wait: (wait * 2).min(SIGN_RETRY_MAX),
        });
        match signed {
            Ok(()) if !self.published(size) => {
                tracing::warn!(size, retry_in = ?wait, "checkpoint not published; signing again");
                self.owed = owe;
            }
            Ok(()) => {
                self.signed_size = size;
                self.owed = None;
                self.pacer.signed(Instant::now());
                // The store takes writes again.
                self.metrics.commit_failing.set(0);
            }
            Err(e) => {
                tracing::error!(error = %e, size, retry_in = ?wait, "cannot sign a checkpoint; signing again");
                self.owed = owe;
            }
        }
    }
}
