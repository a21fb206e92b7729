//! `caseledger bench`: signed, verified, committed appends per second over HTTP on loopback,
//! against an in-process server on a fresh data directory. Every figure is also given as a
//! ratio to the raw single-core Ed25519 verify rate measured in the same run, because these
//! machines are noisy and absolute numbers do not travel.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};

use crate::client;
use crate::datadir::{self, InitOptions};
use crate::envelope::{KeyFile, WireEnvelope};
use crate::ledger::SystemClock;

/// Arguments of `bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Single events to send.
    #[arg(long, default_value_t = 20_000)]
    pub events: usize,
    /// Concurrent clients for single events.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Batches of `--batch-size` events to send.
    #[arg(long, default_value_t = 200)]
    pub batches: usize,
    /// Events per batch.
    #[arg(long, default_value_t = 100)]
    pub batch_size: usize,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Raw single-core Ed25519 `verify_strict` rate, per second.
pub fn raw_verify_rate() -> f64 {
    let key = SigningKey::from_bytes(&[42u8; 32]);
    let msg = crate::envelope::pae(crate::envelope::PAYLOAD_TYPE, &[b'x'; 400]);
    let sig = key.sign(&msg);
    let vk = key.verifying_key();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_millis(1500) {
        for _ in 0..100 {
            vk.verify_strict(&msg, &sig).expect("verifies");
        }
        n += 100;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn agency(i: usize) -> Value {
    json!({
        "name": format!("Bench agency {i}"), "region": "Bench", "domains": ["social", "legal"],
        "languages": ["en", "es"], "interpretation": true, "cultural_adaptations": ["faith"],
        "trafficking_experience": true, "eligibility": {"criteria": ["adults"], "notes": ""}
    })
}

/// Sends every body from `clients` threads; returns elapsed time.
fn drive(base: &str, path: &str, token: &str, bodies: Vec<Vec<u8>>, clients: usize) -> Duration {
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..clients {
            let (bodies, next) = (bodies.clone(), next.clone());
            let url = format!("{base}{path}");
            let auth = format!("Bearer {token}");
            s.spawn(move || {
                let agent = ureq::AgentBuilder::new().max_idle_connections(1).build();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { break };
                    let r = agent
                        .post(&url)
                        .set("Authorization", &auth)
                        .set("Content-Type", "application/json")
                        .send_bytes(body);
                    if let Err(e) = r {
                        panic!("bench request failed: {e}");
                    }
                }
            });
        }
    });
    start.elapsed()
}

fn presign(admin: &KeyFile, args: &BenchArgs) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let now = Utc::now();
    let singles: Vec<Vec<u8>> = (0..args.events)
        .map(|i| {
            let env = client::signed_event(
                admin,
                "agency.registered",
                &format!("agency-s{i}"),
                agency(i),
                now,
            );
            serde_json::to_vec(&env).expect("json")
        })
        .collect();
    let batches = (0..args.batches)
        .map(|b| {
            let stream = format!("agency-b{b}");
            let events: Vec<WireEnvelope> = (0..args.batch_size)
                .map(|i| {
                    let kind = if i == 0 {
                        "agency.registered"
                    } else {
                        "agency.updated"
                    };
                    client::signed_event(admin, kind, &stream, agency(i), now)
                })
                .collect();
            serde_json::to_vec(&json!({ "events": events })).expect("json")
        })
        .collect();
    (singles, batches)
}

/// `caseledger bench`.
pub fn bench(args: BenchArgs) -> anyhow::Result<()> {
    let most = crate::http::Limits::default().max_batch_events;
    anyhow::ensure!(
        (1..=most).contains(&args.batch_size),
        "--batch-size must be 1 to {most} (the server's limit of events per batch)"
    );
    eprintln!("measuring the raw Ed25519 verify rate (1.5 s)...");
    let verify_rate = raw_verify_rate();
    let dir = tempfile_dir()?;
    let clock = Arc::new(SystemClock);
    let report = datadir::init(&dir, &InitOptions::default(), clock.clone())?;
    let admin = KeyFile::read(std::path::Path::new(&report.admin_key_file))?;
    let (ledger, service_key) = datadir::open(&dir, clock.clone())?;
    let metrics = ledger.metrics().clone();
    let base = super::demo_server::spawn(ledger, service_key, clock)?;
    eprintln!(
        "pre-signing {} single events and {} batches of {}...",
        args.events, args.batches, args.batch_size
    );
    let (singles, batches) = presign(&admin, &args);
    let commits_before = metrics.commits.get();
    eprintln!("sending single events from {} clients...", args.clients);
    let single_time = drive(
        &base,
        "/v1/events",
        &report.admin_token,
        singles,
        args.clients,
    );
    let single_commits = metrics.commits.get() - commits_before;
    let single_rate = args.events as f64 / single_time.as_secs_f64();
    eprintln!("sending batches...");
    let batch_clients = args.clients.min(8);
    let batch_time = drive(
        &base,
        "/v1/events/batch",
        &report.admin_token,
        batches,
        batch_clients,
    );
    let batch_events = args.batches * args.batch_size;
    let batch_rate = batch_events as f64 / batch_time.as_secs_f64();
    let per_fsync = args.events as f64 / single_commits.max(1) as f64;
    let result = json!({
        "raw_ed25519_verify_per_s": verify_rate.round(),
        "single": {"events": args.events, "clients": args.clients, "per_s": single_rate.round(),
                   "ratio_to_verify": single_rate / verify_rate, "group_commits": single_commits,
                   "events_per_fsync": per_fsync},
        "batched": {"events": batch_events, "batch_size": args.batch_size, "clients": batch_clients,
                    "per_s": batch_rate.round(), "ratio_to_verify": batch_rate / verify_rate},
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        println!("raw Ed25519 verify (1 core): {verify_rate:>10.0} /s");
        println!(
            "single events, {} clients: {single_rate:>10.0} /s  ({:.2}x verify)  {per_fsync:.1} events/fsync",
            args.clients,
            single_rate / verify_rate
        );
        println!(
            "batches of {}:           {batch_rate:>10.0} /s  ({:.2}x verify)",
            args.batch_size,
            batch_rate / verify_rate
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("caseledger-bench-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).context("bench data dir")?;
    Ok(dir)
}
