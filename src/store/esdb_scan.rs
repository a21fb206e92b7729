//! The bounded scan of `$all` that `sync` and `commit` fall back on when the subscription
//! has not delivered a position the writer needs: it reads forward from what the mirror has
//! seen, filters on the client (the crate's `read_all` has no server-side filter) and
//! commits one page at a time. When a page lets the scan claim the target position is the
//! pure [`judge`]; reads go to the leader (see [`AllReader`] for why).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eventstore::{Client, ReadAllOptions, ResolvedEvent, StreamPosition};

use super::esdb_feed::{commit, from_pos, to_pos, unavailable, Shared, OP_TIMEOUT};
use super::esdb_mapping::{AllPosition, EsdbConfig};
use super::StoreError;

/// Events per page of a scan (one mirror commit each).
pub const SCAN_PAGE: usize = 1024;

/// First pause before reading again from a node that is behind, or after a follower
/// refused a leader read; doubled after each try, up to [`BACKOFF_MAX`].
const BACKOFF_FIRST: Duration = Duration::from_millis(20);
const BACKOFF_MAX: Duration = Duration::from_millis(500);

/// Where a scan reads `$all` from: the client, or a fake in tests.
pub trait AllReader: Send + Sync + 'static {
    /// Up to `max` events of `$all`, forward from `from` (inclusive; `None`: the start).
    fn page(
        &self,
        from: Option<AllPosition>,
        max: usize,
    ) -> impl Future<Output = eventstore::Result<Vec<ResolvedEvent>>> + Send;

    /// Whether every successful read is known to have been served by the leader.
    fn leader_only(&self) -> bool;
}

/// Reads that decide how far the mirror is complete go to the leader (`requires_leader`).
/// A follower may lag behind what the cluster acknowledged: the end of its `$all` says
/// nothing about a position the leader or an append reported, and claiming that position
/// after reading a follower would skip, for good, our events that lie in between. A
/// follower answers a leader read with `NotLeaderException`; the crate then reconnects to
/// the leader it names, and [`leader_read`] reads again.
impl AllReader for Client {
    fn page(
        &self,
        from: Option<AllPosition>,
        max: usize,
    ) -> impl Future<Output = eventstore::Result<Vec<ResolvedEvent>>> + Send {
        let opts = ReadAllOptions::default()
            .position(from.map_or(StreamPosition::Start, |p| {
                StreamPosition::Position(from_pos(p))
            }))
            .forwards()
            .max_count(max)
            .requires_leader(true);
        async move {
            let mut stream = self.read_all(&opts).await?;
            let mut events = Vec::new();
            while let Some(ev) = stream.next().await? {
                events.push(ev);
            }
            Ok(events)
        }
    }

    fn leader_only(&self) -> bool {
        true
    }
}

/// How long and in what pages a scan reads (tests shrink both).
#[derive(Debug, Clone, Copy)]
pub struct ScanLimits {
    /// Events per page.
    pub page: usize,
    /// How long to keep reading again while the node that answers is behind.
    pub timeout: Duration,
}

impl Default for ScanLimits {
    fn default() -> Self {
        Self {
            page: SCAN_PAGE,
            timeout: OP_TIMEOUT,
        }
    }
}

/// How one page of a scan ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageEnd {
    /// The position of the page's last event (`None`: an empty page).
    pub last: Option<AllPosition>,
    /// Whether the page held as many events as asked for (so `$all` may go on).
    pub full: bool,
    /// Whether the read is known to come from the leader.
    pub leader: bool,
}

/// What a page of a scan allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Everything up to this position, at or past the target, has been seen: done.
    Reached(AllPosition),
    /// A full page short of the target: everything up to here is seen; read on at once.
    More(AllPosition),
    /// The node that answered ends before the target: everything up to here (if the page
    /// moved at all) is seen; wait and read again.
    Behind(Option<AllPosition>),
}

