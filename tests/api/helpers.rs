//! `spawn_app()`: a real caseledger (fresh data dir, genesis written by `init`) served on a
//! random loopback port, plus small client helpers. Blocking `ureq` calls keep tests plain.

use std::net::TcpListener;
use std::sync::Arc;

use caseledger::client;
use caseledger::datadir::{self, InitOptions};
use caseledger::domain::PrincipalId;
use caseledger::envelope::{KeyFile, WireEnvelope};
use caseledger::http::{AppState, Application, Limits};
use caseledger::ledger::entry::{encode, format_time};
use caseledger::ledger::{Ledger, SystemClock};
use caseledger::log::merkle::{append_nodes, leaf_hash};
use caseledger::reports::{ReportConfig, ReportService};
use caseledger::store::sqlite::SqliteStore;
use caseledger::store::{CommitGroup, EventStore, StoreNodes, StoredEntry};
use chrono::Utc;
use serde_json::{json, Value};

#[allow(dead_code)] // fields used by some test modules only
pub struct TestApp {
    pub base: String,
    pub dir: tempfile::TempDir,
    pub admin: KeyFile,
    pub admin_token: String,
    pub ledger: Ledger,
    pub log_key: String,
    pub origin: String,
}

/// A response: status, content type and parsed JSON body (Null if not JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub content_type: String,
    pub text: String,
    pub json: Value,
}

impl Resp {
    /// The problem+json `code`.
    pub fn code(&self) -> &str {
        self.json["code"].as_str().unwrap_or("")
    }
}

pub fn to_resp(r: Result<ureq::Response, ureq::Error>) -> Resp {
    let r = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    let status = r.status();
    let content_type = r.header("content-type").unwrap_or("").to_owned();
    let text = r.into_string().expect("body");
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp {
        status,
        content_type,
        text,
        json,
    }
}

pub fn spawn_app() -> TestApp {
    spawn_app_with(Limits::default())
}

pub fn spawn_app_with(limits: Limits) -> TestApp {
    spawn_app_configured(limits, ReportConfig::default())
}

/// A server with `limits` whose reports follow `reports`.
pub fn spawn_app_configured(limits: Limits, reports: ReportConfig) -> TestApp {
    spawn_app_after(limits, reports, |_, _| ())
}

/// A server over a data directory that `prepare` may change between `init` and the
/// server's start (given the directory and the admin's key).
pub fn spawn_app_after(
    limits: Limits,
    reports: ReportConfig,
    prepare: impl FnOnce(&std::path::Path, &KeyFile),
) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = datadir::init(
        dir.path(),
        &InitOptions {
            origin: Some("caseledger.test/log".into()),
            ..InitOptions::default()
        },
        Arc::new(SystemClock),
    )
    .expect("init");
    let admin = KeyFile::read(std::path::Path::new(&report.admin_key_file)).expect("admin key");
    prepare(dir.path(), &admin);
    let (ledger, service_key) = datadir::open(dir.path(), Arc::new(SystemClock)).expect("open");
    let state = AppState {
        ledger: ledger.clone(),
        service_key,
        clock: Arc::new(SystemClock),
        limits,
        reports: ReportService::start(ledger.store().clone(), reports, Some(ledger.metrics())),
        writer: None,
        bodies: Default::default(),
        cosignatures: Default::default(),
    };
    TestApp {
        base: serve(state),
        dir,
        admin,
        admin_token: report.admin_token,
        ledger,
        log_key: report.log_key,
        origin: report.origin,
    }
}

