//! The streamed export's paths that a healthy store and a reading client never take: a
//! failure before or after the first piece, a client that stops reading, one that leaves.

use std::sync::mpsc as std_mpsc;

use actix_web::body::{to_bytes, MessageBody};

use super::*;

/// `len` bytes of a pattern whose every piece differs, so that a lost or repeated piece shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Writes `data` in uneven slices, as the exporter's entries come.
fn write_all(out: &mut Pieces, data: &[u8]) -> Result<(), String> {
    write_in(out, data, 7_919)
}

/// Writes `data` in slices of `slice` bytes.
fn write_in(out: &mut Pieces, data: &[u8], slice: usize) -> Result<(), String> {
    for slice in data.chunks(slice) {
        out.write_all(slice).map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[actix_web::test]
async fn what_is_written_arrives_whole_and_in_order() {
    // Several full pieces, a partial last one left to the final flush.
    let data = pattern(5 * PIECE + 123);
    let sent = data.clone();
    let resp = streamed(STALLED, move |out| write_all(out, &sent))
        .await
        .expect("a response");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    let body = to_bytes(resp.into_body()).await.expect("a whole body");
    assert_eq!(body.len(), data.len());
    assert!(body == data, "the body differs from what was written");
}

#[actix_web::test]
async fn a_failure_before_the_first_piece_is_a_problem_response() {
    // The cause (a store's message may name paths or hosts) stays in the server log.
    let cause = "sqlite: unable to open database file: /srv/ledger/caseledger.db";
    let e = streamed(STALLED, move |_| Err(cause.into()))
        .await
        .expect_err("an error response");
    assert_eq!(e.code, Code::Unavailable);
    assert!(e.detail.contains("before its first bytes"), "{}", e.detail);
    assert!(!e.detail.contains("/srv"), "{}", e.detail);
    // Less than one piece written before failing is still before the first piece.
    let e = streamed(STALLED, |out| {
        write_all(out, &pattern(PIECE / 2))?;
        Err("entries are missing".into())
    })
    .await
    .expect_err("an error response");
    assert!(e.detail.contains("before its first bytes"), "{}", e.detail);
    assert!(!e.detail.contains("entries are missing"), "{}", e.detail);
}

#[actix_web::test]
async fn a_failure_after_the_first_piece_cuts_the_body_short() {
    let resp = streamed(STALLED, |out| {
        write_in(out, &pattern(3 * PIECE), PIECE)?;
        Err("a damaged entry".into())
    })
    .await
    .expect("the response has started");
    assert_eq!(resp.status(), 200);
    let (received, failed) = read_to_failure(resp).await;
    // The pieces before the failure arrive intact, and nothing after them.
    assert_eq!(received.len(), 3 * PIECE);
    assert!(
        received == pattern(received.len()),
        "the pieces arrive in order"
    );
    assert!(failed.contains("a damaged entry"), "{failed}");
}

/// Reads a body that must end in an error: what came before it, and the error. The server
/// then drops the connection instead of ending the chunked body, so the client cannot take
/// a cut bundle for a whole one.
async fn read_to_failure(resp: HttpResponse) -> (Vec<u8>, String) {
    let mut body = resp.into_body();
    let mut received = Vec::new();
    loop {
        match std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_next(cx)).await {
            Some(Ok(piece)) => received.extend_from_slice(&piece),
            Some(Err(e)) => return (received, e.to_string()),
            None => panic!("the body ended as if whole after {} bytes", received.len()),
        }
    }
}

#[actix_web::test]
async fn a_failure_whose_error_finds_the_queue_full_still_cuts_the_body_short() {
    // The client has read nothing yet: the first piece started the response and the next
    // ones fill the queue, so the error itself usually finds no room.
    let resp = streamed(STALLED, move |out| {
        write_in(out, &pattern((1 + PIECES_AHEAD) * PIECE), PIECE)?;
        Err("a damaged entry".into())
    })
    .await
    .expect("the response has started");
    std::thread::sleep(Duration::from_millis(100));
    let (received, failed) = read_to_failure(resp).await;
    assert_eq!(received.len(), (1 + PIECES_AHEAD) * PIECE);
    // Whether the error found room (a slow producer) or not, the body ends in one.
    assert!(
        failed.contains("stopped before the end") || failed.contains("a damaged entry"),
        "{failed}"
    );
}

#[actix_web::test]
async fn a_producer_that_dies_mid_way_cuts_the_body_short() {
    // No error is ever queued: only the missing mark of a whole body tells.
    let resp = streamed(STALLED, move |out| {
        write_in(out, &pattern(2 * PIECE), PIECE)?;
        panic!("the producer died");
    })
    .await
    .expect("the response has started");
    let (received, failed) = read_to_failure(resp).await;
    assert_eq!(received.len(), 2 * PIECE);
    assert!(failed.contains("stopped before the end"), "{failed}");
}

/// Starts a stream of `pieces` full pieces whose producer reports how it ended.
async fn reporting(
    stalled: Duration,
    pieces: usize,
) -> (HttpResponse, std_mpsc::Receiver<Result<(), String>>) {
    let (report, ended) = std_mpsc::channel();
    let resp = streamed(stalled, move |out| {
        let r = write_all(out, &pattern(pieces * PIECE));
        let _ = report.send(r.clone());
        r
    })
    .await
    .expect("a response");
    (resp, ended)
}

#[actix_web::test]
async fn a_client_that_reads_nothing_is_given_up() {
    // The first piece is taken to start the response; PIECES_AHEAD more fit the queue.
    let (resp, ended) = reporting(Duration::from_millis(200), PIECES_AHEAD + 4).await;
    let outcome = ended
        .recv_timeout(Duration::from_secs(30))
        .expect("the producer gave up");
    let e = outcome.expect_err("the producer was stopped");
    assert!(e.contains("read nothing"), "{e}");
    drop(resp);
    // A client that reads keeps the same export going to the end.
    let (resp, ended) = reporting(STALLED, PIECES_AHEAD + 4).await;
    let body = to_bytes(resp.into_body()).await.expect("whole");
    assert_eq!(body.len(), (PIECES_AHEAD + 4) * PIECE);
    assert_eq!(ended.recv_timeout(Duration::from_secs(30)), Ok(Ok(())));
}

#[actix_web::test]
async fn a_client_that_leaves_stops_the_export() {
    let (resp, ended) = reporting(STALLED, PIECES_AHEAD + 4).await;
    drop(resp);
    let outcome = ended
        .recv_timeout(Duration::from_secs(30))
        .expect("the producer stopped well before the stall limit");
    let e = outcome.expect_err("the producer was stopped");
    assert!(e.contains("client gone"), "{e}");
}

#[test]
fn store_and_tree_failures_are_answered_without_their_messages() {
    let cause = "store unavailable: esdb://admin:secret@node1.internal:2113";
    for e in [
        ExportError::Tree(TreeError::Storage(cause.into())),
        ExportError::Store(crate::store::StoreError::Unavailable(cause.into())),
        ExportError::Io(std::io::Error::other(cause)),
    ] {
        let api = ApiError::from(e);
        assert!(!api.detail.contains("node1"), "{}", api.detail);
    }
}
