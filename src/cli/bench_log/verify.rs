//! Offline verification speed: a real data directory gets a realistic log (the registry,
//! then 20-event cases, as `bench-cases` generates them) through the ledger's own writer and
//! rules, is exported as a full-log bundle with the real exporter, and the bundle is verified
//! from the file. The reference is the raw `verify_batch` rate on all cores over a sample of
//! the same signatures, in the verifier's batch size, measured in the same run.

use std::io::BufWriter;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

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
use crate::log::note::NoteVerifier;
use crate::verify::{signature_sample, verify_reader_pausing, Options, SignatureSample, BATCH};

/// Submitting threads: the writer groups their requests into shared commits.
const SUBMITTERS: usize = 32;
/// Caseworkers sign in threes, one per agency of a case: 300 caseworkers, each case's by
/// one three of them, as in a network of agencies (the verifier coalesces each key's terms
/// in a batch, so the number of keys matters).
const TRIOS: usize = 100;
/// Signatures in the raw-rate reference (16 batches; a raw pass takes them in turn,
/// round and round, as many as the threads need: see [`RawWindows::window`]).
const RAW_SAMPLE: usize = 1 << 16;

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
fn submit(
    ledger: &Ledger,
    keys: &[KeyFile],
    events: &[Raw],
) -> anyhow::Result<Vec<SignatureSample>> {
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

/// Fills a data directory with a realistic log of about `entries` events (the registry,
/// then 20-event cases from 300 caseworkers at once, as `bench-cases` generates them),
/// written through the ledger's own writer with its rules; returns the raw-rate sample.
fn fill(dir: &std::path::Path, entries: usize) -> anyhow::Result<Vec<SignatureSample>> {
    let clock = Arc::new(SystemClock);
    let report = datadir::init(dir, &InitOptions::default(), clock.clone())?;
    let admin = KeyFile::read(std::path::Path::new(&report.admin_key_file))?;
    let (ledger, _) = datadir::open(dir, clock)?;
    let mut keys = vec![admin];
    for trio in 0..TRIOS {
        for agency in ["owner", "legal", "clinic"] {
            keys.push(KeyFile::generate(PrincipalId::parse(&format!(
                "cw-{agency}-{trio}"
            ))?));
        }
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
                        let trio = n % TRIOS;
                        let coordinator = keys[3 * trio + 1].principal.to_string();
                        let events = bench_cases::case_events(&stream, &until, trio, &coordinator);
                        let got = submit(&ledger, &keys, &events)?;
                        let mut sample = sample.lock().expect("sample");
                        let room = RAW_SAMPLE.saturating_sub(sample.len());
                        sample.extend(got.into_iter().take(room));
                        if n.is_multiple_of(5000) {
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
    let id = LogIdentity::of(&signer);
    let store = datadir::open_sqlite(&dir)?;
    let path = dir.join("bundle.json");
    eprintln!("exporting the full log...");
    let started = Instant::now();
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
    let summary = write_full(store.as_ref(), &id, &mut out, &mut |_, _| {})?;
    drop(out);
    let export_s = started.elapsed().as_secs_f64();
    let m = measure(&path, &signer.verifier(), &sample)?;
    anyhow::ensure!(
        m.entries == summary.entries,
        "the verifier passed {} entries of the {} exported",
        m.entries,
        summary.entries
    );
    if let Some(keep) = keep {
        std::fs::rename(&path, keep)?;
        std::fs::write(keep.with_extension("key"), format!("{}\n", id.log_key))?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let mut figures = m.figures();
    figures["export_s"] = json!(export_s);
    Ok(figures)
}

/// Verifies an existing bundle (`bench-log --bundle`), against the raw rate over its own
/// first signatures.
pub(super) fn bench_bundle(path: &std::path::Path, key: &NoteVerifier) -> anyhow::Result<Value> {
    eprintln!(
        "reading the first {RAW_SAMPLE} signatures of {}...",
        path.display()
    );
    let sample = signature_sample(std::fs::File::open(path)?, key, RAW_SAMPLE)?;
    anyhow::ensure!(!sample.is_empty(), "the bundle holds no signature");
    Ok(measure(path, key, &sample)?.figures())
}

/// Entries verified between two windows of the raw reference.
const SLICE: u64 = 131_072;
/// Length of one window of the raw reference.
const WINDOW: StdDuration = StdDuration::from_secs(1);
/// Batches per thread in a pass of a raw window (a window ends at the first pass past
/// `WINDOW`): enough that waiting for a pass's last batch costs little.
const PASS_BATCHES: usize = 4;

/// A batch equation: `ed25519_dalek::verify_batch`, or the verifier's own.
type Equation = fn(&[&[u8]], &[Signature], &[VerifyingKey]) -> bool;

fn dalek(msgs: &[&[u8]], sigs: &[Signature], keys: &[VerifyingKey]) -> bool {
    ed25519_dalek::verify_batch(msgs, sigs, keys).is_ok()
}

/// A raw reference, measured in windows: raw batch verification on all cores, in the
/// verifier's batch size, over the sample in turn.
struct RawWindows<'a> {
    equation: Equation,
    sample: &'a [SignatureSample],
    /// The next batch of the sample a pass takes.
    at: usize,
    sigs: u64,
    time: StdDuration,
    rates: Vec<f64>,
}

impl<'a> RawWindows<'a> {
    fn new(equation: Equation, sample: &'a [SignatureSample]) -> Self {
        Self {
            equation,
            sample,
            at: 0,
            sigs: 0,
            time: StdDuration::ZERO,
            rates: Vec::new(),
        }
    }

    /// One window: passes of [`PASS_BATCHES`] batches per thread until [`WINDOW`] has
    /// passed. The batches are taken from the sample in turn, wrapping around, so every
    /// pass is whole however many threads there are and however small the sample.
    fn window(&mut self) {
        let started = Instant::now();
        let mut sigs = 0;
        let batches: Vec<&[SignatureSample]> = self.sample.chunks(BATCH).collect();
        while started.elapsed() < WINDOW {
            let pass = PASS_BATCHES * rayon::current_num_threads();
            let taken: Vec<&[SignatureSample]> = (0..pass)
                .map(|i| batches[(self.at + i) % batches.len()])
                .collect();
            let equation = self.equation;
            taken.par_iter().for_each(|c| {
                let msgs: Vec<&[u8]> = c.iter().map(|s| s.0.as_slice()).collect();
                let sigs: Vec<Signature> = c.iter().map(|s| s.1).collect();
                let keys: Vec<VerifyingKey> = c.iter().map(|s| s.2).collect();
                assert!(equation(&msgs, &sigs, &keys), "valid signatures");
            });
            sigs += taken.iter().map(|c| c.len() as u64).sum::<u64>();
            self.at = (self.at + pass) % batches.len();
        }
        let took = started.elapsed();
        self.sigs += sigs;
        self.time += took;
        self.rates.push(sigs as f64 / took.as_secs_f64());
    }
}

/// One verification of a bundle, cut into slices with a raw window before each slice and
/// after the last. Both rates are summed over the whole run, so a host that speeds up or
/// slows down during the run (these machines do, by 20% within a minute) weighs on both
/// alike instead of on whichever ran at the time.
struct Measured {
    entries: u64,
    bytes: u64,
    /// Entries and seconds of each slice.
    slices: Vec<(u64, f64)>,
    raw_sigs: u64,
    raw_s: f64,
    raw_windows: Vec<f64>,
    /// The verifier's own batch equation, raw, over the sample grouped as it groups.
    same_sigs: u64,
    same_s: f64,
}

impl Measured {
    fn figures(&self) -> Value {
        let verify_s: f64 = self.slices.iter().map(|s| s.1).sum();
        let rate = self.entries as f64 / verify_s;
        let raw = self.raw_sigs as f64 / self.raw_s;
        let same = self.same_sigs as f64 / self.same_s;
        // Each slice against the mean of the windows on either side of it, for the spread.
        // A last slice of no entries (the count a multiple of the slice) holds only the
        // final checks: its time counts above, it has no rate of its own.
        let mut slices: Vec<f64> = self
            .slices
            .iter()
            .enumerate()
            .filter(|(_, &(n, _))| n > 0)
            .map(|(i, &(n, s))| {
                n as f64 / s / ((self.raw_windows[i] + self.raw_windows[i + 1]) / 2.0)
            })
            .collect();
        let by_slice = slices.clone();
        slices.sort_by(f64::total_cmp);
        json!({
            "slice_ratios": by_slice,
            "entries": self.entries, "bundle_bytes": self.bytes,
            "verify_s": verify_s, "verify_per_s": rate, "raw_batch_verify_per_s": raw,
            "raw_s": self.raw_s, "raw_window_per_s": self.raw_windows,
            "slice_ratio_min": slices.first(), "slice_ratio_median": slices.get(slices.len() / 2),
            "slice_ratio_max": slices.last(),
            "cores": rayon::current_num_threads(), "ratio": rate / raw, "target_ratio": 0.8,
            "same_equation_per_s": same, "ratio_same_equation": rate / same,
            // The target, 0.8x "the raw batch-verify rate", is judged against ed25519-dalek's
            // `verify_batch`: an outside yardstick of the machine's speed, in the verifier's
            // batch size (about its fastest). The verifier's own equation is reported beside
            // it: the ratio to it is the share of the verifier's CPU that signatures take.
            "target_met": rate / raw >= 0.8,
        })
    }
}

fn measure(
    path: &std::path::Path,
    key: &NoteVerifier,
    sample: &[SignatureSample],
) -> anyhow::Result<Measured> {
    let bytes = std::fs::metadata(path)?.len();
    let mut raw = RawWindows::new(dalek, sample);
    let grouped = crate::verify::grouped_as_verified(sample);
    let mut same = RawWindows::new(crate::verify::batch_holds, &grouped);
    let mut slices = Vec::new();
    eprintln!(
        "verifying the bundle ({} MB), with {} s windows of raw batch verification (dalek's, \
         then the verifier's own equation) before every {SLICE} entries and after the last...",
        bytes >> 20,
        WINDOW.as_secs()
    );
    raw.window();
    same.window();
    let (mut started, mut done) = (Instant::now(), 0);
    let report = verify_reader_pausing(
        std::fs::File::open(path)?,
        key,
        Options::default(),
        SLICE,
        &mut |position| {
            slices.push((position - done, started.elapsed().as_secs_f64()));
            done = position;
            raw.window();
            same.window();
            started = Instant::now();
        },
    );
    slices.push((report.entries - done, started.elapsed().as_secs_f64()));
    anyhow::ensure!(
        report.ok,
        "the bench bundle did not verify: {:?}",
        report.failure
    );
    // The CLI exits while the folded state is freed on a thread of its own; here the
    // freeing would overlap the last raw window.
    crate::verify::wait_for_freeing();
    raw.window();
    same.window();
    Ok(Measured {
        entries: report.entries,
        bytes,
        slices,
        raw_sigs: raw.sigs,
        raw_s: raw.time.as_secs_f64(),
        raw_windows: raw.rates,
        same_sigs: same.sigs,
        same_s: same.time.as_secs_f64(),
    })
}
