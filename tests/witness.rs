//! Witnesses end to end, with real processes: `caseledger witness` cosigns the checkpoints a
//! `caseledger serve --witness` submits, an auditor's `verify-checkpoint --witness` accepts
//! them, and a fork of the log (a copy of its data directory that went on differently, as
//! a server showing a second history would) gets no cosignature, also after the witness was
//! killed with SIGKILL and restarted.

mod process;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use process::{init_json, run_ok, start_server_with, start_witness, BIN};

fn witness_init(state: &Path) -> String {
    let mut init = Command::new(BIN);
    init.args(["witness", "init", "--name", "witness.test/w1", "--state"])
        .arg(state);
    String::from_utf8(run_ok(&mut init))
        .expect("utf-8")
        .trim()
        .to_owned()
}

/// A log initialised in `data` and a witness of it in `state`, running.
struct Setup {
    init: serde_json::Value,
    log_key: String,
    token: String,
    witness_key: String,
    witness: process::Server,
    witness_url: String,
    /// The `--witness` value for `serve` (the witness key as a file).
    submit_to: String,
}

fn setup(data: &Path, state: &Path) -> Setup {
    let init = init_json(data);
    let log_key = init["log_key"].as_str().expect("log key").to_owned();
    let token = init["admin_token"].as_str().expect("token").to_owned();
    let witness_key = witness_init(state);
    // `witness key` prints it again from the state, for deployments.
    let mut key = Command::new(BIN);
    key.args(["witness", "key", "--state"]).arg(state);
    assert_eq!(
        String::from_utf8(run_ok(&mut key)).unwrap().trim(),
        witness_key
    );
    // Both keys as files, as a deployment keeps them (`--log-key FILE`, "URL FILE").
    let files = data.parent().expect("parent");
    let (log_pub, witness_pub) = (files.join("log.pub"), files.join("witness.pub"));
    std::fs::write(&log_pub, format!("{log_key}\n")).expect("write");
    std::fs::write(&witness_pub, format!("{witness_key}\n")).expect("write");
    let log_pub = log_pub.to_str().expect("utf-8");
    let (witness, witness_url) = start_witness(state, log_pub, "127.0.0.1:0");
    let submit_to = format!("{witness_url} {}", witness_pub.display());
    Setup {
        init,
        log_key,
        token,
        witness_key,
        witness,
        witness_url,
        submit_to,
    }
}

/// One more entry: a token issued to the admin (an entry the server signs itself).
fn write(base: &str, token: &str) {
    let r = ureq::post(&format!("{base}/v1/principals/admin/tokens"))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .expect("token issued");
    assert_eq!(r.status(), 201);
}

/// Registers an auditor through the API (as the admin `init` made) and returns its token.
fn auditor_token(base: &str, init: &serde_json::Value) -> String {
    let token = init["admin_token"].as_str().expect("token");
    let admin = caseledger::envelope::KeyFile::read(Path::new(
        init["admin_key_file"].as_str().expect("admin key file"),
    ))
    .expect("admin key");
    let auditor = caseledger::envelope::KeyFile::generate("olu".parse().expect("slug"));
    let registered = caseledger::client::signed_event(
        &admin,
        "principal.registered",
        "principal-olu",
        serde_json::json!({"agency": "operator", "roles": ["auditor"],
            "public_key": auditor.public_key_b64()}),
        chrono::Utc::now(),
    );
    let r = ureq::post(&format!("{base}/v1/events"))
        .set("Authorization", &format!("Bearer {token}"))
        .send_json(serde_json::to_value(&registered).expect("json"))
        .expect("auditor registered");
    assert_eq!(r.status(), 201);
    let auditor_token: serde_json::Value = ureq::post(&format!("{base}/v1/principals/olu/tokens"))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .expect("token")
        .into_json()
        .expect("json");
    auditor_token["token"].as_str().expect("token").to_owned()
}

/// `caseledger export --data DATA --out OUT EXTRA…`: what it said on standard error, as
/// `Ok` if it succeeded.
fn export(data: &Path, extra: &[&str], out: &Path) -> Result<String, String> {
    let mut cmd = Command::new(BIN);
    cmd.args(["export", "--data"])
        .arg(data)
        .arg("--out")
        .arg(out);
    let done = cmd.args(extra).output().expect("export");
    let said = String::from_utf8_lossy(&done.stderr).into_owned();
    match done.status.success() {
        true => Ok(said),
        false => Err(said),
    }
}

