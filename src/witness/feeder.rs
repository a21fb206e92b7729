//! The log's side of `tlog-witness`: a thread that submits each new checkpoint to the
//! configured witnesses, with a consistency proof from the size each last cosigned, and
//! keeps the cosignatures they return for `GET /v1/log/checkpoint` to append.
//!
//! The feeder itself keeps no state on disk (the cosignatures it collects are kept in the
//! file by [`Cosignatures`], for serving and exports only): after a restart it
//! simply submits the latest checkpoint again. A
//! witness's size is learnt from its 409 answer (the spec's way), so the first submission
//! after a start, and any after another node moved the witness on, costs one extra round.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus::{IntCounterVec, IntGaugeVec};

pub use super::cosignatures::Cosignatures;
use super::Submission;
use crate::log::cosignature::{cosignatures, WitnessKey};
use crate::log::proof::consistency_proof;
use crate::metrics::Metrics;
use crate::store::{EventStore, StoreNodes, StoredCheckpoint};

/// How often the feeder looks for a new checkpoint.
const POLL: Duration = Duration::from_millis(250);
/// How long a witness that failed is first left alone; doubled at each failure in a row.
const RETRY: Duration = Duration::from_secs(10);
/// The longest wait between tries.
const RETRY_MOST: Duration = Duration::from_secs(300);
/// How often an unchanged checkpoint is submitted again, so that the cosignatures an idle
/// log serves stay recent (an auditor may refuse old ones: `--witness-max-age`).
const REFRESH: Duration = Duration::from_secs(600);
/// One submission's time limit, and its connection's.
const TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT: Duration = Duration::from_secs(5);

/// A witness the log submits to: its submission prefix and its pinned key.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub key: WitnessKey,
}

impl Target {
    /// Parses `<submission prefix URL> <witness key>`, the key given as its text or as a
    /// file holding it (`witness init`'s output, kept beside a deployment).
    pub fn parse(text: &str) -> Result<Self, String> {
        let (url, key) = text
            .trim()
            .split_once(' ')
            .ok_or("a witness is given as \"<URL> <witness key or key file>\"")?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!("witness URL {url:?} is not http:// or https://"));
        }
        let key = key.trim();
        let expected = "expected <name>+<hex id>+<base64>, type 0x04";
        let key = match WitnessKey::parse(key) {
            Ok(k) => k,
            Err(e) if !std::path::Path::new(key).is_file() => {
                return Err(format!(
                    "witness key {key:?}: {e} ({expected}, or a file holding one)"
                ));
            }
            Err(_) => {
                // A key is a line: a few kilobytes are read at most, whatever the file.
                let mut text = Vec::new();
                let read = std::fs::File::open(key).and_then(|f| {
                    std::io::Read::read_to_end(&mut std::io::Read::take(f, 4096), &mut text)
                });
                read.map_err(|e| format!("witness key file {key}: {e}"))?;
                let text = String::from_utf8_lossy(&text).into_owned();
                WitnessKey::parse(text.trim())
                    .map_err(|e| format!("witness key file {key}: {e} ({expected})"))?
            }
        };
        Ok(Self {
            url: url.trim_end_matches('/').to_owned(),
            key,
        })
    }
}

/// Stops the feeder's threads when dropped.
pub struct Feeder {
    stop: Arc<AtomicBool>,
}

impl Drop for Feeder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// What the feeder knows of one witness.
struct Known {
    target: Target,
    /// Its latest cosigned size, once it told (none: ask with `old 0`).
    size: Option<u64>,
    /// Not before this instant, after a failure.
    next_try: Instant,
    /// Failures in a row (the wait doubles with each).
    failures: u32,
}

/// The feeder's metrics, labelled by witness name.
#[derive(Clone)]
struct Gauges {
    size: IntGaugeVec,
    at: IntGaugeVec,
    failures: IntCounterVec,
    forks: IntCounterVec,
}

impl Gauges {
    fn new(metrics: Option<&Metrics>) -> Self {
        let opts = |name: &str, help: &str| prometheus::Opts::new(name, help);
        let gauge = |name: &str, help: &str| {
            let g = IntGaugeVec::new(opts(name, help), &["witness"]).expect("valid metric");
            if let Some(m) = metrics {
                m.register(Box::new(g.clone()));
            }
            g
        };
        let counter = |name: &str, help: &str| {
            let c = IntCounterVec::new(opts(name, help), &["witness"]).expect("valid metric");
            if let Some(m) = metrics {
                m.register(Box::new(c.clone()));
            }
            c
        };
        Self {
            size: gauge(
                "caseledger_witness_cosigned_size",
                "Size of the latest checkpoint the witness cosigned for this node",
            ),
            at: gauge(
                "caseledger_witness_last_cosigned_timestamp_seconds",
                "When this node last got the witness's cosignature (Unix seconds)",
            ),
            failures: counter(
                "caseledger_witness_failures_total",
                "Submissions to the witness that failed (unreachable, refused, bad answer)",
            ),
            forks: counter(
                "caseledger_witness_fork_refusals_total",
                "Checkpoints the witness refused because it cosigned another tree of that size: \
                 this log showed another history before (alert on any)",
            ),
        }
    }
}

