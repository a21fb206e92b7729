//! Durability: a real `caseledger serve` process takes concurrent writes and is killed with
//! SIGKILL, several times. Every acknowledged event must be in the log after restart, at the
//! index it was acknowledged with, with the same bytes (same leaf hash, same envelope).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use caseledger::client;
use caseledger::envelope::{KeyFile, WireEnvelope};
use chrono::Utc;
use serde_json::{json, Value};

mod process;

use process::{init_json, start_server as start, start_server_unheard};

fn post(base: &str, token: &str, env: &WireEnvelope) -> Option<Value> {
    let r = ureq::post(&format!("{base}/v1/events"))
        .set("Authorization", &format!("Bearer {token}"))
        .timeout(Duration::from_secs(10))
        .send_json(env);
    match r {
        Ok(resp) if resp.status() == 201 => resp.into_json().ok(),
        Ok(resp) => panic!("unexpected status {}", resp.status()),
        Err(ureq::Error::Status(code, resp)) => {
            panic!("refused {code}: {}", resp.into_string().unwrap_or_default())
        }
        Err(_) => None, // the server died mid-request: not acknowledged
    }
}

fn agency(i: usize) -> Value {
    json!({
        "name": format!("Agency {i}"), "region": "North", "domains": ["social"],
        "languages": ["en"], "interpretation": false, "cultural_adaptations": [],
        "trafficking_experience": false, "eligibility": {"criteria": [], "notes": ""}
    })
}

/// Initialises `dir`; the first admin's token and key.
fn initialised(dir: &std::path::Path) -> (String, KeyFile) {
    let report = init_json(dir);
    let token = report["admin_token"].as_str().expect("token").to_owned();
    let file = report["admin_key_file"].as_str().expect("key file");
    (
        token,
        KeyFile::read(std::path::Path::new(file)).expect("key"),
    )
}

#[test]
fn acknowledged_appends_survive_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (token, admin) = initialised(dir.path());
    let acked: Mutex<Vec<(Value, WireEnvelope)>> = Mutex::new(Vec::new());
    let mut next_stream = 0usize;
    for cycle in 0..3 {
        let (mut child, base) = start(dir.path());
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            for w in 0..8 {
                let (base, token, admin, acked, stop) = (&base, &token, &admin, &acked, &stop);
                let first = next_stream + w * 10_000;
                s.spawn(move || {
                    let mut i = first;
                    while !stop.load(Ordering::Relaxed) {
                        let env = client::signed_event(
                            admin,
                            "agency.registered",
                            &format!("agency-a{i}"),
                            agency(i),
                            Utc::now(),
                        );
                        match post(base, token, &env) {
                            Some(receipt) => acked.lock().expect("lock").push((receipt, env)),
                            None => break,
                        }
                        i += 1;
                    }
                });
            }
            std::thread::sleep(Duration::from_millis(700 + 300 * cycle as u64));
            child.kill().expect("SIGKILL"); // Child::kill sends SIGKILL on Unix
            stop.store(true, Ordering::Relaxed);
        });
        child.wait().expect("reap");
        next_stream += 100_000;
    }
    let acked = acked.into_inner().expect("lock");
    assert!(
        acked.len() > 50,
        "too few writes to mean anything: {}",
        acked.len()
    );
    eprintln!("{} acknowledged events over 3 kill -9 cycles", acked.len());

    // Restart and check every acknowledged event through the API.
    let (mut child, base) = start(dir.path());
    let (auditor, aud_token) = {
        let key = KeyFile::generate(caseledger::domain::PrincipalId::parse("aud").expect("s"));
        let env = client::signed_event(
            &admin,
            "principal.registered",
            "principal-aud",
            json!({"agency": "operator", "roles": ["auditor"], "public_key": key.public_key_b64()}),
            Utc::now(),
        );
        post(&base, &token, &env).expect("register auditor");
        let r: Value = ureq::post(&format!("{}/v1/principals/aud/tokens", base))
            .set("Authorization", &format!("Bearer {token}"))
            .call()
            .expect("token")
            .into_json()
            .expect("json");
        (key, r["token"].as_str().expect("token").to_owned())
    };
    let _ = auditor;
    for (receipt, env) in &acked {
        let index = receipt["index"].as_u64().expect("index");
        let line = ureq::get(&format!("{}/v1/log/entries?start={index}&limit=1", base))
            .set("Authorization", &format!("Bearer {aud_token}"))
            .call()
            .expect("entries")
            .into_string()
            .expect("body");
        let line = line.trim_end_matches('\n');
        let entry: Value = serde_json::from_str(line).expect("entry json");
        assert_eq!(
            entry["envelope"],
            serde_json::to_value(env).expect("v"),
            "index {index}"
        );
        assert_eq!(entry["stream"], receipt["stream"]);
        assert_eq!(entry["recorded_at"], receipt["recorded_at"]);
        let leaf = caseledger::log::merkle::leaf_hash(line.as_bytes());
        use base64::Engine;
        assert_eq!(
            base64::engine::general_purpose::STANDARD.encode(leaf),
            receipt["leaf_hash"].as_str().expect("leaf"),
            "index {index}: bytes changed"
        );
    }
    child.kill().expect("kill");
    child.wait().expect("reap");
}

#[test]
fn a_server_whose_log_cannot_be_written_goes_on_taking_writes() {
    // A log line that cannot be written (stderr closed here; a full disk under the log file
    // in production) must not take a thread with it: the ledger writer logging its own
    // commits once died that way, and every later write was refused until a restart.
    let dir = tempfile::tempdir().expect("tempdir");
    let (token, admin) = initialised(dir.path());
    // Everything logging, then only the writer thread (its commits, at debug).
    for (run, level) in ["trace", "warn,caseledger::ledger::writer=debug"]
        .into_iter()
        .enumerate()
    {
        let (server, base) = start_server_unheard(dir.path(), level);
        for i in 0..10 {
            let env = client::signed_event(
                &admin,
                "agency.registered",
                &format!("agency-unheard-{run}-{i}"),
                agency(i),
                Utc::now(),
            );
            assert!(
                post(&base, &token, &env).is_some(),
                "{level}: write {i} refused"
            );
        }
        let ready = ureq::get(&format!("{base}/readyz")).call().expect("ready");
        assert_eq!(ready.status(), 200);
        drop(server);
    }
}
