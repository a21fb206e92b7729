//! Feeding a node's [`Mirror`] from EventStoreDB: the state the feeders and the store's
//! callers share, a bounded scan of `$all` used when the writer must be sure it has seen
//! everything up to a position, and the reads that tell whether a mirror file is of this
//! cluster. The subscription itself is in `esdb_subscription`. Everything here runs on the
//! backend's own tokio runtime.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use eventstore::{
    Client, Position, ReadAllOptions, ReadStreamOptions, ResolvedEvent, StreamPosition,
};

use super::esdb_mapping::{AllPosition, EsdbConfig};
use super::esdb_mirror::{Mirror, SeenEvent};
use super::esdb_mirror_meta::ClusterView;
use super::StoreError;
use crate::log::merkle;

/// How long one network operation may take before the store reports itself unavailable.
pub const OP_TIMEOUT: Duration = Duration::from_secs(10);

/// Events per page of a scan (one mirror commit each).
const SCAN_PAGE: usize = 1024;

/// The state the feeders and the store's callers share.
pub struct Shared {
    pub cfg: EsdbConfig,
    pub mirror: Mirror,
    /// Signalled whenever the mirror or the health changes; waited on with the mirror's tip.
    pub changed: Condvar,
    /// `None` while the subscription is live; otherwise why it is not.
    pub down: Mutex<Option<StoreError>>,
    /// The newest `$all` position this node has read or written (`None` before the first
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
            changed: Condvar::new(),
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

    /// Records why the feed is down (`None`: it is live again).
    pub fn set_down(&self, why: Option<StoreError>) {
        *self.down.lock().expect("health") = why;
        self.changed.notify_all();
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
        let out = self.mirror.ingest(&seen, then);
        self.changed.notify_all();
        out
    }
}

/// Our position type from the crate's.
pub fn to_pos(p: Position) -> AllPosition {
    AllPosition {
        commit: p.commit,
        prepare: p.prepare,
    }
}

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

/// The position of the newest event in `$all` (of any stream), if any.
pub async fn head(client: &Client, cfg: &EsdbConfig) -> Result<Option<AllPosition>, StoreError> {
    let opts = ReadAllOptions::default()
        .position(StreamPosition::End)
        .max_count(1);
    let read = async {
        let mut stream = client.read_all(&opts).await?;
        stream.next().await
    };
    match tokio::time::timeout(OP_TIMEOUT, read).await {
        Err(_) => Err(unavailable(cfg, "reading the head of $all", "timed out")),
        Ok(Err(e)) => Err(unavailable(cfg, "reading the head of $all", e)),
        Ok(Ok(ev)) => Ok(ev.and_then(|e| e.event.map(|e| to_pos(e.position)))),
    }
}

/// Reads `$all` forward from what the mirror has seen up to `until`, folding our events
/// (filtered on the client: the crate's `read_all` has no server-side filter), one mirror
/// commit per page. Used only when the subscription has not confirmed a position the
/// writer needs, so it reads little.
pub async fn scan(
    client: &Client,
    shared: &Arc<Shared>,
    until: AllPosition,
) -> Result<(), StoreError> {
    loop {
        let from = shared.mirror.tip().seen();
        if from.is_some_and(|p| p >= until) {
            return Ok(());
        }
        let opts = ReadAllOptions::default()
            .position(from.map_or(StreamPosition::Start, |p| {
                StreamPosition::Position(from_pos(p))
            }))
            .forwards()
            .max_count(SCAN_PAGE);
        let page = async {
            let mut stream = client.read_all(&opts).await?;
            let mut events = Vec::new();
            while let Some(ev) = stream.next().await? {
                events.push(ev);
            }
            Ok::<_, eventstore::Error>(events)
        };
        let events = match tokio::time::timeout(OP_TIMEOUT, page).await {
            Err(_) => return Err(unavailable(&shared.cfg, "scanning $all", "timed out")),
            Ok(Err(e)) => return Err(unavailable(&shared.cfg, "scanning $all", e)),
            Ok(Ok(events)) => events,
        };
        let last = events
            .last()
            .and_then(|e| e.event.as_ref().map(|e| to_pos(e.position)));
        match last {
            // Every event up to `last` goes through the mirror; foreign ones are skipped.
            Some(p) if from.is_none_or(|f| p > f) => {
                commit(shared.clone(), events, Some(p)).await?
            }
            _ => return commit(shared.clone(), events, Some(until)).await,
        }
    }
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

/// What the cluster holds to compare a mirror with: the head of `$all`, and the event at
/// revision 0 of `<prefix><first_stream>` (the mirror's first entry's stream).
pub async fn cluster_view(
    client: &Client,
    cfg: &EsdbConfig,
    first_stream: Option<String>,
) -> Result<ClusterView, StoreError> {
    let head = head(client, cfg).await?;
    let Some(stream) = first_stream else {
        return Ok(ClusterView { first: None, head });
    };
    let opts = ReadStreamOptions::default()
        .position(StreamPosition::Start)
        .max_count(1);
    let name = cfg.stream_name(&stream);
    let read = async {
        let mut events = client.read_stream(name, &opts).await?;
        events.next().await
    };
    let first = match tokio::time::timeout(OP_TIMEOUT, read).await {
        Err(_) => return Err(unavailable(cfg, "reading the first entry", "timed out")),
        Ok(Err(eventstore::Error::ResourceNotFound | eventstore::Error::ResourceDeleted)) => None,
        Ok(Err(e)) => return Err(unavailable(cfg, "reading the first entry", e)),
        // A stream truncated past revision 0 no longer holds the mirror's first entry.
        Ok(Ok(ev)) => ev
            .and_then(|ev| ev.event)
            .filter(|e| e.revision == 0)
            .map(|e| (e.id, merkle::leaf_hash(&e.data))),
    };
    Ok(ClusterView { first, head })
}
