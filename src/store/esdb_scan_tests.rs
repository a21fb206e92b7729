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

fn page(last: Option<u64>, full: bool) -> PageEnd {
    PageEnd {
        last: last.map(at),
        full,
    }
}

#[test]
fn a_short_page_claims_only_its_last_event_whoever_answered() {
    let from = Some(at(5));
    let short = |last| judge(from, page(last, false));
    assert_eq!(short(Some(7)), Verdict::Ended(Some(at(7))));
    assert_eq!(short(Some(12)), Verdict::Ended(Some(at(12))));
    assert_eq!(short(None), Verdict::Ended(None), "empty page");
    assert_eq!(short(Some(5)), Verdict::Ended(None), "only the repeat");
    assert_eq!(short(Some(7)).claimed(), Some(at(7)));
}

#[test]
fn a_full_page_claims_its_last_event_and_reads_on() {
    assert_eq!(
        judge(Some(at(5)), page(Some(7), true)),
        Verdict::More(at(7))
    );
    assert_eq!(judge(None, page(Some(3), true)), Verdict::More(at(3)));
}

type Logged = (u64, String, u64, uuid::Uuid, Vec<u8>);

/// A cluster node serving `$all`: the whole log, of which it holds the first `holds`
/// events (a follower catching up, or a deposed leader cut off from the cluster). From
/// read number `refuse_after` on it refuses `refusals` reads with `refusal`; each read
/// takes `delay`; a page holds at most `page_bytes` of data (and one event more).
struct FakeNode {
    log: Vec<Logged>,
    page_bytes: usize,
    holds: AtomicUsize,
    refusals: AtomicUsize,
    refuse_after: usize,
    refusal: eventstore::Error,
    delay: Duration,
    reads: Mutex<Vec<Option<AllPosition>>>,
}

fn foreign(n: u64) -> Logged {
    (
        n,
        format!("$stats-{n}"),
        0,
        uuid::Uuid::new_v4(),
        b"{}".to_vec(),
    )
}

fn not_leader() -> eventstore::Error {
    eventstore::Error::NotLeaderException(Endpoint {
        host: "esdb1".into(),
        port: 2113,
    })
}

impl FakeNode {
    /// `$all`: a foreign event at 1, our entry `agency-a` revision 0 at 8, a foreign one
    /// at 10.
    fn new(holds: usize) -> (Self, StoredEntry) {
        let a0 = entry("a", 0, 0);
        let ours = (
            8,
            format!("caseledger-{}", a0.stream),
            0,
            a0.event_id,
            a0.bytes.clone(),
        );
        let node = Self {
            log: vec![foreign(1), ours, foreign(10)],
            page_bytes: usize::MAX,
            holds: AtomicUsize::new(holds),
            refusals: AtomicUsize::new(0),
            refuse_after: 0,
            refusal: not_leader(),
            delay: Duration::ZERO,
            reads: Mutex::new(Vec::new()),
        };
        (node, a0)
    }

    /// Foreign events at 1..=`n`, then our entry at `n + 1`: a long catch-up.
    fn long(n: u64) -> (Self, StoredEntry) {
        let (mut node, a0) = Self::new(0);
        let ours = node.log.remove(1);
        node.log = (1..=n).map(foreign).collect();
        node.log.push((n + 1, ours.1, ours.2, ours.3, ours.4));
        node.holds.store(node.log.len(), Ordering::SeqCst);
        (node, a0)
    }
}

impl AllReader for FakeNode {
    fn page(
        &self,
        from: Option<AllPosition>,
        max: usize,
    ) -> impl Future<Output = eventstore::Result<Page>> + Send {
        let read_no = {
            let mut reads = self.reads.lock().expect("reads");
            reads.push(from);
            reads.len() - 1
        };
        let refused = read_no >= self.refuse_after
            && self
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
            });
        let mut page = Page::default();
        for ev in events {
            if !page.push(ev, self.page_bytes) {
                break;
            }
        }
        let out = match refused {
            true => Err(self.refusal.clone()),
            false => Ok(page),
        };
        let delay = self.delay;
        async move {
            tokio::time::sleep(delay).await;
            out
        }
    }
}

fn limits(timeout_ms: u64) -> ScanLimits {
    ScanLimits {
        page: 2,
        timeout: Duration::from_millis(timeout_ms),
    }
}

