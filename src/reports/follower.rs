//! `ReportService`: runs the statistics projection on its own thread, tailing the store with a
//! catch-up [`Subscription`], so the write path and `ledger/state.rs` are untouched. The
//! projection lags the log by the time it takes to read and fold new entries (normally well
//! under a millisecond per entry); the lag is published as the
//! `caseledger_reports_projection_lag` gauge, and a report request first waits (boundedly)
//! until the projection has folded every entry committed when the request arrived.

use std::sync::{Arc, Condvar, Mutex, RwLock, Weak};
use std::time::Duration;

use prometheus::IntGauge;

use super::layout::{Report, ReportKind};
use super::{Period, ReportConfig, StatsProjection};
use crate::ledger::entry;
use crate::metrics::Metrics;
use crate::store::{EventStore, StoreError, Subscription};

/// How long the follower waits for new entries before checking whether it should stop.
const IDLE: Duration = Duration::from_millis(500);

/// Why a report cannot be served now (HTTP 503 `unavailable`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// The projection has not yet folded the entries the request must see.
    #[error("the reports projection is catching up with the log ({position} of {wanted} entries folded); retry shortly")]
    CatchingUp {
        /// Entries folded.
        position: u64,
        /// Entries the request waited for.
        wanted: u64,
    },
    /// The projection stopped on an entry it could not read.
    #[error("the reports projection stopped: {0}")]
    Stopped(String),
}

#[derive(Debug, Default)]
struct Progress {
    position: u64,
    failure: Option<String>,
    /// The last read of the store failed and is being tried again.
    retrying: bool,
}

/// How the projection follows the log (`/readyz` says it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Following {
    /// It folds what is committed.
    Following,
    /// The store did not answer its last read; it is trying again.
    Retrying,
    /// It stopped for good (an entry it cannot read, or a damaged store).
    Stopped,
}

struct Shared {
    projection: RwLock<StatsProjection>,
    progress: Mutex<Progress>,
    moved: Condvar,
}

/// The statistics projection, kept up to date by a follower thread, and the report settings.
pub struct ReportService {
    shared: Arc<Shared>,
    config: ReportConfig,
    /// Reports laid out at once: one fewer than the cores (at least one), so that
    /// evaluators asking many costly reports at a time (a second of solving each) leave a
    /// core to the writes.
    computing: Arc<tokio::sync::Semaphore>,
}

struct Gauges {
    position: IntGauge,
    lag: IntGauge,
    stopped: IntGauge,
    retrying: IntGauge,
}

impl Gauges {
    fn new(metrics: Option<&Metrics>) -> Self {
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("valid metric name");
            if let Some(m) = metrics {
                m.register(Box::new(g.clone()));
            }
            g
        };
        Self {
            position: gauge(
                "caseledger_reports_projection_position",
                "Log entries folded into the reports projection",
            ),
            lag: gauge(
                "caseledger_reports_projection_lag",
                "Log entries committed but not yet folded into the reports projection",
            ),
            stopped: gauge(
                "caseledger_reports_projection_stopped",
                "1 once the reports projection stopped on an entry it could not read",
            ),
            retrying: gauge(
                "caseledger_reports_projection_retrying",
                "1 while the store does not answer the reports projection's reads",
            ),
        }
    }
}

impl ReportService {
    /// Starts the follower thread from log position 0. It stops once the service is dropped.
    pub fn start(
        store: Arc<dyn EventStore>,
        config: ReportConfig,
        metrics: Option<&Metrics>,
    ) -> Arc<Self> {
        let shared = Arc::new(Shared {
            projection: RwLock::new(StatsProjection::new()),
            progress: Mutex::new(Progress::default()),
            moved: Condvar::new(),
        });
        let gauges = Gauges::new(metrics);
        let weak = Arc::downgrade(&shared);
        std::thread::Builder::new()
            .name("reports-projection".into())
            .spawn(move || follow(store, weak, gauges))
            .expect("spawn the reports projection thread");
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Arc::new(Self {
            shared,
            config,
            computing: Arc::new(tokio::sync::Semaphore::new(cores.saturating_sub(1).max(1))),
        })
    }

    /// The report settings.
    pub fn config(&self) -> &ReportConfig {
        &self.config
    }

    /// Permits to lay out a report: one fewer than the cores, at least one.
    pub fn computing(&self) -> Arc<tokio::sync::Semaphore> {
        self.computing.clone()
    }

    /// Log entries folded so far.
    pub fn position(&self) -> u64 {
        self.shared.progress.lock().expect("progress").position
    }

    /// Whether the projection follows the log, is trying the store again, or stopped for
    /// good (reports answer 503 until a restart).
    pub fn following(&self) -> Following {
        let progress = self.shared.progress.lock().expect("progress");
        match (&progress.failure, progress.retrying) {
            (Some(_), _) => Following::Stopped,
            (None, true) => Following::Retrying,
            (None, false) => Following::Following,
        }
    }

