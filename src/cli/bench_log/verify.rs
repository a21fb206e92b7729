//! Offline verification speed: a real data directory gets a realistic log (the registry,
//! then 20-event cases, as `bench-cases` generates them) through the ledger's own writer and
//! rules, is exported as a full-log bundle with the real exporter, and the bundle is verified
//! from the file. The reference is the raw `verify_batch` rate on all cores over a sample of
//! the same signatures, in the verifier's batch size, measured in the same run.

use std::io::BufWriter;
use std::sync::Arc;
use std::time::Instant;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use chrono::{Duration, Utc};
use ed25519_dalek::{Signature, VerifyingKey};
use rayon::prelude::*;
use serde_json::{json, Value};

use super::temp_dir;
use crate::bundle::export::{write_full, LogIdentity};
use crate::cli::bench_cases::{self, Raw};
use crate::client;
use crate::datadir::{self, InitOptions};
use crate::domain::EventPayload;
use crate::domain::{CaseId, PrincipalId};
use crate::envelope::{Envelope, KeyFile, WireEnvelope};
use crate::ledger::entry::format_time;
use crate::ledger::{ExpectedRevision, Ledger, SystemClock, Verified};
use crate::verify::{verify_reader, Options};

/// Submitting threads: the writer groups their requests into shared commits.
const SUBMITTERS: usize = 32;
/// Signatures in the raw-rate reference.
const RAW_SAMPLE: usize = 1 << 16;

/// One signature of the raw-rate reference: message, signature, key.
type Sample = (Vec<u8>, Signature, VerifyingKey);

fn unverified(wire: &WireEnvelope) -> anyhow::Result<Verified> {
    let envelope = Envelope::from_wire(wire)?;
    let event = EventPayload::parse(envelope.payload())?;
    Ok(Verified {
        envelope,
        event,
        recorded_at: None,
    })
}

/// Signs one stream's events and submits them as one request.
fn submit(ledger: &Ledger, keys: &[KeyFile], events: &[Raw]) -> anyhow::Result<Vec<Sample>> {
    let now = Utc::now();
    let mut batch = Vec::with_capacity(events.len());
    let mut sample = Vec::with_capacity(events.len());
    for (k, stream, kind, data) in events {
        let wire = client::signed_event(&keys[*k], kind, stream, data.clone(), now);
        let v = unverified(&wire)?;
        sample.push((
            v.envelope.signed_message().to_vec(),
            *v.envelope.signature(),
            keys[*k].key.verifying_key(),
        ));
        batch.push(v);
    }
    let stream = events.first().map(|e| e.1.clone()).unwrap_or_default();
    ledger.submit_blocking(stream, batch, ExpectedRevision::Any)?;
    Ok(sample)
}

/// Raw batch verification on all cores, in the verifier's batch size.
fn raw_batch_rate(sample: &[Sample]) -> f64 {
    let started = Instant::now();
    let mut done = 0usize;
    while started.elapsed().as_secs_f64() < 3.0 {
        sample.par_chunks(64).for_each(|c| {
            let msgs: Vec<&[u8]> = c.iter().map(|s| s.0.as_slice()).collect();
            let sigs: Vec<Signature> = c.iter().map(|s| s.1).collect();
            let keys: Vec<VerifyingKey> = c.iter().map(|s| s.2).collect();
            ed25519_dalek::verify_batch(&msgs, &sigs, &keys).expect("valid signatures");
        });
        done += sample.len();
    }
    done as f64 / started.elapsed().as_secs_f64()
}