/// Decides what a page read forward from `from` allows a scan towards `until` to claim.
/// The target is claimed only when the read reached it, or when the leader's `$all` ended
/// first (the leader holds everything the cluster acknowledged, so `until` was either an
/// event it returned or a position with nothing of ours before it). A follower's `$all`
/// ending first proves nothing: it may be behind.
pub fn judge(from: Option<AllPosition>, until: AllPosition, page: PageEnd) -> Verdict {
    // A read from `from` returns the event at `from` again; only later ones are progress.
    let moved = page.last.filter(|l| from.is_none_or(|f| *l > f));
    match moved {
        Some(last) if last >= until => Verdict::Reached(last),
        Some(last) if page.full => Verdict::More(last),
        _ if !page.full && page.leader => Verdict::Reached(until),
        _ => Verdict::Behind(moved),
    }
}

/// Reads `$all` forward from what the mirror has seen until it has seen `until`, folding
/// our events into the mirror one page (one commit) at a time. A node that ends before
/// `until` is read again, with backoff, for `limits.timeout`; then the scan fails with
/// `Unavailable` naming EventStoreDB, having claimed only what it read.
pub async fn scan<R: AllReader>(
    reader: &R,
    shared: &Arc<Shared>,
    until: AllPosition,
    limits: ScanLimits,
) -> Result<(), StoreError> {
    let deadline = Instant::now() + limits.timeout;
    let mut backoff = BACKOFF_FIRST;
    loop {
        let from = shared.mirror.tip().seen();
        if from.is_some_and(|p| p >= until) {
            return Ok(());
        }
        let read = || reader.page(from, limits.page);
        let events = leader_read(&shared.cfg, "scanning $all", deadline, read).await?;
        let page = PageEnd {
            last: events
                .last()
                .and_then(|e| e.event.as_ref().map(|e| to_pos(e.position))),
            full: events.len() >= limits.page,
            leader: reader.leader_only(),
        };
        match judge(from, until, page) {
            Verdict::Reached(p) => return commit(shared.clone(), events, Some(p)).await,
            Verdict::More(p) => {
                commit(shared.clone(), events, Some(p)).await?;
                backoff = BACKOFF_FIRST;
            }
            Verdict::Behind(p) => {
                commit(shared.clone(), events, p).await?;
                let Some(next) = pause(deadline, backoff).await else {
                    return Err(behind(&shared.cfg, p.or(from), until, limits.timeout));
                };
                backoff = next;
            }
        }
    }
}

/// Runs one read, each try bounded by [`OP_TIMEOUT`], again (with backoff, until
/// `deadline`) while a follower refuses it as a leader read.
pub async fn leader_read<T, F, Fut>(
    cfg: &EsdbConfig,
    what: &str,
    deadline: Instant,
    mut read: F,
) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = eventstore::Result<T>>,
{
    let mut backoff = BACKOFF_FIRST;
    loop {
        match tokio::time::timeout(OP_TIMEOUT, read()).await {
            Err(_) => return Err(unavailable(cfg, what, "timed out")),
            Ok(Ok(out)) => return Ok(out),
            Ok(Err(e @ eventstore::Error::NotLeaderException(_))) => {
                match pause(deadline, backoff).await {
                    Some(next) => backoff = next,
                    None => return Err(unavailable(cfg, what, format!("no leader: {e}"))),
                }
            }
            Ok(Err(e)) => return Err(unavailable(cfg, what, e)),
        }
    }
}

/// Sleeps `backoff` (at most until `deadline`) and returns the next backoff, or `None` if
/// the deadline has passed.
async fn pause(deadline: Instant, backoff: Duration) -> Option<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return None;
    }
    tokio::time::sleep(backoff.min(left)).await;
    Some((backoff * 2).min(BACKOFF_MAX))
}

/// The error of a scan that kept finding the node behind.
fn behind(
    cfg: &EsdbConfig,
    got: Option<AllPosition>,
    until: AllPosition,
    waited: Duration,
) -> StoreError {
    let show = |p: AllPosition| format!("{}/{}", p.commit, p.prepare);
    let got = got.map_or_else(|| "the start".to_owned(), show);
    unavailable(
        cfg,
        "scanning $all",
        format!(
            "the node that answered ends at {got}, before {} which the cluster reported \
             (a follower behind the leader?); still so after {} ms",
            show(until),
            waited.as_millis()
        ),
    )
}

#[cfg(test)]
#[path = "esdb_scan_tests.rs"]
mod tests;
