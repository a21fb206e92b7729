//! The command line as a user drives it: `init --json`, `keygen`, `sign`, `submit`, `serve`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_caseledger");

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("run caseledger");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn init_prints_the_documented_json_and_refuses_to_run_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data = data.to_str().expect("utf8");
    let (ok, out, err) = run(&[
        "init",
        "--json",
        "--data",
        data,
        "--origin",
        "example.org/ledger",
    ]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    for field in [
        "data_dir",
        "origin",
        "log_key",
        "admin_principal",
        "admin_key_file",
        "admin_token",
    ] {
        assert!(v[field].is_string(), "missing {field} in {out}");
    }
    assert_eq!(v["origin"], "example.org/ledger");
    assert!(v["log_key"]
        .as_str()
        .expect("key")
        .starts_with("example.org/ledger+"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in [
            v["admin_key_file"].as_str().expect("f").to_owned(),
            format!("{data}/log.key"),
        ] {
            let mode = std::fs::metadata(&f).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
    }
    let (ok, _, err) = run(&["init", "--data", data]);
    assert!(!ok);
    assert!(err.contains("already holds a ledger"), "{err}");
}

#[test]
fn keygen_sign_and_submit_round_trip_against_a_running_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data = data.to_str().expect("utf8");
    let (ok, out, err) = run(&["init", "--json", "--data", data]);
    assert!(ok, "{err}");
    let init: Value = serde_json::from_str(&out).expect("json");
    let admin_key = init["admin_key_file"].as_str().expect("key");
    let token = init["admin_token"].as_str().expect("token");

    let key_path = dir.path().join("cw.key.json");
    let (ok, out, err) = run(&[
        "keygen",
        "--principal",
        "cw-ana",
        "--out",
        key_path.to_str().expect("p"),
    ]);
    assert!(ok, "{err}");
    let kg: Value = serde_json::from_str(&out).expect("json");
    let (ok, _, _) = run(&[
        "keygen",
        "--principal",
        "cw-ana",
        "--out",
        key_path.to_str().expect("p"),
    ]);
    assert!(!ok, "keygen must never overwrite a key file");

    let event = dir.path().join("cw.json");
    std::fs::write(
        &event,
        serde_json::json!({
            "type": "principal.registered", "stream": "principal-cw-ana",
            "data": {"agency": "north", "roles": ["caseworker"], "public_key": kg["public_key"]}
        })
        .to_string(),
    )
    .expect("write");
    let event = event.to_str().expect("p");
    let (ok, out, err) = run(&["sign", "--key", admin_key, "--event", event]);
    assert!(ok, "{err}");
    let env: Value = serde_json::from_str(&out).expect("envelope");
    assert_eq!(
        env["payloadType"],
        "application/vnd.caseledger.event.v1+json"
    );
    assert_eq!(env["signatures"].as_array().expect("sigs").len(), 1);

    let mut server = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data", data])
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve");
    let mut lines = BufReader::new(server.stderr.take().expect("stderr")).lines();
    let mut logged = Vec::new();
    let url = loop {
        let line = lines.next().expect("server output").expect("line");
        if let Some(addr) = line.strip_prefix("caseledger listening on ") {
            break format!("http://{addr}");
        }
        logged.push(line);
    };
    // A log that goes to a pipe or a file is plain text, without terminal colour codes.
    assert!(logged.iter().any(|l| l.contains(" INFO ")), "{logged:?}");
    assert!(!logged.iter().any(|l| l.contains('\u{1b}')), "{logged:?}");
    std::thread::spawn(move || for _ in lines {});
    let (ok, out, err) = run(&[
        "submit", "--url", &url, "--token", token, "--key", admin_key, "--event", event,
    ]);
    assert!(ok, "{err}");
    let receipt: Value = serde_json::from_str(&out).expect("receipt");
    assert_eq!(receipt["stream"], "principal-cw-ana");
    // Submitting it again is refused (already registered), with the server's problem shown.
    let (ok, _, err) = run(&[
        "submit", "--url", &url, "--token", token, "--key", admin_key, "--event", event,
    ]);
    assert!(!ok);
    assert!(err.contains("invalid_transition"), "{err}");
    // An event that does not fit its schema never leaves the machine.
    std::fs::write(
        dir.path().join("bad.json"),
        r#"{"type":"agency.registered","stream":"agency-x","data":{}}"#,
    )
    .expect("write");
    let bad = dir.path().join("bad.json");
    let (ok, _, err) = run(&[
        "sign",
        "--key",
        admin_key,
        "--event",
        bad.to_str().expect("p"),
    ]);
    assert!(!ok);
    assert!(err.contains("schema"), "{err}");
    // One signed envelope, sent as it is twice: recorded, then an idempotent repeat.
    let agency = dir.path().join("agency.json");
    std::fs::write(
        &agency,
        // With a byte order mark, as some editors write.
        "\u{feff}{\"type\":\"agency.registered\",\"stream\":\"agency-env\",\"data\":{\"name\":\"E\",\
         \"region\":\"N\",\"domains\":[\"legal\"],\"languages\":[],\"interpretation\":false,\
         \"cultural_adaptations\":[],\"trafficking_experience\":true,\
         \"eligibility\":{\"criteria\":[],\"notes\":\"\"}}}",
    )
    .expect("write");
    let agency = agency.to_str().expect("p");
    let (ok, signed, err) = run(&["sign", "--key", admin_key, "--event", agency]);
    assert!(ok, "{err}");
    let envelope = dir.path().join("agency.env.json");
    std::fs::write(&envelope, signed).expect("write");
    let envelope = envelope.to_str().expect("p");
    let send = || {
        run(&[
            "submit",
            "--url",
            &url,
            "--token",
            token,
            "--envelope",
            envelope,
        ])
    };
    let (first, again) = (send(), send());
    assert!(first.0 && again.0, "{} {}", first.2, again.2);
    let (a, b): (Value, Value) = (
        serde_json::from_str(&first.1).expect("receipt"),
        serde_json::from_str(&again.1).expect("receipt"),
    );
    assert_eq!(a["index"], b["index"], "one entry: {a} {b}");
    // A token with a character no token has is refused before anything is sent, unquoted.
    let (ok, _, err) = run(&[
        "submit",
        "--url",
        &url,
        "--token",
        "clt_sec ret",
        "--envelope",
        envelope,
    ]);
    assert!(
        !ok && err.contains("holds a character") && !err.contains("sec"),
        "{err}"
    );
    server.kill().expect("kill");
    let _ = server.wait();
}

/// A fake server answering every request with `answer`; its base URL.
fn answering(answer: &'static [u8]) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming() {
            let mut stream = stream.expect("accept");
            let mut buf = [0u8; 65536];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(answer);
        }
    });
    url
}

