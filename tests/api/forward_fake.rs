//! A reading node in front of fake writing nodes on a plain socket: what is sent on, what
//! never is, and each way a writer can fail.

use std::io::{Read, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::forward::{post, raw, reader, reader_waiting, status_of};
use crate::helpers::spawn_app;

/// A fake writing node: records each request it gets and answers it with `answer` (`None`:
/// holds the connection and never answers).
fn fake_writer(answer: Option<Vec<u8>>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.expect("accept");
            let request = read_request(&mut stream);
            log.lock()
                .expect("log")
                .push(String::from_utf8_lossy(&request).into_owned());
            match &answer {
                Some(a) => drop(stream.write_all(a)),
                None => std::thread::sleep(Duration::from_secs(10)),
            }
        }
    });
    (base, seen)
}

/// One HTTP/1.1 request: its head, then as many body bytes as its Content-Length says.
fn read_request(stream: &mut TcpStream) -> Vec<u8> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut request = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        let head = request.windows(4).position(|w| w == b"\r\n\r\n");
        if let Some(end) = head {
            let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse::<usize>().expect("length"));
            if request.len() >= end + 4 + length {
                return request;
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return request,
            Ok(n) => request.extend_from_slice(&chunk[..n]),
        }
    }
}

const WRITE: &str = "POST /v1/events?expected_revision=3 HTTP/1.1\r\nHost: reader\r\n\
    Authorization: Bearer t\r\nContent-Type: application/json\r\nX-Secret: s\r\n\
    X-Multi: a\r\nX-Multi: b\r\nConnection: close, X-Secret\r\nContent-Length: 2\r\n\r\n{}";

#[test]
fn the_writer_gets_the_request_end_to_end_and_its_answer_comes_back_whole() {
    let app = spawn_app();
    let body = "{\"index\": 0}";
    let answer = format!(
        "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nSet-Thing: 1\r\n\
         Set-Thing: 2\r\nX-Hop: h\r\nConnection: close, X-Hop\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let (writer, seen) = fake_writer(Some(answer.into_bytes()));
    let reading = reader(&app, &writer, Duration::from_secs(30));
    let answer = raw(&reading, WRITE);
    assert_eq!(status_of(&answer), 201, "{answer}");
    let lower = answer.to_ascii_lowercase();
    assert!(
        lower.contains("set-thing: 1\r\n") && lower.contains("set-thing: 2\r\n"),
        "{answer}"
    );
    assert!(
        !lower.contains("x-hop"),
        "per-connection headers stay behind: {answer}"
    );
    assert!(answer.ends_with(body), "{answer}");

    let seen = seen.lock().expect("seen");
    let request = seen[0].to_ascii_lowercase();
    assert!(
        request.starts_with("post /v1/events?expected_revision=3 http/1.1\r\n"),
        "{request}"
    );
    for sent in [
        "authorization: bearer t\r\n",
        "x-multi: a, b\r\n",
        "caseledger-forwarded: 1\r\n",
        "via: 1.1 caseledger\r\n",
    ] {
        assert!(request.contains(sent), "{sent:?} in {request}");
    }
    assert!(!request.contains("x-secret"), "{request}");
    assert!(request.ends_with("\r\n\r\n{}"), "{request}");
}

#[test]
fn a_chunked_write_reaches_the_writer_with_its_length_and_without_hop_by_hop_headers() {
    let app = spawn_app();
    let (writer, seen) = fake_writer(Some(
        b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}".to_vec(),
    ));
    let reading = reader(&app, &writer, Duration::from_secs(30));
    let chunked = "POST /v1/events HTTP/1.1\r\nHost: reader\r\nAuthorization: Bearer t\r\n\
        Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nTE: trailers\r\n\
        Expect: 100-continue\r\nKeep-Alive: timeout=5\r\nProxy-Authorization: Basic eDp5\r\n\
        Connection: close\r\n\r\n1\r\n{\r\n1\r\n}\r\n0\r\n\r\n";
    let answer = raw(&reading, chunked);
    assert!(answer.contains(" 201 "), "{answer}");
    let seen = seen.lock().expect("seen");
    let request = seen[0].to_ascii_lowercase();
    // One framing, the reader's own: the body's length, no chunks.
    assert!(request.contains("content-length: 2\r\n"), "{request}");
    assert!(request.ends_with("\r\n\r\n{}"), "{request}");
    for gone in [
        "transfer-encoding",
        "\r\nte:",
        "expect",
        "keep-alive",
        "proxy-authorization",
        "host: reader",
        "connection: close",
    ] {
        assert!(!request.contains(gone), "{gone:?} forwarded: {request}");
    }
}

