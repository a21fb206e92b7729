//! Liveness, readiness and Prometheus metrics (public).

use actix_web::{get, web, HttpResponse, ResponseError};
use serde_json::json;

use super::problem::ApiError;
use super::AppState;
use crate::ledger::Code;
use crate::reports::Following;

/// The process is up.
#[get("/healthz")]
pub(super) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// How long after a failed group commit (with none succeeding since) the node is not ready.
const COMMIT_FAILURE_WINDOW: std::time::Duration = std::time::Duration::from_secs(30);

/// The ledger's writer thread runs (once it has stopped the node is unready for good: only a
/// restart brings writes back), the store answers, the ledger is loaded, and no group
/// commit failed in the last
/// [`COMMIT_FAILURE_WINDOW`] without one succeeding since (on SQLite the size is held in
/// memory, so a full disk shows only there).
///
/// How the reports projection follows the log is named in the answer (`"reports":
/// "following"`, `"retrying"` while the store does not answer its reads, `"stopped"` for
/// good), but leaves the node ready: what stops it (an entry it cannot read) is in the
/// shared log, so every node would leave the load balancer together and caseworkers could
/// no longer write. The `caseledger_reports_projection_stopped` gauge is for alerting.
#[get("/readyz")]
pub(super) async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if state.ledger.metrics().writer_stopped.get() != 0 {
        return not_ready("the ledger writer has stopped (see the node's log); restart the node");
    }
    if state
        .ledger
        .metrics()
        .commits_failing(COMMIT_FAILURE_WINDOW)
    {
        return not_ready("a write to the store failed moments ago and none has succeeded since");
    }
    let store = state.ledger.store().clone();
    match web::block(move || store.size()).await {
        Ok(Ok(size)) => {
            let reports = match state.reports.following() {
                Following::Following => "following",
                Following::Retrying => "retrying",
                Following::Stopped => "stopped",
            };
            HttpResponse::Ok()
                .json(json!({"status": "ready", "log_size": size, "reports": reports}))
        }
        Ok(Err(e)) => {
            // The store's error can name paths or hosts: it goes to the log, not to anyone
            // who asks.
            tracing::warn!(error = %e, "readiness check: the store did not answer");
            not_ready("the store did not answer")
        }
        Err(_) => not_ready("no worker thread to ask the store"),
    }
}

/// Not ready: 503 as problem+json with code `unavailable`, like every other error.
fn not_ready(reason: &str) -> HttpResponse {
    ApiError::new(Code::Unavailable, format!("not ready: {reason}")).error_response()
}

/// Prometheus text exposition.
#[get("/metrics")]
pub(super) async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let metrics = state.ledger.metrics();
    // The committed log as this node reads it: entries written by `init`, before this
    // process started, or by other nodes of a shared store included.
    let size = state.ledger.state().size;
    metrics
        .log_size
        .set(i64::try_from(size).unwrap_or(i64::MAX));
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(metrics.render())
}

#[cfg(test)]
mod tests;