/// `submit` of a fresh event to `url`, with `extra` arguments: (succeeded, stderr).
fn submit_to(url: &str, extra: &[&str]) -> (bool, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = cw_key(dir.path());
    let event = dir.path().join("e.json");
    std::fs::write(
        &event,
        r#"{"type":"case.needs_assessed","stream":"case-0196b7c2-4a55-7d3e-9f10-2b6c1d4e5f60","data":{"needs":["legal"]}}"#,
    )
    .expect("write");
    let (key, event) = (key.to_str().expect("p"), event.to_str().expect("p"));
    let mut args = vec![
        "submit", "--url", url, "--token", "clt_x", "--key", key, "--event", event,
    ];
    args.extend_from_slice(extra);
    let (ok, _, err) = run(&args);
    (ok, err)
}

/// A server that redirects the POST (a proxy sending plain HTTP to HTTPS, say): nothing was
/// recorded, and submit says so with a non-zero exit rather than printing the answer.
#[test]
fn submit_fails_when_the_write_is_redirected() {
    let url = answering(
        b"HTTP/1.1 308 Permanent Redirect\r\nLocation: https://elsewhere/v1/events\r\n\
          Content-Length: 0\r\n\r\n",
    );
    let (ok, err) = submit_to(&url, &[]);
    assert!(!ok, "{err}");
    assert!(
        err.contains("308") && err.contains("nothing was recorded (event "),
        "{err}"
    );
}

/// A 200 that is not a caseledger receipt (a captive portal, another web server behind the
/// URL): not taken for a recorded event.
#[test]
fn submit_does_not_take_any_200_for_a_receipt() {
    let url = answering(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 13\r\n\r\n<html></html>",
    );
    let (ok, err) = submit_to(&url, &[]);
    assert!(!ok, "{err}");
    assert!(err.contains("not a caseledger receipt"), "{err}");
}

