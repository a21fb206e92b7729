//! Feeding a node's [`Mirror`] from EventStoreDB: the state the feeders and the store's
//! callers share (the mirror, the feed's health, the known head of `$all`), waiting for the
//! mirror to hold a [`Target`], and the reads that tell where `$all` ends and whether a
//! mirror file is of this cluster. The subscription is in `esdb_subscription`, the scan
//! that `reach` falls back on in `esdb_scan`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eventstore::{Position, ReadAllOptions, ReadStreamOptions, ResolvedEvent, StreamPosition};

use super::esdb_client::Clients;
use super::esdb_mapping::{AllPosition, EsdbConfig};
use super::esdb_mirror::{Mirror, SeenEvent};
use super::esdb_mirror_meta::ClusterView;
use super::esdb_scan::leader_read;
use super::esdb_target::Target;
use super::StoreError;
use crate::log::merkle;

/// How long one network operation may take before the store reports itself unavailable.
pub const OP_TIMEOUT: Duration = Duration::from_secs(10);

/// The state the feeders and the store's callers share.
pub struct Shared {
    pub cfg: EsdbConfig,
    pub mirror: Mirror,
    /// `None` while the subscription is live; otherwise why it is not.
    down: Mutex<Option<StoreError>>,
    /// The newest `$all` event position this node has read (`None` before the first
    /// read): subscription checkpoints are capped at it (see
    /// [`checkpoint_position`](super::esdb_mapping::checkpoint_position)).
    head: Mutex<Option<AllPosition>>,
}

impl Shared {
    /// A fresh state over an opened mirror. Healthy until the subscription reports a drop:
    /// start-up itself fails if the server cannot be reached, so "connecting" needs no
    /// state of its own.
    pub fn new(cfg: EsdbConfig, mirror: Mirror) -> Self {
        Self {
            cfg,
            mirror,
            down: Mutex::new(None),
            head: Mutex::new(None),
        }
    }

    /// Records that `$all` reaches at least `p`.
    pub fn note_head(&self, p: AllPosition) {
        let mut head = self.head.lock().expect("head");
        *head = (*head).max(Some(p));
    }

    /// The newest `$all` position this node knows to exist.
    pub fn head(&self) -> Option<AllPosition> {
        *self.head.lock().expect("head")
    }

    /// Records why the feed is down (`None`: it is live again), and wakes whoever waits
    /// for the mirror, so that they look at the news.
    pub fn set_down(&self, why: Option<StoreError>) {
        *self.down.lock().expect("health") = why;
        self.mirror.wake();
    }

    /// Why the feed is down, if it is (a copy of what the feed recorded).
    pub fn down(&self) -> Option<StoreError> {
        self.down.lock().expect("health").as_ref().map(copy)
    }

    /// Waits until the mirror holds `target`: for the subscription to deliver it for at
    /// most `grace`, and not at all while the feed is down (a commit would otherwise sit
    /// out the whole grace on every call); then `scan` once, which reads `$all` itself.
    /// A feed stopped by corrupt data fails at once. Returns the mirror's size. Blocks:
    /// not for async code.
    pub fn reach(
        &self,
        target: &Target,
        grace: Duration,
        scan: impl FnOnce() -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        let deadline = Instant::now() + grace;
        let step = loop {
            let view = self.mirror.tip();
            let held = target.held(&self.mirror, &view)?.then_some(view.size());
            let left = deadline.saturating_duration_since(Instant::now());
            match reach_step(held, self.down().as_ref(), left) {
                // Until the mirror moves, the feed drops, or the grace is over. The view is
                // published after each commit, so a commit after `held` looked is not missed.
                ReachStep::Wait => {
                    self.mirror
                        .wait_until(deadline, |v| *v != view || self.down().is_some());
                }
                step => break step,
            }
        };
        match step {
            ReachStep::Reached(size) => Ok(size),
            ReachStep::Fail(e) => Err(e),
            ReachStep::Wait | ReachStep::Scan => {
                let down = self.down();
                match (scan(), down) {
                    (Ok(()), _) => Ok(self.mirror.tip().size()),
                    (Err(StoreError::Unavailable(why)), Some(feed)) => Err(
                        StoreError::Unavailable(format!("{why}; the subscription is down: {feed}")),
                    ),
                    (Err(e), _) => Err(e),
                }
            }
        }
    }

    /// Folds a batch of resolved events, then `then`, as one mirror commit.
    pub fn ingest(
        &self,
        events: &[ResolvedEvent],
        then: Option<AllPosition>,
    ) -> Result<(), StoreError> {
        let seen: Vec<SeenEvent<'_>> = events
            .iter()
            .filter_map(|ev| ev.event.as_ref())
            .map(|e| SeenEvent {
                position: to_pos(e.position),
                stream: &e.stream_id,
                revision: e.revision,
                event_id: e.id,
                data: &e.data,
            })
            .collect();
        self.mirror.ingest(&seen, then)
    }
}

/// What waiting for the mirror to reach a position does next.
#[derive(Debug)]
pub enum ReachStep {
    /// The mirror has seen it; its size.
    Reached(u64),
    /// Wait for the subscription.
    Wait,
    /// Read `$all` instead of waiting.
    Scan,
    /// Give up at once.
    Fail(StoreError),
}

