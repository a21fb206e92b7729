//! Opening and initialising data directories: the writer lock and unfinished inits.

use super::*;
use crate::ledger::SystemClock;

#[test]
fn one_process_at_a_time_writes_to_a_data_directory() {
    let dir = tempfile::tempdir().expect("tmp");
    let clock = Arc::new(SystemClock);
    init(dir.path(), &InitOptions::default(), clock.clone()).expect("init");
    let (first, _) = open(dir.path(), clock.clone()).expect("open");
    let again = first.clone();
    drop(first);
    // A clone still holds the lock; a second opening is refused, and says why.
    match open(dir.path(), clock.clone()) {
        Err(DataDirError::Invalid(why)) => assert!(why.contains("in use"), "{why}"),
        other => panic!("opened twice: {:?}", other.map(|_| ())),
    }
    drop(again);
    // The writer thread holds the lock too, until it has finished what was queued; opening
    // waits for it.
    let (held, _) = open(dir.path(), clock.clone()).expect("open after the first closed");
    // Deleting the lock file as "stale" under a running server does not let a second in.
    std::fs::remove_file(dir.path().join(LOCK_FILE)).expect("remove the lock file");
    match open(dir.path(), clock) {
        Err(DataDirError::Invalid(why)) => assert!(why.contains("in use"), "{why}"),
        other => panic!("opened twice: {:?}", other.map(|_| ())),
    }
    drop(held);
}

#[test]
fn init_refuses_the_side_files_of_a_removed_database() {
    let clock = Arc::new(SystemClock);
    for side in ["-wal", "-shm"] {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join(format!("{DB_FILE}{side}")), "old").expect("write");
        match init(dir.path(), &InitOptions::default(), clock.clone()) {
            Err(DataDirError::Invalid(why)) => assert!(why.contains(side), "{why}"),
            other => panic!("initialised: {:?}", other.map(|_| ())),
        }
        // Nothing was created.
        assert!(!dir.path().join(LOG_KEY_FILE).exists());
    }
}

#[test]
fn an_init_that_did_not_finish_is_named_not_served_or_overwritten() {
    let clock = Arc::new(SystemClock);
    // A crash between the genesis entries: only the first was committed.
    let dir = tempfile::tempdir().expect("tmp");
    init(dir.path(), &InitOptions::default(), clock.clone()).expect("init");
    let db = rusqlite::Connection::open(dir.path().join(DB_FILE)).expect("sqlite");
    db.execute("DELETE FROM entries WHERE idx >= 1", [])
        .expect("delete");
    drop(db);
    match open(dir.path(), clock.clone()) {
        Err(DataDirError::Invalid(why)) => assert!(why.contains("did not finish"), "{why}"),
        other => panic!("opened: {:?}", other.map(|_| ())),
    }
    // A crash after the log key was written, before the ledger: a retry says so.
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join(LOG_KEY_FILE), "left over").expect("write");
    match init(dir.path(), &InitOptions::default(), clock.clone()) {
        Err(DataDirError::Invalid(why)) => assert!(why.contains("did not finish"), "{why}"),
        other => panic!("initialised: {:?}", other.map(|_| ())),
    }
    // Both keys and no ledger.db: an EventStoreDB node's directory, whose keys are never
    // to be thrown away on a hint.
    std::fs::write(dir.path().join(SERVICE_KEY_FILE), "{}").expect("write");
    match init(dir.path(), &InitOptions::default(), clock) {
        Err(DataDirError::Invalid(why)) => {
            assert!(why.contains("--store") && !why.contains("remove"), "{why}")
        }
        other => panic!("initialised: {:?}", other.map(|_| ())),
    }
}

#[test]
fn an_init_with_a_bad_option_creates_nothing() {
    let clock = Arc::new(SystemClock);
    let parent = tempfile::tempdir().expect("tmp");
    let dir = parent.path().join("data");
    let bad = [
        (
            "--admin",
            InitOptions {
                admin: "Bad_Admin".into(),
                ..InitOptions::default()
            },
        ),
        // The service principal's id: its genesis registration would collide.
        (
            "ledger-service",
            InitOptions {
                admin: SERVICE_PRINCIPAL.into(),
                ..InitOptions::default()
            },
        ),
        // Its key file would be the service principal's `service.key.json`.
        (
            "service.key.json",
            InitOptions {
                admin: "service".into(),
                ..InitOptions::default()
            },
        ),
        (
            "--agency",
            InitOptions {
                agency: "Not A Slug".into(),
                ..InitOptions::default()
            },
        ),
        (
            "--origin",
            InitOptions {
                origin: Some("bad origin".into()),
                ..InitOptions::default()
            },
        ),
    ];
    for (named, opts) in bad {
        match init(&dir, &opts, clock.clone()) {
            Err(DataDirError::Invalid(why)) => assert!(why.contains(named), "{why}"),
            other => panic!("{named}: {:?}", other.map(|_| ())),
        }
        assert!(!dir.exists(), "{named}: the data directory was created");
    }
    init(&dir, &InitOptions::default(), clock).expect("a good init afterwards");
}

