//! Unit tests of the scan: the rule that decides what a page may claim, and the scan loop
//! against a fake cluster node (a follower that lags, or one that refuses leader reads)
//! feeding a mirror in a temporary directory. No server involved.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use eventstore::{Endpoint, RecordedEvent};

use super::super::esdb_feed::tests::{at, shared};
use super::super::esdb_mapping::tests::entry;
use super::super::{EventStore, StoredEntry};
use super::*;

fn page(last: Option<u64>, full: bool, leader: bool) -> PageEnd {
    PageEnd {
        last: last.map(at),
        full,
        leader,
    }
}

#[test]
fn a_follower_page_that_ends_short_of_the_target_claims_only_what_it_read() {
    let from = Some(at(5));
    let follower = |last, full| judge(from, at(10), page(last, full, false));
    assert_eq!(follower(Some(7), false), Verdict::Behind(Some(at(7))));
    assert_eq!(follower(None, false), Verdict::Behind(None), "empty page");
    assert_eq!(
        follower(Some(5), false),
        Verdict::Behind(None),
        "only the repeat"
    );
    assert_eq!(follower(Some(10), false), Verdict::Reached(at(10)));
    assert_eq!(follower(Some(12), false), Verdict::Reached(at(12)));
}

#[test]
fn the_end_of_the_leaders_all_reaches_the_target() {
    let from = Some(at(5));
    let leader = |last, full| judge(from, at(10), page(last, full, true));
    assert_eq!(leader(Some(7), false), Verdict::Reached(at(10)));
    assert_eq!(leader(None, false), Verdict::Reached(at(10)));
    assert_eq!(leader(Some(12), false), Verdict::Reached(at(12)));
    // A full page may not be the end, even on the leader.
    assert_eq!(leader(Some(7), true), Verdict::More(at(7)));
    assert_eq!(
        judge(None, at(10), page(Some(3), true, false)),
        Verdict::More(at(3))
    );
}

/// A cluster node serving `$all`: the whole log, of which it holds the first `holds`
/// events (a follower catching up), refusing the first `refusals` reads as not the leader.
struct FakeNode {
    log: Vec<(u64, String, u64, uuid::Uuid, Vec<u8>)>,
    holds: AtomicUsize,
    refusals: AtomicUsize,
    leader: bool,
    reads: Mutex<Vec<Option<AllPosition>>>,
}

impl FakeNode {
    /// `$all`: a foreign event at 1, our entry `agency-a` revision 0 at 8, a foreign one
    /// at 10.
    fn new(holds: usize, leader: bool) -> (Self, StoredEntry) {
        let a0 = entry("a", 0, 0);
        let foreign = |n: u64| {
            (
                n,
                format!("$stats-{n}"),
                0,
                uuid::Uuid::new_v4(),
                b"{}".to_vec(),
            )
        };
        let ours = (
            8,
            format!("caseledger-{}", a0.stream),
            0,
            a0.event_id,
            a0.bytes.clone(),
        );
        let node = Self {
            log: vec![foreign(1), ours, foreign(10)],
            holds: AtomicUsize::new(holds),
            refusals: AtomicUsize::new(0),
            leader,
            reads: Mutex::new(Vec::new()),
        };
        (node, a0)
    }
}

impl AllReader for FakeNode {
    fn page(
        &self,
        from: Option<AllPosition>,
        max: usize,
    ) -> impl Future<Output = eventstore::Result<Vec<ResolvedEvent>>> + Send {
        self.reads.lock().expect("reads").push(from);
        let refused = self
            .refusals
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        let holds = self.holds.load(Ordering::SeqCst);
        let events = self.log[..holds]
            .iter()
            .filter(|(n, ..)| from.is_none_or(|f| at(*n) >= f))
            .take(max)
            .map(|(n, stream, revision, id, data)| ResolvedEvent {
                event: Some(RecordedEvent {
                    stream_id: stream.clone(),
                    id: *id,
                    revision: *revision,
                    event_type: "test".into(),
                    data: data.clone().into(),
                    metadata: Default::default(),
                    custom_metadata: Default::default(),
                    is_json: true,
                    position: from_pos(at(*n)),
                    created: chrono::Utc::now(),
                }),
                link: None,
                commit_position: None,
            })
            .collect();
        let out = match refused {
            true => Err(eventstore::Error::NotLeaderException(Endpoint {
                host: "esdb1".into(),
                port: 2113,
            })),
            false => Ok(events),
        };
        async move { out }
    }

