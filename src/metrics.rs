//! Prometheus metrics: appends, rejections, group-commit sizes and latency, HTTP requests.

use std::time::Duration;

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
        let log_size = IntGauge::new("caseledger_log_size", "Entries in the log").expect("metric");
        registry
            .register(Box::new(log_size.clone()))
            .expect("register");
        Self {
            registry,
            appended,
            rejected,
            commits,
            group_size,
            commit_seconds,
            log_size,
        }
    }

    /// Records one group commit of `events` events.
    pub fn observe_commit(&self, events: usize, took: Duration) {
        self.appended.inc_by(events as u64);
        self.commits.inc();
        self.group_size.observe(events as f64);
        self.commit_seconds.observe(took.as_secs_f64());
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
