//! The bounded scan of `$all` that `sync` and `commit` fall back on when the subscription
//! has not delivered what they wait for: it reads forward from what the mirror has seen,
//! filters on the client (the crate's `read_all` has no server-side filter) and commits one
//! page at a time, claiming only what it read ([`judge`]), until the mirror holds the
//! [`Target`].

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eventstore::{Client, ReadAllOptions, ResolvedEvent, StreamPosition};

use super::esdb_client::{needs_new_client, Clients};
use super::esdb_feed::{commit, from_pos, to_pos, unavailable, Shared, OP_TIMEOUT};
use super::esdb_mapping::{AllPosition, EsdbConfig};
use super::esdb_target::Target;
use super::StoreError;

/// Events per page of a scan (one mirror commit each).
pub const SCAN_PAGE: usize = 1024;
/// Bytes of event data (and custom metadata) a page holds at most, plus its last event: the
/// scan reads other applications' events too, and 1024 of EventStoreDB's largest (16 MiB)
/// would be 16 GiB in memory.
pub const PAGE_BYTES: usize = 16 << 20;

/// First pause before reading again from a node that ended short of the target, or after
/// a refused read; doubled after each try, up to [`BACKOFF_MAX`].
const BACKOFF_FIRST: Duration = Duration::from_millis(20);
const BACKOFF_MAX: Duration = Duration::from_millis(500);

/// Where a scan reads `$all` from: the client, or a fake in tests.
pub trait AllReader: Send + Sync + 'static {
    /// Up to `max` events of `$all`, forward from `from` (inclusive; `None`: the start),
    /// fewer once they hold [`PAGE_BYTES`] (see [`Page`]).
    fn page(
        &self,
        from: Option<AllPosition>,
        max: usize,
    ) -> impl Future<Output = eventstore::Result<Page>> + Send;
}

/// The events of a page, and whether it was cut short by its bytes (so `$all` goes on past
/// it, whatever the number of events).
#[derive(Default)]
pub struct Page {
    pub events: Vec<ResolvedEvent>,
    pub cut: bool,
    bytes: usize,
}

impl Page {
    /// Adds the next event read; whether the page takes more (not once it holds
    /// `bound` bytes and two events: a read from the position seen returns that event
    /// again first, so a page of one event would make no progress).
    pub fn push(&mut self, ev: ResolvedEvent, bound: usize) -> bool {
        let e = ev.event.as_ref();
        self.bytes += e.map_or(0, |e| e.data.len() + e.custom_metadata.len());
        self.events.push(ev);
        self.cut = self.bytes >= bound && self.events.len() >= 2;
        !self.cut
    }
}

/// Scan reads ask for the leader (`requires_leader`; with the crate's default
/// `nodePreference=leader` every request does). That only spares waiting on a lagging
/// follower: correctness does not rest on it, because a deposed leader cut off from the
/// cluster still answers leader reads without the newest acknowledged writes. So the end of
/// a page proves nothing about what lies after it, whoever answered (see [`judge`]). A
/// follower answers a leader read with `NotLeaderException`; the crate then reconnects to
/// the leader it names, and [`leader_read`] reads again.
impl AllReader for Client {
    fn page(
        &self,
        from: Option<AllPosition>,
        max: usize,
    ) -> impl Future<Output = eventstore::Result<Page>> + Send {
        let opts = ReadAllOptions::default()
            .position(from.map_or(StreamPosition::Start, |p| {
                StreamPosition::Position(from_pos(p))
            }))
            .forwards()
            .max_count(max)
            .requires_leader(true);
        async move {
            let mut stream = self.read_all(&opts).await?;
            let mut page = Page::default();
            while let Some(ev) = stream.next().await? {
                if !page.push(ev, PAGE_BYTES) {
                    break;
                }
            }
            Ok(page)
        }
    }
}

/// Pages read on the client in use, made anew when it lost the cluster.
impl AllReader for Clients {
    fn page(
        &self,
        from: Option<AllPosition>,
        max: usize,
    ) -> impl Future<Output = eventstore::Result<Page>> + Send {
        self.call(move |client| async move { client.page(from, max).await })
    }
}

/// How long and in what pages a scan reads (tests shrink both).
#[derive(Debug, Clone, Copy)]
pub struct ScanLimits {
    /// Events per page (at least 2: a read from the position seen returns that event again).
    pub page: usize,
    /// How long to keep trying without progress: reading again while the node that answers
    /// ends short of the target, or while reads are refused. Progress starts it anew.
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
}