/// Starts submitting `store`'s checkpoints to `targets`, publishing into `out`: a thread per
/// witness, so a slow or unreachable one never holds up another's cosignature. Its metrics
/// go into `metrics`.
pub fn start(
    store: Arc<dyn EventStore>,
    targets: Vec<Target>,
    out: Arc<Cosignatures>,
    metrics: Option<&Metrics>,
) -> Feeder {
    let stop = Arc::new(AtomicBool::new(false));
    let gauges = Gauges::new(metrics);
    for (which, target) in targets.into_iter().enumerate() {
        let (store, out, stop, gauges) = (store.clone(), out.clone(), stop.clone(), gauges.clone());
        let name = format!("witness-feeder-{which}");
        let known = Known {
            target,
            size: None,
            next_try: Instant::now(),
            failures: 0,
        };
        std::thread::Builder::new()
            .name(name)
            .spawn(move || feed(store.as_ref(), known, which, &out, &stop, &gauges))
            .expect("spawn a witness feeder");
    }
    Feeder { stop }
}

/// One witness's loop: each new checkpoint is submitted once it is cosigned or refused.
fn feed(
    store: &dyn EventStore,
    mut k: Known,
    which: usize,
    out: &Cosignatures,
    stop: &AtomicBool,
    gauges: &Gauges,
) {
    let owned = k.target.key.name().to_owned();
    let name = [owned.as_str()];
    // Every series from the start, so that a witness down since then shows (at 0).
    gauges.size.with_label_values(&name).set(0);
    gauges.at.with_label_values(&name).set(0);
    gauges.failures.with_label_values(&name).inc_by(0);
    gauges.forks.with_label_values(&name).inc_by(0);
    let agent = ureq::AgentBuilder::new()
        .timeout(TIMEOUT)
        .timeout_connect(CONNECT)
        .redirects(0)
        .build();
    // The checkpoint last settled with this witness (cosigned, or refused as a fork), and when.
    let mut done: Option<(String, Instant)> = None;
    while !stop.load(Ordering::Relaxed) {
        match store.latest_checkpoint() {
            Ok(Some(cp)) => {
                let settled = done
                    .as_ref()
                    .is_some_and(|(note, at)| *note == cp.note && at.elapsed() < REFRESH);
                let now = Instant::now();
                if !settled && now >= k.next_try {
                    // A witness that said it is ahead of an earlier checkpoint is asked its
                    // size afresh (it may have moved on, or have answered wrongly).
                    if k.size.is_some_and(|s| s > cp.size) {
                        k.size = None;
                    }
                    match submit(&agent, store, &cp, &mut k) {
                        Settled::Cosigned(line) => {
                            let size = i64::try_from(cp.size).unwrap_or(i64::MAX);
                            gauges.size.with_label_values(&name).set(size);
                            gauges
                                .at
                                .with_label_values(&name)
                                .set(chrono::Utc::now().timestamp());
                            out.publish(&cp, which, line);
                            done = Some((cp.note, now));
                        }
                        Settled::Refused => {
                            gauges.forks.with_label_values(&name).inc();
                            done = Some((cp.note, now));
                        }
                        Settled::Ahead => done = Some((cp.note, now)),
                        Settled::Later => gauges.failures.with_label_values(&name).inc(),
                    }
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "witness feeder: reading the checkpoint"),
        }
        std::thread::sleep(POLL);
    }
}

/// How a submission ended.
enum Settled {
    Cosigned(String),
    /// The witness refused this checkpoint for good (a fork of what it cosigned).
    Refused,
    /// The witness has cosigned a larger tree of this log already.
    Ahead,
    /// Not now: try again after the wait.
    Later,
}

/// Submits `cp` to one witness (again from the size a 409 names, once).
fn submit(
    agent: &ureq::Agent,
    store: &dyn EventStore,
    cp: &StoredCheckpoint,
    k: &mut Known,
) -> Settled {
    let name = k.target.key.name().to_owned();
    for _ in 0..2 {
        let old = k.size.unwrap_or(0).min(cp.size);
        match post(agent, store, cp, old, k) {
            Ok(line) => {
                k.size = Some(cp.size);
                k.failures = 0;
                return Settled::Cosigned(line);
            }
            Err(Answer::Size(size)) if size <= cp.size && Some(size) != k.size => {
                k.size = Some(size);
            }
            Err(Answer::Size(size)) if size > cp.size => {
                // Ahead of this node: another node of a shared log moved it on (nothing to do
                // until this node's checkpoint catches up), or, for a log only this node
                // writes, it saw a larger tree of this log: one restored from a backup, or
                // a fork signed with the log key elsewhere.
                let why = "the witness has cosigned a larger tree of this log";
                match store.is_shared() {
                    true => {
                        tracing::debug!(witness = %name, size = cp.size, witness_size = size, "{why}")
                    }
                    false => tracing::warn!(
                        witness = %name,
                        size = cp.size,
                        witness_size = size,
                        "{why}: this log was restored from an older copy, or its key signed \
                         another history"
                    ),
                }
                k.size = Some(size);
                k.failures = 0;
                return Settled::Ahead;
            }
            Err(Answer::Size(size)) => {
                tracing::warn!(witness = %name, size = cp.size, "the witness names size {size} again after a proof from it");
                break;
            }
            Err(Answer::Fork(why)) => {
                tracing::error!(
                    witness = %name,
                    size = cp.size,
                    "the witness cosigned another tree of this size ({why}): this log's history \
                     differs from one it showed before; keep its checkpoints as evidence"
                );
                k.failures = 0;
                return Settled::Refused;
            }
            Err(Answer::Failed(why)) => {
                tracing::warn!(witness = %name, size = cp.size, "{why}");
                break;
            }
        }
    }
    let wait = RETRY.saturating_mul(1 << k.failures.min(5)).min(RETRY_MOST);
    k.failures += 1;
    k.next_try = Instant::now() + wait;
    Settled::Later
}

enum Answer {
    /// 409 naming the witness's size.
    Size(u64),
    /// 409 without a size: it cosigned another tree of this size.
    Fork(String),
    Failed(String),
}

fn post(
    agent: &ureq::Agent,
    store: &dyn EventStore,
    cp: &StoredCheckpoint,
    old: u64,
    k: &Known,
) -> Result<String, Answer> {
    let proof = match old {
        0 => Vec::new(),
        o if o == cp.size => Vec::new(),
        o => consistency_proof(&StoreNodes(store), o, cp.size)
            .map_err(|e| Answer::Failed(format!("consistency proof from {o}: {e}")))?,
    };
    let body = Submission {
        old,
        proof,
        note: cp.note.clone(),
    }
    .to_body();
    let url = format!("{}/add-checkpoint", k.target.url);
    let resp = match agent.post(&url).send_string(&body) {
        Ok(r) => r,
        Err(ureq::Error::Status(409, r)) if r.content_type() == "text/x.tlog.size" => {
            let text = r.into_string().unwrap_or_default();
            return text
                .trim_end_matches('\n')
                .parse()
                .map(Answer::Size)
                .map_err(|_| {
                    Answer::Failed(format!("409 with a size that does not parse: {text:?}"))
                })
                .and_then(Err);
        }
        Err(ureq::Error::Status(code, r)) => {
            let text = r.into_string().unwrap_or_default();
            let text = text.trim().chars().take(300).collect::<String>();
            return Err(match code {
                409 => Answer::Fork(text),
                _ => Answer::Failed(format!("the witness refused the checkpoint: {code} {text}")),
            });
        }
        Err(e) => return Err(Answer::Failed(format!("the witness did not answer: {e}"))),
    };
    let body = resp
        .into_string()
        .map_err(|e| Answer::Failed(format!("reading the witness's answer: {e}")))?;
    pick_line(&cp.note, &body, &k.target.key).map_err(Answer::Failed)
}

/// The line of `body` that is `key`'s cosignature of `note`. A witness may answer several
/// lines under its name (other key types, other keys): each is tried.
fn pick_line(note: &str, body: &str, key: &WitnessKey) -> Result<String, String> {
    let mine = format!("— {} ", key.name());
    let mut why = format!("the witness's answer holds no line named {}", key.name());
    for line in body.lines().filter(|l| l.starts_with(&mine)) {
        let line = format!("{line}\n");
        match cosignatures(&format!("{note}{line}"), std::slice::from_ref(key)) {
            Ok(found) if !found.is_empty() => return Ok(line),
            Ok(_) => why = "the witness's lines are not by its pinned key".into(),
            Err(e) => why = format!("the witness's cosignature does not verify: {e}"),
        }
    }
    Err(why)
}

#[cfg(test)]
mod tests;
