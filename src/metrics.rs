//! Prometheus metrics: appends, rejections, group-commit sizes and latency, HTTP requests.

use std::time::{Duration, Instant};

use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge, Registry, TextEncoder};

/// The process's metrics.
pub struct Metrics {
    registry: Registry,
    /// Events appended.
    pub appended: IntCounter,
    /// Submissions refused by a rule or a conflict.
    pub rejected: IntCounter,
    /// Group commits (one transaction and one fsync each).
    pub commits: IntCounter,
    /// Events per group commit.
    pub group_size: Histogram,
    /// Commit latency, seconds.
    pub commit_seconds: Histogram,
    /// Entries in the log.
    pub log_size: IntGauge,
    /// 1 while the last group commit failed (the store refuses writes), 0 after a success.
    pub commit_failing: IntGauge,
    /// When a group commit last failed, in Unix seconds (0: never).
    pub commit_failed_at: IntGauge,
    /// 1 once the ledger's writer thread has stopped (a panic): no write can succeed
    /// until the node is restarted.
    pub writer_stopped: IntGauge,
    /// When a group commit last failed, on the monotonic clock (for readiness).
    failed_at: std::sync::Mutex<Option<Instant>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str| {
            let c = IntCounter::new(name, help).expect("metric");
            registry.register(Box::new(c.clone())).expect("register");
            c
        };
        let histogram = |name: &str, help: &str, buckets: Vec<f64>| {
            let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))
                .expect("metric");
            registry.register(Box::new(h.clone())).expect("register");
            h
        };
        let appended = counter(
            "caseledger_appended_events_total",
            "Events appended to the log",
        );
        let rejected = counter(
            "caseledger_rejected_submissions_total",
            "Submissions refused by a rule, a conflict or a store error",
        );
        let commits = counter(
            "caseledger_group_commits_total",
            "Group commits (one fsync each)",
        );
        let group_size = histogram(
            "caseledger_group_commit_events",
            "Events per group commit",
            vec![
                1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0,
            ],
        );
        let commit_seconds = histogram(
            "caseledger_commit_seconds",
            "Group commit latency including fsync",
            prometheus::exponential_buckets(0.0001, 2.0, 16).expect("buckets"),
        );
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("metric");
            registry.register(Box::new(g.clone())).expect("register");
            g
        };
        let log_size = gauge("caseledger_log_size", "Entries in the log");
        let commit_failing = gauge(
            "caseledger_commit_failing",
            "1 while the last group commit failed, 0 after a success",
        );
        let commit_failed_at = gauge(
            "caseledger_last_commit_failure_timestamp_seconds",
            "When a group commit last failed (Unix seconds; 0: never)",
        );
        let writer_stopped = gauge(
            "caseledger_writer_stopped",
            "1 once the ledger writer thread has stopped: restart the node",
        );
        Self {
            registry,
            appended,
            rejected,
            commits,
            group_size,
            commit_seconds,
            log_size,
            commit_failing,
            commit_failed_at,
            writer_stopped,
            failed_at: Default::default(),
        }
    }

    /// Records one group commit of `events` events.
    pub fn observe_commit(&self, events: usize, took: Duration) {
        self.appended.inc_by(events as u64);
        self.commits.inc();
        self.group_size.observe(events as f64);
        self.commit_seconds.observe(took.as_secs_f64());
        self.commit_failing.set(0);
    }

    /// Records a failed group commit.
    pub fn commit_failed(&self) {
        self.commit_failing.set(1);
        self.commit_failed_at.set(chrono::Utc::now().timestamp());
        *self.failed_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }

    /// Whether a group commit failed within `window` and none succeeded since: the store is
    /// refusing writes. Bounded, so that a node taken out of rotation for it gets writes
    /// again later, and one that succeeds is ready again.
    pub fn commits_failing(&self, window: Duration) -> bool {
        let failed_at = *self.failed_at.lock().unwrap_or_else(|e| e.into_inner());
        self.commit_failing.get() != 0 && failed_at.is_some_and(|t| t.elapsed() < window)
    }

    /// Registers a metric owned elsewhere (e.g. the reports projection's gauges).
    pub fn register(&self, collector: Box<dyn prometheus::core::Collector>) {
        if let Err(e) = self.registry.register(collector) {
            tracing::warn!(error = %e, "metric not registered");
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_commit_counts_for_a_while_and_until_one_succeeds() {
        let m = Metrics::new();
        let window = Duration::from_secs(30);
        assert!(!m.commits_failing(window));
        m.commit_failed();
        assert!(m.commits_failing(window));
        assert!(!m.commits_failing(Duration::ZERO), "only within the window");
        m.observe_commit(1, Duration::from_millis(1));
        assert!(!m.commits_failing(window));
    }
}
