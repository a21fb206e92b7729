//! Commits that fail or conflict: what the submitters are told, repeats and refusals that
//! rested on the failed group included.

use std::sync::Arc;

use std::time::Instant;

use super::super::Owed;
use super::{behind_its_back, register, setup, stored, Request, Setup};
use crate::ledger::{ExpectedRevision, Outcome, WriteError};
use crate::store::scripted::Scripted;
use crate::store::EventStore;

/// Every commit fails, as on a full disk.
fn failing_commits(inner: Arc<dyn EventStore>) -> Scripted {
    Scripted::new(inner, |_| {
        Some(crate::store::StoreError::Unavailable("disk full".into()))
    })
}

#[test]
fn a_repeat_of_an_event_in_a_failed_group_is_not_acknowledged() {
    let mut s = setup();
    s.writer.store = Arc::new(failing_commits(s.store.clone()));
    let (tx, rx) = crossbeam_channel::unbounded();
    // The same event twice in one group (a client retrying after a timeout): the second is
    // a repeat of the first, which the failed commit never stored.
    let (first, first_answer) = register(&s.admin, "twice", ExpectedRevision::Any);
    let (reply, second_answer) = tokio::sync::oneshot::channel();
    let second = Request {
        stream: first.stream.clone(),
        events: first.events.clone(),
        expected: ExpectedRevision::Any,
        reply,
    };
    tx.send(first).expect("queued");
    tx.send(second).expect("queued");
    drop(tx);
    let size = s.store.size().expect("size");
    let metrics = s.writer.metrics.clone();
    s.writer.run(rx);
    assert!(
        metrics.commits_failing(std::time::Duration::from_secs(30)),
        "not ready"
    );
    for mut answer in [first_answer, second_answer] {
        let got = answer.try_recv().expect("answered");
        assert!(
            matches!(
                got,
                Err(WriteError::Store(crate::store::StoreError::Unavailable(_)))
            ),
            "{got:?}"
        );
    }
    assert_eq!(s.store.size().expect("size"), size, "nothing was stored");
}

/// Queues, in order: a refusal decided on the committed state (a stream expected at a
/// revision it never had), a new registration, and a refusal that rests on it (the same
/// stream expected not to exist); runs the writer and returns the three answers.
fn refusals_around_a_new_entry(s: Setup) -> [Result<Outcome, WriteError>; 3] {
    let (tx, rx) = crossbeam_channel::unbounded();
    let (early, a0) = register(&s.admin, "fresh", ExpectedRevision::Exact(7));
    let (new, a1) = register(&s.admin, "fresh", ExpectedRevision::Any);
    let (late, a2) = register(&s.admin, "fresh", ExpectedRevision::NoStream);
    for r in [early, new, late] {
        tx.send(r).expect("queued");
    }
    drop(tx);
    s.writer.run(rx);
    [a0, a1, a2].map(|mut a| a.try_recv().expect("answered"))
}

fn code(answer: &Result<Outcome, WriteError>) -> Option<crate::ledger::Code> {
    match answer {
        Err(WriteError::Rule(v)) => Some(v.code),
        _ => None,
    }
}

#[test]
fn a_refusal_resting_on_a_group_that_failed_to_commit_is_unavailable_too() {
    use crate::ledger::Code;
    use crate::store::StoreError;
    let s = setup();
    let [early, new, late] = refusals_around_a_new_entry(s);
    assert_eq!(code(&early), Some(Code::WrongExpectedRevision));
    assert!(matches!(new, Ok(Outcome::Created(_))), "{new:?}");
    assert_eq!(code(&late), Some(Code::WrongExpectedRevision));
    let mut s = setup();
    s.writer.store = Arc::new(failing_commits(s.store.clone()));
    let size = s.store.size().expect("size");
    let store = s.store.clone();
    let [early, new, late] = refusals_around_a_new_entry(s);
    // Decided before the group held anything: it stands whatever became of the group.
    assert_eq!(code(&early), Some(Code::WrongExpectedRevision));
    for answer in [new, late] {
        assert!(
            matches!(answer, Err(WriteError::Store(StoreError::Unavailable(_)))),
            "{answer:?}"
        );
    }
    assert_eq!(store.size().expect("size"), size, "nothing was stored");
}

#[test]
fn after_a_store_conflict_refusals_resting_on_the_group_are_decided_again() {
    use crate::ledger::Code;
    let mut s = setup();
    s.writer.store = Arc::new(Scripted::new(s.store.clone(), |n| {
        (n == 0).then(|| crate::store::StoreError::Conflict("another node".into()))
    }));
    let size = s.store.size().expect("size");
    let metrics = s.writer.metrics.clone();
    let [early, new, late] = refusals_around_a_new_entry(s);
    // The refusal decided on the committed state is answered as it was; the write and the
    // refusal that rested on it are decided again after the conflict, with the same result.
    assert_eq!(code(&early), Some(Code::WrongExpectedRevision));
    let Ok(Outcome::Created(receipts)) = new else {
        panic!("written on the retry: {new:?}")
    };
    assert_eq!(receipts[0].index, size);
    assert_eq!(code(&late), Some(Code::WrongExpectedRevision));
    assert_eq!(metrics.rejected.get(), 2, "each refusal counted once");
}

