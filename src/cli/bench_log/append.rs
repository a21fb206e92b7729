//! The append cost of the Merkle tree and checkpoints: the same groups of real entries are
//! committed to fresh SQLite stores, one plain and others after the writer's `seal` (new
//! tree nodes, and a signed checkpoint when due, all in the same transaction). Groups
//! alternate between the stores so drift in the machine's speed hits all alike. This leaves out
//! everything else an append costs (HTTP, signature check, rules), so the slowdown it reports
//! is an upper bound of what a client sees.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{json, Value};

use super::temp_dir;
use crate::envelope::KeyFile;
use crate::ledger::entry::{encode, format_time};
use crate::ledger::{seal, CheckpointPacer, Frontier};
use crate::log::merkle::leaf_hash;
use crate::log::note::NoteSigner;
use crate::store::sqlite::SqliteStore;
use crate::store::{CommitGroup, EventStore, StoredEntry};

/// Group sizes compared: one event per commit (a lone writer) up to large group commits.
const GROUPS: [usize; 3] = [1, 32, 1024];

fn entries(count: usize) -> Vec<(String, Vec<u8>)> {
    let key = KeyFile::generate(crate::domain::PrincipalId::parse("bench").expect("slug"));
    let stamp = format_time(&Utc::now());
    (0..count)
        .map(|i| {
            let stream = format!("agency-e{i}");
            let data =
                crate::domain::fixtures::example_data("agency.registered").expect("agency fixture");
            let wire =
                crate::client::signed_event(&key, "agency.registered", &stream, data, Utc::now());
            let bytes = encode(&stream, 0, &stamp, &wire);
            (stream, bytes)
        })
        .collect()
}

fn group(from: u64, batch: &[(String, Vec<u8>)]) -> CommitGroup {
    let stamp = format_time(&Utc::now());
    let entries = batch
        .iter()
        .zip(from..)
        .map(|((stream, bytes), index)| StoredEntry {
            index,
            stream: stream.clone(),
            revision: 0,
            event_id: uuid::Uuid::new_v4(),
            recorded_at: stamp.clone(),
            leaf_hash: leaf_hash(bytes),
            bytes: bytes.clone(),
        })
        .collect();
    CommitGroup {
        entries,
        ..CommitGroup::default()
    }
}

/// One store of the comparison and the time its commits took.
struct Lane {
    store: SqliteStore,
    frontier: Frontier,
    total: Duration,
    each: Vec<Duration>,
    seal: Duration,
}

impl Lane {
    fn open(path: &std::path::Path) -> anyhow::Result<Self> {
        Ok(Self {
            store: SqliteStore::open(path)?,
            frontier: Frontier::default(),
            total: Duration::ZERO,
            each: Vec::new(),
            seal: Duration::ZERO,
        })
    }

    /// Commits `g`, sealed first unless `sign` is `None`; `sign` says whether the seal
    /// includes a checkpoint.
    fn commit(
        &mut self,
        mut g: CommitGroup,
        next: u64,
        sign: Option<bool>,
        signer: &NoteSigner,
    ) -> anyhow::Result<bool> {
        let t = Instant::now();
        if let Some(sign) = sign {
            seal(
                &self.store,
                &self.frontier,
                signer,
                signer.name(),
                &mut g,
                next,
                sign,
            )?;
            self.seal += t.elapsed();
        }
        let (size, added, signed) = (
            next + g.entries.len() as u64,
            g.nodes.clone(),
            g.checkpoint.is_some(),
        );
        self.store.commit(g)?;
        self.frontier.advance(size, &added);
        self.each.push(t.elapsed());
        self.total += t.elapsed();
        Ok(signed)
    }

    /// The figures of this lane after `entries` entries, against `plain`.
    fn slowdown(&mut self, plain: &mut Lane, entries: f64) -> Value {
        json!({
            "per_s": entries / self.total.as_secs_f64(),
            "slowdown_pct": (self.total.as_secs_f64() / plain.total.as_secs_f64() - 1.0) * 100.0,
            "median_slowdown_pct": (median(&mut self.each) / median(&mut plain.each) - 1.0) * 100.0,
            "seal_share_pct": self.seal.as_secs_f64() / self.total.as_secs_f64() * 100.0,
        })
    }
}

/// Commits `count` entries in groups of `size` to three stores: plain; sealed with a
/// checkpoint on every group (an idle writer, each group alone in its queue); and sealed as
/// the writer does under load (groups back to back, checkpoints paced to one a second, and
/// the last group, which empties the queue, signed).
fn compare(size: usize, count: usize, signer: &NoteSigner) -> anyhow::Result<Value> {
    let dir = temp_dir("bench-append")?;
    let mut plain = Lane::open(&dir.join("plain.db"))?;
    let mut every = Lane::open(&dir.join("sealed.db"))?;
    let mut paced = Lane::open(&dir.join("paced.db"))?;
    let all = entries(count);
    let mut pacer = CheckpointPacer::default();
    let mut checkpoints = 0;
    let mut next = 0u64;
    let groups = all.chunks(size).count();
    for (k, batch) in all.chunks(size).enumerate() {
        // The lanes take turns going first: a commit right after another store's fsync
        // runs on a busier disk, and that must not always be the same lane.
        for lane in (0..3).map(|i| (i + k) % 3) {
            match lane {
                0 => {
                    plain.commit(group(next, batch), next, None, signer)?;
                }
                1 => {
                    every.commit(group(next, batch), next, Some(true), signer)?;
                }
                _ => {
                    let now = Instant::now();
                    let sign = pacer.due(k + 1 < groups, now);
                    if paced.commit(group(next, batch), next, Some(sign), signer)? {
                        pacer.signed(now);
                        checkpoints += 1;
                    }
                }
            }
        }
        next += batch.len() as u64;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let n = count as f64;
    let mut under_load = paced.slowdown(&mut plain, n);
    under_load["checkpoints"] = json!(checkpoints);
    Ok(json!({
        "group_size": size, "entries": count, "groups": groups,
        "plain_per_s": n / plain.total.as_secs_f64(),
        "every_group": every.slowdown(&mut plain, n),
        "under_load": under_load,
    }))
}

/// The median group commit time, in seconds: robust to the fsync stalls of a shared disk.
fn median(v: &mut [Duration]) -> f64 {
    v.sort();
    v.get(v.len() / 2).map_or(0.0, Duration::as_secs_f64)
}

/// Runs the comparison for each group size.
pub(super) fn bench_append(count: usize) -> anyhow::Result<Value> {
    let signer = NoteSigner::generate("bench.local/append")?;
    let mut groups = Vec::new();
    for size in GROUPS {
        // Fewer single-event commits: each one waits for an fsync.
        let n = if size == 1 { count.min(512) } else { count };
        eprintln!("append comparison, groups of {size} ({n} entries per store)...");
        groups.push(compare(size, n.max(size), &signer)?);
    }
    Ok(json!({"groups": groups, "target_slowdown_pct": 15.0}))
}
