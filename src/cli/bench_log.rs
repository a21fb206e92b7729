//! `caseledger bench-log`: the tamper-evidence figures of issue 4, each against a reference
//! measured in the same run:
//! - inclusion-proof latency (p50/p99) on a 1M-entry log built directly in a SQLite store,
//!   against one node read;
//! - offline verification of a full-log bundle exported from a real data directory, against
//!   the raw `verify_batch` rate on all cores over the same signatures;
//! - the append cost of the Merkle tree and checkpoints: the same groups committed to fresh
//!   stores, without the writer's own `seal` step, with it on every group, and with it paced
//!   as under load.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{json, Value};

use crate::log::merkle::{append_nodes, leaf_hash, root, Hash};
use crate::log::proof::{inclusion_proof, verify_inclusion};
use crate::store::sqlite::SqliteStore;
use crate::store::{CommitGroup, EventStore, StoreNodes, StoredEntry};

mod append;
mod verify;

/// Arguments of `bench-log`.
#[derive(Debug, clap::Args)]
pub struct BenchLogArgs {
    /// Leaves of the tree the inclusion proofs are taken from.
    #[arg(long, default_value_t = 1_000_000)]
    pub leaves: u64,
    /// Inclusion proofs to time.
    #[arg(long, default_value_t = 20_000)]
    pub proofs: usize,
    /// Entries in the full-log bundle to verify (0 skips this part).
    #[arg(long, default_value_t = 1_000_000)]
    pub entries: usize,
    /// Entries committed per group size and store in the append comparison (at most 512 for
    /// single-entry groups), rounded up to whole rounds of the 24 lane orders: 528 / 4608 /
    /// 24576 for groups of 1 / 32 / 1024 at the default; three runs of four stores each.
    #[arg(long, default_value_t = 4096)]
    pub appends: usize,
    /// Keep the verified bundle at this path, and its log key beside it (the same path with
    /// the extension `key`: `b.json` → `b.key`).
    #[arg(long)]
    pub keep_bundle: Option<std::path::PathBuf>,
    /// Measure only the offline verification, of this existing bundle (for instance one
    /// kept with `--keep-bundle`, or a real log's export), against the raw rate over its
    /// own first signatures.
    #[arg(long, conflicts_with_all = ["keep_bundle", "entries", "leaves", "proofs", "appends"])]
    pub bundle: Option<std::path::PathBuf>,
    /// The verifier key of `--bundle` (default: the contents of the bundle's path with the
    /// extension `key`, as `--keep-bundle` writes it).
    #[arg(long, requires = "bundle")]
    pub log_key: Option<String>,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A small xorshift generator: benchmark indexes need spread, not secrecy.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new() -> Self {
        let mut seed = [0u8; 8];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut seed);
        Self(u64::from_le_bytes(seed) | 1)
    }

    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