/// A gateway error leaves it unknown whether the event was recorded: submit gives the
/// signed envelope, so that exactly that event can be sent again.
#[test]
fn submit_gives_the_envelope_when_the_outcome_is_unknown() {
    // Any server error: a gateway's, or one after the write reached the writer.
    let url = answering(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
    let (ok, err) = submit_to(&url, &["--expected-revision", "3"]);
    assert!(!ok, "{err}");
    assert!(err.contains("may or may not be recorded"), "{err}");
    // The resend keeps the concurrency check asked for.
    assert!(
        err.contains("--envelope FILE --expected-revision 3"),
        "{err}"
    );
    let envelope: Value = serde_json::from_str(err.lines().last().expect("a line")).expect("json");
    assert_eq!(
        envelope["payloadType"],
        "application/vnd.caseledger.event.v1+json"
    );
}

/// `bench-log --bundle`: the verification figure of an existing bundle, its raw reference
/// interleaved, from the bundle's own signatures; a bundle that does not verify is refused.
#[test]
fn bench_log_measures_an_existing_bundle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data = data.to_str().expect("utf8");
    let (ok, out, err) = run(&["init", "--json", "--data", data]);
    assert!(ok, "{err}");
    let key = serde_json::from_str::<Value>(&out).expect("json")["log_key"]
        .as_str()
        .expect("key")
        .to_owned();
    let bundle = dir.path().join("log.json");
    let bundle = bundle.to_str().expect("utf8");
    let (ok, _, err) = run(&["export", "--data", data, "--out", bundle]);
    assert!(ok, "{err}");
    let (ok, out, err) = run(&["bench-log", "--bundle", bundle, "--log-key", &key, "--json"]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    let figure = &v["offline_verify"];
    let exported = std::fs::read_to_string(bundle)
        .expect("bundle")
        .matches("{\"index\":")
        .count();
    assert!(exported > 0);
    assert_eq!(figure["entries"], exported, "{out}");
    assert_eq!(figure["raw_window_per_s"].as_array().map(Vec::len), Some(2));
    assert!(figure["ratio"].as_f64().is_some_and(|r| r > 0.0), "{out}");
    assert!(
        v["inclusion_proof"].is_null() && v["append"].is_null(),
        "{out}"
    );
    // Without --log-key the key is read from the bundle's path with the extension `key`.
    let (ok, _, err) = run(&["bench-log", "--bundle", bundle]);
    assert!(!ok);
    assert!(err.contains("log.key"), "{err}");
    std::fs::write(dir.path().join("log.key"), format!("{key}\n")).expect("key file");
    let (ok, out, err) = run(&["bench-log", "--bundle", bundle, "--json"]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["offline_verify"]["entries"], exported, "{out}");
    std::fs::write(dir.path().join("log.key"), "not a key\n").expect("key file");
    let (ok, _, err) = run(&["bench-log", "--bundle", bundle]);
    assert!(!ok);
    assert!(err.contains("log.key: not a verifier key"), "{err}");
    std::fs::write(dir.path().join("log.key"), format!("{key}\n")).expect("key file");
    let mut text = std::fs::read_to_string(bundle).expect("bundle");
    text = text.replacen("\"index\":0", "\"index\":1", 1);
    std::fs::write(bundle, text).expect("tamper");
    let (ok, _, err) = run(&["bench-log", "--bundle", bundle]);
    assert!(!ok);
    assert!(err.contains("does not verify"), "{err}");
}

#[test]
fn a_report_read_by_a_reader_that_leaves_early_ends_quietly() {
    // As in `caseledger report … | head -3`: the pipe is closed before the report is written.
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data = data.to_str().expect("utf8");
    let (ok, _, err) = run(&["init", "--data", data]);
    assert!(ok, "{err}");
    for format in ["csv", "json"] {
        let mut child = Command::new(BIN)
            .args(["report", "program", "--data", data, "--from", "2026-01-01"])
            .args(["--to", "2026-12-31", "--format", format])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{format}: {err}");
        assert!(!err.contains("panicked"), "{format}: {err}");
    }
}

#[test]
fn export_writes_the_bundle_whole_or_leaves_the_target_as_it_was() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data = data.to_str().expect("utf8");
    let (ok, _, err) = run(&["init", "--json", "--data", data]);
    assert!(ok, "{err}");
    let target = dir.path().join("evidence.json");
    let out = target.to_str().expect("utf8");
    std::fs::write(&target, "an earlier bundle").expect("write");
    for (case, why) in [
        ("not-a-uuid", "--case must be a case UUID"),
        ("0190a3c2-7b1e-7000-8000-000000000001", "no entries"),
    ] {
        let (ok, _, err) = run(&["export", "--data", data, "--out", out, "--case", case]);
        assert!(!ok && err.contains(why), "{case}: {err}");
        let kept = std::fs::read_to_string(&target).expect("read");
        assert_eq!(kept, "an earlier bundle", "{case}");
    }
    // At the witnessed checkpoint, from a server that never had witnesses.
    let (ok, _, err) = run(&["export", "--data", data, "--out", out, "--witnessed"]);
    assert!(
        !ok && err.contains("no witnesses' cosignatures are kept"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "an earlier bundle"
    );
    // A damaged file of cosignatures: without them, said; --witnessed needs them.
    let kept = std::path::Path::new(data).join("cosignatures.db");
    std::fs::write(&kept, "not a database").expect("write");
    let (ok, _, err) = run(&["export", "--data", data, "--out", out, "--witnessed"]);
    assert!(
        !ok && err.contains("--witnessed: ") && err.contains("cosignatures.db"),
        "{err}"
    );
    let (ok, _, err) = run(&["export", "--data", data, "--out", out]);
    assert!(ok && err.contains("the bundle goes without them"), "{err}");
    std::fs::remove_file(&kept).expect("remove");
    // Never over a file of the data directory, which are the ledger's own.
    let db = std::path::Path::new(data).join("ledger.db");
    let key = std::path::Path::new(data).join("log.key");
    let key_text = std::fs::read_to_string(&key).expect("log key");
    for inside in [&db, &key] {
        let inside = inside.to_str().expect("utf8");
        let (ok, _, err) = run(&["export", "--data", data, "--out", inside]);
        assert!(!ok && err.contains("inside the data directory"), "{err}");
    }
    let head = std::fs::read(&db).expect("db");
    assert!(
        head.starts_with(b"SQLite format 3\0"),
        "the ledger is a database still"
    );
    assert_eq!(std::fs::read_to_string(&key).expect("log key"), key_text);
    let leftovers: Vec<_> = std::fs::read_dir(data)
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".caseledger-export"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // A target that is not a regular file (here a named pipe, as with `>(…)` or
    // /dev/stdout) is written as it is, never replaced by a file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let pipe = dir.path().join("pipe");
        let made = Command::new("mkfifo").arg(&pipe).status().expect("mkfifo");
        assert!(made.success());
        let reading = {
            let pipe = pipe.clone();
            std::thread::spawn(move || std::fs::read_to_string(pipe).expect("read the pipe"))
        };
        let (ok, _, err) = run(&[
            "export",
            "--data",
            data,
            "--out",
            pipe.to_str().expect("utf8"),
        ]);
        assert!(ok, "{err}");
        let through: Value = serde_json::from_str(&reading.join().expect("reader")).expect("json");
        assert!(through["entries"].as_array().is_some_and(|e| !e.is_empty()));
        let kind = std::fs::metadata(&pipe).expect("pipe").file_type();
        assert!(kind.is_fifo(), "the pipe is still a pipe");
    }
    let (ok, _, err) = run(&["export", "--data", data, "--out", out]);
    assert!(ok, "{err}");
    let bundle: Value =
        serde_json::from_str(&std::fs::read_to_string(&target).expect("read")).expect("json");
    assert!(bundle["entries"].as_array().is_some_and(|e| !e.is_empty()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&target)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "a bundle holds the log: owner-only");
    }
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with(".caseledger-export")),
        "{names:?}"
    );
}

