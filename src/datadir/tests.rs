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
    open(dir.path(), clock).expect("open after the first closed");
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