pub(super) fn unavailable_why(out: Result<(), StoreError>) -> String {
    match out {
        Err(StoreError::Unavailable(why)) => why,
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

fn head(n: u64) -> Target {
    Target::Position(at(n))
}

#[tokio::test]
async fn a_lagging_follower_never_makes_the_mirror_skip_our_events() {
    let (_dir, s) = shared();
    // The head (at 10) came from the leader; the node that answers holds only up to 1.
    let (node, a0) = FakeNode::new(1);
    let why = unavailable_why(scan(&node, &s, &head(10), limits(1_000)).await);
    assert!(why.contains("EventStoreDB at h:2113"), "{why}");
    assert!(why.contains("ends at 100/100"), "{why}");
    assert!(why.contains("the event at 1000/1000"), "{why}");
    assert_eq!(
        s.mirror.tip().seen(),
        Some(at(1)),
        "claims only what it read"
    );
    assert!(node.reads.lock().expect("reads").len() > 1, "it read again");
    // Once the node has caught up, the entry between is not lost.
    node.holds.store(3, Ordering::SeqCst);
    scan(&node, &s, &head(10), limits(200))
        .await
        .expect("caught up");
    assert_eq!(s.mirror.tip().seen(), Some(at(10)));
    assert_eq!(s.mirror.store().read_all(0, 10).expect("all"), vec![a0]);
}

#[tokio::test]
async fn a_deposed_leader_missing_our_append_never_makes_the_mirror_skip_it() {
    let (_dir, s) = shared();
    // Our entry (at 8) was acknowledged by the new leader; the node that answers our leader
    // reads is the old leader, cut off before it: its `$all` ends at 1.
    let (node, a0) = FakeNode::new(1);
    let target = Target::appended(std::slice::from_ref(&a0));
    let why = unavailable_why(scan(&node, &s, &target, limits(300)).await);
    assert!(
        why.contains("EventStoreDB at h:2113: scanning $all"),
        "{why}"
    );
    assert!(why.contains(&a0.event_id.to_string()), "{why}");
    assert_eq!(s.mirror.tip().seen(), Some(at(1)), "nothing past its end");
    node.holds.store(3, Ordering::SeqCst);
    scan(&node, &s, &target, limits(300)).await.expect("found");
    assert_eq!(s.mirror.store().read_all(0, 10).expect("all"), vec![a0]);
}

#[tokio::test]
async fn a_short_page_never_claims_a_target_past_its_last_event() {
    let (_dir, s) = shared();
    // The node holds everything, up to 10, and answers every read: a target at 11 (past
    // its last event) is not seen by reading it, so the scan fails rather than claim it.
    let (node, _) = FakeNode::new(3);
    let why = unavailable_why(scan(&node, &s, &head(11), limits(200)).await);
    assert!(why.contains("ends at 1000/1000"), "{why}");
    assert_eq!(s.mirror.tip().seen(), Some(at(10)), "only what it read");
    assert_eq!(s.mirror.tip().size(), 1);
}

#[tokio::test]
async fn a_scan_for_our_entry_stops_at_the_page_that_holds_it() {
    let (_dir, s) = shared();
    let (node, a0) = FakeNode::new(3);
    let target = Target::appended(std::slice::from_ref(&a0));
    scan(&node, &s, &target, limits(200)).await.expect("found");
    // Pages of 2: [1, 8] holds it; no need to read on to 10.
    assert_eq!(s.mirror.tip().seen(), Some(at(8)));
    assert_eq!(node.reads.lock().expect("reads").len(), 1);
    assert_eq!(s.mirror.store().read_all(0, 1).expect("all"), vec![a0]);
}

#[tokio::test]
async fn a_scan_reads_again_until_the_follower_catches_up() {
    let (_dir, s) = shared();
    let (node, a0) = FakeNode::new(1);
    let node = Arc::new(node);
    let catch_up = {
        let node = node.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            node.holds.store(3, Ordering::SeqCst);
        })
    };
    scan(node.as_ref(), &s, &head(10), limits(5_000))
        .await
        .expect("reached once the node caught up");
    catch_up.await.expect("catch-up task");
    assert_eq!(s.mirror.tip().seen(), Some(at(10)));
    assert_eq!(s.mirror.store().size().expect("size"), 1);
    assert_eq!(s.mirror.store().read_all(0, 1).expect("all"), vec![a0]);
}