/// Decides what waiting for the mirror to hold a target does next, given whether it holds
/// it (`held`: the mirror's size if so), why the feed is down (if it is) and the grace left
/// for the subscription.
pub fn reach_step(held: Option<u64>, down: Option<&StoreError>, left: Duration) -> ReachStep {
    if let Some(size) = held {
        return ReachStep::Reached(size);
    }
    match down {
        // The feed stopped for good on data that does not hold together: so would a scan.
        Some(StoreError::Corrupt(why)) => ReachStep::Fail(StoreError::Corrupt(why.clone())),
        // A dropped subscription delivers nothing until it is back: read instead.
        Some(_) => ReachStep::Scan,
        None if left.is_zero() => ReachStep::Scan,
        None => ReachStep::Wait,
    }
}

/// A copy of an error (`StoreError` holds only strings, but is not `Clone` on purpose:
/// errors are moved, this is for the one recorded state read many times).
fn copy(e: &StoreError) -> StoreError {
    match e {
        StoreError::Conflict(s) => StoreError::Conflict(s.clone()),
        StoreError::Corrupt(s) => StoreError::Corrupt(s.clone()),
        StoreError::Unavailable(s) => StoreError::Unavailable(s.clone()),
    }
}

/// Our position type from the crate's.
pub fn to_pos(p: Position) -> AllPosition {
    AllPosition {
        commit: p.commit,
        prepare: p.prepare,
    }
}

/// The crate's position type from ours.
pub fn from_pos(p: AllPosition) -> Position {
    Position {
        commit: p.commit,
        prepare: p.prepare,
    }
}

/// A network error as the store reports it, naming the server.
pub fn unavailable(cfg: &EsdbConfig, what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("EventStoreDB at {}: {what}: {e}", cfg.address()))
}

/// The position of the newest event in `$all` (of any stream), if any. Read from the
/// leader: a follower's head may be behind what the cluster acknowledged, and `sync` must
/// cover everything acknowledged before it was called.
/// Refusals are read again until `deadline` (see [`leader_read`]).
pub async fn head(
    clients: &Clients,
    cfg: &EsdbConfig,
    deadline: Instant,
) -> Result<Option<AllPosition>, StoreError> {
    let opts = ReadAllOptions::default()
        .position(StreamPosition::End)
        .max_count(1)
        .requires_leader(true);
    let opts = &opts;
    let read = || {
        clients.call(|client| async move {
            let mut stream = client.read_all(opts).await?;
            stream.next().await
        })
    };
    let ev = leader_read(cfg, "reading the head of $all", deadline, read).await?;
    Ok(ev.and_then(|e| e.event.map(|e| to_pos(e.position))))
}

/// One mirror commit, off the runtime's worker threads (it waits for an fsync).
pub async fn commit(
    shared: Arc<Shared>,
    events: Vec<ResolvedEvent>,
    then: Option<AllPosition>,
) -> Result<(), StoreError> {
    if events.is_empty() && then.is_none() {
        return Ok(());
    }
    tokio::task::spawn_blocking(move || shared.ingest(&events, then))
        .await
        .unwrap_or_else(|e| Err(StoreError::Unavailable(format!("mirror commit task: {e}"))))
}

/// What the cluster holds to compare a mirror with: the head of `$all`, and the events at
/// `places` (the stream and revision of the mirror's first and last entries). All read from
/// the leader: a lagging follower would make a good mirror look like another log's.
pub async fn cluster_view(
    clients: &Clients,
    cfg: &EsdbConfig,
    places: [Option<(String, u64)>; 2],
    deadline: Instant,
) -> Result<ClusterView, StoreError> {
    let head = head(clients, cfg, deadline).await?;
    let [first, last] = places;
    let first = match first {
        Some((stream, revision)) => event_at(clients, cfg, (&stream, revision), deadline).await?,
        None => None,
    };
    let last = match last {
        Some((stream, revision)) => event_at(clients, cfg, (&stream, revision), deadline).await?,
        None => None,
    };
    Ok(ClusterView { first, last, head })
}

/// The id and leaf hash of the event at `revision` of `<prefix><stream>`, if it is there.
async fn event_at(
    clients: &Clients,
    cfg: &EsdbConfig,
    (stream, revision): (&str, u64),
    deadline: Instant,
) -> Result<Option<(uuid::Uuid, merkle::Hash)>, StoreError> {
    let opts = ReadStreamOptions::default()
        .position(StreamPosition::Position(revision))
        .max_count(1)
        .requires_leader(true);
    let name = cfg.stream_name(stream);
    let (name, opts) = (name.as_str(), &opts);
    // A missing or deleted stream is an answer here, not a failure.
    let read = || async {
        let events = clients
            .call(|client| async move {
                let mut events = client.read_stream(name, opts).await?;
                events.next().await
            })
            .await;
        match events {
            Err(eventstore::Error::ResourceNotFound | eventstore::Error::ResourceDeleted) => {
                Ok(None)
            }
            other => other,
        }
    };
    let ev = leader_read(cfg, "reading a mirrored entry", deadline, read).await?;
    // A stream truncated past `revision` no longer holds the entry: the read starts later.
    Ok(ev
        .and_then(|ev| ev.event)
        .filter(|e| e.revision == revision)
        .map(|e| (e.id, merkle::leaf_hash(&e.data))))
}

#[cfg(test)]
#[path = "esdb_feed_tests.rs"]
pub(crate) mod tests;