#[test]
fn a_checkpoint_a_shared_store_did_not_publish_is_signed_again() {
    // EventStoreDB stores the entries, then publishes their checkpoint; when that fails
    // the write still succeeded, and the writer must not count the log as signed.
    let mut s = setup();
    let mut dropping = Scripted::new(s.store.clone(), |_| None);
    dropping.drops_checkpoints = true;
    s.writer.store = Arc::new(dropping);
    let (req, mut answer) = register(&s.admin, "unsigned", ExpectedRevision::Any);
    let before = s.store.latest_checkpoint().expect("read").map(|c| c.size);
    let signed_before = s.writer.signed_size;
    s.writer.process(vec![req]);
    s.writer.sign_idle_tail();
    assert!(matches!(answer.try_recv(), Ok(Ok(Outcome::Created(_)))));
    assert_eq!(
        s.store.latest_checkpoint().expect("read").map(|c| c.size),
        before
    );
    assert_eq!(s.writer.signed_size, signed_before, "nothing was published");
    assert!(s.writer.state.size > signed_before);
    // The checkpoint is owed: while no write comes, it is signed again once due, each
    // failure doubling the wait.
    let first = s.writer.owed.expect("owed after an unpublished checkpoint");
    assert!(first.at > Instant::now());
    s.writer.sign_owed();
    assert_eq!(s.writer.owed, Some(first), "not due yet: nothing tried");
    s.writer.owed = Some(Owed {
        at: Instant::now(),
        ..first
    });
    s.writer.sign_owed();
    let second = s.writer.owed.expect("still owed");
    assert!(second.wait > first.wait && second.at > Instant::now());
    assert_eq!(s.writer.signed_size, signed_before);
    // Meanwhile another node appends and this one follows: those entries are not owed.
    let owed_size = s.writer.state.size;
    assert_eq!(second.size, owed_size);
    behind_its_back(&s, vec![stored(&s, "elsewhere", 0, true)]);
    s.writer.follow();
    assert_eq!(s.writer.state.size, owed_size + 1);
    // Once the store publishes again, the owed signing covers what was owed, without a write.
    s.writer.store = s.store.clone();
    s.writer.owed = Some(Owed {
        at: Instant::now(),
        ..second
    });
    s.writer.sign_owed();
    assert_eq!(s.writer.signed_size, owed_size);
    assert_eq!(s.writer.owed, None);
    assert_eq!(
        s.store.latest_checkpoint().expect("read").map(|c| c.size),
        Some(owed_size)
    );
}

#[test]
fn an_idle_writer_signs_only_what_it_owes() {
    // Entries another node appended to a shared log are that node's to cover: following
    // them owes nothing, and the idle retry signs nothing.
    let mut s = setup();
    let before = s.store.latest_checkpoint().expect("read").map(|c| c.size);
    behind_its_back(&s, vec![stored(&s, "elsewhere", 0, true)]);
    s.writer.follow();
    assert!(s.writer.state.size > s.writer.signed_size);
    assert_eq!(s.writer.owed, None);
    s.writer.sign_owed();
    assert_eq!(
        s.store.latest_checkpoint().expect("read").map(|c| c.size),
        before
    );
}

#[test]
fn entries_are_looked_up_when_the_store_gives_no_size() {
    // EventStoreDB's size fails while its subscription is down; a commit then must not be
    // taken for an interleaved one when its entries sit where the writer put them.
    let mut s = setup();
    let (req, _answer) = register(&s.admin, "looked-up", ExpectedRevision::Any);
    s.writer.process(vec![req]);
    let size = s.store.size().expect("size");
    let last = s.store.read_all(size - 1, 1).expect("read").remove(0);
    let mut down = Scripted::new(s.store.clone(), |_| None);
    down.size_fails = true;
    let placed = super::super::catch_up::placed;
    assert_eq!(
        placed(&down, size, &[(last.event_id, last.index)]).ok(),
        Some(true)
    );
    assert_eq!(
        placed(&down, size, &[(last.event_id, last.index + 1)]).ok(),
        Some(false)
    );
}

#[test]
fn a_request_the_last_conflicted_try_stored_is_answered_as_written() {
    // Every try conflicts; the last one stores the group's entries first (on EventStoreDB
    // one stream's run lands before another stream conflicts). The request is in the log, so
    // it is answered as created, not told to re-read and retry; a request of the same group
    // that was not stored gives up.
    let mut s = setup();
    let last = super::super::CONFLICT_RETRIES;
    let mut store = Scripted::new(s.store.clone(), |_| {
        Some(crate::store::StoreError::Conflict("another node".into()))
    });
    store.writes_then_fails = Some(last);
    s.writer.store = Arc::new(store);
    let size = s.store.size().expect("size");
    let metrics = s.writer.metrics.clone();
    let (req, mut answer) = register(&s.admin, "landed", ExpectedRevision::Any);
    s.writer.process(vec![req]);
    let answer = answer.try_recv().expect("answered");
    assert!(matches!(answer, Ok(Outcome::Created(_))), "{answer:?}");
    assert_eq!(s.store.size().expect("size"), size + 1);
    assert_eq!(metrics.rejected.get(), 0);
    // Nothing stored on any try: the request gives up.
    let mut s = setup();
    s.writer.store = Arc::new(Scripted::new(s.store.clone(), |_| {
        Some(crate::store::StoreError::Conflict("another node".into()))
    }));
    let (req, mut answer) = register(&s.admin, "raced", ExpectedRevision::Any);
    s.writer.process(vec![req]);
    let answer = answer.try_recv().expect("answered");
    assert_eq!(
        code(&answer),
        Some(crate::ledger::Code::WrongExpectedRevision)
    );
}
