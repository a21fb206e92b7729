//! Tests of the reports: the fold and suppression on hand-worked logs, the suppression table
//! on its own, rendering, and a property test over random logs against a naive recount.

mod attacks;
mod audit;
mod known_answer;
mod props;
mod ranges;
mod render;
mod table;
mod table_props;

pub(crate) use known_answer::log as known_answer_log;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{json, Value};

use super::layout::ReportKind;
use super::render::to_json;
use super::{build, Period, ReportConfig, StatsProjection};
use crate::domain::EventPayload;

/// A synthetic log: events with their `recorded_at`, in log order.
#[derive(Default)]
pub(super) struct Log {
    pub(super) entries: Vec<(DateTime<Utc>, EventPayload)>,
}

/// An event payload built from JSON, through the same parser clients hit.
pub(super) fn event(stream: &str, type_name: &str, data: Value) -> EventPayload {
    let payload = json!({
        "event_id": uuid::Uuid::new_v4().to_string(),
        "type": type_name,
        "stream": stream,
        "occurred_at": "2026-01-01T00:00:00Z",
        "actor": "maria",
        "data": data,
    });
    EventPayload::parse(&serde_json::to_vec(&payload).expect("json")).expect("valid event")
}

/// `case-<uuid>` for case number `n`.
pub(super) fn case(n: u32) -> String {
    format!("case-00000000-0000-4000-8000-{n:012}")
}

/// Midnight UTC of 2026-03-`day`.
pub(super) fn day(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, 0, 0, 0)
        .single()
        .expect("date")
}

/// `seconds` after `at`.
pub(super) fn plus(at: DateTime<Utc>, seconds: i64) -> DateTime<Utc> {
    at + Duration::seconds(seconds)
}

impl Log {
    pub(super) fn push(&mut self, at: DateTime<Utc>, stream: &str, type_name: &str, data: Value) {
        self.entries.push((at, event(stream, type_name, data)));
    }

    /// Entries sorted by time (stable), as the server would have recorded them.
    pub(super) fn sorted(mut self) -> Self {
        self.entries.sort_by_key(|(at, _)| *at);
        self
    }

    pub(super) fn projection(&self) -> StatsProjection {
        let mut p = StatsProjection::new();
        for (i, (at, e)) in self.entries.iter().enumerate() {
            p.apply(i as u64, *at, e);
        }
        p
    }
}

/// Both reports of `from..=to` (2026-03 days) as JSON.
pub(super) fn reports(p: &StatsProjection, from: u32, to: u32, k: u64) -> (Value, Value) {
    let period = Period::new(day(from).date_naive(), day(to).date_naive()).expect("period");
    let config = ReportConfig::new(k).expect("k");
    let json = |kind| to_json(&build(p, kind, &period, &config));
    (json(ReportKind::Agencies), json(ReportKind::Program))
}

/// The row of `agency` in an agency report.
pub(super) fn row<'a>(report: &'a Value, agency: &str) -> &'a Value {
    report["agencies"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["agency"] == agency))
        .unwrap_or_else(|| panic!("no row for {agency}"))
}
