//! End-to-end tamper evidence on a real data directory: events go through the real ledger,
//! then one stored entry is edited in the SQLite file. `export` + `verify` and the server's
//! own start-up check must both refuse it and name that entry.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use caseledger::client;
use caseledger::datadir::{self, DataDirError, InitOptions};
use caseledger::envelope::KeyFile;
use caseledger::ledger::{ExpectedRevision, OpenError, SystemClock};
use caseledger::log::merkle::leaf_hash;
use chrono::Utc;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_caseledger");
const TAMPERED: i64 = 7;

fn caseledger(args: &[&str], dir: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .env("CASELEDGER_DATA", dir)
        .env("RUST_LOG", "error")
        .output()
        .expect("run caseledger")
}

/// A data directory with 3 genesis entries and 12 agencies written through the ledger.
fn populated() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let clock = Arc::new(SystemClock);
    let report = datadir::init(dir.path(), &InitOptions::default(), clock.clone()).expect("init");
    let admin = KeyFile::read(Path::new(&report.admin_key_file)).expect("key");
    let (ledger, _) = datadir::open(dir.path(), clock).expect("open");
    for i in 0..12 {
        let stream = format!("agency-a{i}");
        let data = json!({
            "name": format!("Agency {i}"), "region": "North", "domains": ["social"], "languages": [],
            "interpretation": false, "cultural_adaptations": [], "trafficking_experience": false,
            "eligibility": {"criteria": [], "notes": ""}
        });
        let wire = client::signed_event(&admin, "agency.registered", &stream, data, Utc::now());
        let v = client::self_verified(&admin, &wire).expect("verified");
        ledger
            .submit_blocking(stream, vec![v], ExpectedRevision::NoStream)
            .expect("append");
    }
    (dir, report.log_key)
}

/// Changes the last microsecond digit of entry `TAMPERED`'s `recorded_at`, in place, and
/// with `leaf_too` also rewrites its stored leaf hash to match the edited bytes.
fn tamper(dir: &Path, leaf_too: bool) {
    let db = rusqlite::Connection::open(dir.join(datadir::DB_FILE)).expect("sqlite");
    let bytes: Vec<u8> = db
        .query_row(
            "SELECT bytes FROM entries WHERE idx = ?1",
            [TAMPERED],
            |r| r.get(0),
        )
        .expect("entry");
    let mut text = String::from_utf8(bytes).expect("utf-8");
    let z = text.find("Z\",\"envelope\"").expect("recorded_at");
    let digit = text.as_bytes()[z - 1];
    let edited = if digit == b'9' {
        '0'
    } else {
        (digit + 1) as char
    };
    text.replace_range(z - 1..z, &edited.to_string());
    db.execute(
        "UPDATE entries SET bytes = ?1 WHERE idx = ?2",
        rusqlite::params![text.as_bytes(), TAMPERED],
    )
    .expect("update bytes");
    if leaf_too {
        let leaf = leaf_hash(text.as_bytes());
        db.execute(
            "UPDATE entries SET leaf_hash = ?1 WHERE idx = ?2",
            rusqlite::params![leaf.as_slice(), TAMPERED],
        )
        .expect("update leaf");
    }
}

fn export_and_verify(dir: &Path, log_key: &str) -> Value {
    let bundle = dir.join("bundle.json");
    let out = caseledger(&["export", "--out", bundle.to_str().expect("path")], dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = caseledger(
        &[
            "verify",
            "--json",
            "--log-key",
            log_key,
            bundle.to_str().expect("p"),
        ],
        dir,
    );
    assert!(!out.status.success(), "a tampered log verified");
    serde_json::from_slice(&out.stdout).expect("json report")
}

fn assert_startup_names_the_entry(dir: &Path) {
    match datadir::open(dir, Arc::new(SystemClock)) {
        Err(DataDirError::Open(OpenError::Integrity { index, .. })) => {
            assert_eq!(index, TAMPERED as u64)
        }
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("the ledger opened over a tampered entry"),
    }
    let out = caseledger(&["serve", "--listen", "127.0.0.1:0"], dir);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("entry {TAMPERED}")), "{stderr}");
}

