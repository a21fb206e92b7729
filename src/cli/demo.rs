//! `caseledger demo`: writes one complete, realistic case through the HTTP API (DESIGN
//! §2.3–2.4) and prints each step and the server's answer. With `--data` it serves the data
//! directory in-process on a loopback port (initialising it if needed); with `--url` it talks
//! to a running server using the admin's token and key file.

mod setup;
mod story;

use setup::{setup, write};

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use chrono::{Duration, Utc};
use serde_json::Value;

use crate::datadir::{self, InitOptions};
use crate::domain::CaseId;
use crate::envelope::KeyFile;
use crate::ledger::entry::format_time;
use crate::ledger::SystemClock;

/// Arguments of `demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Data directory to serve in-process (created if missing). Ignored with `--url`, so
    /// that `CASELEDGER_DATA` set for the server does not get in the way.
    #[arg(long, env = "CASELEDGER_DATA")]
    pub data: Option<PathBuf>,
    /// Base URL of a running server instead of `--data` (takes precedence over it).
    #[arg(long)]
    pub url: Option<String>,
    /// Admin bearer token (with `--url`).
    #[arg(long, env = "CASELEDGER_ADMIN_TOKEN")]
    pub admin_token: Option<String>,
    /// Admin key file (with `--url`; with `--data` the data dir's `<admin>.key.json`).
    #[arg(long)]
    pub admin_key: Option<PathBuf>,
    /// The admin principal id (with `--data`).
    #[arg(long, default_value = "admin")]
    pub admin: String,
    /// Write the story into a data directory that already holds a ledger (its agencies,
    /// people and case then stay in that log for good). Without it, only a new directory.
    #[arg(long)]
    pub existing: bool,
}

/// The agencies and coordinator of the story.
pub struct Agencies {
    pub owner: String,
    pub legal: String,
    pub clinic: String,
    pub shelter: String,
    pub coordinator: String,
}

/// The story's principals: role in the story -> (key, bearer token).
pub type People = HashMap<&'static str, (KeyFile, String)>;

/// What one step returned.
#[derive(Debug, Clone)]
pub struct StepResult {
    pub label: &'static str,
    pub kind: &'static str,
    pub status: u16,
    pub code: Option<String>,
    pub index: Option<u64>,
}

/// The demo's outcome: the case and every step's answer.
#[derive(Debug)]
pub struct DemoOutcome {
    pub case_id: CaseId,
    pub steps: Vec<StepResult>,
    /// The story's principals (`coordinator`, `legal`, `clinic`): key and bearer token.
    pub people: People,
    /// The coordinator's principal id.
    pub coordinator: String,
}

/// `caseledger demo`.
pub fn demo(args: DemoArgs) -> anyhow::Result<()> {
    if let Some(url) = &args.url {
        let token = args
            .admin_token
            .clone()
            .context("--url needs --admin-token")?;
        let key_path = args.admin_key.clone().context("--url needs --admin-key")?;
        let admin = KeyFile::read(&key_path)?;
        run_story(url, &admin, &token, true)?;
        return Ok(());
    }
    let dir = args.data.clone().unwrap_or_else(datadir::default_dir);
    let clock = Arc::new(SystemClock);
    let mut initialised = None;
    if !datadir::is_initialised(&dir) {
        let report = datadir::init(&dir, &InitOptions::default(), clock.clone())?;
        println!("initialised {}", dir.display());
        initialised = Some(report.admin_token);
    } else if !args.existing {
        bail!(
            "{} already holds a ledger: the demo would add its agencies, people and case to it \
             for good (the log is append-only). Give --data a new directory, or --existing to \
             write into this one anyway",
            dir.display()
        );
    }
    let admin = KeyFile::read(
        &args
            .admin_key
            .clone()
            .unwrap_or_else(|| dir.join(format!("{}.key.json", args.admin))),
    )?;
    let (ledger, service_key) = datadir::open(&dir, clock.clone())?;
    // A fresh admin token, as the token endpoint would record it, for an hour.
    let expires = Utc::now() + Duration::hours(1);
    let (token, _) = super::token::issue(
        &ledger,
        &service_key,
        &admin.principal,
        &admin.principal,
        Some(expires),
    )?;
    let base = super::demo_server::spawn(ledger, service_key, clock)?;
    run_story(&base, &admin, &token, true)?;
    if let Some(admin_token) = initialised {
        // As `init` prints it: the only way into the new ledger's API afterwards.
        println!(
            "to explore it: caseledger serve --data {} (admin token, shown once: {admin_token})",
            dir.display()
        );
    }
    Ok(())
}

