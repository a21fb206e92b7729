//! The log's side of `tlog-witness`: a thread that submits each new checkpoint to the
//! configured witnesses, with a consistency proof from the size each last cosigned, and
//! keeps the cosignatures they return for `GET /v1/log/checkpoint` to append.
//!
//! Nothing here is persisted: a cosignature says "the largest tree I have seen, as of this
//! time", so after a restart the feeder simply submits the latest checkpoint again. A
//! witness's size is learnt from its 409 answer (the spec's way), so the first submission
//! after a start, and any after another node moved the witness on, costs one extra round.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::Submission;
use crate::log::cosignature::{cosignatures, WitnessKey};
use crate::log::proof::consistency_proof;
use crate::store::{EventStore, StoreNodes, StoredCheckpoint};

/// How often the feeder looks for a new checkpoint.
const POLL: Duration = Duration::from_millis(250);
/// How long a witness that failed is left alone before the next try.
const RETRY: Duration = Duration::from_secs(10);
/// One submission's time limit.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A witness the log submits to: its submission prefix and its pinned key.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub key: WitnessKey,
}

impl Target {
    /// Parses `<submission prefix URL> <witness key>`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (url, key) = text
            .trim()
            .split_once(' ')
            .ok_or("a witness is given as \"<URL> <witness key>\"")?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!("witness URL {url:?} is not http:// or https://"));
        }
        let key = WitnessKey::parse(key.trim()).map_err(|e| {
            format!("witness key {key:?}: {e} (expected <name>+<hex id>+<base64>, type 0x04)")
        })?;
        Ok(Self {
            url: url.trim_end_matches('/').to_owned(),
            key,
        })
    }
}

/// The cosignatures collected for the latest checkpoint a feeder submitted.
#[derive(Debug, Default)]
pub struct Cosignatures {
    latest: RwLock<Option<(String, String)>>,
}

impl Cosignatures {
    /// `note` with the cosignature lines collected for it appended (as they are: each line
    /// verified against its witness's key when it came), or `note` alone.
    pub fn attach(&self, note: &str) -> String {
        let latest = self.latest.read().unwrap_or_else(|p| p.into_inner());
        match latest.as_ref() {
            Some((cosigned, lines)) if cosigned == note => format!("{note}{lines}"),
            _ => note.to_owned(),
        }
    }

    fn publish(&self, note: &str, lines: String) {
        *self.latest.write().unwrap_or_else(|p| p.into_inner()) = Some((note.to_owned(), lines));
    }
}

/// Stops the feeder's thread when dropped.
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
    /// The cosignature line for the checkpoint being served, once it gave one.
    line: Option<String>,
    /// Not before this instant, after a failure.
    next_try: Instant,
}

/// Starts submitting `store`'s checkpoints to `targets`, publishing into `out`.
pub fn start(store: Arc<dyn EventStore>, targets: Vec<Target>, out: Arc<Cosignatures>) -> Feeder {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let agent = ureq::AgentBuilder::new().timeout(TIMEOUT).build();
    let mut known: Vec<Known> = targets
        .into_iter()
        .map(|target| Known {
            target,
            size: None,
            line: None,
            next_try: Instant::now(),
        })
        .collect();
    std::thread::Builder::new()
        .name("witness-feeder".into())
        .spawn(move || {
            let mut current: Option<StoredCheckpoint> = None;
            while !flag.load(Ordering::Relaxed) {
                match store.latest_checkpoint() {
                    Ok(Some(cp)) => {
                        if current.as_ref().map(|c| &c.note) != Some(&cp.note) {
                            known.iter_mut().for_each(|k| k.line = None);
                            current = Some(cp);
                        }
                        let cp = current.as_ref().expect("set above");
                        let mut changed = false;
                        for k in known.iter_mut().filter(|k| k.line.is_none()) {
                            // A witness ahead of this checkpoint (another node of the log
                            // submitted a newer one) waits for one of its size.
                            let behind = k.size.is_some_and(|s| s > cp.size);
                            if !behind && Instant::now() >= k.next_try {
                                changed |= submit(&agent, store.as_ref(), cp, k);
                            }
                        }
                        if changed {
                            let lines: String =
                                known.iter().filter_map(|k| k.line.clone()).collect();
                            out.publish(&cp.note, lines);
                        }
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "witness feeder: reading the checkpoint"),
                }
                std::thread::sleep(POLL);
            }
        })
        .expect("spawn the witness feeder");
    Feeder { stop }
}

/// Submits `cp` to one witness (retrying once from the size a 409 names); whether a
/// cosignature was collected.
fn submit(
    agent: &ureq::Agent,
    store: &dyn EventStore,
    cp: &StoredCheckpoint,
    k: &mut Known,
) -> bool {
    for _ in 0..2 {
        let old = k.size.unwrap_or(0).min(cp.size);
        match post(agent, store, cp, old, k) {
            Ok(line) => {
                k.size = Some(cp.size);
                k.line = Some(line);
                return true;
            }
            Err(Answer::Size(size)) if size <= cp.size && Some(size) != k.size => {
                k.size = Some(size);
            }
            Err(Answer::Size(size)) if size > cp.size => {
                // Ahead of this node: tried again once this node's checkpoint reaches it.
                k.size = Some(size);
                return false;
            }
            Err(Answer::Size(size)) => {
                tracing::warn!(witness = %k.target.key.name(), size = cp.size, "the witness names size {size} again after a proof from it");
                break;
            }
            Err(Answer::Failed(why)) => {
                tracing::warn!(witness = %k.target.key.name(), size = cp.size, "{why}");
                break;
            }
        }
    }
    k.next_try = Instant::now() + RETRY;
    false
}

enum Answer {
    /// 409 naming the witness's size.
    Size(u64),
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
            let fork = if code == 409 {
                " (it cosigned another tree of this size: keep this log's checkpoints as evidence)"
            } else {
                ""
            };
            return Err(Answer::Failed(format!(
                "the witness refused the checkpoint: {code} {}{fork}",
                text.trim()
            )));
        }
        Err(e) => return Err(Answer::Failed(format!("the witness did not answer: {e}"))),
    };
    let lines = resp
        .into_string()
        .map_err(|e| Answer::Failed(format!("reading the witness's answer: {e}")))?;
    // Keep this witness's line, once it verifies over the checkpoint.
    let mine = format!("— {} ", k.target.key.name());
    let line = lines
        .lines()
        .find(|l| l.starts_with(&mine))
        .map(|l| format!("{l}\n"))
        .ok_or_else(|| {
            Answer::Failed("the witness's answer holds no cosignature of its key".into())
        })?;
    let note = format!("{}{line}", cp.note);
    match cosignatures(&note, std::slice::from_ref(&k.target.key)) {
        Ok(found) if !found.is_empty() => Ok(line),
        Ok(_) => Err(Answer::Failed(
            "the witness's line is not by its pinned key".into(),
        )),
        Err(e) => Err(Answer::Failed(format!(
            "the witness's cosignature does not verify: {e}"
        ))),
    }
}
