//! The log never forks across crashes: a real `caseledger serve` takes concurrent writes and
//! is killed with SIGKILL several times; afterwards every kept checkpoint verifies, matches
//! the root of the stored tree at its size, and consistency proofs link every pair of them.
//! Each time it starts it serves the log key `caseledger init` printed.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use caseledger::client;
use caseledger::envelope::KeyFile;
use caseledger::log::merkle::root;
use caseledger::log::proof::{consistency_proof, verify_consistency};
use caseledger::log::{Checkpoint, NoteVerifier};
use caseledger::store::sqlite::SqliteStore;
use caseledger::store::{EventStore, StoreNodes};
use chrono::Utc;
use serde_json::{json, Value};

mod process;

use process::{start_server as start, BIN};
/// Beyond this many checkpoints, pairs are taken among an even sample of them (always with
/// the first and the last); consecutive checkpoints are always all checked.
const MAX_ALL_PAIRS: usize = 120;

fn write_until_stopped(base: &str, token: &str, admin: &KeyFile, first: usize, stop: &AtomicBool) {
    let mut i = first;
    while !stop.load(Ordering::Relaxed) {
        let data = json!({
            "name": format!("Agency {i}"), "region": "North", "domains": ["social"], "languages": [],
            "interpretation": false, "cultural_adaptations": [], "trafficking_experience": false,
            "eligibility": {"criteria": [], "notes": ""}
        });
        let env = client::signed_event(
            admin,
            "agency.registered",
            &format!("agency-k{i}"),
            data,
            Utc::now(),
        );
        let r = ureq::post(&format!("{base}/v1/events"))
            .set("Authorization", &format!("Bearer {token}"))
            .timeout(Duration::from_secs(10))
            .send_json(&env);
        if r.is_err() {
            return; // killed mid-request
        }
        i += 1;
    }
}

/// Three times: start the server, check that it serves the log key `init` printed (as
/// `text/plain`, exactly), write from six clients, and kill it with SIGKILL mid-write.
fn crash_cycles(dir: &Path, token: &str, admin: &KeyFile, log_key: &str) {
    for cycle in 0..3usize {
        let (mut child, base) = start(dir);
        let served = ureq::get(&format!("{base}/v1/log/key"))
            .call()
            .expect("GET /v1/log/key");
        assert!(
            served.content_type() == "text/plain",
            "{}",
            served.content_type()
        );
        assert_eq!(served.into_string().expect("text"), log_key);
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            for w in 0..6 {
                let (base, stop) = (&base, &stop);
                s.spawn(move || {
                    write_until_stopped(base, token, admin, cycle * 100_000 + w * 10_000, stop)
                });
            }
            std::thread::sleep(Duration::from_millis(600 + 200 * cycle as u64));
            child.kill().expect("SIGKILL");
            stop.store(true, Ordering::Relaxed);
        });
        child.wait().expect("reap");
    }
}

/// Indexes of the checkpoint pairs to check.
fn pairs(n: usize) -> Vec<(usize, usize)> {
    let sample: Vec<usize> = if n <= MAX_ALL_PAIRS {
        (0..n).collect()
    } else {
        let mut s: Vec<usize> = (0..MAX_ALL_PAIRS)
            .map(|k| k * (n - 1) / (MAX_ALL_PAIRS - 1))
            .collect();
        s.dedup();
        s
    };
    let mut out: Vec<(usize, usize)> = (1..n).map(|j| (j - 1, j)).collect();
    for (a, &i) in sample.iter().enumerate() {
        out.extend(sample[a + 1..].iter().map(|&j| (i, j)));
    }
    out
}

#[test]
fn checkpoints_kept_across_kill_9_are_pairwise_consistent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(BIN)
        .args(["init", "--json", "--data"])
        .arg(dir.path())
        .output()
        .expect("init");
    assert!(out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    let token = report["admin_token"].as_str().expect("token");
    let admin =
        KeyFile::read(Path::new(report["admin_key_file"].as_str().expect("f"))).expect("key");
    let log_key = report["log_key"].as_str().expect("key");
    crash_cycles(dir.path(), token, &admin, log_key);

    let key = NoteVerifier::parse(log_key).expect("key");
    let store = SqliteStore::open(&dir.path().join("ledger.db")).expect("store");
    let kept: Vec<Checkpoint> = store
        .checkpoints()
        .expect("checkpoints")
        .iter()
        .map(|c| Checkpoint::open_signed(&c.note, &key).expect("checkpoint signature"))
        .collect();
    assert!(
        kept.len() > 20,
        "too few checkpoints to mean anything: {}",
        kept.len()
    );
    let nodes = StoreNodes(&store);
    for cp in &kept {
        assert_eq!(
            root(&nodes, cp.size).expect("root"),
            cp.root,
            "fork at size {}",
            cp.size
        );
    }
    for (i, j) in pairs(kept.len()) {
        let (a, b) = (&kept[i], &kept[j]);
        let proof = consistency_proof(&nodes, a.size, b.size).expect("proof");
        verify_consistency(a.size, b.size, &proof, &a.root, &b.root)
            .unwrap_or_else(|e| panic!("sizes {} -> {}: {e}", a.size, b.size));
    }
    drop(store);

    // The restarted server serves the same proofs, and the whole log exports and verifies.
    let (mut child, base) = start(dir.path());
    let (first, last) = (&kept[0], &kept[kept.len() - 1]);
    let r: Value = ureq::get(&format!(
        "{base}/v1/log/proof/consistency?from={}&to={}",
        first.size, last.size
    ))
    .call()
    .expect("consistency")
    .into_json()
    .expect("json");
    assert_eq!(r["to"].as_u64(), Some(last.size));
    child.kill().expect("kill");
    child.wait().expect("reap");
    let bundle = dir.path().join("bundle.json");
    let out = Command::new(BIN)
        .args(["export", "--data"])
        .arg(dir.path())
        .arg("--out")
        .arg(&bundle)
        .output()
        .expect("export");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(BIN)
        .args(["verify", "--full", "--log-key", &key.to_text()])
        .arg(&bundle)
        .output()
        .expect("verify");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
