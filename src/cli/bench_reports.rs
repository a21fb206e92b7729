//! `caseledger bench-reports`: folds a synthetic log of N events (default 1M) straight into the
//! statistics projection, then times reports read from it. The same-run reference is the fold
//! itself: the least a report answered from the log, rather than a projection, would cost.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};

use crate::domain::fixtures::example_payload;
use crate::domain::{
    AgencyId, CaseId, DeclineReason, EventData, EventPayload, ReferralOutcome, StreamId, Tristate,
};
use crate::reports::render::{to_csv, to_json_string};
use crate::reports::{build, Period, ReportConfig, ReportKind, StatsProjection};

/// Arguments of `bench-reports`.
#[derive(Debug, clap::Args)]
pub struct BenchReportsArgs {
    /// Events in the synthetic log.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Agencies inquiries and referrals are spread over.
    #[arg(long, default_value_t = 40)]
    pub agencies: u32,
    /// Report requests timed per report shape.
    #[arg(long, default_value_t = 200)]
    pub queries: usize,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// One template payload per event type, from the domain fixtures.
struct Templates(Vec<EventPayload>);

impl Templates {
    fn new() -> anyhow::Result<Self> {
        let types = [
            "case.opened",
            "consent.granted",
            "inquiry.sent",
            "inquiry.answered",
            "referral.made",
            "referral.accepted",
            "referral.declined",
            "referral.services_started",
            "referral.closed",
            "case.closed",
        ];
        let parsed = types
            .iter()
            .map(|t| {
                let payload: Value = example_payload(t).context("fixture")?;
                EventPayload::parse(&serde_json::to_vec(&payload)?).context("fixture parses")
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self(parsed))
    }
}

/// Feeds synthetic cases into the projection, numbering entries as the log would.
struct Feeder<'a> {
    templates: &'a Templates,
    agencies: Vec<AgencyId>,
    index: u64,
}

impl Feeder<'_> {
    /// Applies template `i`, moved to `stream` and edited, recorded at `at`.
    fn apply(
        &mut self,
        p: &mut StatsProjection,
        stream: &StreamId,
        at: DateTime<Utc>,
        i: usize,
        edit: impl Fn(&mut EventData),
    ) {
        let mut e = self.templates.0[i].clone();
        e.stream = stream.clone();
        edit(&mut e.data);
        p.apply(self.index, at, &e);
        self.index += 1;
    }

    fn agency(&self, c: u64, n: u64) -> AgencyId {
        self.agencies[((c + n) % self.agencies.len() as u64) as usize].clone()
    }

    /// ~10 events: opened, consent, two inquiries answered, a referral accepted (services
    /// started, closed) or declined, and most cases closed.
    fn case(&mut self, p: &mut StatsProjection, c: u64, opened: DateTime<Utc>) {
        let stream = StreamId::Case(CaseId::from_uuid(uuid::Uuid::from_u128(u128::from(c) + 1)));
        let at = |minutes: i64| opened + chrono::Duration::minutes(minutes);
        self.apply(p, &stream, at(0), 0, |_| {});
        self.apply(p, &stream, at(1), 1, |_| {});
        for (q, id) in ["q1", "q2"].iter().enumerate() {
            let agency = self.agency(c, q as u64);
            let inquiry_id: crate::domain::InquiryId = id.parse().expect("slug");
            self.apply(p, &stream, at(2), 2, |d| {
                if let EventData::InquirySent(d) = d {
                    d.inquiry_id = inquiry_id.clone();
                    d.agency = agency.clone();
                }
            });
            let can_help = Tristate::ALL[(c as usize + q) % 3];
            self.apply(p, &stream, at(60 + (c % 500) as i64), 3, |d| {
                if let EventData::InquiryAnswered(d) = d {
                    d.inquiry_id = inquiry_id.clone();
                    d.can_help = can_help;
                }
            });
        }
        self.referral(p, &stream, c, opened);
        if !c.is_multiple_of(4) {
            self.apply(p, &stream, at(10_000), 9, |_| {});
        }
    }

