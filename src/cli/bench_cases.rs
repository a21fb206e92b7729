//! `caseledger bench-cases`: how long rebuilding the projections from a large log takes, and
//! what the case rules add to the cost of an append. The log (default 1M events: realistic
//! 20-event cases plus the registry they need) is written straight into a temporary SQLite
//! store, signed, without HTTP. Figures are reported beside references measured in the same
//! run: reading the raw entries (for the rebuild) and the writer's append path (for the rules).

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use rayon::prelude::*;
use serde_json::{json, Value};

use crate::client;
use crate::domain::{CaseId, PrincipalId};
use crate::envelope::KeyFile;
use crate::ledger::entry::{self, format_time};
use crate::ledger::{self, rules, state::Applied, LedgerState};
use crate::log::merkle;
use crate::store::sqlite::SqliteStore;
use crate::store::{CommitGroup, EventStore, StoredEntry};

/// Arguments of `bench-cases`.
#[derive(Debug, clap::Args)]
pub struct BenchCasesArgs {
    /// Events in the generated log.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: usize,
}

/// One unsigned event: signer, stream, type, data.
pub(super) type Raw = (usize, String, &'static str, Value);

pub(super) fn registry(keys: &[KeyFile]) -> Vec<Raw> {
    let mut out = Vec::new();
    let reg = |i: usize, agency: &str, role: &str| -> Raw {
        let data =
            json!({"agency": agency, "roles": [role], "public_key": keys[i].public_key_b64()});
        (
            0,
            format!("principal-{}", keys[i].principal),
            "principal.registered",
            data,
        )
    };
    out.push(reg(0, "operator", "admin"));
    for a in ["owner", "legal", "clinic", "shelter"] {
        let data = json!({"name": a, "region": "r", "domains": ["legal"], "languages": [], "interpretation": false,
            "cultural_adaptations": [], "trafficking_experience": a != "shelter", "eligibility": {"criteria": [], "notes": ""}});
        out.push((0, format!("agency-{a}"), "agency.registered", data));
    }
    // Caseworkers in threes, one in each agency a case involves (see `case_events`).
    for (i, agency) in (1..keys.len()).zip(["owner", "legal", "clinic"].into_iter().cycle()) {
        out.push(reg(i, agency, "caseworker"));
    }
    out
}

/// A 20-event case like the demo's, written by the caseworkers of `registry`'s `trio`
/// (keys 3·trio + 1 to 3·trio + 3), the first of whom, `coordinator`, opens it.
pub(super) fn case_events(stream: &str, until: &str, trio: usize, coordinator: &str) -> Vec<Raw> {
    let mut events = one_case(stream, until, coordinator);
    for e in &mut events {
        e.0 += 3 * trio;
    }
    events
}

fn one_case(stream: &str, until: &str, coordinator: &str) -> Vec<Raw> {
    let s = || stream.to_owned();
    let ans = |q: &str, for_: Option<&str>| {
        let mut d = json!({"inquiry_id": q, "can_help": "yes", "trafficking_experience": true, "services_available": ["legal"],
            "cultural_adaptation": false, "interpretation_languages": [], "eligible": "yes", "unmet_criteria": [], "support_offered": false});
        if let Some(a) = for_ {
            d["recorded_for"] = json!(a);
        }
        d
    };
    let inq = |q: &str, a: &str| json!({"inquiry_id": q, "agency": a, "consent_id": "ci", "asks": ["can_help"], "domains": ["legal"], "cultural_needs": []});
    vec![
        (
            1,
            s(),
            "case.opened",
            json!({"owner_agency": "owner", "coordinator": coordinator, "needs": ["legal", "medical"], "minor": false}),
        ),
        (
            1,
            s(),
            "consent.granted",
            json!({"consent_id": "ci", "purposes": ["inquiry"], "recipients": "any", "data_categories": [],
            "valid_until": until, "method": "verbal", "language": "es", "interpreter": {"used": false}, "notice_version": "1"}),
        ),
        (1, s(), "inquiry.sent", inq("q1", "legal")),
        (1, s(), "inquiry.sent", inq("q2", "clinic")),
        (1, s(), "inquiry.sent", inq("q3", "shelter")),
        (2, s(), "inquiry.answered", ans("q1", None)),
        (3, s(), "inquiry.answered", ans("q2", None)),
        (1, s(), "inquiry.answered", ans("q3", Some("shelter"))),
        (
            1,
            s(),
            "consent.granted",
            json!({"consent_id": "cr", "purposes": ["referral"], "recipients": ["legal", "clinic"],
            "data_categories": ["identity", "health"], "valid_until": until, "method": "written", "language": "es",
            "interpreter": {"used": false}, "notice_version": "1"}),
        ),
        (
            1,
            s(),
            "referral.made",
            json!({"referral_id": "r1", "agency": "legal", "consent_id": "cr", "domains": ["legal"], "data_shared": ["identity"]}),
        ),
        (
            1,
            s(),
            "referral.made",
            json!({"referral_id": "r2", "agency": "clinic", "consent_id": "cr", "domains": ["medical"], "data_shared": ["health"]}),
        ),
        (2, s(), "referral.accepted", json!({"referral_id": "r1"})),
        (
            3,
            s(),
            "referral.declined",
            json!({"referral_id": "r2", "reason": "no_capacity"}),
        ),
        (
            2,
            s(),
            "referral.services_started",
            json!({"referral_id": "r1", "domains": ["legal"]}),
        ),
        (1, s(), "case.needs_assessed", json!({"needs": ["legal"]})),
        (
            1,
            s(),
            "consent.withdrawn",
            json!({"consent_id": "cr", "method": "verbal"}),
        ),
        (
            2,
            s(),
            "referral.closed",
            json!({"referral_id": "r1", "outcome": "completed"}),
        ),
        (
            1,
            s(),
            "consent.withdrawn",
            json!({"consent_id": "ci", "method": "verbal"}),
        ),
        (
            1,
            s(),
            "case.closed",
            json!({"outcome": "services_completed"}),
        ),
        (
            1,
            s(),
            "case.reopened",
            json!({"reason": "client_returned"}),
        ),
    ]
}

fn generate(n: usize, keys: &[KeyFile]) -> Vec<Raw> {
    let until = format_time(&(Utc::now() + Duration::days(365)));
    let mut out = registry(keys);
    while out.len() < n {
        let stream = format!("case-{}", CaseId::random());
        out.extend(case_events(&stream, &until, 0, "cw-owner"));
    }
    out.truncate(n);
    out
}

/// Signs and stores `raw` as entries, in groups; returns the bytes written.
fn write_log(
    store: &SqliteStore,
    raw: &[Raw],
    keys: &[KeyFile],
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    let stamp = format_time(&at);
    let mut revisions = std::collections::HashMap::<String, u64>::new();
    for (c, chunk) in raw.chunks(20_000).enumerate() {
        let wires: Vec<_> = chunk
            .par_iter()
            .map(|(k, stream, kind, data)| {
                client::signed_event(&keys[*k], kind, stream, data.clone(), at)
            })
            .collect();
        let mut group = CommitGroup::default();
        for (i, ((_, stream, _, _), wire)) in chunk.iter().zip(wires).enumerate() {
            let rev = revisions.entry(stream.clone()).or_insert(0);
            let bytes = entry::encode(stream, *rev, &stamp, &wire);
            let payload: Value = serde_json::from_slice(&base64_payload(&wire)?)?;
            group.entries.push(StoredEntry {
                index: (c * 20_000 + i) as u64,
                stream: stream.clone(),
                revision: *rev,
                event_id: payload["event_id"].as_str().unwrap_or_default().parse()?,
                recorded_at: stamp.clone(),
                leaf_hash: merkle::leaf_hash(&bytes),
                bytes,
            });
            *rev += 1;
        }
        store.commit(group)?;
    }
    Ok(())
}

fn base64_payload(wire: &crate::envelope::WireEnvelope) -> anyhow::Result<Vec<u8>> {
    Ok(crate::envelope::Envelope::from_wire(wire)?
        .payload()
        .to_vec())
}

/// `caseledger bench-cases`.
pub fn bench_cases(args: BenchCasesArgs) -> anyhow::Result<()> {
    let dir = tempfile_dir()?;
    let store = SqliteStore::open(&dir.join("bench.db"))?;
    let keys: Vec<KeyFile> = ["admin", "cw-owner", "cw-legal", "cw-clinic"]
        .iter()
        .map(|p| PrincipalId::parse(p).map(KeyFile::generate))
        .collect::<Result<_, _>>()?;
    let t = Instant::now();
    let raw = generate(args.events, &keys);
    write_log(&store, &raw, &keys, Utc::now())?;
    println!(
        "generated and stored {} events in {:.1} s",
        raw.len(),
        t.elapsed().as_secs_f64()
    );
    drop(raw);

    let t = Instant::now();
    let mut read = 0usize;
    while read < args.events {
        let chunk = store.read_all(read as u64, 8192)?;
        if chunk.is_empty() {
            break;
        }
        read += chunk.len();
    }
    let read_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let state = ledger::load_state(&store)?;
    let rebuild_s = t.elapsed().as_secs_f64();
    println!("rebuild: {} events, {} cases in {rebuild_s:.2} s ({:.0} events/s); reading the raw entries alone: {read_s:.2} s (rebuild = {:.1}x read); target <= 5 s",
        state.size, state.cases.len(), state.size as f64 / rebuild_s, rebuild_s / read_s);
    // Cloning the live state holds its read lock (appends wait): why periodic snapshots
    // fold a copy of their own instead.
    let t = Instant::now();
    let copy = state.clone();
    let clone_ms = t.elapsed().as_secs_f64() * 1000.0;
    drop(copy);
    println!("cloning the folded state (appends would wait for it) takes {clone_ms:.0} ms");
    rule_overhead(&store, args.events.min(200_000))?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Folds the first `n` entries twice, with and without `decide`, and compares the decide
/// time per event with the writer's append cost per event.
fn rule_overhead(store: &SqliteStore, n: usize) -> anyhow::Result<()> {
    let mut decoded = Vec::with_capacity(n);
    let t = Instant::now();
    let mut next = 0;
    while decoded.len() < n {
        let chunk = store.read_all(next, 8192)?;
        if chunk.is_empty() {
            break;
        }
        next += chunk.len() as u64;
        for e in chunk {
            decoded.push((e.index, entry::decode(&e.bytes)?));
        }
    }
    decoded.truncate(n);
    let decode_us = t.elapsed().as_secs_f64() / n as f64 * 1e6;
    let fold = |with_rules: bool| -> anyhow::Result<f64> {
        let mut state = LedgerState::default();
        let t = Instant::now();
        for (index, d) in &decoded {
            if with_rules {
                rules::decide(&state, &d.payload, d.envelope.keyid(), d.recorded_at)
                    .map_err(|v| anyhow::anyhow!("entry {index}: {v}"))?;
            }
            state.apply(&Applied {
                index: *index,
                revision: d.revision,
                recorded_at: d.recorded_at,
                keyid: d.envelope.keyid(),
                event: &d.payload,
            });
        }
        Ok(t.elapsed().as_secs_f64())
    };
    let plain = fold(false)?;
    let ruled = fold(true)?;
    let decide_us = (ruled - plain).max(0.0) / n as f64 * 1e6;
    println!(
        "rebuild parts (one core): read+decode {decode_us:.2} us/event, fold {:.2} us/event",
        plain / n as f64 * 1e6
    );
    let append_us = append_cost_us()?;
    println!("rules: decide costs {decide_us:.2} us/event; the writer's append path costs {append_us:.1} us/event; overhead {:.1}% (target < 10%)",
        decide_us / append_us * 100.0);
    Ok(())
}

/// Per-event cost of appending through the real writer (decide, entry, Merkle, checkpoint,
/// SQLite commit), in batches of 20 events per request, 4 submitting threads.
fn append_cost_us() -> anyhow::Result<f64> {
    super::bench_cases_append::measure()
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("caseledger-bench-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
