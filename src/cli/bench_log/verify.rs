//! Offline verification speed: a real data directory gets `entries` signed events through
//! the ledger's own writer, is exported as a full-log bundle with the real exporter, and the
//! bundle is verified from the file. The reference is the raw `verify_batch` rate on all
//! cores over the same kind of signatures, measured in the same run.

use std::io::BufWriter;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use ed25519_dalek::{Signature, VerifyingKey};
use rayon::prelude::*;
use serde_json::{json, Value};

use super::temp_dir;
use crate::bundle::export::{write_full, LogIdentity};
use crate::client;
use crate::datadir::{self, InitOptions};
use crate::domain::EventPayload;
use crate::envelope::{Envelope, KeyFile, WireEnvelope};
use crate::ledger::{ExpectedRevision, SystemClock, Verified};
use crate::verify::{verify_reader, Options};

/// Events per submitted batch (one stream each).
const BATCH: usize = 1000;
/// Signatures in the raw-rate reference.
const RAW_SAMPLE: usize = 1 << 16;

fn sign_batch(admin: &KeyFile, b: usize, n: usize) -> Vec<WireEnvelope> {
    let stream = format!("agency-v{b}");
    let now = Utc::now();
    (0..n)
        .into_par_iter()
        .map(|i| {
            let kind = if i == 0 {
                "agency.registered"
            } else {
                "agency.updated"
            };
            let data =
                crate::domain::fixtures::example_data("agency.registered").expect("agency fixture");
            client::signed_event(admin, kind, &stream, data, now)
        })
        .collect()
}

fn unverified(wire: &WireEnvelope) -> anyhow::Result<Verified> {
    let envelope = Envelope::from_wire(wire)?;
    let event = EventPayload::parse(envelope.payload())?;
    Ok(Verified {
        envelope,
        event,
        recorded_at: None,
    })
}

/// Raw batch verification on all cores, in the verifier's batch size.
fn raw_batch_rate(sample: &[(Vec<u8>, Signature, VerifyingKey)]) -> f64 {
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

/// Fills a data directory with `entries` events; returns the raw-rate sample.
fn fill(
    dir: &std::path::Path,
    entries: usize,
) -> anyhow::Result<Vec<(Vec<u8>, Signature, VerifyingKey)>> {
    let clock = Arc::new(SystemClock);
    let report = datadir::init(dir, &InitOptions::default(), clock.clone())?;
    let admin = KeyFile::read(std::path::Path::new(&report.admin_key_file))?;
    let (ledger, _) = datadir::open(dir, clock)?;
    let mut sample = Vec::new();
    let batches = entries.div_ceil(BATCH);
    for b in 0..batches {
        let n = BATCH.min(entries - b * BATCH);
        let wires = sign_batch(&admin, b, n);
        let events = wires
            .iter()
            .map(unverified)
            .collect::<anyhow::Result<Vec<_>>>()?;
        for v in events.iter().take(RAW_SAMPLE.saturating_sub(sample.len())) {
            let key = admin.key.verifying_key();
            sample.push((v.envelope.signed_message(), *v.envelope.signature(), key));
        }
        ledger.submit_blocking(format!("agency-v{b}"), events, ExpectedRevision::Any)?;
        if b % 100 == 0 {
            eprintln!("  {} / {entries} events written", b * BATCH + n);
        }
    }
    Ok(sample)
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
    eprintln!("measuring the raw batch-verify rate (3 s)...");
    let raw = raw_batch_rate(&sample);
    if let Some(keep) = keep {
        std::fs::rename(&path, keep)?;
        std::fs::write(keep.with_extension("key"), format!("{}\n", id.log_key))?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let rate = summary.entries as f64 / verify_s;
    Ok(json!({
        "entries": summary.entries, "bundle_bytes": bytes, "export_s": export_s,
        "verify_s": verify_s, "verify_per_s": rate, "raw_batch_verify_per_s": raw,
        "cores": rayon::current_num_threads(), "ratio": rate / raw, "target_ratio": 0.8,
    }))
}
