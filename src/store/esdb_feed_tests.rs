//! Unit tests of waiting for the mirror to hold a target (`Shared::reach`), against a
//! mirror in a temporary directory and a fake scan: no server involved.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use super::super::esdb_mapping::tests::entry;
use super::super::esdb_mirror::{SeenEvent, MIRROR_FILE};
use super::super::{EventStore, StoredEntry};
use super::*;

/// A position in `$all` (`n` hundred, as the mirror tests use).
pub(crate) fn at(n: u64) -> AllPosition {
    AllPosition {
        commit: n * 100,
        prepare: n * 100,
    }
}

/// A fresh shared state over an empty mirror in a temporary directory.
pub(crate) fn shared() -> (tempfile::TempDir, Arc<Shared>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = EsdbConfig::parse("esdb://h:2113?tls=false").expect("parses");
    let mirror = Mirror::open(&dir.path().join(MIRROR_FILE), &cfg).expect("mirror");
    (dir, Arc::new(Shared::new(cfg, mirror)))
}

const LONG_GRACE: Duration = Duration::from_secs(30);

/// What `reach` did: its answer, how long it took, and how often it scanned.
fn reach_with(
    s: &Shared,
    p: AllPosition,
    grace: Duration,
    scan: impl Fn() -> Result<(), StoreError>,
) -> (Result<u64, StoreError>, Duration, usize) {
    reach_target(s, &Target::Position(p), grace, scan)
}

fn reach_target(
    s: &Shared,
    target: &Target,
    grace: Duration,
    scan: impl Fn() -> Result<(), StoreError>,
) -> (Result<u64, StoreError>, Duration, usize) {
    let scans = AtomicUsize::new(0);
    let start = Instant::now();
    let out = s.reach(target, grace, || {
        scans.fetch_add(1, Ordering::SeqCst);
        scan()
    });
    (out, start.elapsed(), scans.into_inner())
}

fn dropped() -> StoreError {
    StoreError::Unavailable("EventStoreDB at h:2113: subscription: connection refused".into())
}

#[test]
fn the_next_step_follows_the_mirror_and_the_feed() {
    let left = Duration::from_secs(1);
    assert!(matches!(
        reach_step(Some(3), None, left),
        ReachStep::Reached(3)
    ));
    assert!(matches!(reach_step(None, None, left), ReachStep::Wait));
    assert!(matches!(
        reach_step(None, None, Duration::ZERO),
        ReachStep::Scan
    ));
    assert!(matches!(
        reach_step(None, Some(&dropped()), left),
        ReachStep::Scan
    ));
    let corrupt = StoreError::Corrupt("stream jumps".into());
    match reach_step(None, Some(&corrupt), left) {
        ReachStep::Fail(StoreError::Corrupt(why)) => assert_eq!(why, "stream jumps"),
        other => panic!("a corrupt feed must fail at once: {other:?}"),
    }
    // What the mirror holds wins over the feed's health.
    assert!(matches!(
        reach_step(Some(0), Some(&corrupt), left),
        ReachStep::Reached(0)
    ));
}

#[test]
fn while_the_feed_is_down_reach_scans_at_once_instead_of_waiting_out_the_grace() {
    let (_dir, s) = shared();
    s.set_down(Some(dropped()));
    let (out, took, scans) = reach_with(&s, at(5), LONG_GRACE, || s.mirror.advance(at(5)));
    assert_eq!(out.expect("the scan reached it"), 0);
    assert_eq!(scans, 1);
    assert!(took < Duration::from_secs(5), "waited {took:?}");
}