#[test]
fn an_io_error_is_reported_once() {
    let parent = tempfile::tempdir().expect("tmp");
    let file = parent.path().join("a-file");
    std::fs::write(&file, "not a directory").expect("write");
    let e = init(
        &file.join("data"),
        &InitOptions::default(),
        Arc::new(SystemClock),
    )
    .map(|_| ())
    .expect_err("cannot create a directory under a file");
    let report = format!("{:#}", anyhow::Error::from(e));
    assert_eq!(report.matches("os error").count(), 1, "{report}");
}

#[test]
fn an_admin_key_file_in_the_way_is_named_before_anything_is_written() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("admin.key.json"), "{}").expect("write");
    match init(dir.path(), &InitOptions::default(), Arc::new(SystemClock)) {
        Err(DataDirError::Invalid(why)) => assert!(why.contains("admin.key.json"), "{why}"),
        other => panic!("initialised: {:?}", other.map(|_| ())),
    }
    assert!(
        !dir.path().join(LOG_KEY_FILE).exists(),
        "no key was written"
    );
}

#[cfg(unix)]
#[test]
fn a_snapshot_is_written_owner_only_and_never_through_a_link() {
    use std::os::unix::fs::PermissionsExt;
    let clock = Arc::new(SystemClock);
    let dir = tempfile::tempdir().expect("tmp");
    init(dir.path(), &InitOptions::default(), clock.clone()).expect("init");
    let (ledger, _) = open(dir.path(), clock).expect("open");
    let path = dir.path().join(snapshot::SNAPSHOT_FILE);
    // A file someone else could read, then a link to a file outside: neither is written
    // through, and what is left is the snapshot, owner-only.
    let outside = tempfile::NamedTempFile::new().expect("outside");
    std::fs::write(outside.path(), "keep me").expect("write");
    // Also a link where an earlier version put its temporary file.
    let old_tmp = path.with_extension("tmp");
    for planted in ["readable", "link", "old temporary name"] {
        let _ = std::fs::remove_file(&path);
        match planted {
            "readable" => {
                std::fs::write(&path, "old").expect("write");
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
                    .expect("chmod");
            }
            "link" => std::os::unix::fs::symlink(outside.path(), &path).expect("symlink"),
            _ => std::os::unix::fs::symlink(outside.path(), &old_tmp).expect("symlink"),
        }
        snapshots::save_snapshot(dir.path(), &ledger);
        let meta = std::fs::symlink_metadata(&path).expect("snapshot");
        assert!(meta.is_file(), "{planted}");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{planted}");
        assert!(snapshot::load(&path, ledger.store().as_ref())
            .expect("load")
            .is_some());
    }
    assert_eq!(
        std::fs::read_to_string(outside.path()).expect("read"),
        "keep me"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".projections"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_service_key_of_another_ledger_is_refused_at_open() {
    let clock = Arc::new(SystemClock);
    let (a, b) = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
    );
    init(a.path(), &InitOptions::default(), clock.clone()).expect("init a");
    init(b.path(), &InitOptions::default(), clock.clone()).expect("init b");
    std::fs::remove_file(a.path().join(SERVICE_KEY_FILE)).expect("remove");
    std::fs::copy(
        b.path().join(SERVICE_KEY_FILE),
        a.path().join(SERVICE_KEY_FILE),
    )
    .expect("copy");
    match open(a.path(), clock.clone()) {
        Err(DataDirError::Invalid(why)) => {
            assert!(why.contains("is not a key this log registered"), "{why}")
        }
        other => panic!("opened: {:?}", other.map(|_| ())),
    }
    // This log's own admin key in its place: registered, but no service principal's.
    std::fs::remove_file(b.path().join(SERVICE_KEY_FILE)).expect("remove");
    std::fs::copy(
        b.path().join("admin.key.json"),
        b.path().join(SERVICE_KEY_FILE),
    )
    .expect("copy");
    match open(b.path(), clock) {
        Err(DataDirError::Invalid(why)) => assert!(why.contains("service role"), "{why}"),
        other => panic!("opened: {:?}", other.map(|_| ())),
    }
}

#[test]
fn a_shared_log_with_half_a_genesis_is_refused_at_open() {
    // A shared store (here SQLite standing in for EventStoreDB) whose `init` stopped after
    // entry 0: the keys are in the directory, the log has no admin token.
    let clock = Arc::new(SystemClock);
    let dir = tempfile::tempdir().expect("tmp");
    init(dir.path(), &InitOptions::default(), clock.clone()).expect("init");
    let db = rusqlite::Connection::open(dir.path().join(DB_FILE)).expect("sqlite");
    db.execute_batch("DELETE FROM entries WHERE idx >= 1; DELETE FROM checkpoints;")
        .expect("delete");
    drop(db);
    let store = open_sqlite(dir.path()).expect("store");
    match open_shared(dir.path(), store, clock) {
        Err(DataDirError::Invalid(why)) => assert!(why.contains("1 of the 3 genesis"), "{why}"),
        other => panic!("opened: {:?}", other.map(|_| ())),
    }
}

#[cfg(unix)]
#[test]
fn a_data_directory_open_to_other_users_is_named() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tmp");
    init(dir.path(), &InitOptions::default(), Arc::new(SystemClock)).expect("init");
    assert_eq!(checks::open_to_others(dir.path()), None);
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let warning = checks::open_to_others(dir.path()).expect("named");
    assert!(
        warning.contains("mode 755") && warning.contains("chmod 700"),
        "{warning}"
    );
}

