//! The real binary against an EventStoreDB address nobody listens on: start-up must end
//! with a non-zero exit and a message naming EventStoreDB and the address, and nothing may
//! panic (eventstore 4.0.0 panics if a rustls crypto provider was installed before it
//! connects, so this also guards against a dependency starting to install one).

#![cfg(feature = "eventstore")]

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_caseledger");
const NOBODY: &str = "esdb://127.0.0.1:1?tls=false";

/// Runs the binary, killing it if it has not exited within a minute.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start caseledger");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("caseledger kept running against an unreachable EventStoreDB");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut stderr = Vec::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_end(&mut stderr)
        .expect("read");
    let mut out = child.wait_with_output().expect("output");
    out.stderr = stderr;
    out
}

/// `serve --data DATA --store STORE --store-timeout 1` plus `extra`, on a data directory
/// holding the node's keys (initialised here if it does not), so that it gets as far as
/// connecting.
fn serve_on(data: &str, store: &str, extra: &[&str]) -> Output {
    serve_with(data, store, extra, &[])
}

/// [`serve_on`] with environment variables `env`.
fn serve_with(data: &str, store: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
    if !std::path::Path::new(data).join("log.key").exists() {
        let init = run(&["init", "--data", data], &[]);
        assert!(init.status.success(), "{init:?}");
    }
    let mut args = vec![
        "serve",
        "--data",
        data,
        "--store",
        store,
        "--store-timeout",
        "1",
    ];
    args.extend_from_slice(extra);
    run(&args, env)
}

/// Asserts exit status 1 without a panic; the standard error, for more checks.
fn refused(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "a panic:\n{stderr}");
    stderr
}

/// A refusal that names EventStoreDB and the unreachable address.
fn assert_clean_failure(out: &Output) {
    let stderr = refused(out);
    assert!(
        stderr.contains("EventStoreDB"),
        "names the backend:\n{stderr}"
    );
    assert!(
        stderr.contains("127.0.0.1:1"),
        "names the address:\n{stderr}"
    );
}

#[test]
fn serve_against_an_unreachable_eventstoredb_exits_cleanly_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf-8");
    // The node's keys, so that it gets as far as connecting.
    let init = run(&["init", "--data", data], &[]);
    assert!(init.status.success(), "{init:?}");
    let out = run(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data,
            "--store",
            NOBODY,
            "--store-timeout",
            "2",
        ],
        &[],
    );
    assert_clean_failure(&out);
}

#[test]
fn the_store_can_be_chosen_through_the_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf-8");
    let out = run(
        &["serve", "--listen", "127.0.0.1:0", "--data", data, "--init"],
        &[
            ("CASELEDGER_STORE", "esdb://127.0.0.1:1"),
            ("CASELEDGER_STORE_TIMEOUT", "1"),
        ],
    );
    assert_clean_failure(&out);
    // The directory existed: only its writer lock file (as any writing process leaves it).
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .filter(|name| name != "writer.lock")
        .collect();
    assert!(
        left.is_empty(),
        "nothing is initialised, and init's throwaway mirror is removed: {left:?}"
    );
}

#[test]
fn serve_without_the_log_key_is_refused_before_connecting() {
    // A mirror built without the key could never hold the log's checkpoints: the node is
    // told what to copy, at once, instead of after a connection timeout.
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf-8");
    let started = Instant::now();
    let out = run(
        &[
            "serve",
            "--data",
            data,
            "--store",
            NOBODY,
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    let stderr = refused(&out);
    assert!(stderr.contains("holds no log.key"), "{stderr}");
    assert!(stderr.contains("service.key.json"), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "no connection attempt"
    );
    assert!(
        !dir.path().join("esdb-mirror.db").exists(),
        "no mirror was built"
    );
}

#[test]
fn init_against_an_unreachable_eventstoredb_exits_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("d");
    let out = run(
        &[
            "init",
            "--data",
            data.to_str().expect("utf-8"),
            "--store",
            NOBODY,
            "--store-timeout",
            "1",
        ],
        &[],
    );
    assert_clean_failure(&out);
    assert!(
        !data.exists(),
        "the data directory init created for its throwaway mirror is removed"
    );
}

#[test]
fn an_unknown_store_is_refused_before_anything_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf-8");
    let out = run(&["serve", "--data", data, "--store", "postgres://x"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("unknown store"), "{stderr}");
}

#[test]
fn a_mirror_built_for_another_prefix_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf-8");
    let mirror = dir.path().join("m").join("node1.db");
    let mirror_arg = mirror.to_str().expect("utf-8");
    let serve = |store: &str| serve_on(data, store, &["--esdb-mirror", mirror_arg]);
    // The first start creates the mirror (for the default prefix) before connecting.
    assert_clean_failure(&serve(NOBODY));
    assert!(mirror.exists(), "the mirror goes where --esdb-mirror says");
    let stderr = refused(&serve("esdb://127.0.0.1:1?tls=false&prefix=other-"));
    for part in [mirror_arg, "other-", "caseledger-", "delete"] {
        assert!(stderr.contains(part), "`{part}` in:\n{stderr}");
    }
}