    fn leader_only(&self) -> bool {
        self.leader
    }
}

fn limits(timeout_ms: u64) -> ScanLimits {
    ScanLimits {
        page: 2,
        timeout: Duration::from_millis(timeout_ms),
    }
}

#[tokio::test]
async fn a_lagging_follower_never_makes_the_mirror_skip_our_events() {
    let (_dir, s) = shared();
    // The head (at 10) came from the leader; the node that answers holds only up to 1.
    let (node, a0) = FakeNode::new(1, false);
    let out = scan(&node, &s, at(10), limits(1_000)).await;
    match out {
        Err(StoreError::Unavailable(why)) => {
            assert!(why.contains("EventStoreDB at h:2113"), "{why}");
            assert!(why.contains("before 1000/1000"), "{why}");
        }
        other => panic!("a node behind must not count as reaching the head: {other:?}"),
    }
    assert_eq!(
        s.mirror.tip().seen(),
        Some(at(1)),
        "claims only what it read"
    );
    assert!(node.reads.lock().expect("reads").len() > 1, "it read again");
    // Once the node has caught up, the entry between is not lost.
    node.holds.store(3, Ordering::SeqCst);
    scan(&node, &s, at(10), limits(200))
        .await
        .expect("caught up");
    assert_eq!(s.mirror.tip().seen(), Some(at(10)));
    assert_eq!(s.mirror.store().read_all(0, 10).expect("all"), vec![a0]);
}

#[tokio::test]
async fn a_scan_reads_again_until_the_follower_catches_up() {
    let (_dir, s) = shared();
    let (node, a0) = FakeNode::new(1, false);
    let node = Arc::new(node);
    let catch_up = {
        let node = node.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            node.holds.store(3, Ordering::SeqCst);
        })
    };
    scan(node.as_ref(), &s, at(10), limits(5_000))
        .await
        .expect("reached once the node caught up");
    catch_up.await.expect("catch-up task");
    assert_eq!(s.mirror.tip().seen(), Some(at(10)));
    assert_eq!(s.mirror.store().size().expect("size"), 1);
    assert_eq!(s.mirror.store().read_all(0, 1).expect("all"), vec![a0]);
}

#[tokio::test]
async fn the_leaders_end_of_all_claims_a_target_past_its_last_event() {
    let (_dir, s) = shared();
    // The target is past every event (a position an append reported, say).
    let (node, _) = FakeNode::new(3, true);
    scan(&node, &s, at(11), limits(200)).await.expect("reached");
    assert_eq!(s.mirror.tip().seen(), Some(at(11)));
    assert_eq!(s.mirror.tip().size(), 1);
}

#[tokio::test]
async fn a_follower_refusing_a_leader_read_is_asked_again() {
    let (_dir, s) = shared();
    let (node, _) = FakeNode::new(3, true);
    node.refusals.store(2, Ordering::SeqCst);
    scan(&node, &s, at(10), limits(5_000))
        .await
        .expect("read from the leader after two refusals");
    assert_eq!(s.mirror.tip().seen(), Some(at(10)));
    assert_eq!(
        node.reads.lock().expect("reads").len(),
        4,
        "2 refused, 2 pages"
    );
}

#[tokio::test]
async fn refusals_until_the_deadline_fail_naming_eventstoredb() {
    let (_dir, s) = shared();
    let (node, _) = FakeNode::new(3, true);
    node.refusals.store(usize::MAX, Ordering::SeqCst);
    match scan(&node, &s, at(10), limits(100)).await {
        Err(StoreError::Unavailable(why)) => {
            assert!(
                why.contains("EventStoreDB at h:2113: scanning $all: no leader"),
                "{why}"
            )
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert_eq!(s.mirror.tip().seen(), None, "nothing claimed");
}
