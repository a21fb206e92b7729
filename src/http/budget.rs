//! Memory for request bodies: a pool every request draws on while its body arrives and is
//! handled, and a share of it per caller, so that one principal (or a leaked token)
//! announcing bodies it never sends, or sending many at once, cannot hold everyone's. Used
//! by the writing node for the writes it decides, and by a reading node for the writes it
//! forwards.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::problem::ApiError;
use crate::ledger::Code;

/// How long a request waits for each permit it needs before it is refused with 503.
pub const QUEUE_WAIT: Duration = Duration::from_secs(5);

/// Shares kept before the unused ones are dropped (tokens expire and are revoked).
const SHARES_KEPT: usize = 1024;

/// The writing node's pool for the writes it decides (KiB): a request holds about three
/// times its body (the bytes, the parsed envelopes, the decoded payloads) until it is
/// answered, so 256 MiB is about twenty full 4 MiB batches, or thousands of single events.
pub const WRITER_BODIES_KIB: u32 = 256 * 1024;
/// One principal's share of [`WRITER_BODIES_KIB`]: a quarter.
pub const WRITER_SHARE_KIB: u32 = WRITER_BODIES_KIB / 4;
/// What a request holds, per byte of its body, on the writing node.
pub const HELD_PER_BODY_BYTE: usize = 3;

/// A pool of KiB of body memory, and each caller's share of it.
pub struct BodyBudget<K> {
    pool: Arc<Semaphore>,
    total_kib: u32,
    share_kib: u32,
    shares: Mutex<HashMap<K, Arc<Semaphore>>>,
}

/// The memory one request holds: its caller's share and the pool's. Dropping it frees both.
pub struct Held {
    _share: Option<OwnedSemaphorePermit>,
    _pool: OwnedSemaphorePermit,
}

impl<K: Hash + Eq> BodyBudget<K> {
    /// A pool of `total_kib`, of which one caller holds at most `share_kib`.
    pub fn new(total_kib: u32, share_kib: u32) -> Self {
        Self {
            pool: Arc::new(Semaphore::new(total_kib as usize)),
            total_kib,
            share_kib: share_kib.min(total_kib),
            shares: Mutex::default(),
        }
    }

    fn share(&self, key: K) -> Arc<Semaphore> {
        let mut shares = self.shares.lock().unwrap_or_else(|e| e.into_inner());
        // A permit holds its semaphore, so a share in use stays.
        if shares.len() >= SHARES_KEPT && !shares.contains_key(&key) {
            let full = self.share_kib as usize;
            shares.retain(|_, s| Arc::strong_count(s) > 1 || s.available_permits() < full);
        }
        shares
            .entry(key)
            .or_insert_with(|| Arc::new(Semaphore::new(self.share_kib as usize)))
            .clone()
    }

    /// Holds `bytes` of body memory for the caller `key` (its share first; `None`: no share,
    /// the pool only), waiting up to [`QUEUE_WAIT`] for each; 503 `unavailable` naming
    /// `what` after that.
    pub async fn hold(&self, key: Option<K>, bytes: usize, what: &str) -> Result<Held, ApiError> {
        let mut want = u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX);
        if key.is_some() {
            // No more of the pool than a share: one request past a share's size (a large
            // configured limit) must not take the pool whole.
            want = want.min(self.share_kib);
        }
        let share = match key {
            Some(key) => Some(
                slot(
                    &self.share(key),
                    want.min(self.share_kib),
                    &format!("{what} are already held for this caller"),
                )
                .await?,
            ),
            None => None,
        };
        let pool = slot(
            &self.pool,
            want.min(self.total_kib),
            &format!("{what} are already held"),
        )
        .await?;
        Ok(Held {
            _share: share,
            _pool: pool,
        })
    }
}

/// The writing node's budget, shared by principal.
impl<K: Hash + Eq> Default for BodyBudget<K> {
    fn default() -> Self {
        Self::new(WRITER_BODIES_KIB, WRITER_SHARE_KIB)
    }
}

/// `permits` of `pool`, waiting up to [`QUEUE_WAIT`]; 503 (nothing was written or sent)
/// after that.
pub async fn slot(
    pool: &Arc<Semaphore>,
    permits: u32,
    what: &str,
) -> Result<OwnedSemaphorePermit, ApiError> {
    acquire(pool, permits, QUEUE_WAIT, || {
        format!("too many {what}; nothing was written, retry later")
    })
    .await
}

/// `permits` of `pool`, waiting up to `wait`; 503 `unavailable` with `refusal` after that.
pub async fn acquire(
    pool: &Arc<Semaphore>,
    permits: u32,
    wait: Duration,
    refusal: impl FnOnce() -> String,
) -> Result<OwnedSemaphorePermit, ApiError> {
    tokio::time::timeout(wait, pool.clone().acquire_many_owned(permits))
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or_else(|| ApiError::new(Code::Unavailable, refusal()))
}
