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
use crate::reports::render::{to_csv, to_json_string};
use crate::reports::{Period, ReportError, ReportKind};

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
    let reports = state.reports.clone();
    // A core each at most: more wait (up to QUEUE_WAIT), then 503.
    let permit = super::budget::acquire(&reports.computing(), 1, QUEUE_WAIT, || {
        "too many reports are being computed at once; retry shortly".into()
    })
    .await?;
    let report = web::block(move || {
        let _permit = permit;
        reports
            .wait_for(committed, CATCH_UP)
            .map(|_| reports.report(kind, &period))
    })
    .await
    .map_err(|e| ApiError::new(Code::Internal, e.to_string()))?
    .map_err(report_error)?;
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
