//! Appends whose outcome is unknown (a timeout, a commit timeout) are asked again until the
//! server answers either way; reads are not.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::super::esdb_feed::tests::shared;
use super::tests::unavailable_why;
use super::*;

fn grpc(code: i32) -> eventstore::Error {
    eventstore::Error::Grpc {
        code: code.into(),
        message: "test".into(),
    }
}

#[test]
fn an_append_outcome_is_unknown_after_a_deadline_or_a_commit_timeout_only() {
    // gRPC Cancelled, DeadlineExceeded, Aborted.
    for e in [
        eventstore::Error::DeadlineExceeded,
        grpc(1),
        grpc(4),
        grpc(10),
    ] {
        assert!(ambiguous(&e), "{e}");
    }
    // Refused outright (the append was not taken): AccessDenied, InvalidArgument,
    // FailedPrecondition; a wrong expected version is an answer.
    for e in [eventstore::Error::AccessDenied, grpc(3), grpc(9)] {
        assert!(!ambiguous(&e), "{e}");
    }
}

#[tokio::test]
async fn an_append_whose_outcome_is_unknown_is_asked_again_and_a_read_is_not() {
    let (_dir, s) = shared();
    let tries = AtomicUsize::new(0);
    let per_try = Duration::from_millis(200);
    let appended = leader_append(
        &s.cfg,
        Instant::now() + Duration::from_secs(5),
        per_try,
        || {
            let n = tries.fetch_add(1, Ordering::SeqCst);
            async move {
                match n {
                    // No answer at all: the try times out on the client.
                    0 => std::future::pending().await,
                    1 => Err(grpc(10)),
                    2 => Err(eventstore::Error::DeadlineExceeded),
                    _ => Ok(Ok(())),
                }
            }
        },
    )
    .await;
    assert!(matches!(appended, Ok(Ok(()))), "{appended:?}");
    assert_eq!(tries.load(Ordering::SeqCst), 4, "asked until it answered");
    // A read that timed out on the server is not repeated (nothing to settle).
    let reads = AtomicUsize::new(0);
    let read = leader_read(
        &s.cfg,
        "a read",
        Instant::now() + Duration::from_secs(5),
        || {
            reads.fetch_add(1, Ordering::SeqCst);
            async { Err::<(), _>(eventstore::Error::DeadlineExceeded) }
        },
    )
    .await;
    assert!(matches!(read, Err(StoreError::Unavailable(_))), "{read:?}");
    assert_eq!(reads.load(Ordering::SeqCst), 1);
    // Still unknown at the deadline: unavailable, naming EventStoreDB.
    let why = leader_append(
        &s.cfg,
        Instant::now() + Duration::from_millis(100),
        per_try,
        || async { Err(grpc(10)) },
    )
    .await
    .map(|_| ());
    assert!(unavailable_why(why).contains("EventStoreDB"));
}