impl PageEnd {
    /// The end of a page read with `max` events asked for.
    pub fn of(page: &Page, max: usize) -> Self {
        PageEnd {
            last: page
                .events
                .iter()
                .rev()
                .find_map(|e| e.event.as_ref())
                .map(|e| to_pos(e.position)),
            full: page.cut || page.events.len() >= max,
        }
    }
}

/// What a page of a scan allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A full page: everything up to here is seen; read on at once.
    More(AllPosition),
    /// The answering node's `$all` ended: everything up to here (if the page moved at all)
    /// is seen, and nothing after it. If the mirror still lacks the target, wait and read
    /// again.
    Ended(Option<AllPosition>),
}

impl Verdict {
    /// The position the page lets the mirror claim as seen.
    pub fn claimed(self) -> Option<AllPosition> {
        match self {
            Verdict::More(p) => Some(p),
            Verdict::Ended(p) => p,
        }
    }
}

/// Decides what a page read forward from `from` lets a scan claim: the position of the last
/// event it returned, never more. The end of a node's `$all` says nothing about events the
/// cluster holds beyond it: a follower may lag, and a deposed leader cut off by a partition
/// still answers leader reads without the newest acknowledged writes. Claiming a target past
/// the page would skip, for good, our events in between.
pub fn judge(from: Option<AllPosition>, page: PageEnd) -> Verdict {
    // A read from `from` returns the event at `from` again; only later ones are progress.
    let moved = page.last.filter(|l| from.is_none_or(|f| *l > f));
    match moved {
        Some(last) if page.full => Verdict::More(last),
        _ => Verdict::Ended(moved),
    }
}

/// Reads `$all` forward from what the mirror has seen until the mirror holds `target`,
/// folding our events into the mirror one page (one commit) at a time. A node whose `$all`
/// ends without the target is read again, with backoff, until `limits.timeout` has passed
/// without progress; then the scan fails with `Unavailable` naming EventStoreDB, having
/// claimed only what it read.
pub async fn scan<R: AllReader>(
    reader: &R,
    shared: &Arc<Shared>,
    target: &Target,
    limits: ScanLimits,
) -> Result<(), StoreError> {
    let max = limits.page.max(2);
    let mut deadline = Instant::now() + limits.timeout;
    let mut backoff = BACKOFF_FIRST;
    let mut ended = false;
    loop {
        if holds(shared, target).await? {
            return Ok(());
        }
        if ended {
            let Some(next) = pause(deadline, backoff).await else {
                let got = shared.mirror.tip().seen();
                return Err(behind(&shared.cfg, got, target, limits.timeout));
            };
            backoff = next;
        }
        let from = shared.mirror.tip().seen();
        let read = || reader.page(from, max);
        let page = leader_read(&shared.cfg, "scanning $all", deadline, read).await?;
        let verdict = judge(from, PageEnd::of(&page, max));
        commit(shared.clone(), page.events, verdict.claimed()).await?;
        if verdict.claimed().is_some() {
            // Progress: a long catch-up gets the whole timeout again for the next
            // refusal or short page, rather than failing at once on it.
            deadline = Instant::now() + limits.timeout;
            backoff = BACKOFF_FIRST;
        }
        ended = matches!(verdict, Verdict::Ended(_));
    }
}

/// Whether the mirror holds `target` (ids are looked up off the runtime's worker threads).
async fn holds(shared: &Arc<Shared>, target: &Target) -> Result<bool, StoreError> {
    let view = shared.mirror.tip();
    if !matches!(target, Target::Entries(_)) {
        return target.held(&shared.mirror, &view);
    }
    let (shared, target) = (shared.clone(), target.clone());
    tokio::task::spawn_blocking(move || target.held(&shared.mirror, &view))
        .await
        .unwrap_or_else(|e| Err(StoreError::Unavailable(format!("mirror lookup task: {e}"))))
}

/// Runs one read, each try bounded by [`OP_TIMEOUT`] and each repeat also by `deadline`,
/// again (with backoff, until `deadline`) while it is refused in a way an election
/// explains (appends: [`leader_append`]): a follower refusing a
/// leader read (`NotLeaderException`; the crate reconnects to the leader it names), or a
/// server error (`ServerError`: gRPC `Unavailable` such as "Server Is Not Ready" from a
/// node in an election, or `Internal`/`Unknown`; the next try runs on a client made anew,
/// see [`Clients`], which discovers the cluster again).
/// Anything else fails at once.
pub async fn leader_read<T, F, Fut>(
    cfg: &EsdbConfig,
    what: &str,
    deadline: Instant,
    read: F,
) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = eventstore::Result<T>>,
{
    retrying(cfg, what, deadline, None, read).await
}