#[test]
fn benchmarks_refuse_arguments_they_cannot_run_with() {
    for (args, why) in [
        (
            &["bench-reports", "--queries", "0"][..],
            "--queries must be at least 1",
        ),
        (
            &["bench", "--batch-size", "1001"][..],
            "--batch-size must be 1 to 1000",
        ),
    ] {
        let out = Command::new(BIN).args(args).output().expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(why), "{args:?}: {err}");
    }
}

#[test]
fn the_demo_writes_into_an_existing_ledger_only_when_told_to() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data = data.to_str().expect("utf8");
    let (ok, _, err) = run(&["init", "--json", "--data", data]);
    assert!(ok, "{err}");
    let size = |d: &str| {
        let (ok, out, err) = run(&["export", "--data", d, "--out", "-"]);
        assert!(ok, "{err}");
        serde_json::from_str::<Value>(&out).expect("bundle")["entries"]
            .as_array()
            .map(Vec::len)
    };
    let before = size(data);
    let (ok, _, err) = run(&["demo", "--data", data]);
    assert!(!ok && err.contains("--existing"), "{err}");
    assert_eq!(size(data), before, "nothing was written");
}

/// `run`, again while the data directory is still held by a ledger this test dropped a
/// moment ago (its writer thread lets go once it has stopped).
fn run_when_free(args: &[&str]) -> (bool, String, String) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let out = run(args);
        if !out.2.contains("in use by another caseledger process")
            || std::time::Instant::now() > deadline
        {
            return out;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A new key file for `cw-ana` in `dir`, made with `keygen`.
fn cw_key(dir: &std::path::Path) -> std::path::PathBuf {
    let key = dir.join("cw.key.json");
    let (ok, _, err) = run(&[
        "keygen",
        "--principal",
        "cw-ana",
        "--out",
        key.to_str().expect("utf8"),
    ]);
    assert!(ok, "{err}");
    key
}

#[test]
fn submit_refuses_an_expected_revision_it_cannot_send() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = cw_key(dir.path());
    let event = dir.path().join("event.json");
    let body = r#"{"type": "case.opened", "stream": "case-0190a3c2-7b1e-7000-8000-000000000001",
        "data": {"owner_agency": "north-legal", "coordinator": "cw-ana", "needs": ["legal"],
                 "minor": false}}"#;
    std::fs::write(&event, body).expect("event");
    let (ok, _, err) = run(&[
        "submit",
        "--key",
        key.to_str().expect("utf8"),
        "--event",
        event.to_str().expect("utf8"),
        "--token",
        "t",
        "--url",
        "http://127.0.0.1:9",
        "--expected-revision",
        "1 2",
    ]);
    assert!(!ok, "refused");
    assert!(err.contains("--expected-revision `1 2`"), "{err}");
}