#[test]
fn start_up_errors_never_print_the_store_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf-8");
    let unreachable = "esdb://admin:hunter2-secret@127.0.0.1:1?tls=false";
    let malformed = "esdb://admin:hunter2-secret@127.0.0.1:notaport?tls=false";
    for store in [unreachable, malformed] {
        let stderr = refused(&serve_on(data, store, &[]));
        assert!(
            !stderr.contains("hunter2"),
            "the password is printed:\n{stderr}"
        );
        assert!(
            stderr.contains("admin:***@"),
            "the user is named:\n{stderr}"
        );
    }
}

#[test]
fn a_missing_tls_ca_file_is_refused_naming_it_without_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf-8");
    let ca = dir.path().join("no-such-ca.pem");
    let store = format!(
        "esdb://127.0.0.1:1?tlsCaFile={}",
        ca.to_str().expect("utf-8")
    );
    let stderr = refused(&serve_on(data, &store, &[]));
    assert!(stderr.contains("tlsCaFile"), "names the setting:\n{stderr}");
    assert!(
        stderr.contains(ca.to_str().expect("utf-8")),
        "names the file:\n{stderr}"
    );
}

#[test]
fn a_client_certificate_file_that_is_missing_is_refused_naming_it_without_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf-8");
    let cert = dir.path().join("no-such-client.pem");
    let key = dir.path().join("no-such-client.key");
    let store = format!(
        "esdb://127.0.0.1:1?userCertFile={}&userKeyFile={}",
        cert.to_str().expect("utf-8"),
        key.to_str().expect("utf-8")
    );
    let stderr = refused(&serve_on(data, &store, &[]));
    assert!(
        stderr.contains("userCertFile"),
        "names the setting:\n{stderr}"
    );
    assert!(
        stderr.contains(cert.to_str().expect("utf-8")),
        "names the file:\n{stderr}"
    );
}

#[test]
fn certificates_the_client_would_panic_on_are_refused_naming_the_cause() {
    // The client builds its TLS roots even with tls=false, from the platform's certificates
    // unless tlsCaFile= names a file, and panicked in its connection task on any it could
    // not load or use: every call then failed until --store-timeout, naming nothing.
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data = data.to_str().expect("utf-8");
    let missing = dir.path().join("missing-bundle.pem");
    let missing = missing.to_str().expect("utf-8");
    let serve = |store: &str, env: &[(&str, &str)]| refused(&serve_with(data, store, &[], env));
    let stderr = serve(
        "esdb://127.0.0.1:1?tls=false",
        &[("SSL_CERT_FILE", missing)],
    );
    assert!(
        stderr.contains("the platform's certificates") && stderr.contains(missing),
        "names the certificates and the file:\n{stderr}"
    );
    // A PEM block that is no certificate passes a look at the text, not the client.
    let odd = dir.path().join("odd-ca.pem");
    std::fs::write(
        &odd,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .expect("write");
    let odd = odd.to_str().expect("utf-8");
    let stderr = serve(&format!("esdb://127.0.0.1:1?tlsCaFile={odd}"), &[]);
    assert!(
        stderr.contains(&format!("tlsCaFile {odd}: a certificate is not usable")),
        "names the setting and the file:\n{stderr}"
    );
}
