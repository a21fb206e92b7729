//! The follower against stores that fail, and the report permits.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::datadir::{self, InitOptions};
use crate::ledger::SystemClock;
use crate::store::scripted::Scripted;

/// A fresh data directory's store (genesis entries only), behind `read_fails`.
fn store(read_fails: crate::store::scripted::Script) -> (tempfile::TempDir, Arc<Scripted>) {
    let dir = tempfile::tempdir().expect("tmp");
    datadir::init(dir.path(), &InitOptions::default(), Arc::new(SystemClock)).expect("init");
    let inner = datadir::open_sqlite(dir.path()).expect("open");
    let mut scripted = Scripted::new(inner, |_| None);
    scripted.read_fails = read_fails;
    (dir, Arc::new(scripted))
}

fn stopped_gauge(metrics: &Metrics) -> Option<String> {
    metrics
        .render()
        .lines()
        .find(|l| l.starts_with("caseledger_reports_projection_stopped "))
        .map(str::to_owned)
}

#[test]
fn a_store_that_does_not_answer_for_a_while_is_tried_again() {
    let (_dir, store) =
        store(|n| (n < 3).then(|| StoreError::Unavailable("database is locked".into())));
    let size = store.size().expect("size");
    assert!(size > 0);
    let metrics = Metrics::new();
    let service = ReportService::start(store.clone(), ReportConfig::default(), Some(&metrics));
    assert_eq!(service.wait_for(size, Duration::from_secs(20)), Ok(size));
    assert_eq!(service.following(), Following::Following);
    assert!(
        store.reads() > 3,
        "three failed reads, then the ones that folded"
    );
    assert_eq!(
        stopped_gauge(&metrics).as_deref(),
        Some("caseledger_reports_projection_stopped 0")
    );
}

#[test]
fn a_store_that_keeps_failing_is_shown_as_retrying() {
    let (_dir, store) = store(|_| Some(StoreError::Unavailable("disk I/O error".into())));
    let size = store.size().expect("size");
    let metrics = Metrics::new();
    let service = ReportService::start(store.clone(), ReportConfig::default(), Some(&metrics));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while service.following() != Following::Retrying && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(service.following(), Following::Retrying);
    let gauge = |name: &str| {
        metrics
            .render()
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")).map(str::to_owned))
    };
    assert_eq!(
        gauge("caseledger_reports_projection_retrying").as_deref(),
        Some("1")
    );
    assert_eq!(
        gauge("caseledger_reports_projection_stopped").as_deref(),
        Some("0")
    );
    assert_eq!(
        gauge("caseledger_reports_projection_lag"),
        Some(size.to_string())
    );
}

#[test]
fn a_damaged_row_stops_the_projection() {
    let dir = tempfile::tempdir().expect("tmp");
    datadir::init(dir.path(), &InitOptions::default(), Arc::new(SystemClock)).expect("init");
    let db = rusqlite::Connection::open(dir.path().join(datadir::DB_FILE)).expect("db");
    db.execute(
        "UPDATE entries SET bytes = 'text, not a blob' WHERE idx = 1",
        [],
    )
    .expect("damage");
    drop(db);
    let store = datadir::open_sqlite(dir.path()).expect("open");
    let metrics = Metrics::new();
    let service = ReportService::start(store, ReportConfig::default(), Some(&metrics));
    match service.wait_for(1, Duration::from_secs(20)) {
        Err(ReportError::Stopped(why)) => {
            assert!(why.starts_with("store integrity: sqlite"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(service.following(), Following::Stopped);
    assert_eq!(
        stopped_gauge(&metrics).as_deref(),
        Some("caseledger_reports_projection_stopped 1")
    );
}

#[test]
fn a_store_whose_data_does_not_hold_together_stops_the_projection() {
    let (_dir, store) = store(|_| Some(StoreError::Corrupt("leaf 3 differs".into())));
    let metrics = Metrics::new();
    let service = ReportService::start(store.clone(), ReportConfig::default(), Some(&metrics));
    assert_eq!(
        service.wait_for(1, Duration::from_secs(20)),
        Err(ReportError::Stopped(
            "store integrity: leaf 3 differs".into()
        ))
    );
    assert_eq!(service.following(), Following::Stopped);
    assert_eq!(
        stopped_gauge(&metrics).as_deref(),
        Some("caseledger_reports_projection_stopped 1")
    );
    // It does not try again.
    let reads = store.reads();
    std::thread::sleep(FIRST_RETRY * 3);
    assert_eq!(store.reads(), reads);
}
