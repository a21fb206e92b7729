//! The append cost of the Merkle tree and checkpoints: the same groups of real entries are
//! committed to two fresh SQLite stores, one plain and one after the writer's `seal` (new
//! tree nodes, root, signed checkpoint, all in the same transaction). Groups alternate
//! between the stores so drift in the machine's speed hits both alike. This leaves out
//! everything else an append costs (HTTP, signature check, rules), so the slowdown it reports
//! is an upper bound of what a client sees.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{json, Value};

use super::temp_dir;
use crate::envelope::KeyFile;
use crate::ledger::entry::{encode, format_time};
use crate::ledger::{seal, Frontier};
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

/// Commits `count` entries in groups of `size` to a plain and a sealed store.
fn compare(size: usize, count: usize, signer: &NoteSigner) -> anyhow::Result<Value> {
    let dir = temp_dir("bench-append")?;
    let plain = SqliteStore::open(&dir.join("plain.db"))?;
    let sealed = SqliteStore::open(&dir.join("sealed.db"))?;
    let all = entries(count);
    let (mut t_plain, mut t_sealed, mut t_seal) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let (mut plain_each, mut sealed_each) = (Vec::new(), Vec::new());
    let mut next = 0u64;
    let mut frontier = Frontier::default();
    for batch in all.chunks(size) {
        let g = group(next, batch);
        let t = Instant::now();
        plain.commit(g)?;
        plain_each.push(t.elapsed());
        t_plain += t.elapsed();
        let mut g = group(next, batch);
        let t = Instant::now();
        seal(&sealed, &frontier, signer, signer.name(), &mut g, next)?;
        t_seal += t.elapsed();
        let added = g.nodes.clone();
        sealed.commit(g)?;
        frontier.advance(next + batch.len() as u64, &added);
        sealed_each.push(t.elapsed());
        t_sealed += t.elapsed();
        next += batch.len() as u64;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let n = count as f64;
    Ok(json!({
        "group_size": size, "entries": count,
        "plain_per_s": n / t_plain.as_secs_f64(), "sealed_per_s": n / t_sealed.as_secs_f64(),
        "slowdown_pct": (t_sealed.as_secs_f64() / t_plain.as_secs_f64() - 1.0) * 100.0,
        "median_slowdown_pct": (median(&mut sealed_each) / median(&mut plain_each) - 1.0) * 100.0,
        "seal_share_pct": t_seal.as_secs_f64() / t_sealed.as_secs_f64() * 100.0,
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