#[test]
fn the_demo_in_a_new_directory_prints_the_admin_token_to_explore_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("story");
    let data = data.to_str().expect("utf8");
    let (ok, out, err) = run(&["demo", "--data", data]);
    assert!(ok, "{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("to explore it: caseledger serve --data "))
        .unwrap_or_else(|| panic!("no hint: {out}"));
    let token = line
        .split("shown once: ")
        .nth(1)
        .and_then(|t| t.strip_suffix(')'))
        .expect("a token");
    assert!(token.starts_with("clt_"), "{line}");
    // The token authenticates the admin in that ledger.
    let (who, _) = token_holder(data, token);
    assert_eq!(who.as_deref(), Some("admin"));
}

/// Whom `token` authenticates in the ledger of the data directory `data`, and that ledger
/// (holding the directory's lock).
fn token_holder(data: &str, token: &str) -> (Option<String>, caseledger::ledger::Ledger) {
    let clock = std::sync::Arc::new(caseledger::ledger::SystemClock);
    let (ledger, _) = caseledger::datadir::open(std::path::Path::new(data), clock).expect("open");
    let hash = caseledger::http::auth::token_hash(token);
    let who = ledger
        .state()
        .registry
        .authenticate(&hash, &chrono::Utc::now())
        .map(|p| p.id.to_string());
    (who, ledger)
}