#[test]
fn an_edited_entry_is_named_by_verify_and_by_the_startup_check() {
    let (dir, log_key) = populated();
    let clean = caseledger(&["export", "--out", "-"], dir.path());
    assert!(clean.status.success());
    tamper(dir.path(), false);
    let report = export_and_verify(dir.path(), &log_key);
    assert_eq!(report["failure"]["index"], TAMPERED);
    assert_eq!(report["failure"]["check"], "inclusion_proof");
    assert_eq!(report["failure"]["stream"], "agency-a4");
    assert_startup_names_the_entry(dir.path());
}

#[test]
fn an_edited_entry_under_the_projection_snapshot_is_named_at_startup() {
    let (dir, _) = populated();
    // Reopening folds the new entries and saves a snapshot past the entry edited below.
    drop(datadir::open(dir.path(), Arc::new(SystemClock)).expect("reopen"));
    std::thread::sleep(std::time::Duration::from_millis(200)); // let the writer thread stop
    tamper(dir.path(), false);
    assert_startup_names_the_entry(dir.path());
}

#[test]
fn an_edited_entry_with_a_matching_leaf_hash_is_still_named() {
    let (dir, log_key) = populated();
    tamper(dir.path(), true);
    let report = export_and_verify(dir.path(), &log_key);
    assert_eq!(report["failure"]["index"], TAMPERED);
    assert_eq!(report["failure"]["check"], "inclusion_proof");
    assert_startup_names_the_entry(dir.path());
}