/// Serves `state` on a random loopback port, in the background; its base URL.
pub fn serve(state: AppState) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let app = Application::build(state, listener, 2).expect("build");
            let _ = app.run_until_stopped().await;
        });
    });
    format!("http://127.0.0.1:{port}")
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Resp {
        let mut req = ureq::get(&self.url(path));
        if let Some(t) = token {
            req = req.set("Authorization", &format!("Bearer {t}"));
        }
        to_resp(req.call())
    }

    pub fn post_raw(&self, path: &str, token: Option<&str>, body: &[u8]) -> Resp {
        let mut req = ureq::post(&self.url(path)).set("Content-Type", "application/json");
        if let Some(t) = token {
            req = req.set("Authorization", &format!("Bearer {t}"));
        }
        to_resp(req.send_bytes(body))
    }

    pub fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Resp {
        self.post_raw(path, token, &serde_json::to_vec(body).expect("json"))
    }

    pub fn post_event(&self, token: &str, env: &WireEnvelope) -> Resp {
        self.post_json(
            "/v1/events",
            Some(token),
            &serde_json::to_value(env).expect("json"),
        )
    }

    /// Entries in the log right now.
    pub fn log_size(&self) -> u64 {
        self.ledger.store().size().expect("size")
    }

    /// Signs and posts an event, asserting 201.
    pub fn write(&self, key: &KeyFile, token: &str, kind: &str, stream: &str, data: Value) -> Resp {
        let env = client::signed_event(key, kind, stream, data, Utc::now());
        let r = self.post_event(token, &env);
        assert_eq!(r.status, 201, "{kind} on {stream}: {}", r.text);
        r
    }

    /// Registers an agency (as the admin).
    pub fn register_agency(&self, id: &str) {
        self.write(
            &self.admin,
            &self.admin_token,
            "agency.registered",
            &format!("agency-{id}"),
            agency_data(id),
        );
    }

    /// Registers a principal with a fresh key and issues it a token.
    pub fn register_principal(&self, id: &str, agency: &str, roles: &[&str]) -> (KeyFile, String) {
        let key = KeyFile::generate(PrincipalId::parse(id).expect("slug"));
        self.write(
            &self.admin,
            &self.admin_token,
            "principal.registered",
            &format!("principal-{id}"),
            json!({"agency": agency, "roles": roles, "public_key": key.public_key_b64()}),
        );
        let token = self.issue_token(id);
        (key, token)
    }

    pub fn issue_token(&self, id: &str) -> String {
        let r = self.post_raw(
            &format!("/v1/principals/{id}/tokens"),
            Some(&self.admin_token),
            b"",
        );
        assert_eq!(r.status, 201, "token: {}", r.text);
        r.json["token"].as_str().expect("token").to_owned()
    }
}

/// Valid agency directory data.
pub fn agency_data(name: &str) -> Value {
    json!({
        "name": format!("Agency {name}"),
        "region": "North",
        "domains": ["legal", "social"],
        "languages": ["es", "fr-CA"],
        "interpretation": true,
        "cultural_adaptations": ["faith"],
        "trafficking_experience": true,
        "eligibility": {"criteria": ["adults"], "notes": "Adults in the northern region."}
    })
}

/// Commits signed events (stream, revision, envelope) straight into the SQLite store of a
/// data directory not being served, with their tree nodes, as an earlier version (or a long
/// history) left them: for logs larger than the API tests can write one request at a time,
/// and entries today's writer refuses. Each event is self-verified under `key`. Returns the
/// index of the first.
pub fn commit_straight(
    dir: &std::path::Path,
    key: &KeyFile,
    events: &[(String, u64, WireEnvelope)],
) -> u64 {
    let store = SqliteStore::open(&dir.join("ledger.db")).expect("store");
    let first = store.size().expect("size");
    for chunk in events.chunks(4096) {
        let size = store.size().expect("size");
        let stamp = format_time(&Utc::now());
        let entries: Vec<StoredEntry> = chunk
            .iter()
            .zip(size..)
            .map(|((stream, revision, wire), index)| {
                let v = client::self_verified(key, wire).expect("verified");
                let bytes = encode(stream, *revision, &stamp, wire);
                StoredEntry {
                    index,
                    stream: stream.clone(),
                    revision: *revision,
                    event_id: v.event.event_id,
                    recorded_at: stamp.clone(),
                    leaf_hash: leaf_hash(&bytes),
                    bytes,
                }
            })
            .collect();
        let leaves: Vec<_> = entries.iter().map(|e| e.leaf_hash).collect();
        let nodes = append_nodes(&StoreNodes(&store), size, &leaves).expect("nodes");
        let group = CommitGroup {
            request_ends: vec![entries.len()],
            entries,
            nodes,
            checkpoint: None,
        };
        store.commit(group).expect("commit");
    }
    first
}