pub(super) fn temp_dir(what: &str) -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("caseledger-{what}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).context("bench directory")?;
    Ok(dir)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Bytes of synthetic entry `i`, about the size of a real entry, so the rows the proofs
/// read are spread over as many pages as in a real log.
fn entry_bytes(i: u64) -> Vec<u8> {
    let mut bytes = vec![b' '; 640];
    bytes[..8].copy_from_slice(&i.to_le_bytes());
    bytes
}

/// Builds a log of `leaves` synthetic entries, with their tree, directly in the store.
fn build_tree(store: &SqliteStore, leaves: u64) -> anyhow::Result<()> {
    let mut size = 0u64;
    while size < leaves {
        let n = (1u64 << 16).min(leaves - size);
        let entries: Vec<StoredEntry> = (size..size + n)
            .map(|i| {
                let bytes = entry_bytes(i);
                StoredEntry {
                    index: i,
                    stream: "agency-bench".into(),
                    revision: i,
                    event_id: uuid::Uuid::new_v4(),
                    recorded_at: String::new(),
                    leaf_hash: leaf_hash(&bytes),
                    bytes,
                }
            })
            .collect();
        let hashes: Vec<Hash> = entries.iter().map(|e| e.leaf_hash).collect();
        let nodes = append_nodes(&StoreNodes(store), size, &hashes)?;
        store.commit(CommitGroup {
            entries,
            nodes,
            checkpoint: None,
            request_ends: Vec::new(),
        })?;
        size += n;
    }
    Ok(())
}

fn bench_proofs(leaves: u64, count: usize) -> anyhow::Result<Value> {
    let dir = temp_dir("bench-proofs")?;
    let store = SqliteStore::open(&dir.join("tree.db"))?;
    eprintln!("building a {leaves}-leaf tree in SQLite...");
    let started = Instant::now();
    build_tree(&store, leaves)?;
    let build_s = started.elapsed().as_secs_f64();
    let nodes = StoreNodes(&store);
    let tree_root = root(&nodes, leaves)?;
    let mut rng = Rng::new();
    let mut reads = Vec::with_capacity(count);
    for _ in 0..count {
        let (i, t) = (rng.below(leaves), Instant::now());
        store.node(0, i)?.context("leaf node")?;
        reads.push(t.elapsed());
    }
    eprintln!("timing {count} inclusion proofs, cold then warm...");
    let cold = time_proofs(&store, leaves, count, &tree_root, &mut rng)?;
    let warm = time_proofs(&store, leaves, count, &tree_root, &mut rng)?;
    reads.sort();
    let read_p50 = percentile(&reads, 0.5);
    eprintln!("timing {count} full tiles of level 0 and of level 1 (the C2SP tile API)...");
    let tiles = [0u8, 1].map(|level| time_tiles(&store, leaves, level, count, &mut rng));
    let [tile0, tile1] = [&tiles[0], &tiles[1]].map(|t| match t {
        Ok(Some(t)) => json!({
            "p50_ms": ms(percentile(t, 0.5)), "p99_ms": ms(percentile(t, 0.99)),
            "p50_in_node_reads": percentile(t, 0.5).as_secs_f64() / read_p50.as_secs_f64().max(1e-9),
        }),
        Ok(None) => Value::Null,
        Err(e) => json!({"error": e.to_string()}),
    });
    let _ = std::fs::remove_dir_all(&dir);
    Ok(json!({
        "leaves": leaves, "proofs": count, "tree_build_s": build_s,
        "cold_p50_ms": ms(percentile(&cold, 0.5)), "cold_p99_ms": ms(percentile(&cold, 0.99)),
        "p50_ms": ms(percentile(&warm, 0.5)), "p99_ms": ms(percentile(&warm, 0.99)),
        "max_ms": ms(*warm.last().unwrap_or(&Duration::ZERO)),
        "node_read_p50_ms": ms(read_p50),
        "p99_in_node_reads": percentile(&warm, 0.99).as_secs_f64() / read_p50.as_secs_f64().max(1e-9),
        "target_p99_ms": 2.0,
        "tile_level0": tile0, "tile_level1": tile1,
    }))
}

/// Times `count` reads of random full hash tiles of `level` (256 nodes each, as the tile API
/// reads them); none when the tree has no full tile of that level.
fn time_tiles(
    store: &SqliteStore,
    leaves: u64,
    level: u8,
    count: usize,
    rng: &mut Rng,
) -> anyhow::Result<Option<Vec<Duration>>> {
    let tree_level = 8 * level;
    let full = leaves >> tree_level >> 8;
    if full == 0 {
        return Ok(None);
    }
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let (n, t) = (rng.below(full), Instant::now());
        let tile = store.nodes(tree_level, n * 256, 256)?;
        times.push(t.elapsed());
        anyhow::ensure!(
            tile.iter().all(Option::is_some),
            "tile {level}/{n} incomplete"
        );
    }
    times.sort();
    Ok(Some(times))
}

/// Times `count` proofs of random leaves (sorted durations), checking some against the root.
fn time_proofs(
    store: &SqliteStore,
    leaves: u64,
    count: usize,
    tree_root: &Hash,
    rng: &mut Rng,
) -> anyhow::Result<Vec<Duration>> {
    let nodes = StoreNodes(store);
    let mut times = Vec::with_capacity(count);
    for k in 0..count {
        let (i, t) = (rng.below(leaves), Instant::now());
        let proof = inclusion_proof(&nodes, i, leaves)?;
        times.push(t.elapsed());
        if k % 1000 == 0 {
            let leaf = leaf_hash(&entry_bytes(i));
            verify_inclusion(&leaf, i, leaves, &proof, tree_root).context("proof verifies")?;
        }
    }
    times.sort();
    Ok(times)
}