/// `GET /v1/export{query}` as an auditor: the bundle, as text and parsed.
fn export_api(base: &str, auditor: &str, query: &str) -> (String, serde_json::Value) {
    let bundle = ureq::get(&format!("{base}/v1/export{query}"))
        .set("Authorization", &format!("Bearer {auditor}"))
        .call()
        .expect("export")
        .into_string()
        .expect("bundle");
    let parsed = serde_json::from_str(&bundle).expect("bundle JSON");
    (bundle, parsed)
}

/// Writes the demo's case through the server at `base` (as the admin `init` made): its id
/// and the leaf index of its last entry.
fn demo_case(base: &str, init: &serde_json::Value) -> (String, u64) {
    let out = run_ok(Command::new(BIN).args([
        "demo",
        "--url",
        base,
        "--admin-token",
        init["admin_token"].as_str().expect("token"),
        "--admin-key",
        init["admin_key_file"].as_str().expect("admin key file"),
    ]));
    let out = String::from_utf8(out).expect("utf-8");
    let case = out
        .lines()
        .find_map(|l| l.strip_prefix("case ")?.split(' ').next())
        .expect("the demo names its case");
    let last = out
        .lines()
        .filter_map(|l| l.split("-> 201 leaf ").nth(1)?.parse::<u64>().ok())
        .max()
        .expect("the demo's entries");
    (case.to_owned(), last)
}

