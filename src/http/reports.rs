//! `GET /v1/reports/agencies` and `GET /v1/reports/program` (DESIGN §4, §5): aggregate,
//! small-cell-suppressed statistics for evaluators and auditors, as JSON or CSV.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::auth::Caller;
use super::problem::ApiError;
use super::AppState;
use crate::domain::Role;
use crate::ledger::Code;
use crate::reports::layout::Report;
use crate::reports::render::{to_csv, to_json_string};
use crate::reports::{Period, ReportError, ReportKind, ReportService};

/// How long a request waits for the projection to fold entries committed before it arrived.
const CATCH_UP: Duration = Duration::from_secs(5);

/// How long a report request waits for a core (see `ReportService::computing`): several
/// of the costliest reports (about ten seconds of solving each, at the budget's end).
const QUEUE_WAIT: Duration = Duration::from_secs(30);

/// The query string of both report endpoints. A misspelt parameter (`?form=csv`) is a 400,
/// not a silently different report.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReportQuery {
    from: Option<String>,
    to: Option<String>,
    format: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
}

fn parse_format(text: Option<&str>) -> Result<Format, ApiError> {
    match text {
        None | Some("json") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        Some(_) => Err(ApiError::bad_request("`format` must be `json` or `csv`")),
    }
}

/// Per-agency statistics for a period.
#[get("/v1/reports/agencies")]
#[tracing::instrument(skip_all, fields(caller = %caller.id))]
pub(super) async fn agencies(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    respond(state, &caller, &req, ReportKind::Agencies).await
}

/// Programme totals for a period.
#[get("/v1/reports/program")]
#[tracing::instrument(skip_all, fields(caller = %caller.id))]
pub(super) async fn program(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    respond(state, &caller, &req, ReportKind::Program).await
}

async fn respond(
    state: web::Data<AppState>,
    caller: &Caller,
    req: &HttpRequest,
    kind: ReportKind,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Evaluator, Role::Auditor])?;
    // Read after the role check: a caller who may not read reports learns nothing from
    // how their query string would have been judged.
    let query = web::Query::<ReportQuery>::from_query(req.query_string())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let today = state.clock.now().date_naive();
    let period = Period::parse(query.from.as_deref(), query.to.as_deref())
        .and_then(|p| {
            state
                .reports
                .config()
                .periods()
                .admits(&p, today)
                .map(|()| p)
        })
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let format = parse_format(query.format.as_deref())?;
    // Read-your-writes: everything committed before this request is in the report.
    let committed = state.ledger.state().size;
    let report = laid_out(state.reports.clone(), committed, kind, period, QUEUE_WAIT).await?;
    Ok(match format {
        Format::Json => HttpResponse::Ok()
            .content_type("application/json")
            .body(to_json_string(&report)),
        Format::Csv => {
            let name = format!(
                "attachment; filename=\"caseledger-{}-{}-{}.csv\"",
                kind.name(),
                period.from(),
                period.to()
            );
            HttpResponse::Ok()
                .content_type("text/csv; charset=utf-8; header=present")
                .insert_header((header::CONTENT_DISPOSITION, name))
                .body(to_csv(&report))
        }
    })
}

/// The report once the projection holds the first `committed` entries, laid out while
/// holding one of the node's report permits (waiting up to `queue_wait` for one, then 503).
/// The catch-up is waited for first, without a permit: it takes no core (nor a thread).
async fn laid_out(
    reports: std::sync::Arc<ReportService>,
    committed: u64,
    kind: ReportKind,
    period: Period,
    queue_wait: Duration,
) -> Result<Report, ApiError> {
    let internal =
        |e: actix_web::error::BlockingError| ApiError::new(Code::Internal, e.to_string());
    // Waited for here, asleep between looks, not on a blocking thread: many requests
    // waiting at once must not take the pool the other handlers' reads use.
    let deadline = tokio::time::Instant::now() + CATCH_UP;
    loop {
        match reports.wait_for(committed, Duration::ZERO) {
            Ok(_) => break,
            Err(ReportError::CatchingUp { .. }) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(report_error(e)),
        }
    }
    let permit = super::budget::acquire(&reports.computing(), 1, queue_wait, || {
        "too many reports are being computed at once; retry shortly".into()
    })
    .await?;
    web::block(move || {
        let _permit = permit;
        reports.report(kind, &period)
    })
    .await
    .map_err(internal)
}

/// A stopped projection's cause is a store's or a decoder's message: logged, not answered.
fn report_error(e: ReportError) -> ApiError {
    match e {
        ReportError::Stopped(_) => ApiError::hidden(
            Code::Unavailable,
            "the reports projection stopped on an entry it could not read; see the server log",
            &e,
        ),
        catching_up => ApiError::new(Code::Unavailable, catching_up.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_waits_for_a_permit_and_is_refused_when_none_comes() {
        let dir = tempfile::tempdir().expect("tmp");
        let clock = std::sync::Arc::new(crate::ledger::SystemClock);
        let init = crate::datadir::InitOptions::default();
        crate::datadir::init(dir.path(), &init, clock).expect("init");
        let store = crate::datadir::open_sqlite(dir.path()).expect("open");
        let size = store.size().expect("size");
        let reports = ReportService::start(store, Default::default(), None);
        let period = Period::parse(Some("2026-01-01"), Some("2026-01-31")).expect("period");
        let permits = reports.computing();
        let held = permits
            .clone()
            .try_acquire_many_owned(u32::try_from(permits.available_permits()).expect("few"))
            .expect("every permit");
        let wait = Duration::from_millis(50);
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let refused = rt
            .block_on(laid_out(
                reports.clone(),
                size,
                ReportKind::Program,
                period,
                wait,
            ))
            .expect_err("no permit came");
        assert_eq!(refused.code, Code::Unavailable);
        assert!(
            refused.detail.contains("too many reports"),
            "{}",
            refused.detail
        );
        drop(held);
        let report = rt.block_on(laid_out(reports, size, ReportKind::Program, period, wait));
        assert!(report.is_ok());
    }

    #[test]
    fn a_stopped_projection_is_answered_without_the_stores_message() {
        let e = report_error(ReportError::Stopped(
            "store unavailable: esdb://node1.internal:2113".into(),
        ));
        assert_eq!(e.code, Code::Unavailable);
        assert!(!e.detail.contains("node1"), "{}", e.detail);
        let e = report_error(ReportError::CatchingUp {
            position: 3,
            wanted: 5,
        });
        assert!(e.detail.contains("3 of 5"), "{}", e.detail);
    }
}