#[test]
fn what_the_reader_refuses_is_never_sent_and_a_failing_writer_is_not_named() {
    let app = spawn_app();
    let (writer, seen) = fake_writer(Some(b"HTTP/1.1 201 Created\r\n\r\n".to_vec()));
    let reading = reader(&app, &writer, Duration::from_secs(30));
    let r = post(&reading, "/v1/events", Some("t"), &vec![b' '; 65 * 1024]);
    assert_eq!(
        (r.status, r.code()),
        (413, "payload_too_large"),
        "{}",
        r.text
    );
    assert!(
        seen.lock().expect("seen").is_empty(),
        "the oversized body never left"
    );

    // Each broken writer: its answer, and what the reader says.
    let huge = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n{}",
        "x".repeat(2_000_000)
    );
    for (answer, why) in [
        (Some(b"garbage\r\n\r\n".to_vec()), "a junk answer"),
        (
            Some(b"HTTP/1.1 102 Processing\r\n\r\n".to_vec()),
            "an interim status as the answer",
        ),
        (Some(huge.into_bytes()), "an answer over 1 MiB"),
        (None, "no answer within the timeout"),
    ] {
        let (writer, _) = fake_writer(answer);
        let reading = reader(&app, &writer, Duration::from_secs(1));
        let r = post(&reading, "/v1/events", Some("t"), b"{}");
        assert_eq!(
            (r.status, r.code()),
            (502, "bad_gateway"),
            "{why}: {}",
            r.text
        );
        assert_eq!(r.content_type, "application/problem+json");
        let detail = r.json["detail"].as_str().unwrap_or_default();
        assert!(
            !detail.contains(&writer) && detail.contains("may or may not"),
            "{detail}"
        );
    }

    // A token request the writer may or may not have done: a repeat issues another token.
    let (writer, _) = fake_writer(None);
    let reading = reader(&app, &writer, Duration::from_secs(1));
    let r = post(&reading, "/v1/principals/admin/tokens", Some("t"), b"{}");
    assert_eq!((r.status, r.code()), (502, "bad_gateway"), "{}", r.text);
    let detail = r.json["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("another token"), "{detail}");

    // Nobody listening (the discard port): nothing was sent, so nothing was written. The
    // writing node's address stays in the log.
    let reading = reader(&app, "http://127.0.0.1:9", Duration::from_secs(1));
    let r = post(&reading, "/v1/events", Some("t"), b"{}");
    assert_eq!((r.status, r.code()), (503, "unavailable"), "{}", r.text);
    let detail = r.json["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("nothing was written"), "{detail}");
    assert!(!detail.contains("127.0.0.1:9"), "{detail}");
    // A write marked as forwarded already: without a token it is refused as such, with one
    // it is refused without naming where this node forwards to.
    let marked = |token: &str| {
        raw(
            &reading,
            &format!(
                "POST /v1/events HTTP/1.1\r\nHost: t\r\n{token}{}: 1\r\n\
                 Content-Length: 0\r\nConnection: close\r\n\r\n",
                caseledger::http::FORWARDED_MARK
            ),
        )
    };
    let answer = marked("");
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    let answer = marked("Authorization: Bearer t\r\n");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(!answer.contains("127.0.0.1:9"), "{answer}");

    // No bearer token: refused by the reader, never sent on.
    let (writer, seen) = fake_writer(Some(b"HTTP/1.1 201 Created\r\n\r\n".to_vec()));
    let reading = reader(&app, &writer, Duration::from_secs(1));
    let r = post(&reading, "/v1/events", None, b"{}");
    assert_eq!((r.status, r.code()), (401, "unauthenticated"), "{}", r.text);
    assert!(seen.lock().expect("seen").is_empty());
}

/// A writer's receipt for an entry this node never mirrors (their logs are not shared):
/// the answer still comes back, once the bounded wait is over.
#[test]
fn a_receipt_this_node_never_mirrors_is_answered_after_the_wait() {
    let app = spawn_app();
    let body = "{\"index\": 999999, \"revision\": 0}";
    let answer = format!(
        "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let (writer, _) = fake_writer(Some(answer.into_bytes()));
    let wait = Duration::from_millis(500);
    let reading = reader_waiting(&app, &writer, Duration::from_secs(5), wait);
    let started = std::time::Instant::now();
    let r = post(&reading, "/v1/events", Some("t"), b"{}");
    let took = started.elapsed();
    assert!(took >= wait && took < Duration::from_secs(5), "{took:?}");
    assert_eq!(
        (r.status, r.json["index"].as_u64()),
        (201, Some(999999)),
        "{}",
        r.text
    );
}

/// Opens a connection to `reading` (any node) that announces the largest batch body with
/// `token` and never sends it.
pub(crate) fn announce(reading: &str, token: &str) -> TcpStream {
    let mut stream = TcpStream::connect(reading.trim_start_matches("http://")).expect("connect");
    let head = format!(
        "POST /v1/events/batch HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 4194304\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).expect("head");
    stream
}

/// Bodies announced with a token this node does not know, and never sent, hold only their
/// own small budget: a known writer's request still goes through at once.
#[test]
fn unknown_tokens_cannot_hold_the_memory_known_writers_need() {
    let app = spawn_app();
    let (writer, _) = fake_writer(Some(
        b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}".to_vec(),
    ));
    let reading = reader(&app, &writer, Duration::from_secs(5));
    // Four bodies of the largest size fill the unknown tokens' budget, and stay unsent.
    let held: Vec<TcpStream> = (0..4)
        .map(|i| announce(&reading, &format!("stranger{i}")))
        .collect();
    // Time for the node to accept each announced body and reserve its memory (no counter
    // of it is exposed to poll; generous for a loaded CI machine).
    std::thread::sleep(Duration::from_secs(2));
    let started = std::time::Instant::now();
    let r = post(&reading, "/v1/events", Some(&app.admin_token), b"{}");
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // Another unknown token waits for that budget, and is refused after the queue wait.
    let r = post(&reading, "/v1/events", Some("stranger9"), b"{}");
    assert_eq!((r.status, r.code()), (503, "unavailable"), "{}", r.text);
    drop(held);
}

#[test]
fn one_known_token_cannot_hold_every_writers_body_memory() {
    let app = spawn_app();
    let (_, other) = app.register_principal("aud-f", "operator", &["auditor"]);
    let (writer, _) = fake_writer(Some(
        b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}".to_vec(),
    ));
    let reading = reader(&app, &writer, Duration::from_secs(5));
    // Sixteen bodies of the largest size, announced and never sent, fill one token's share
    // (a quarter of the pool).
    let held: Vec<TcpStream> = (0..16)
        .map(|_| announce(&reading, &app.admin_token))
        .collect();
    // Time for the node to accept each announced body and reserve its memory (no counter
    // of it is exposed to poll; generous for a loaded CI machine).
    std::thread::sleep(Duration::from_secs(2));
    // Another principal's write goes through at once.
    let started = std::time::Instant::now();
    let r = post(&reading, "/v1/events", Some(&other), b"{}");
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // A body announced over the limit is refused at once, full share or not: waiting for
    // memory it could never use would only end in a 503 that invites a retry.
    let over = raw(
        &reading,
        &format!(
            "POST /v1/events/batch HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\n\
             Content-Length: 4194305\r\nConnection: close\r\n\r\n",
            app.admin_token
        ),
    );
    // 413, not the 503 a wait for memory would end in: it did not wait.
    assert_eq!(status_of(&over), 413, "{over}");
    // The same token waits for its share, and is refused after the queue wait.
    let r = post(&reading, "/v1/events", Some(&app.admin_token), b"{}");
    assert_eq!((r.status, r.code()), (503, "unavailable"), "{}", r.text);
    // Once the announced bodies are gone, their memory comes back to the token.
    drop(held);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = post(&reading, "/v1/events", Some(&app.admin_token), b"{}");
        if r.status == 201 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "memory not returned: {}",
            r.text
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
