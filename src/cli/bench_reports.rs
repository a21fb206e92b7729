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
use crate::reports::render::{to_csv, to_json};
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

/// Feeds ~10 events per case: opened, consent, two inquiries answered, a referral accepted
/// (services started, closed) or declined, and most cases closed; a year of days.
fn fold_synthetic(args: &BenchReportsArgs, t: &Templates, p: &mut StatsProjection) -> u64 {
    let agencies: Vec<AgencyId> = (0..args.agencies.max(1))
        .map(|i| format!("agency-{i}").parse().expect("slug"))
        .collect();
    let start: DateTime<Utc> = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("date");
    let cases = (args.events / 10).max(1);
    let mut index = 0u64;
    let mut apply = |p: &mut StatsProjection, at: DateTime<Utc>, e: &EventPayload| {
        p.apply(index, at, e);
        index += 1;
    };
    for c in 0..cases {
        let stream = StreamId::Case(CaseId::from_uuid(uuid::Uuid::from_u128(u128::from(c) + 1)));
        let opened = start + chrono::Duration::seconds((c * 365 * 86_400 / cases) as i64);
        let at = |minutes: i64| opened + chrono::Duration::minutes(minutes);
        let ev = |i: usize, edit: &dyn Fn(&mut EventData)| {
            let mut e = t.0[i].clone();
            e.stream = stream.clone();
            edit(&mut e.data);
            e
        };
        let a = |n: u64| agencies[((c + n) % agencies.len() as u64) as usize].clone();
        apply(p, at(0), &ev(0, &|_| {}));
        apply(p, at(1), &ev(1, &|_| {}));
        for (q, id) in ["q1", "q2"].iter().enumerate() {
            let agency = a(q as u64);
            apply(
                p,
                at(2),
                &ev(2, &|d| {
                    if let EventData::InquirySent(d) = d {
                        d.inquiry_id = id.parse().expect("slug");
                        d.agency = agency.clone();
                    }
                }),
            );
            let can_help = Tristate::ALL[(c as usize + q) % 3];
            apply(
                p,
                at(60 + (c % 500) as i64),
                &ev(3, &|d| {
                    if let EventData::InquiryAnswered(d) = d {
                        d.inquiry_id = id.parse().expect("slug");
                        d.can_help = can_help;
                    }
                }),
            );
        }
        let agency = a(0);
        apply(
            p,
            at(600),
            &ev(4, &|d| {
                if let EventData::ReferralMade(d) = d {
                    d.agency = agency.clone()
                }
            }),
        );
        if c % 3 == 0 {
            let reason = DeclineReason::ALL[(c / 3 % 6) as usize];
            apply(
                p,
                at(900),
                &ev(6, &|d| {
                    if let EventData::ReferralDeclined(d) = d {
                        d.reason = reason
                    }
                }),
            );
        } else {
            apply(p, at(700 + (c % 900) as i64), &ev(5, &|_| {}));
            apply(p, at(2000), &ev(7, &|_| {}));
            let outcome = ReferralOutcome::ALL[(c % 5) as usize];
            apply(
                p,
                at(9000),
                &ev(8, &|d| {
                    if let EventData::ReferralClosed(d) = d {
                        d.outcome = outcome
                    }
                }),
            );
        }
        if c % 4 != 0 {
            apply(p, at(10_000), &ev(9, &|_| {}));
        }
    }
    index
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
                to_json(&report).to_string().len()
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
