//! `GET /v1/export?case=`: a case bundle (DESIGN §4.1) for auditors to verify offline.

use actix_web::{get, web, HttpResponse};
use serde::Deserialize;

use super::auth::Caller;
use super::problem::ApiError;
use super::AppState;
use crate::bundle::export::{self, ExportError, LogIdentity};
use crate::domain::{CaseId, Role};
use crate::ledger::Code;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ExportQuery {
    case: String,
}

impl From<ExportError> for ApiError {
    fn from(e: ExportError) -> Self {
        match e {
            ExportError::NotFound(stream) => ApiError::not_found(format!("no case {stream}")),
            ExportError::Store(s) => s.into(),
            other => ApiError::new(Code::Internal, other.to_string()),
        }
    }
}

/// `GET /v1/export?case=<uuid>` (auditors): the case's entries, the identity entries
/// needed to check them, each with its inclusion proof, and the latest checkpoint.
#[get("/v1/export")]
pub(super) async fn export_case(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Auditor])?;
    let case: CaseId = q
        .case
        .parse()
        .map_err(|_| ApiError::bad_request("case must be a case UUID (lowercase, hyphenated)"))?;
    let stream = format!("case-{case}");
    let identity = export::identity_streams(state.ledger.state().streams.keys());
    let id = LogIdentity {
        origin: state.ledger.origin().to_owned(),
        log_key: state.ledger.verifier_key().to_owned(),
    };
    let store = state.ledger.store().clone();
    let body = web::block(move || {
        let mut body = Vec::new();
        export::write_case(store.as_ref(), &id, &stream, &identity, &mut body).map(|_| body)
    })
    .await??;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}
