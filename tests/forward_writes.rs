//! A reading node started with `--read-only --forward-writes URL` sends writes to the writing
//! node and answers with its response; what it refuses itself (an oversized body) is never
//! sent on, and a writer that does not answer is a clear 503. Two real server processes: the
//! reading node runs on a copy of the writer's data directory (same keys and tokens), so
//! whatever is written shows in the writer's log and not in the reader's own.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use caseledger::client;
use caseledger::envelope::KeyFile;
use chrono::Utc;
use serde_json::{json, Value};

mod process;

use process::{init_json as init, start_server, start_server_with, BIN};

/// Status, content type and JSON body of a POST.
fn post(url: &str, token: &str, body: &[u8]) -> (u16, String, Value) {
    let r = ureq::post(url)
        .set("Authorization", &format!("Bearer {token}"))
        .set("Content-Type", "application/json")
        .timeout(Duration::from_secs(20))
        .send_bytes(body);
    let r = match r {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    let status = r.status();
    let kind = r.header("content-type").unwrap_or("").to_owned();
    let json = r.into_json().unwrap_or(Value::Null);
    (status, kind, json)
}

/// The tree size of a node's latest checkpoint.
fn size(base: &str) -> u64 {
    let text = ureq::get(&format!("{base}/v1/log/checkpoint"))
        .call()
        .expect("checkpoint")
        .into_string()
        .expect("text");
    text.lines()
        .nth(1)
        .expect("size line")
        .parse()
        .expect("size")
}

fn agency(name: &str) -> Value {
    json!({
        "name": name, "region": "North", "domains": ["social"], "languages": ["en"],
        "interpretation": false, "cultural_adaptations": [], "trafficking_experience": false,
        "eligibility": {"criteria": [], "notes": ""}
    })
}

#[test]
fn a_reading_node_forwards_writes_to_the_writer() {
    let root = tempfile::tempdir().expect("tempdir");
    let (writer_dir, reader_dir) = (root.path().join("writer"), root.path().join("reader"));
    let report = init(&writer_dir);
    let status = Command::new("cp")
        .args(["-a"])
        .arg(&writer_dir)
        .arg(&reader_dir)
        .status()
        .expect("cp");
    assert!(status.success());
    let token = report["admin_token"].as_str().expect("token");
    let admin = KeyFile::read(Path::new(report["admin_key_file"].as_str().expect("key")))
        .expect("admin key");

    let (mut writer, writer_url) = start_server(&writer_dir);
    let (mut reader, reader_url) = start_server_with(
        &reader_dir,
        &["--read-only", "--forward-writes", &writer_url],
    );
    let (writer_size, reader_size) = (size(&writer_url), size(&reader_url));

    // A write sent to the reader is the writer's: its receipt, its log.
    let env = client::signed_event(
        &admin,
        "agency.registered",
        "agency-north",
        agency("North"),
        Utc::now(),
    );
    let body = serde_json::to_vec(&env).expect("json");
    let (status, _, receipt) = post(&format!("{reader_url}/v1/events"), token, &body);
    assert_eq!(status, 201, "{receipt}");
    assert_eq!(receipt["index"], json!(writer_size), "{receipt}");
    assert_eq!(size(&writer_url), writer_size + 1);
    assert_eq!(
        size(&reader_url),
        reader_size,
        "the reader wrote nothing itself"
    );

    // The writer's refusals come back as they are: the same event again is a conflict-free
    // idempotent repeat, a forged signature is the writer's problem+json.
    let (status, _, again) = post(&format!("{reader_url}/v1/events"), token, &body);
    assert_eq!(
        (status, &again["index"]),
        (200, &receipt["index"]),
        "{again}"
    );
    let mut forged = env.clone();
    forged.payload = client::signed_event(
        &admin,
        "agency.registered",
        "agency-south",
        agency("South"),
        Utc::now(),
    )
    .payload;
    let forged = serde_json::to_vec(&forged).expect("json");
    let (status, kind, problem) = post(&format!("{reader_url}/v1/events"), token, &forged);
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("bad_signature")),
        "{problem}"
    );
    assert_eq!(kind, "application/problem+json");

    // Tokens are written too; one issued through the reader works at the writer.
    let (status, _, issued) = post(
        &format!("{reader_url}/v1/principals/admin/tokens"),
        token,
        b"{}",
    );
    assert_eq!(status, 201, "{issued}");
    let fresh = issued["token"].as_str().expect("token");
    let (status, _, _) = post(
        &format!("{writer_url}/v1/principals/admin/tokens"),
        fresh,
        b"{}",
    );
    assert_eq!(status, 201);

    // Refused by the reader itself, never sent on: an oversized body.
    let before = size(&writer_url);
    let huge = vec![b' '; 65 * 1024];
    let (status, _, problem) = post(&format!("{reader_url}/v1/events"), token, &huge);
    assert_eq!(
        (status, problem["code"].as_str()),
        (413, Some("payload_too_large")),
        "{problem}"
    );
    assert_eq!(size(&writer_url), before);

    // The writer gone: a clear 503 naming it; reads go on.
    writer.kill().expect("kill writer");
    writer.wait().expect("reap");
    let env = client::signed_event(
        &admin,
        "agency.registered",
        "agency-east",
        agency("East"),
        Utc::now(),
    );
    let (status, kind, problem) = post(
        &format!("{reader_url}/v1/events"),
        token,
        &serde_json::to_vec(&env).expect("json"),
    );
    assert_eq!(
        (status, problem["code"].as_str()),
        (503, Some("unavailable")),
        "{problem}"
    );
    assert_eq!(kind, "application/problem+json");
    let detail = problem["detail"].as_str().unwrap_or_default();
    // The writing node's address goes to the reader's log, not to callers.
    assert!(
        detail.contains("nothing was written") && !detail.contains(&writer_url),
        "{detail}"
    );
    assert_eq!(size(&reader_url), reader_size);
    reader.kill().expect("kill reader");
    reader.wait().expect("reap");
}

#[test]
fn forwarding_needs_a_read_only_node_and_a_plain_http_writer() {
    let root = tempfile::tempdir().expect("tempdir");
    init(root.path());
    for (args, read_only, says) in [
        (
            vec!["--forward-writes", "http://127.0.0.1:9"],
            None,
            "--read-only",
        ),
        (
            vec!["--forward-writes", "http://127.0.0.1:9"],
            Some("false"),
            "--read-only",
        ),
        (
            vec!["--read-only", "--forward-writes", "https://writer:8080"],
            None,
            "http://",
        ),
        (
            vec!["--read-only", "--forward-writes", "http://u:p@writer:8080"],
            None,
            "base URL",
        ),
    ] {
        let mut serve = Command::new(BIN);
        serve
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(root.path())
            .args(&args);
        if let Some(value) = read_only {
            serve.env("CASELEDGER_READ_ONLY", value);
        }
        let out = serve.output().expect("serve");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