    fn referral(
        &mut self,
        p: &mut StatsProjection,
        stream: &StreamId,
        c: u64,
        opened: DateTime<Utc>,
    ) {
        let at = |minutes: i64| opened + chrono::Duration::minutes(minutes);
        let agency = self.agency(c, 0);
        self.apply(p, stream, at(600), 4, |d| {
            if let EventData::ReferralMade(d) = d {
                d.agency = agency.clone()
            }
        });
        if c.is_multiple_of(3) {
            let reason = DeclineReason::ALL[(c / 3 % 6) as usize];
            self.apply(p, stream, at(900), 6, |d| {
                if let EventData::ReferralDeclined(d) = d {
                    d.reason = reason
                }
            });
            return;
        }
        self.apply(p, stream, at(700 + (c % 900) as i64), 5, |_| {});
        self.apply(p, stream, at(2000), 7, |_| {});
        let outcome = ReferralOutcome::ALL[(c % 5) as usize];
        self.apply(p, stream, at(9000), 8, |d| {
            if let EventData::ReferralClosed(d) = d {
                d.outcome = outcome
            }
        });
    }
}

/// Folds about `args.events` events (cases spread over 2026) into `p`; returns the count.
fn fold_synthetic(args: &BenchReportsArgs, t: &Templates, p: &mut StatsProjection) -> u64 {
    let mut feeder = Feeder {
        templates: t,
        agencies: (0..args.agencies.max(1))
            .map(|i| format!("agency-{i}").parse().expect("slug"))
            .collect(),
        index: 0,
    };
    let start: DateTime<Utc> = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("date");
    let cases = (args.events / 10).max(1);
    for c in 0..cases {
        let opened = start + chrono::Duration::seconds((c * 365 * 86_400 / cases) as i64);
        feeder.case(p, c, opened);
    }
    feeder.index
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// Times `queries` reports of one shape, rendered as the endpoint renders them.
fn time_reports(
    p: &StatsProjection,
    kind: ReportKind,
    period: &Period,
    csv: bool,
    queries: usize,
) -> Vec<Duration> {
    let config = ReportConfig::default();
    let mut times: Vec<Duration> = (0..queries.max(1))
        .map(|_| {
            let started = Instant::now();
            let report = build(p, kind, period, &config);
            let bytes = if csv {
                to_csv(&report).len()
            } else {
                to_json_string(&report).len()
            };
            std::hint::black_box(bytes);
            started.elapsed()
        })
        .collect();
    times.sort();
    times
}

/// `caseledger bench-reports`.
pub fn bench_reports(args: BenchReportsArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.queries >= 1, "--queries must be at least 1");
    let templates = Templates::new()?;
    let mut projection = StatsProjection::new();
    eprintln!(
        "folding ~{} synthetic events into the projection...",
        args.events
    );
    let started = Instant::now();
    let events = fold_synthetic(&args, &templates, &mut projection);
    let fold = started.elapsed();
    let year = Period::parse(Some("2026-01-01"), Some("2026-12-31"))?;
    let month = Period::parse(Some("2026-06-01"), Some("2026-06-30"))?;
    let shapes = [
        ("agencies_year_json", ReportKind::Agencies, year, false),
        ("agencies_year_csv", ReportKind::Agencies, year, true),
        ("agencies_month_json", ReportKind::Agencies, month, false),
        ("program_year_json", ReportKind::Program, year, false),
    ];
    let mut results = serde_json::Map::new();
    for (name, kind, period, csv) in shapes {
        let t = time_reports(&projection, kind, &period, csv, args.queries);
        let (p50, p99) = (percentile(&t, 50), percentile(&t, 99));
        results.insert(
            name.into(),
            json!({
                "p50_ms": p50.as_secs_f64() * 1e3, "p99_ms": p99.as_secs_f64() * 1e3,
                "p99_vs_fold": p99.as_secs_f64() / fold.as_secs_f64(),
            }),
        );
        if !args.json {
            println!(
                "{name:<22} p50 {:>8.2} ms  p99 {:>8.2} ms  ({:.5}x the fold)",
                p50.as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3,
                p99.as_secs_f64() / fold.as_secs_f64()
            );
        }
    }
    let summary = json!({"events": events, "agencies": args.agencies, "queries": args.queries,
        "fold_ms": fold.as_secs_f64() * 1e3, "reports": results});
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "reference: folding {events} events took {:.0} ms",
            fold.as_secs_f64() * 1e3
        );
    }
    Ok(())
}