#[test]
fn an_untouched_data_dir_exports_a_full_log_that_verifies() {
    let (dir, log_key) = populated();
    // Outside the data directory (export never replaces a file there).
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let bundle = elsewhere.path().join("b.json");
    let out = caseledger(
        &["export", "--out", bundle.to_str().expect("p")],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = caseledger(
        &[
            "verify",
            "--full",
            "--log-key",
            &log_key,
            bundle.to_str().expect("p"),
        ],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("OK: full-log bundle of 15 entries"));
}

/// A damaged stored Merkle node, with the latest checkpoint covering the whole log: the
/// server must not open (its next checkpoint would be signed over the damaged node and
/// would not be consistent with the last one).
#[test]
fn a_damaged_stored_tree_node_stops_the_start_up() {
    let (dir, _) = populated();
    let db = rusqlite::Connection::open(dir.path().join(datadir::DB_FILE)).expect("sqlite");
    // The case the old start-up missed: the latest checkpoint covers the whole log.
    let (covered, size): (i64, i64) = db
        .query_row(
            "SELECT (SELECT MAX(size) FROM checkpoints), (SELECT COUNT(*) FROM entries)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("sizes");
    assert_eq!(covered, size);
    // The last byte of each row's node run is the last byte of a hash.
    let rows: Vec<(i64, Vec<u8>)> = db
        .prepare("SELECT idx, tree FROM entries WHERE length(tree) > 0")
        .expect("select")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    let flipped = rows.len();
    for (idx, mut tree) in rows {
        *tree.last_mut().expect("non-empty") ^= 1;
        db.execute(
            "UPDATE entries SET tree = ?1 WHERE idx = ?2",
            rusqlite::params![tree, idx],
        )
        .expect("update");
    }
    assert!(flipped > 0);
    drop(db);
    match datadir::open(dir.path(), Arc::new(SystemClock)) {
        Err(e) => assert!(e.to_string().contains("Merkle nodes"), "{e}"),
        Ok(_) => panic!("the ledger opened over a damaged tree node"),
    }
    // Nor is the log rebuilt from.
    let out = caseledger(&["rebuild"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("Merkle nodes"), "{stderr}");
}

/// A damaged node inside the tree (off its right edge): start-up, which reads only the
/// right edge, opens; `rebuild` checks every node and names the entry whose leaf completes it.
#[test]
fn rebuild_names_a_damaged_node_inside_the_tree() {
    let (dir, _) = populated();
    let db = rusqlite::Connection::open(dir.path().join(datadir::DB_FILE)).expect("sqlite");
    // Node 1/2 (leaves 4 and 5) lives in row 5 at offset 32; the right edge of 15 leaves
    // is 3/0, 2/2, 1/6 and 0/14.
    let mut tree: Vec<u8> = db
        .query_row("SELECT tree FROM entries WHERE idx = 5", [], |r| r.get(0))
        .expect("row 5");
    assert_eq!(tree.len(), 64, "levels 0 and 1");
    tree[40] ^= 1;
    db.execute(
        "UPDATE entries SET tree = ?1 WHERE idx = 5",
        rusqlite::params![tree],
    )
    .expect("update");
    drop(db);
    drop(datadir::open(dir.path(), Arc::new(SystemClock)).expect("start-up opens"));
    std::thread::sleep(std::time::Duration::from_millis(200)); // let the writer thread stop
    let out = caseledger(&["rebuild"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("entry 5: the stored Merkle node 1/2 (completed by this entry) differs"),
        "{stderr}"
    );
}

#[test]
fn rebuild_refuses_a_log_the_server_would_refuse() {
    // Bytes and leaf hash edited together: only the signed checkpoint's root tells.
    let (dir, _) = populated();
    tamper(dir.path(), true);
    let out = caseledger(&["rebuild"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("entry {TAMPERED}")), "{stderr}");
}

/// A populated data directory whose projection snapshot (of the whole log, saved by a
/// reopening) has `member` set to `value`; the snapshot's path.
fn with_edited_snapshot(member: &str, value: Value) -> (tempfile::TempDir, std::path::PathBuf) {
    let (dir, _) = populated();
    drop(datadir::open(dir.path(), Arc::new(SystemClock)).expect("reopen"));
    std::thread::sleep(std::time::Duration::from_millis(200)); // let the writer thread stop
    let path = dir.path().join(caseledger::ledger::snapshot::SNAPSHOT_FILE);
    let mut snap: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("a snapshot")).expect("json");
    snap[member] = value;
    std::fs::write(&path, serde_json::to_vec(&snap).expect("json")).expect("write");
    (dir, path)
}

#[test]
fn rebuild_reports_a_snapshot_that_does_not_match_the_log() {
    // As if the log had been rewritten below the snapshot's end.
    let (dir, _) = with_edited_snapshot("leaf_hash", json!("00".repeat(32)));
    let out = caseledger(&["rebuild"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("does not match this log"), "{stderr}");
    // Kept aside as evidence of the rollback or rewrite.
    assert_eq!(kept_aside(dir.path()).len(), 1);
    // The rebuilt snapshot replaced it: the next rebuild compares against it and agrees.
    assert_rebuilds_cleanly(dir.path());
}

#[test]
fn rebuild_discards_a_snapshot_of_another_format_quietly() {
    // As a later version's snapshot: not evidence of anything wrong with the log.
    let (dir, _) = with_edited_snapshot("format", json!("caseledger-projections/v999"));
    let out = caseledger(&["rebuild"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("could not be used"), "{stderr}");
}

#[test]
fn start_up_refuses_a_log_that_no_longer_matches_its_snapshot() {
    // As if the log had been rolled back below the snapshot's end: signing on would fork
    // the log from checkpoints already handed out, so opening refuses, writes nothing and
    // leaves the snapshot, the evidence, where it is; `rebuild` is the way on.
    let (dir, path) = with_edited_snapshot("leaf_hash", json!("00".repeat(32)));
    let edited = std::fs::read(&path).expect("snapshot");
    let stored = || {
        ["ledger.db", "ledger.db-wal"]
            .map(|f| std::fs::read(dir.path().join(f)).unwrap_or_default())
    };
    let db = stored();
    let err = datadir::open(dir.path(), Arc::new(SystemClock))
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("rolled back or rewritten"), "{err}");
    assert!(err.contains("caseledger rebuild"), "{err}");
    assert_eq!(std::fs::read(&path).expect("kept in place"), edited);
    assert!(kept_aside(dir.path()).is_empty());
    assert!(stored() == db, "nothing written");
    // The server refuses the same way (killed if it runs instead).
    let mut serve = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("CASELEDGER_DATA", dir.path())
        .env("RUST_LOG", "error")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("serve");
    let started = std::time::Instant::now();
    while serve.try_wait().expect("wait").is_none() {
        if started.elapsed() > std::time::Duration::from_secs(30) {
            let _ = serve.kill();
            panic!("the server started on a rolled-back log");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = serve.wait_with_output().expect("serve output");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rolled back or rewritten"), "{stderr}");
    // `rebuild` keeps the snapshot aside (and says so with its exit status); then it opens.
    let out = caseledger(&["rebuild"], dir.path());
    assert!(!out.status.success());
    let kept = kept_aside(dir.path());
    assert_eq!(kept.len(), 1);
    assert_eq!(std::fs::read(&kept[0]).expect("kept"), edited);
    drop(datadir::open(dir.path(), Arc::new(SystemClock)).expect("opens after rebuild"));
}

/// The snapshots kept aside in `dir` as not matching the log.
fn kept_aside(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .expect("list")
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("projections.snapshot.json.mismatch-")
        })
        .map(|e| e.path())
        .collect()
}

#[test]
fn rebuild_keeps_a_matching_snapshot_whose_state_disagrees() {
    // The snapshot's end matches the log, but its state was edited (a stream's revision).
    let (dir, path) = with_edited_snapshot("format", json!("caseledger-projections/v1"));
    let mut snap: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    let streams = snap["state"]["streams"].as_object_mut().expect("streams");
    let first = streams.keys().next().expect("a stream").clone();
    streams[&first] = json!(streams[&first].as_u64().expect("revision") + 5);
    let edited = serde_json::to_vec(&snap).expect("json");
    std::fs::write(&path, &edited).expect("write");
    let out = caseledger(&["rebuild"], dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("DIFFERS FROM the discarded snapshot"),
        "{stdout}"
    );
    let kept = kept_aside(dir.path());
    assert_eq!(kept.len(), 1);
    assert_eq!(std::fs::read(&kept[0]).expect("kept"), edited);
    // The rebuilt one is in place, and agrees with the log.
    assert_rebuilds_cleanly(dir.path());
}

/// A second `rebuild` finds the snapshot the first wrote, in agreement with the log.
fn assert_rebuilds_cleanly(dir: &Path) {
    let out = caseledger(&["rebuild"], dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("equals the discarded snapshot"), "{stdout}");
}

#[test]
fn rebuild_replaces_a_snapshot_that_cannot_be_caught_up_with_the_log() {
    // A snapshot behind the log, whose state has a stream's revision wrong: folding the
    // newer entries onto it fails. It still disagrees, is kept aside and replaced.
    let (dir, _) = populated();
    drop(datadir::open(dir.path(), Arc::new(SystemClock)).expect("reopen: snapshot at the end"));
    std::thread::sleep(std::time::Duration::from_millis(200));
    let path = dir.path().join(caseledger::ledger::snapshot::SNAPSHOT_FILE);
    let mut snap: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    snap["state"]["streams"]["agency-a0"] = json!(7);
    std::fs::write(&path, serde_json::to_vec(&snap).expect("json")).expect("write");
    // One more entry on that stream, past the snapshot (written without opening the
    // directory, which would fold onto the edited snapshot).
    let clock = Arc::new(SystemClock);
    let admin = KeyFile::read(&dir.path().join("admin.key.json")).expect("key");
    let store = datadir::open_sqlite(dir.path()).expect("store");
    let signer = datadir::read_signer(dir.path()).expect("signer");
    let ledger =
        caseledger::ledger::Ledger::open(store, signer, clock, Default::default()).expect("ledger");
    let data = json!({
        "name": "Agency 0", "region": "South", "domains": ["social"], "languages": [],
        "interpretation": false, "cultural_adaptations": [], "trafficking_experience": false,
        "eligibility": {"criteria": [], "notes": ""}
    });
    let wire = client::signed_event(&admin, "agency.updated", "agency-a0", data, Utc::now());
    let v = client::self_verified(&admin, &wire).expect("verified");
    ledger
        .submit_blocking("agency-a0".into(), vec![v], ExpectedRevision::Any)
        .expect("append");
    drop(ledger);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let out = caseledger(&["rebuild"], dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("DIFFERS FROM"), "{stdout}");
    assert_eq!(kept_aside(dir.path()).len(), 1);
    assert_rebuilds_cleanly(dir.path());
}