/// `caseledger bench-log`.
pub fn bench_log(args: BenchLogArgs) -> anyhow::Result<()> {
    let (proofs, verify, append) = match &args.bundle {
        Some(path) => {
            let key = match &args.log_key {
                Some(k) => crate::cli::verify::read_key(k)?,
                None => {
                    let file = path.with_extension("key");
                    let text = std::fs::read_to_string(&file).with_context(|| {
                        format!("no --log-key, and {} is not readable", file.display())
                    })?;
                    crate::log::note::NoteVerifier::parse(text.trim())
                        .with_context(|| format!("{}: not a verifier key", file.display()))?
                }
            };
            (Value::Null, verify::bench_bundle(path, &key)?, Value::Null)
        }
        None => {
            let proofs = bench_proofs(args.leaves, args.proofs)?;
            let verify = if args.entries > 0 {
                verify::bench_verify(args.entries, args.keep_bundle.as_deref())?
            } else {
                Value::Null
            };
            (proofs, verify, append::bench_append(args.appends)?)
        }
    };
    let result = json!({"inclusion_proof": proofs, "offline_verify": verify, "append": append});
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
        return Ok(());
    }
    if !proofs.is_null() {
        println!(
        "inclusion proof at {} leaves: cold p99 {:.3} ms; warm p50 {:.3} ms, p99 {:.3} ms (target <= 2 ms; {:.1}x one node read)",
        proofs["leaves"], proofs["cold_p99_ms"].as_f64().unwrap_or(0.0),
        proofs["p50_ms"].as_f64().unwrap_or(0.0),
        proofs["p99_ms"].as_f64().unwrap_or(0.0),
        proofs["p99_in_node_reads"].as_f64().unwrap_or(0.0)
        );
        for (name, t) in [("0", &proofs["tile_level0"]), ("1", &proofs["tile_level1"])] {
            let f = |key: &str| t[key].as_f64().unwrap_or(0.0);
            if t.is_object() {
                println!(
                    "  a full level-{name} tile (256 hashes): p50 {:.3} ms, p99 {:.3} ms ({:.0}x one node read)",
                    f("p50_ms"), f("p99_ms"), f("p50_in_node_reads")
                );
            }
        }
    }
    if !verify.is_null() {
        let f = |key: &str| verify[key].as_f64().unwrap_or(0.0);
        println!(
            "offline verify of {} entries: {:.0} entries/s vs raw batch verify (ed25519-dalek) {:.0} sigs/s on {} cores, interleaved: {:.2}x (target >= 0.8x: {}); slices {:.2}x to {:.2}x, median {:.2}x",
            verify["entries"], f("verify_per_s"), f("raw_batch_verify_per_s"), verify["cores"],
            f("ratio"),
            if verify["target_met"].as_bool() == Some(true) { "met" } else { "not met" },
            f("slice_ratio_min"), f("slice_ratio_max"), f("slice_ratio_median")
        );
        println!(
            "  vs the verifier's own key-coalescing batch equation, raw over the same signatures grouped as it groups them: {:.0} sigs/s: {:.2}x (the share of the verifier's CPU time that signatures take)",
            f("same_equation_per_s"), f("ratio_same_equation")
        );
    }
    for g in append["groups"].as_array().into_iter().flatten() {
        let f = |lane: &str, key: &str| g[lane][key].as_f64().unwrap_or(0.0);
        println!(
            "append, groups of {} (median of {} runs): {:.0}/s bare; checkpoint every group {:.0}/s ({:+.1}% total, {:+.1}% median); under load {:.0}/s ({:+.1}% total, {:+.1}% median, {} checkpoints for {} groups) (target < 15%); control, bare again: {:+.1}% total, {:+.1}% median; the two bare stores differed by up to {:.1}% over the runs (the disk's noise)",
            g["group_size"], g["runs"].as_array().map_or(0, Vec::len),
            g["bare_per_s"].as_f64().unwrap_or(0.0),
            f("every_group", "per_s"), f("every_group", "slowdown_pct"),
            f("every_group", "median_slowdown_pct"),
            f("under_load", "per_s"), f("under_load", "slowdown_pct"),
            f("under_load", "median_slowdown_pct"), g["under_load"]["checkpoints"], g["groups"],
            f("control", "slowdown_pct"), f("control", "median_slowdown_pct"),
            g["noise_max_pct"].as_f64().unwrap_or(0.0)
        );
    }
    Ok(())
}