/// Runs an append as [`leader_read`] runs a read, and also again (until `deadline`) after
/// an outcome it cannot know: the try timed out, or the server gave up waiting for the
/// cluster to commit it ([`ambiguous`]). The append may still land, and the writer would
/// otherwise decide its next group without it (a key revocation left out of the state while
/// an event signed with that key is admitted after it). A repeat with the same expected
/// revision and event ids is idempotent: it lands once, or answers that it already did.
pub async fn leader_append<F, Fut>(
    cfg: &EsdbConfig,
    deadline: Instant,
    per_try: Duration,
    append: F,
) -> Result<Result<(), eventstore::Error>, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = eventstore::Result<Result<(), eventstore::Error>>>,
{
    retrying(cfg, "append", deadline, Some(per_try), append).await
}

/// Whether an append's outcome is unknown after `e`: the deadline passed on the client or
/// the server (gRPC `DeadlineExceeded`, or `Cancelled` "Timeout expired"), or the server
/// stopped waiting for the commit (gRPC `Aborted`, EventStoreDB's commit timeout).
pub(super) fn ambiguous(e: &eventstore::Error) -> bool {
    // gRPC status codes, fixed by the gRPC specification (tonic's `Code` discriminants).
    const CANCELLED: i32 = 1;
    const DEADLINE_EXCEEDED: i32 = 4;
    const ABORTED: i32 = 10;
    match e {
        eventstore::Error::DeadlineExceeded => true,
        eventstore::Error::Grpc { code, .. } => {
            matches!(*code as i32, CANCELLED | DEADLINE_EXCEEDED | ABORTED)
        }
        _ => false,
    }
}

/// [`leader_read`] (each try bounded by [`OP_TIMEOUT`]), and with `unknown_outcomes` (the
/// bound of each try) also [`leader_append`]'s repeats.
async fn retrying<T, F, Fut>(
    cfg: &EsdbConfig,
    what: &str,
    deadline: Instant,
    unknown_outcomes: Option<Duration>,
    mut read: F,
) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = eventstore::Result<T>>,
{
    let mut backoff = BACKOFF_FIRST;
    let per_try = unknown_outcomes.unwrap_or(OP_TIMEOUT);
    let mut bound = per_try;
    loop {
        match tokio::time::timeout(bound, read()).await {
            Err(_) if unknown_outcomes.is_some() => {
                tracing::warn!(%what, "EventStoreDB did not answer in time; asking again");
                match pause(deadline, backoff).await {
                    Some(next) => backoff = next,
                    None => return Err(unavailable(cfg, what, "timed out")),
                }
                bound = per_try.min(deadline.saturating_duration_since(Instant::now()));
            }
            Err(_) => return Err(unavailable(cfg, what, "timed out")),
            Ok(Ok(out)) => return Ok(out),
            Ok(Err(e)) if retried(&e) || (unknown_outcomes.is_some() && ambiguous(&e)) => {
                tracing::debug!(%what, error = %refusal(&e), "EventStoreDB refused; retrying");
                match pause(deadline, backoff).await {
                    Some(next) => backoff = next,
                    None => return Err(unavailable(cfg, what, refusal(&e))),
                }
                bound = per_try.min(deadline.saturating_duration_since(Instant::now()));
            }
            Ok(Err(e)) => return Err(unavailable(cfg, what, e)),
        }
    }
}

/// Whether a failed read is tried again (see [`leader_read`]): also after the client lost
/// its connection, as the next try runs on a client made anew ([`Clients`]).
fn retried(e: &eventstore::Error) -> bool {
    matches!(e, eventstore::Error::NotLeaderException(_)) || needs_new_client(e)
}

/// A refused read as the error names it. The crate's own message for `NotLeaderException`
/// leaves out the leader it carries.
fn refusal(e: &eventstore::Error) -> String {
    match e {
        eventstore::Error::NotLeaderException(leader) => format!(
            "the node asked is not the leader; it names {}:{} as the leader",
            leader.host, leader.port
        ),
        other => other.to_string(),
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

/// The error of a scan that kept finding the node's `$all` ending without the target.
fn behind(
    cfg: &EsdbConfig,
    got: Option<AllPosition>,
    target: &Target,
    waited: Duration,
) -> StoreError {
    let got = got.map_or_else(
        || "the start".to_owned(),
        |p| format!("{}/{}", p.commit, p.prepare),
    );
    unavailable(
        cfg,
        "scanning $all",
        format!(
            "the node that answered ends at {got}, without {}; no progress for {} ms \
             (a follower behind the leader, or a leader cut off from the cluster?)",
            target.describe(),
            waited.as_millis()
        ),
    )
}

#[cfg(test)]
#[path = "esdb_scan_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "esdb_scan_append_tests.rs"]
mod append_tests;
