//! An in-process API server on a loopback port, for commands (`demo`) that drive the real
//! HTTP API against a local data directory.

use std::net::TcpListener;
use std::sync::Arc;

use crate::envelope::KeyFile;
use crate::http::{AppState, Application, Limits};
use crate::ledger::{Clock, Ledger};
use crate::reports::ReportService;

/// Serves `ledger` on 127.0.0.1 (random port) in a background thread; returns the base URL.
pub fn spawn(
    ledger: Ledger,
    service_key: KeyFile,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let reports = ReportService::start(ledger.store().clone(), Default::default(), None);
    let state = AppState {
        ledger,
        service_key,
        clock,
        limits: Limits::default(),
        reports,
        writer: None,
        bodies: Default::default(),
        cosignatures: Default::default(),
    };
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build();
        if let Ok(rt) = rt {
            rt.block_on(async move {
                if let Ok(app) = Application::build(state, listener, 2) {
                    let _ = app.run_until_stopped().await;
                }
            });
        }
    });
    Ok(format!("http://127.0.0.1:{port}"))
}