#[test]
fn a_scan_that_fails_while_the_feed_is_down_names_both_reasons() {
    let (_dir, s) = shared();
    s.set_down(Some(dropped()));
    let (out, took, scans) = reach_with(&s, at(5), LONG_GRACE, || {
        Err(StoreError::Unavailable(
            "EventStoreDB at h:2113: scanning $all: refused".into(),
        ))
    });
    match out {
        Err(StoreError::Unavailable(why)) => {
            assert!(why.contains("scanning $all: refused"), "{why}");
            assert!(why.contains("subscription: connection refused"), "{why}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert_eq!(scans, 1, "one scan, not a retry loop");
    assert!(took < Duration::from_secs(5), "waited {took:?}");
}

#[test]
fn a_feed_stopped_by_corrupt_data_fails_at_once_without_scanning() {
    let (_dir, s) = shared();
    s.set_down(Some(StoreError::Corrupt("event id appears twice".into())));
    let (out, took, scans) = reach_with(&s, at(5), LONG_GRACE, || Ok(()));
    assert!(
        matches!(&out, Err(StoreError::Corrupt(why)) if why == "event id appears twice"),
        "{out:?}"
    );
    assert_eq!(scans, 0);
    assert!(took < Duration::from_secs(5), "waited {took:?}");
}

#[test]
fn a_drop_during_the_wait_ends_it() {
    let (_dir, s) = shared();
    let feed = {
        let s = s.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(100));
            s.set_down(Some(dropped()));
        })
    };
    let (out, took, scans) = reach_with(&s, at(5), LONG_GRACE, || s.mirror.advance(at(5)));
    feed.join().expect("feed");
    assert_eq!(out.expect("scanned"), 0);
    assert_eq!(scans, 1);
    assert!(took < Duration::from_secs(5), "waited {took:?}");
}

#[test]
fn a_live_feed_is_waited_for_and_no_scan_is_needed() {
    let (_dir, s) = shared();
    let feed = {
        let s = s.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            s.mirror.advance(at(5)).expect("delivered");
        })
    };
    let (out, took, scans) = reach_with(&s, at(5), LONG_GRACE, || Ok(()));
    feed.join().expect("feed");
    assert_eq!(out.expect("reached"), 0);
    assert_eq!(scans, 0, "the subscription delivered it");
    assert!(took < Duration::from_secs(5), "waited {took:?}");
}

#[test]
fn a_live_feed_that_delivers_nothing_is_scanned_after_the_grace() {
    let (_dir, s) = shared();
    let grace = Duration::from_millis(100);
    let (out, took, scans) = reach_with(&s, at(5), grace, || s.mirror.advance(at(5)));
    assert_eq!(out.expect("scanned"), 0);
    assert_eq!(scans, 1);
    assert!(took >= grace, "scanned after {took:?}, before the grace");
}

/// Feeds `e` to the mirror at `n` hundred, as the subscription would.
fn deliver(s: &Shared, n: u64, e: &StoredEntry) {
    let stream = s.cfg.stream_name(&e.stream);
    let ev = SeenEvent {
        position: at(n),
        stream: &stream,
        revision: e.revision,
        event_id: e.event_id,
        data: &e.bytes,
    };
    s.mirror.ingest(&[ev], None).expect("delivered");
}

#[test]
fn a_commit_waits_for_its_own_events_not_for_a_position() {
    let (_dir, s) = shared();
    let a0 = entry("a", 0, 0);
    let target = Target::appended(std::slice::from_ref(&a0));
    let feed = {
        let (s, a0) = (s.clone(), a0.clone());
        thread::spawn(move || {
            // First the position moves past where the append could be (foreign events, or
            // a reported position), without our event: that must not end the wait.
            thread::sleep(Duration::from_millis(30));
            s.mirror.advance(at(7)).expect("advance");
            thread::sleep(Duration::from_millis(50));
            deliver(&s, 8, &a0);
        })
    };
    let (out, took, scans) = reach_target(&s, &target, LONG_GRACE, || Ok(()));
    feed.join().expect("feed");
    // The wait ended with the entry delivered, not at the position's move before it (no
    // bound on `took`: the feeder's clock starts before this thread's).
    assert_eq!(
        out.expect("reached"),
        1,
        "the mirror holds the entry: {took:?}"
    );
    assert_eq!(scans, 0, "the subscription delivered it");
    assert!(s
        .mirror
        .store()
        .find_event(&a0.event_id)
        .expect("find")
        .is_some());
}

#[test]
fn events_not_delivered_within_the_grace_are_scanned_for_even_past_a_reported_position() {
    let (_dir, s) = shared();
    let a0 = entry("a", 0, 0);
    s.mirror.advance(at(20)).expect("advance");
    let target = Target::appended(std::slice::from_ref(&a0));
    let grace = Duration::from_millis(100);
    let (out, took, scans) = reach_target(&s, &target, grace, || Ok(()));
    assert_eq!(scans, 1, "a position seen past the append proves nothing");
    assert!(took >= grace, "scanned after {took:?}, before the grace");
    assert_eq!(out.expect("the fake scan succeeded"), 0);
}