/// `verify BUNDLE` under `log_key`: exit status and standard output.
fn verify_bundle(file: &Path, log_key: &str, extra: &[&str]) -> (bool, String) {
    let out = Command::new(BIN)
        .arg("verify")
        .arg(file)
        .args(["--log-key", log_key])
        .args(extra)
        .output()
        .expect("verify");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The body of a public `GET {base}{path}` that must answer 200.
fn get_text(base: &str, path: &str) -> String {
    ureq::get(&format!("{base}{path}"))
        .call()
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
        .into_string()
        .expect("text")
}

fn checkpoint(base: &str) -> String {
    get_text(base, "/v1/log/checkpoint")
}

/// The served checkpoint once it carries `witness`'s cosignature, within 15 s (a feeder
/// that found the witness down tries again after 10 s).
fn cosigned(base: &str, witness: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let note = checkpoint(base);
        if note.contains(&format!("\n— {witness} ")) {
            return note;
        }
        assert!(Instant::now() < deadline, "never cosigned:\n{note}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `verify-checkpoint` on `note` pinning `witness_key`: exit status and output.
fn verify(dir: &Path, note: &str, log_key: &str, args: &[&str]) -> (bool, String) {
    let file = dir.join("checkpoint.txt");
    std::fs::write(&file, note).expect("write");
    let out = Command::new(BIN)
        .arg("verify-checkpoint")
        .arg(&file)
        .args(["--log-key", log_key])
        .args(args)
        .output()
        .expect("verify-checkpoint");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn a_witness_cosigns_the_log_and_never_its_fork() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (data, fork, state) = (
        tmp.path().join("data"),
        tmp.path().join("fork"),
        tmp.path().join("witness"),
    );
    let Setup {
        init,
        log_key,
        token,
        witness_key,
        mut witness,
        witness_url,
        submit_to,
    } = setup(&data, &state);

    // The log submits its checkpoints; the served one carries the cosignature.
    let (mut server, base) = start_server_with(&data, &["--witness", &submit_to]);
    write(&base, &token);
    let note = cosigned(&base, "witness.test/w1");
    let (ok, out) = verify(tmp.path(), &note, &log_key, &["--witness", &witness_key]);
    assert!(ok, "{out}");
    // The newest checkpoint every witness cosigned, whatever was signed since.
    let witnessed = get_text(&base, "/v1/log/checkpoint/witnessed");
    assert_eq!(witnessed, note);
    assert!(out.contains("Cosigned by witness witness.test/w1"), "{out}");
    // Without the cosignature, or pinning another witness, it is refused.
    let bare = note
        .split("\n— witness.test/w1 ")
        .next()
        .unwrap()
        .to_owned()
        + "\n";
    let (ok, out) = verify(tmp.path(), &bare, &log_key, &["--witness", &witness_key]);
    assert!(
        !ok && out.contains("witnesses check failed: 0 of the 1"),
        "{out}"
    );
    let (ok, out) = verify(
        tmp.path(),
        &note,
        &log_key,
        &["--witness", &witness_key, "--witness-threshold", "2"],
    );
    assert!(!ok && out.contains("--witness-threshold 2"), "{out}");
    // The same key twice counts once; two keys under one name are refused.
    let twice = ["--witness", &witness_key, "--witness", &witness_key];
    assert!(verify(tmp.path(), &note, &log_key, &twice).0);
    let other = caseledger::log::cosignature::Witness::generate("witness.test/w1").unwrap();
    let clash = [
        "--witness",
        &witness_key,
        "--witness",
        &other.public().to_text(),
    ];
    let (ok, out) = verify(tmp.path(), &note, &log_key, &clash);
    assert!(
        !ok && out.contains("two --witness keys are named witness.test/w1"),
        "{out}"
    );
    // A cosignature made long ago does not count under --witness-max-age.
    let secret = std::fs::read_to_string(state.join("witness.key")).expect("key");
    let w = caseledger::log::cosignature::Witness::parse(secret.trim()).expect("witness key");
    let stale = format!(
        "{bare}{}",
        w.cosign(&bare[..bare.find("\n\n").unwrap() + 1], 1_000)
    );
    let max_age = ["--witness", &witness_key, "--witness-max-age", "3600"];
    let (ok, out) = verify(tmp.path(), &stale, &log_key, &max_age);
    assert!(!ok && out.contains("(too old: witness.test/w1)"), "{out}");
    let (ok, out) = verify(tmp.path(), &note, &log_key, &max_age);
    assert!(ok, "{out}");

    // An auditor's export carries the cosigned checkpoint; the bundle verifies, and its
    // checkpoint, taken out of it, verifies with the witness pinned.
    let auditor_token = auditor_token(&base, &init);
    cosigned(&base, "witness.test/w1");
    let (bundle, parsed) = export_api(&base, &auditor_token, "");
    let in_bundle = parsed["checkpoint"]
        .as_str()
        .expect("checkpoint")
        .to_owned();
    assert!(in_bundle.contains("\n— witness.test/w1 "), "{in_bundle}");
    let (ok, out) = verify(
        tmp.path(),
        &in_bundle,
        &log_key,
        &["--witness", &witness_key],
    );
    assert!(ok, "{out}");
    let file = tmp.path().join("bundle.json");
    std::fs::write(&file, &bundle).expect("write bundle");
    let verify_bundle =
        |file: &Path, extra: &[&str]| verify_bundle(file, &log_key, &[&["--full"], extra].concat());
    let (ok, out) = verify_bundle(&file, &[]);
    assert!(ok, "{out}");
    // `verify --witness` checks the bundle's own checkpoint too: one whose cosignature was
    // stripped verifies as a bundle, but not with the witness pinned.
    let pinned = ["--witness", witness_key.as_str()];
    let (ok, out) = verify_bundle(&file, &pinned);
    assert!(
        ok && out.contains("Cosigned by witness witness.test/w1"),
        "{out}"
    );
    let mut stripped = parsed.clone();
    let bare_checkpoint = in_bundle
        .split("\n— witness.test/w1 ")
        .next()
        .unwrap()
        .to_owned()
        + "\n";
    stripped["checkpoint"] = bare_checkpoint.into();
    let bare_file = tmp.path().join("bare.json");
    std::fs::write(&bare_file, serde_json::to_vec(&stripped).unwrap()).expect("write");
    assert!(verify_bundle(&bare_file, &[]).0);
    let (ok, out) = verify_bundle(&bare_file, &pinned);
    assert!(!ok && out.contains("witnesses check failed"), "{out}");
    // Read once, from standard input too: the cosignatures checked are on the very
    // checkpoint member the verification read.
    let mut child = Command::new(BIN)
        .args([
            "verify",
            "-",
            "--log-key",
            &log_key,
            "--full",
            "--witness",
            &witness_key,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("verify -");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), bundle.as_bytes())
        .expect("pipe the bundle");
    let out = child.wait_with_output().expect("verify -");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("Cosigned by witness"),
        "{text}"
    );

    // A copy of the log that goes on differently: a second history.
    server.kill().expect("stop");
    server.wait().expect("reap");
    copy_dir(&data, &fork);
    let (_server, base) = start_server_with(&data, &["--witness", &submit_to]);
    write(&base, &token);
    let honest = cosigned(&base, "witness.test/w1");

    // The witness dies without warning and comes back: it remembers what it cosigned.
    witness.kill().expect("kill -9 the witness");
    witness.wait().expect("reap");
    let addr = witness_url.trim_start_matches("http://");
    let (_witness, _) = start_witness(&state, &log_key, addr);
    let (_fork_server, fork_base) = start_server_with(&fork, &["--witness", &submit_to]);
    write(&fork_base, &token);
    // The fork's server submitted its new checkpoint and was refused: an alert-worthy metric.
    let refusals = "caseledger_witness_fork_refusals_total{witness=\"witness.test/w1\"} 1";
    let deadline = Instant::now() + Duration::from_secs(15);
    while !metrics(&fork_base).contains(refusals) {
        assert!(Instant::now() < deadline, "{}", metrics(&fork_base));
        std::thread::sleep(Duration::from_millis(100));
    }
    let forked = checkpoint(&fork_base);
    assert_eq!(size_of(&forked), size_of(&honest), "two trees of one size");
    assert_ne!(forked, honest);
    assert!(
        !forked.contains("— witness.test/w1 "),
        "the fork was cosigned:\n{forked}"
    );
    let (ok, out) = verify(tmp.path(), &forked, &log_key, &["--witness", &witness_key]);
    assert!(!ok && out.contains("witnesses check failed"), "{out}");
    // Whatever the fork's server did, the witness itself refuses its checkpoint.
    let body = format!("old {}\n\n{}", size_of(&honest), forked);
    match ureq::post(&format!("{witness_url}/add-checkpoint")).send_string(&body) {
        Err(ureq::Error::Status(409, r)) => {
            assert_eq!(r.content_type(), "text/plain");
            let text = r.into_string().unwrap();
            assert!(text.contains("another root was cosigned before"), "{text}");
        }
        other => panic!("the witness answered the fork with {other:?}"),
    }
    // The honest log goes on being cosigned by the restarted witness.
    write(&base, &token);
    let later = cosigned(&base, "witness.test/w1");
    assert_eq!(size_of(&later), size_of(&honest) + 1);
    let cosigned_size = format!(
        "caseledger_witness_cosigned_size{{witness=\"witness.test/w1\"}} {}",
        size_of(&later)
    );
    assert!(
        metrics(&base).contains(&cosigned_size),
        "{}",
        metrics(&base)
    );
}

/// The cosignatures a server collected are kept in its data directory: after a kill -9 and
/// a restart with the witness down, the witnessed checkpoint is served at once, and an
/// offline `caseledger export --witnessed` writes a bundle proved against it that verifies
/// with the witness pinned, while the latest checkpoint, signed after, has no cosignature.
#[test]
fn cosignatures_outlive_a_restart_and_go_into_offline_exports() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (data, state) = (tmp.path().join("data"), tmp.path().join("witness"));
    let mut w = setup(&data, &state);
    let (mut server, base) = start_server_with(&data, &["--witness", &w.submit_to]);
    let auditor = auditor_token(&base, &w.init);
    // A case, written by the demo's caseworkers, under the cosigned checkpoint.
    let (case, last_leaf) = demo_case(&base, &w.init);
    let note = loop {
        let note = cosigned(&base, "witness.test/w1");
        if size_of(&note) > last_leaf {
            break note;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    for child in [&mut server, &mut w.witness] {
        child.kill().expect("kill -9");
        child.wait().expect("reap");
    }

    // Restarted with its witness down: the kept cosignature is served at once.
    let (server, base) = start_server_with(&data, &["--witness", &w.submit_to]);
    let witnessed = get_text(&base, "/v1/log/checkpoint/witnessed");
    assert_eq!(witnessed, note);
    write(&base, &w.token);
    let latest = checkpoint(&base);
    assert!(size_of(&latest) > size_of(&note), "{latest}");
    assert!(!latest.contains("— witness.test/w1 "), "{latest}");
    // The API's export at the witnessed checkpoint: it verifies with the witness pinned.
    let pinned = ["--full", "--witness", w.witness_key.as_str()];
    let (bundle, parsed) = export_api(&base, &auditor, "?witnessed=true");
    assert_eq!(parsed["checkpoint"], note.as_str());
    let from_api = tmp.path().join("api.json");
    std::fs::write(&from_api, bundle).expect("write");
    let (ok, out) = verify_bundle(&from_api, &w.log_key, &pinned);
    let holds = format!("OK: full-log bundle of {} entries", size_of(&note));
    assert!(ok && out.contains(&holds), "{out}");

    // Offline, from the data directory, beside the running server.
    let at_latest = tmp.path().join("latest.json");
    let said = export(&data, &[], &at_latest).expect("export");
    assert!(!said.contains("cosigned by"), "{said}");
    assert!(verify_bundle(&at_latest, &w.log_key, &["--full"]).0);
    let (ok, out) = verify_bundle(&at_latest, &w.log_key, &pinned);
    assert!(!ok && out.contains("witnesses check failed"), "{out}");
    let at_witnessed = tmp.path().join("witnessed.json");
    let said = export(&data, &["--witnessed"], &at_witnessed).expect("export");
    let size = size_of(&note);
    let want = format!("(checkpoint size {size}, cosigned by 1 witness)");
    assert!(
        said.contains(&want) && said.contains("past the witnessed checkpoint"),
        "{said}"
    );
    let (ok, out) = verify_bundle(&at_witnessed, &w.log_key, &pinned);
    assert!(
        ok && out.contains("Cosigned by witness witness.test/w1"),
        "{out}"
    );
    // The case's bundle at the witnessed checkpoint, offline and from the API: its
    // identity heads signed for that checkpoint, every check holding.
    let case_pinned = ["--require-heads", "--witness", w.witness_key.as_str()];
    let case_offline = tmp.path().join("case.json");
    let said = export(&data, &["--witnessed", "--case", &case], &case_offline).expect("export");
    assert!(said.contains(&want), "{said}");
    let (bundle, parsed) = export_api(&base, &auditor, &format!("?witnessed=true&case={case}"));
    assert_eq!(parsed["checkpoint"], note.as_str());
    let case_api = tmp.path().join("case-api.json");
    std::fs::write(&case_api, bundle).expect("write");
    for file in [&case_offline, &case_api] {
        let (ok, out) = verify_bundle(file, &w.log_key, &case_pinned);
        assert!(
            ok && out.contains(&format!("Identity heads for case-{case} hold")),
            "{out}"
        );
    }
    drop(server);

    // A server whose witness never answered: nothing to export at a witnessed checkpoint.
    let lone = tmp.path().join("lone");
    let lone_init = init_json(&lone);
    let down = format!("http://127.0.0.1:9 {}", w.witness_key);
    // Its file of cosignatures is damaged: moved aside, and a new one started.
    std::fs::write(lone.join("cosignatures.db"), "not a database").expect("write");
    let (_lone_server, lone_base) = start_server_with(&lone, &["--witness", &down]);
    let aside = std::fs::read_dir(&lone)
        .expect("dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("cosignatures.db.unreadable-"))
        .count();
    assert_eq!(aside, 1);
    let auditor = auditor_token(&lone_base, &lone_init);
    let r = ureq::get(&format!("{lone_base}/v1/export?witnessed=true"))
        .set("Authorization", &format!("Bearer {auditor}"))
        .call();
    match r {
        Err(ureq::Error::Status(503, r)) => {
            let text = r.into_string().unwrap();
            assert!(
                text.contains("no checkpoint cosigned by every witness"),
                "{text}"
            );
        }
        other => panic!("{other:?}"),
    }
    // A file of cosignatures that cannot be written does not stop a server.
    drop(_lone_server);
    let nowhere = [
        "--witness",
        &down,
        "--cosignatures",
        "/proc/caseledger/cosignatures.db",
    ];
    let (_lone_server, lone_base) = start_server_with(&lone, &nowhere);
    assert!(checkpoint(&lone_base).starts_with("caseledger.local/"));
    let refused = export(&lone, &["--witnessed"], &tmp.path().join("none.json"));
    let said = refused.expect_err("nothing witnessed");
    assert!(
        said.contains("no checkpoint cosigned by every witness is kept"),
        "{said}"
    );
    // Never into one of the ledger's own files.
    drop(_lone_server);
    let ledger = lone.join("ledger.db");
    let out = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--witness",
            &down,
            "--data",
        ])
        .arg(&lone)
        .arg("--cosignatures")
        .arg(&ledger)
        .output()
        .expect("serve");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && said.contains("one of the ledger's own files"),
        "{said}"
    );
}

fn metrics(base: &str) -> String {
    get_text(base, "/metrics")
}

fn size_of(note: &str) -> u64 {
    note.lines()
        .nth(1)
        .expect("size line")
        .parse()
        .expect("size")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        if entry.file_type().expect("type").is_file() && entry.file_name() != "writer.lock" {
            std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
        }
    }
}
