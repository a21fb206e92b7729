//! Readiness when the ledger's writer thread has died: a real server over a store whose
//! commit panics.

use std::net::TcpListener;
use std::sync::Arc;

use crate::datadir::{self, InitOptions};
use crate::http::{AppState, Application, Limits};
use crate::ledger::SystemClock;
use crate::reports::{ReportConfig, ReportService};
use crate::store::scripted::Scripted;

/// Serves `state` on a loopback port in the background; its base URL.
fn serve(state: AppState) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let app = Application::build(state, listener, 1).expect("build");
            let _ = app.run_until_stopped().await;
        });
    });
    format!("http://127.0.0.1:{port}")
}

/// Status, `code` and body of an answer, whatever its status.
fn answer(r: Result<ureq::Response, ureq::Error>) -> (u16, String, String) {
    let r = match r {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    let status = r.status();
    let text = r.into_string().expect("body");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let code = json["code"].as_str().unwrap_or_default().to_owned();
    (status, code, text)
}

#[test]
fn a_writer_that_stopped_makes_the_node_unready_and_says_to_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(SystemClock);
    let init = datadir::init(dir.path(), &InitOptions::default(), clock.clone()).expect("init");
    let inner = datadir::open_sqlite(dir.path()).expect("store");
    // The writer thread dies in its first commit, as it did when logging its own failure
    // panicked (stderr on a full disk).
    let store = Arc::new(Scripted::new(inner, |_| panic!("the writer thread dies")));
    let (ledger, service_key) =
        datadir::open_shared(dir.path(), store, clock.clone()).expect("open");
    let state = AppState {
        ledger: ledger.clone(),
        service_key,
        clock,
        limits: Limits::default(),
        reports: ReportService::start(ledger.store().clone(), ReportConfig::default(), None),
        writer: None,
        bodies: Default::default(),
        cosignatures: Default::default(),
    };
    let base = serve(state);
    let get = |path: &str| answer(ureq::get(&format!("{base}{path}")).call());
    assert_eq!(get("/readyz").0, 200);
    let (status, code, text) = answer(
        ureq::post(&format!("{base}/v1/principals/admin/tokens"))
            .set("Authorization", &format!("Bearer {}", init.admin_token))
            .send_bytes(b""),
    );
    assert_eq!((status, code.as_str()), (503, "unavailable"), "{text}");
    assert!(text.contains("restarted"), "{text}");
    let (status, code, text) = get("/readyz");
    assert_eq!((status, code.as_str()), (503, "unavailable"), "{text}");
    assert!(
        text.contains("writer has stopped") && text.contains("restart"),
        "{text}"
    );
    assert!(get("/metrics").2.contains("caseledger_writer_stopped 1"));
}