/// Fills a data directory with a realistic log of about `entries` events (the registry,
/// then 20-event cases from many caseworkers at once, as `bench-cases` generates them),
/// written through the ledger's own writer with its rules; returns the raw-rate sample.
fn fill(dir: &std::path::Path, entries: usize) -> anyhow::Result<Vec<Sample>> {
    let clock = Arc::new(SystemClock);
    let report = datadir::init(dir, &InitOptions::default(), clock.clone())?;
    let admin = KeyFile::read(std::path::Path::new(&report.admin_key_file))?;
    let (ledger, _) = datadir::open(dir, clock)?;
    let mut keys = vec![admin];
    for p in ["cw-owner", "cw-legal", "cw-clinic"] {
        keys.push(KeyFile::generate(PrincipalId::parse(p)?));
    }
    // The first admin is registered at init already.
    for event in bench_cases::registry(&keys).iter().skip(1) {
        submit(&ledger, &keys, std::slice::from_ref(event))?;
    }
    let until = format_time(&(Utc::now() + Duration::days(365)));
    let cases = entries.div_ceil(20);
    let next = AtomicUsize::new(0);
    let sample = Mutex::new(Vec::with_capacity(RAW_SAMPLE));
    std::thread::scope(|s| -> anyhow::Result<()> {
        let workers: Vec<_> = (0..SUBMITTERS)
            .map(|_| {
                s.spawn(|| -> anyhow::Result<()> {
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n >= cases {
                            return Ok(());
                        }
                        let stream = format!("case-{}", CaseId::random());
                        let got =
                            submit(&ledger, &keys, &bench_cases::case_events(&stream, &until))?;
                        let mut sample = sample.lock().expect("sample");
                        let room = RAW_SAMPLE.saturating_sub(sample.len());
                        sample.extend(got.into_iter().take(room));
                        if n % 5000 == 0 {
                            eprintln!("  {} / {entries} events written", n * 20);
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            w.join()
                .map_err(|_| anyhow::anyhow!("a submitter panicked"))??;
        }
        Ok(())
    })?;
    Ok(sample.into_inner().expect("sample"))
}

/// Writes, exports and verifies a full log of `entries` events.
pub(super) fn bench_verify(
    entries: usize,
    keep: Option<&std::path::Path>,
) -> anyhow::Result<Value> {
    let dir = temp_dir("bench-verify")?;
    eprintln!("writing {entries} signed events through the ledger...");
    let sample = fill(&dir, entries)?;
    let signer = datadir::read_signer(&dir)?;
    let id = LogIdentity {
        origin: signer.name().to_owned(),
        log_key: signer.verifier().to_text(),
    };
    let store = datadir::open_sqlite(&dir)?;
    let path = dir.join("bundle.json");
    eprintln!("exporting the full log...");
    let started = Instant::now();
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
    let summary = write_full(store.as_ref(), &id, &mut out, &mut |_, _| {})?;
    drop(out);
    let export_s = started.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(&path)?.len();
    // The reference is measured before and after, and the better rate is used, so that a
    // slow spell of a noisy machine during one of them cannot flatter the ratio.
    eprintln!("measuring the raw batch-verify rate (3 s)...");
    let raw_before = raw_batch_rate(&sample);
    eprintln!("verifying the bundle ({} MB)...", bytes >> 20);
    let started = Instant::now();
    let report = verify_reader(
        std::fs::File::open(&path)?,
        &signer.verifier(),
        Options::default(),
    );
    let verify_s = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        report.ok,
        "the bench bundle did not verify: {:?}",
        report.failure
    );
    eprintln!("measuring the raw batch-verify rate again (3 s)...");
    let raw_after = raw_batch_rate(&sample);
    let raw = raw_before.max(raw_after);
    if let Some(keep) = keep {
        std::fs::rename(&path, keep)?;
        std::fs::write(keep.with_extension("key"), format!("{}\n", id.log_key))?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let rate = summary.entries as f64 / verify_s;
    Ok(json!({
        "entries": summary.entries, "bundle_bytes": bytes, "export_s": export_s,
        "verify_s": verify_s, "verify_per_s": rate, "raw_batch_verify_per_s": raw,
        "raw_before_per_s": raw_before, "raw_after_per_s": raw_after,
        "cores": rayon::current_num_threads(), "ratio": rate / raw, "target_ratio": 0.8,
    }))
}