    /// Waits until at least `size` entries are folded, at most `timeout`.
    pub fn wait_for(&self, size: u64, timeout: Duration) -> Result<u64, ReportError> {
        let guard = self.shared.progress.lock().expect("progress");
        let (guard, _) = self
            .shared
            .moved
            .wait_timeout_while(guard, timeout, |p| p.position < size && p.failure.is_none())
            .expect("progress");
        if let Some(failure) = &guard.failure {
            return Err(ReportError::Stopped(failure.clone()));
        }
        if guard.position < size {
            return Err(ReportError::CatchingUp {
                position: guard.position,
                wanted: size,
            });
        }
        Ok(guard.position)
    }

    /// A report read from the projection as it stands. The period's figures are copied out
    /// under the read lock; laying out and suppressing (the costly part) runs without it,
    /// so the follower and other readers are not held up.
    pub fn report(&self, kind: ReportKind, period: &Period) -> Report {
        let (stats, position) = {
            let projection = self.shared.projection.read().expect("projection");
            (projection.period(period), projection.position())
        };
        super::layout::lay_out(&stats, kind, period, &self.config, position)
    }
}

/// The first wait after the store fails to answer; it doubles up to [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_millis(250);
/// The longest wait between two tries of a store that does not answer.
const MAX_RETRY: Duration = Duration::from_secs(10);

/// The follower loop: fold each new entry, publish the position, stop when unwanted.
/// A store that does not answer (a busy SQLite file, an EventStoreDB node restarting) is
/// tried again with a growing pause, from the same position: reports wait meanwhile. Only
/// what cannot heal stops the projection: an entry it cannot read, or a store that says
/// its data does not hold together.
fn follow(store: Arc<dyn EventStore>, shared: Weak<Shared>, gauges: Gauges) {
    let mut subscription = Subscription::new(store.as_ref(), 0);
    let mut retry = FIRST_RETRY;
    loop {
        let next = subscription.next_timeout(IDLE);
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let failure = match next {
            Ok(Some(stored)) => match entry::decode(&stored.bytes) {
                Ok(decoded) => {
                    retry = FIRST_RETRY;
                    let mut projection = shared.projection.write().expect("projection");
                    projection.apply(stored.index, decoded.recorded_at, &decoded.payload);
                    publish(
                        &shared,
                        &gauges,
                        store.as_ref(),
                        projection.position(),
                        false,
                        None,
                    );
                    continue;
                }
                Err(e) => format!("entry {}: {e}", stored.index),
            },
            Ok(None) => {
                retry = FIRST_RETRY;
                let position = shared.progress.lock().expect("progress").position;
                publish(&shared, &gauges, store.as_ref(), position, true, None);
                continue;
            }
            Err(e @ (StoreError::Unavailable(_) | StoreError::Conflict(_))) => {
                tracing::warn!(error = %e, retry_in = ?retry, "reports projection: the store did not answer; trying again");
                // The gauges first: whoever sees the state retrying sees them set.
                gauges.retrying.set(1);
                let position = shared.progress.lock().expect("progress").position;
                if let Ok(size) = store.size() {
                    gauges.lag.set(size.saturating_sub(position) as i64);
                }
                shared.progress.lock().expect("progress").retrying = true;
                // Not holding the service while waiting: dropping it stops the loop.
                drop(shared);
                std::thread::sleep(retry);
                retry = (retry * 2).min(MAX_RETRY);
                continue;
            }
            Err(e) => e.to_string(),
        };
        tracing::error!(%failure, "reports projection stopped");
        gauges.stopped.set(1);
        let position = shared.progress.lock().expect("progress").position;
        publish(
            &shared,
            &gauges,
            store.as_ref(),
            position,
            true,
            Some(failure),
        );
        return;
    }
}

fn publish(
    shared: &Shared,
    gauges: &Gauges,
    store: &dyn EventStore,
    position: u64,
    idle: bool,
    failure: Option<String>,
) {
    let mut progress = shared.progress.lock().expect("progress");
    progress.position = position;
    progress.failure = failure;
    progress.retrying = false;
    gauges.retrying.set(0);
    shared.moved.notify_all();
    drop(progress);
    gauges.position.set(position as i64);
    // Reading the size is a query: do it every 256 entries, and when idle (lag 0 then).
    if position.is_multiple_of(256) || idle {
        if let Ok(size) = store.size() {
            gauges.lag.set(size.saturating_sub(position) as i64);
        }
    }
}

/// Folds the whole log into a fresh projection, for one-shot use (the `report` command).
pub fn fold_store(store: &dyn EventStore) -> Result<StatsProjection, ReportError> {
    let mut projection = StatsProjection::new();
    loop {
        let chunk = store
            .read_all(projection.position(), 4096)
            .map_err(|e| ReportError::Stopped(e.to_string()))?;
        if chunk.is_empty() {
            return Ok(projection);
        }
        for stored in chunk {
            let decoded = entry::decode(&stored.bytes)
                .map_err(|e| ReportError::Stopped(format!("entry {}: {e}", stored.index)))?;
            projection.apply(stored.index, decoded.recorded_at, &decoded.payload);
        }
    }
}

#[cfg(test)]
mod tests;
