//! The log read back by a client that is not ours: `tests/interop/tlog_check.go`, built on
//! Go's `golang.org/x/mod/sumdb/{note,tlog}` (the reference code behind C2SP signed-note and
//! tlog-tiles), opens the checkpoint under the log key, recomputes the signed root from the
//! hash tiles, checks proofs built from tiles against the server's and every entry bundle
//! against the leaves, over a log of more than 65,536 entries (hash tiles at levels 0, 1, 2).
//!
//! Needs `go` and the x/mod sources (Debian: `apt-get install golang-go
//! golang-golang-x-mod-dev`; elsewhere set `CASELEDGER_GOPATH` to a GOPATH holding
//! `src/golang.org/x/mod`). Without them the test prints a SKIPPED line and passes, unless
//! `CASELEDGER_REQUIRE_GO_INTEROP` is set, as `.ci/run` sets it once it has installed them.

use std::path::{Path, PathBuf};
use std::process::Command;

use caseledger::client;
use caseledger::http::Limits;
use caseledger::log::cosignature::Witness;
use caseledger::reports::ReportConfig;
use chrono::Utc;

use crate::helpers::{agency_data, commit_straight, spawn_app_after};

const REQUIRE: &str = "CASELEDGER_REQUIRE_GO_INTEROP";

/// The GOPATH holding golang.org/x/mod, if `go` runs and the sources are there.
fn go_toolchain() -> Result<PathBuf, String> {
    let gopath = std::env::var_os("CASELEDGER_GOPATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/gocode"));
    match Command::new("go").arg("version").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => return Err(format!("`go version` failed: {out:?}")),
        Err(e) => return Err(format!("no `go` to run: {e}")),
    }
    let tlog = gopath.join("src/golang.org/x/mod/sumdb/tlog");
    match tlog.is_dir() {
        true => Ok(gopath),
        false => Err(format!("no {} (golang-golang-x-mod-dev)", tlog.display())),
    }
}

/// Runs the Go checker against the server; panics with its output unless it succeeds.
fn run_checker(gopath: &Path, args: &[&str]) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    let out = Command::new("go")
        .current_dir(&dir)
        .args(["run", "tlog_check.go"])
        .args(args)
        // GOPATH mode: the imports come from the Debian sources, with no module download.
        .env("GO111MODULE", "off")
        .env("GOPATH", gopath)
        .env("GOFLAGS", "")
        .env(
            "GOCACHE",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("gocache"),
        )
        .output()
        .expect("run go");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the Go checker refused the log:\n{text}"
    );
    text
}

#[test]
fn go_reference_client_verifies_checkpoint_tiles_proofs_and_bundles() {
    let gopath = match go_toolchain() {
        Ok(p) => p,
        Err(why) if std::env::var_os(REQUIRE).is_some() => panic!("{REQUIRE} is set but {why}"),
        Err(why) => {
            eprintln!("SKIPPED: the Go interop check ({why})");
            return;
        }
    };
    // 65,800 entries straight into the store (the API would take minutes in a debug
    // build), then more through the server, whose writer adds to the same tree.
    let app = spawn_app_after(Limits::default(), ReportConfig::default(), |dir, admin| {
        let stream = "agency-filler".to_owned();
        let now = Utc::now();
        let events: Vec<_> = (0..65_800u64)
            .map(|revision| {
                let kind = match revision {
                    0 => "agency.registered",
                    _ => "agency.updated",
                };
                let mut data = agency_data("filler");
                data["region"] = format!("R{revision}").into();
                let wire = client::signed_event(admin, kind, &stream, data, now);
                (stream.clone(), revision, wire)
            })
            .collect();
        commit_straight(dir, admin, &events);
    });
    let token = app.register_principal("olu", "operator", &["auditor"]).1;
    app.register_agency("after");
    let size = app.log_size();
    assert!(size > 65_800, "{size}");
    // The checkpoint with two witnesses' cosignature lines, as `serve --witness` serves it.
    let note = app.get("/v1/log/checkpoint", None).text;
    let body = &note[..note.find("\n\n").expect("signed note") + 1];
    let lines: String = ["witness.test/w1", "witness.test/w2"]
        .iter()
        .map(|name| {
            Witness::generate(name)
                .expect("witness")
                .cosign(body, 1_796_000_000)
        })
        .collect();
    let cosigned = app.dir.path().join("cosigned.txt");
    std::fs::write(&cosigned, format!("{note}{lines}")).expect("write");
    let cosigned = cosigned.to_str().expect("utf-8");

    let said = run_checker(&gopath, &[&app.base, &token, &app.log_key, cosigned]);
    let opened = "cosigned checkpoint opens under the log key (1 verified); unverified: \
                  witness.test/w1, witness.test/w2";
    assert!(said.contains(opened), "{said}");
    let opened = format!("checkpoint of size {size} opens under the log key");
    assert!(said.contains(&opened), "{said}");
    let bundles = size.div_ceil(256);
    assert!(
        said.contains(&format!(
            "18 proofs from tiles check and equal the server's; {bundles} entry bundles"
        )),
        "{said}"
    );
}