#[tokio::test]
async fn a_follower_refusing_a_leader_read_is_asked_again() {
    let (_dir, s) = shared();
    let (node, _) = FakeNode::new(3);
    node.refusals.store(2, Ordering::SeqCst);
    scan(&node, &s, &head(10), limits(5_000))
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
async fn a_node_not_ready_during_an_election_is_asked_again() {
    let (_dir, s) = shared();
    let (mut node, _) = FakeNode::new(3);
    // What the crate makes of gRPC `Unavailable` "Server Is Not Ready".
    node.refusal = eventstore::Error::ServerError(
        "status: Unavailable, message: \"Server Is Not Ready\"".into(),
    );
    node.refusals.store(2, Ordering::SeqCst);
    scan(&node, &s, &head(10), limits(5_000))
        .await
        .expect("read once a leader is elected");
    assert_eq!(s.mirror.tip().seen(), Some(at(10)));
}

#[tokio::test]
async fn refusals_until_the_deadline_fail_naming_eventstoredb_and_the_leader() {
    let (_dir, s) = shared();
    let (node, _) = FakeNode::new(3);
    node.refusals.store(usize::MAX, Ordering::SeqCst);
    let why = unavailable_why(scan(&node, &s, &head(10), limits(100)).await);
    assert!(
        why.contains("EventStoreDB at h:2113: scanning $all: the node asked is not the leader"),
        "{why}"
    );
    assert!(why.contains("names esdb1:2113 as the leader"), "{why}");
    assert_eq!(s.mirror.tip().seen(), None, "nothing claimed");
}

#[tokio::test]
async fn pages_are_cut_by_their_bytes_and_a_cut_page_reads_on() {
    let (_dir, s) = shared();
    // 24 foreign events of 2 bytes and our entry, in pages of up to 1024 events but 5
    // bytes: each page ends at its third event, and such a page is full (`$all` goes on).
    let (mut node, a0) = FakeNode::long(24);
    node.page_bytes = 5;
    let wide = ScanLimits {
        page: 1024,
        ..limits(1_000)
    };
    scan(&node, &s, &head(25), wide)
        .await
        .expect("read through");
    assert_eq!(s.mirror.tip().seen(), Some(at(25)));
    assert_eq!(s.mirror.store().read_all(0, 10).expect("all"), vec![a0]);
    // A read from the position seen returns that event again: two new events a page.
    let reads = node.reads.lock().expect("reads").clone();
    assert_eq!(reads[..3], [None, Some(at(3)), Some(at(5))]);
    let cut = node.page(Some(at(3)), 1024).await.expect("page");
    assert!(cut.cut && cut.events.len() == 3);
    // Events larger than the bound each: a page still holds two, the one seen and the next.
    let (_dir, s) = shared();
    node.page_bytes = 1;
    node.reads.lock().expect("reads").clear();
    scan(&node, &s, &head(25), wide)
        .await
        .expect("read through");
    // The first page [1, 2], then one new event a page up to 25.
    assert_eq!(node.reads.lock().expect("reads").len(), 24);
    assert_eq!(
        PageEnd::of(&cut, 1024),
        PageEnd {
            last: Some(at(5)),
            full: true
        }
    );
}

#[tokio::test]
async fn a_long_catch_up_survives_a_refusal_after_its_first_timeout() {
    let (_dir, s) = shared();
    // 24 foreign events and our entry, read 2 a page at 30 ms a read: 13 pages, some
    // 390 ms in all, with a 200 ms timeout. The 11th read (past 300 ms) is refused once,
    // as during an election: progress since the start must have renewed the deadline.
    let (mut node, a0) = FakeNode::long(24);
    node.delay = Duration::from_millis(30);
    node.refuse_after = 10;
    node.refusals.store(1, Ordering::SeqCst);
    scan(&node, &s, &head(25), limits(200))
        .await
        .expect("a refusal after long progress is retried, not fatal");
    assert_eq!(s.mirror.tip().seen(), Some(at(25)));
    assert_eq!(s.mirror.store().read_all(0, 1).expect("all"), vec![a0]);
    assert_eq!(node.refusals.load(Ordering::SeqCst), 0, "the refusal came");
}