/// Runs the story against `base`; fails if any step's answer differs from the expected one.
pub fn run_story(
    base: &str,
    admin: &KeyFile,
    admin_token: &str,
    print: bool,
) -> anyhow::Result<DemoOutcome> {
    let base = base.trim_end_matches('/');
    let (agencies, people) = setup(base, admin, admin_token)?;
    let case_id = CaseId::random();
    let stream = format!("case-{case_id}");
    let valid_until = format_time(&(Utc::now() + Duration::days(90)));
    if print {
        println!(
            "case {case_id} (owner {}, coordinator {})",
            agencies.owner, agencies.coordinator
        );
    }
    let mut results = Vec::new();
    for (n, s) in story::steps(&agencies, &valid_until)
        .into_iter()
        .enumerate()
    {
        let (key, token) = people.get(s.actor).context("story actor")?;
        let (status, body) = write(base, key, token, s.kind, &stream, s.data)?;
        let r = StepResult {
            label: s.label,
            kind: s.kind,
            status,
            code: body["code"].as_str().map(str::to_owned),
            index: body["index"].as_u64(),
        };
        if print {
            let detail = match (&r.index, &r.code) {
                (Some(i), _) => format!("leaf {i}"),
                (None, Some(c)) => format!("{c}: {}", body["detail"].as_str().unwrap_or("")),
                _ => String::new(),
            };
            println!(
                "{:>2}. {} [{}] -> {} {}",
                n + 1,
                s.label,
                s.kind,
                status,
                detail
            );
        }
        if status != s.expect {
            bail!(
                "step {} ({}) answered {status}, expected {}: {body}",
                n + 1,
                s.label,
                s.expect
            );
        }
        results.push(r);
    }
    if print {
        summary(base, &people, &case_id)?;
    }
    Ok(DemoOutcome {
        case_id,
        steps: results,
        people,
        coordinator: agencies.coordinator,
    })
}

fn summary(base: &str, people: &People, case_id: &CaseId) -> anyhow::Result<()> {
    let token = &people.get("coordinator").context("coordinator")?.1;
    let case: Value = ureq::get(&format!("{base}/v1/cases/{case_id}"))
        .set("Authorization", &format!("Bearer {token}"))
        .call()?
        .into_json()?;
    println!("GET /v1/cases/{case_id}: status {}", case["status"]);
    for r in case["referrals"].as_array().into_iter().flatten() {
        println!(
            "  referral {} -> {}: {}",
            r["referral_id"], r["agency"], r["state"]
        );
    }
    for f in case["flags"].as_array().into_iter().flatten() {
        println!(
            "  flag {}: tell {} about {}",
            f["flag"], f["agency"], f["referral_id"]
        );
    }
    println!("consent trail: GET /v1/cases/{case_id}/consent-trail");
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    #[test]
    fn url_takes_precedence_over_a_data_directory_given_too() {
        // As when CASELEDGER_DATA is exported for the server and the demo is pointed at it.
        let cli = Cli::try_parse_from([
            "caseledger",
            "demo",
            "--data",
            "./caseledger-data",
            "--url",
            "http://127.0.0.1:8080",
        ])
        .expect("both may be given");
        let Command::Demo(args) = cli.command else {
            panic!("not the demo command")
        };
        assert_eq!(args.url.as_deref(), Some("http://127.0.0.1:8080"));
    }
}