/// A lost admin token: `token` records a new one from the data directory, signed by the
/// service key and named as the admin's request; the log then knows it.
#[test]
fn token_issues_a_new_admin_token_from_the_data_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data = data.to_str().expect("utf8");
    let (ok, _, err) = run(&["init", "--data", data]);
    assert!(ok, "{err}");
    let (ok, out, err) = run(&["token", "--data", data, "--principal", "admin", "--json"]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    let token = v["token"].as_str().expect("token");
    assert!(token.starts_with("clt_"), "{out}");
    assert_eq!(v["index"], 3, "{out}");
    // The token authenticates the admin in the ledger the directory holds.
    let (who, ledger) = token_holder(data, token);
    assert_eq!(who.as_deref(), Some("admin"));
    // Refused while the directory is in use, for an unknown principal, and when the
    // requester is not an admin (the rules decide it, as for the endpoint).
    let (ok, _, err) = run(&["token", "--data", data, "--principal", "admin"]);
    assert!(!ok && err.contains("in use"), "{err}");
    drop(ledger);
    let (ok, _, err) = run_when_free(&["token", "--data", data, "--principal", "nobody"]);
    assert!(!ok && err.contains("no principal nobody"), "{err}");
    let service_key = format!("{data}/service.key.json");
    let (ok, _, err) = run(&[
        "token",
        "--data",
        data,
        "--principal",
        "ledger-service",
        "--admin-key",
        &service_key,
    ]);
    assert!(!ok && err.contains("not an active admin"), "{err}");
    // The requester proves it asks with a key of theirs the log holds: a key file of the
    // same name made elsewhere is refused.
    let other = dir.path().join("other-admin.key.json");
    let other = other.to_str().expect("utf8");
    let (ok, _, err) = run(&["keygen", "--principal", "admin", "--out", other]);
    assert!(ok, "{err}");
    let (ok, _, err) = run(&[
        "token",
        "--data",
        data,
        "--principal",
        "admin",
        "--admin-key",
        other,
    ]);
    assert!(!ok && err.contains("holds no active key of admin"), "{err}");
    // Nor does the admin's own key file once that key is revoked.
    let admin = caseledger::envelope::KeyFile::read(&dir.path().join("data/admin.key.json"))
        .expect("admin key");
    let (_, ledger) = token_holder(data, token);
    let revoked = serde_json::json!({"keyid": admin.keyid().to_string(), "reason": "lost"});
    let wire = caseledger::client::signed_event(
        &admin,
        "principal.key_revoked",
        "principal-admin",
        revoked,
        chrono::Utc::now(),
    );
    let v = caseledger::client::self_verified(&admin, &wire).expect("verified");
    ledger
        .submit_blocking(
            "principal-admin".into(),
            vec![v],
            caseledger::ledger::ExpectedRevision::Any,
        )
        .expect("revoke the admin's key");
    drop(ledger);
    let (ok, _, err) = run_when_free(&["token", "--data", data, "--principal", "admin"]);
    assert!(!ok && err.contains("holds no active key of admin"), "{err}");
}

#[test]
fn a_case_exported_by_the_cli_carries_heads_that_a_later_full_export_confirms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("story");
    let data = data.to_str().expect("utf8");
    let (ok, _, err) = run(&["demo", "--data", data]);
    assert!(ok, "{err}");
    // A second case after it, so that the first one's bundle is a part of the log.
    let (ok, _, err) = run_when_free(&["demo", "--data", data, "--existing"]);
    assert!(ok, "{err}");
    let path = |name: &str| dir.path().join(name).to_str().expect("utf8").to_owned();
    let (full, case_bundle, key) = (path("full.json"), path("case.json"), path("log.pub"));
    let export_full = || {
        let (ok, _, err) = run(&["export", "--data", data, "--out", &full]);
        assert!(ok, "{err}");
        serde_json::from_str::<Value>(&std::fs::read_to_string(&full).expect("read"))
            .expect("bundle")
    };
    let bundle = export_full();
    // The bundle's own key, for this test (an auditor has it from the operator).
    std::fs::write(&key, bundle["log_key"].as_str().expect("log_key")).expect("key");
    let case = bundle["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find_map(|e| {
            let entry: Value = serde_json::from_str(e["entry"].as_str()?).ok()?;
            Some(entry["stream"].as_str()?.strip_prefix("case-")?.to_owned())
        })
        .expect("a case");
    let (ok, _, err) = run(&[
        "export",
        "--data",
        data,
        "--out",
        &case_bundle,
        "--case",
        &case,
    ]);
    assert!(ok, "{err}");
    let verify = |args: &[&str]| run(&[&["verify", "--log-key", &key], args].concat());
    let (ok, out, err) = verify(&[&case_bundle, "--require-heads"]);
    assert!(ok, "{out}{err}");
    assert!(out.starts_with("OK: partial bundle"), "{out}");
    assert!(
        out.contains(&format!(
            "Identity heads: the log key attests how many entries case-{case}"
        )),
        "{out}"
    );
    // The log grows; the kept case bundle's heads hold for the later full log.
    let (ok, _, err) = run_when_free(&["demo", "--data", data, "--existing"]);
    assert!(ok, "{err}");
    let later = export_full();
    let (ok, out, err) = verify(&[&full, "--full", "--heads", &case_bundle]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains(&format!("Identity heads for case-{case} hold")),
        "{out}"
    );
    // Against the later checkpoint, the kept case bundle is stale: refused.
    let now = path("now.txt");
    std::fs::write(&now, later["checkpoint"].as_str().expect("checkpoint")).expect("write");
    let (ok, out, _) = verify(&[&case_bundle, "--since", &now]);
    assert!(!ok);
    assert!(out.contains("consistency check failed"), "{out}");
}