#[test]
fn a_revoked_service_key_still_opens() {
    // Admins may revoke the service key; the node must still start (only token issuance
    // fails until a new service principal's key is in place).
    let clock = Arc::new(SystemClock);
    let dir = tempfile::tempdir().expect("tmp");
    init(dir.path(), &InitOptions::default(), clock.clone()).expect("init");
    let (ledger, service) = open(dir.path(), clock.clone()).expect("open");
    let admin = KeyFile::read(&dir.path().join("admin.key.json")).expect("admin key");
    let stream = format!("principal-{SERVICE_PRINCIPAL}");
    let data = serde_json::json!({"keyid": service.keyid().to_string(), "reason": "rotated"});
    let wire =
        crate::client::signed_event(&admin, "principal.key_revoked", &stream, data, clock.now());
    let v = crate::client::self_verified(&admin, &wire).expect("verified");
    ledger
        .submit_blocking(stream, vec![v], crate::ledger::ExpectedRevision::Any)
        .expect("revoked");
    drop(ledger);
    open(dir.path(), clock).expect("opens with a revoked service key");
}

#[test]
fn an_unfinished_snapshot_is_removed_at_open() {
    let clock = Arc::new(SystemClock);
    let dir = tempfile::tempdir().expect("tmp");
    init(dir.path(), &InitOptions::default(), clock.clone()).expect("init");
    // What a save killed before its rename leaves: the projections, under a temporary name.
    let left = dir.path().join(".projections.snapshot-AbC123");
    std::fs::write(&left, "{}").expect("write");
    let other = dir.path().join("notes.txt");
    std::fs::write(&other, "the operator's").expect("write");
    drop(open(dir.path(), clock).expect("open"));
    assert!(!left.exists());
    assert!(other.exists());
}

#[test]
fn init_removes_a_key_copy_an_interrupted_write_left() {
    let dir = tempfile::tempdir().expect("tmp");
    // What a kill between writing a key and linking it into place leaves: a private key
    // under a temporary name.
    let left = dir.path().join(".caseledger-key-AbC123");
    std::fs::write(&left, "a secret").expect("write");
    init(dir.path(), &InitOptions::default(), Arc::new(SystemClock)).expect("init");
    assert!(!left.exists());
}

#[test]
fn init_refuses_a_shared_prefix_holding_another_ledgers_checkpoints() {
    // Entry streams deleted, checkpoint stream left behind: a new ledger there could never
    // start (no checkpoint of the stream is its key's), so init refuses before any key.
    let clock = Arc::new(SystemClock);
    let empty = tempfile::tempdir().expect("tmp");
    let inner: Arc<dyn EventStore> = Arc::new(
        crate::store::sqlite::SqliteStore::open(&empty.path().join("shared.db")).expect("store"),
    );
    let mut shared = crate::store::scripted::Scripted::new(inner, |_| None);
    shared.foreign_checkpoints = 2;
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("node");
    match init_on(
        &data,
        &InitOptions::default(),
        clock,
        Some(Arc::new(shared)),
    ) {
        Err(DataDirError::Invalid(why)) => {
            assert!(
                why.contains("2 checkpoint(s)") && why.contains("prefix"),
                "{why}"
            )
        }
        other => panic!("initialised: {:?}", other.map(|_| ())),
    }
    assert!(!has_keys(&data), "no key written");
}
