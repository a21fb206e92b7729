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
    server.kill().expect("kill");
    let _ = server.wait();
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
