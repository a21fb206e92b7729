//! Feeding a node's [`Mirror`] from EventStoreDB: a catch-up subscription to `$all` with a
//! server-side filter on our stream prefix (it reconnects after a drop), and a bounded scan of
//! `$all` used when the writer must be sure it has seen everything up to a position.
//! Everything here runs on the backend's own tokio runtime.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use eventstore::{
    Client, Position, ReadAllOptions, ResolvedEvent, StreamPosition, SubscribeToAllOptions,
    SubscriptionEvent, SubscriptionFilter,
};

use super::esdb_mapping::{AllPosition, EsdbConfig};
use super::esdb_mirror::{Mirror, SeenEvent};
use super::StoreError;

/// How long one network operation may take before the store reports itself unavailable.
pub const OP_TIMEOUT: Duration = Duration::from_secs(10);

/// Events per page of a scan.
const SCAN_PAGE: usize = 1024;

/// The state the feeder and the store's callers share.
pub struct Shared {
    pub cfg: EsdbConfig,
    pub mirror: Mutex<Mirror>,
    /// Signalled whenever the mirror or the health changes.
    pub changed: Condvar,
    /// `None` while the subscription is live; otherwise why it is not.
    pub down: Mutex<Option<StoreError>>,
}

impl Shared {
    /// A fresh state. Healthy until the subscription reports a drop: start-up itself
    /// fails if the server cannot be reached, so "connecting" needs no state of its own.
    pub fn new(cfg: EsdbConfig) -> Self {
        Self {
            cfg,
            mirror: Mutex::new(Mirror::default()),
            changed: Condvar::new(),
            down: Mutex::new(None),
        }
    }

    fn set_down(&self, why: Option<StoreError>) {
        *self.down.lock().expect("health") = why;
        self.changed.notify_all();
    }

    /// Folds one resolved event into the mirror.
    pub fn ingest(&self, ev: &ResolvedEvent) -> Result<(), StoreError> {
        let Some(e) = ev.event.as_ref() else {
            return Ok(());
        };
        let seen = SeenEvent {
            position: to_pos(e.position),
            stream: &e.stream_id,
            revision: e.revision,
            event_id: e.id,
            data: &e.data,
        };
        let out = self.mirror.lock().expect("mirror").ingest(&self.cfg, &seen);
        self.changed.notify_all();
        out
    }

    fn advance(&self, p: AllPosition) {
        self.mirror.lock().expect("mirror").advance(p);
        self.changed.notify_all();
    }
}

/// Our position type from the crate's.
pub fn to_pos(p: Position) -> AllPosition {
    AllPosition {
        commit: p.commit,
        prepare: p.prepare,
    }
}

fn from_pos(p: AllPosition) -> Position {
    Position {
        commit: p.commit,
        prepare: p.prepare,
    }
}

/// A network error as the store reports it, naming the server.
pub fn unavailable(cfg: &EsdbConfig, what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("EventStoreDB at {}: {what}: {e}", cfg.address()))
}

/// Runs the subscription for the life of the runtime: subscribes from what the mirror has
/// seen, folds events, and resubscribes a second after any drop. Corrupt data stops it.
pub async fn run_subscription(client: Client, shared: Arc<Shared>) {
    loop {
        let from = shared.mirror.lock().expect("mirror").seen();
        let filter = SubscriptionFilter::on_stream_name()
            .add_prefix(&shared.cfg.prefix)
            .max(32);
        let opts = SubscribeToAllOptions::default()
            .position(from.map_or(StreamPosition::Start, |p| {
                StreamPosition::Position(from_pos(p))
            }))
            .filter(filter);
        let mut sub = client.subscribe_to_all(&opts).await;
        loop {
            match sub.next_subscription_event().await {
                Ok(SubscriptionEvent::EventAppeared(ev)) => {
                    if let Err(e) = shared.ingest(&ev) {
                        tracing::error!(error = %e, "EventStoreDB data does not hold together");
                        shared.set_down(Some(e));
                        return;
                    }
                }
                Ok(SubscriptionEvent::Checkpoint(p)) => shared.advance(to_pos(p)),
                Ok(SubscriptionEvent::Confirmed(_) | SubscriptionEvent::CaughtUp) => {
                    shared.set_down(None)
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, address = shared.cfg.address(), "EventStoreDB subscription dropped; resubscribing");
                    shared.set_down(Some(unavailable(&shared.cfg, "subscription", e)));
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
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
/// (filtered on the client: the crate's `read_all` has no server-side filter). Used only when
/// the subscription has not confirmed a position the writer needs, so it reads little.
pub async fn scan(client: &Client, shared: &Shared, until: AllPosition) -> Result<(), StoreError> {
    loop {
        let from = shared.mirror.lock().expect("mirror").seen();
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
        for ev in &events {
            shared.ingest(ev)?;
        }
        match last {
            // Every event up to `last` went through `ingest`; foreign ones were skipped.
            Some(p) if from.is_none_or(|f| p > f) => shared.advance(p),
            _ => {
                shared.advance(until);
                return Ok(());
            }
        }
    }
}
