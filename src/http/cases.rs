//! `GET /v1/cases/{case_id}` (the case state projection) and
//! `GET /v1/cases/{case_id}/consent-trail` (each disclosure beside the consent that allowed
//! it), scoped by role and agency (DESIGN §4). Both read the committed read-side state, which
//! the writer updates before it answers, so a GET after a 201 sees the write.

mod trail;
mod view;

use actix_web::{get, web, HttpResponse};

use super::auth::Caller;
use super::problem::ApiError;
use super::query::NoQuery;
use super::scope::{self, CaseAccess, CaseDenied};
use super::AppState;
use crate::domain::CaseId;

fn parse_id(text: &str) -> Result<CaseId, ApiError> {
    CaseId::parse(text).map_err(|e| ApiError::bad_request(format!("case_id: {e}")))
}

fn denied(why: CaseDenied, id: &str) -> ApiError {
    match why {
        CaseDenied::Role => {
            ApiError::forbidden("case data is read by auditors, caseworkers and supervisors only")
        }
        CaseDenied::Hidden => ApiError::not_found(format!("no case {id} visible to you")),
    }
}

/// The case state. Auditors and the owner agency's caseworkers and supervisors get the full
/// view; a caseworker or supervisor of an agency the case has asked or referred to gets the
/// `addressed` view (only its own inquiries and referrals); everyone else 403 or 404.
#[get("/v1/cases/{case_id}")]
#[tracing::instrument(skip_all, fields(caller = %caller.id))]
pub(super) async fn get_case(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    _: NoQuery,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path)?;
    let now = state.clock.now();
    let ledger = state.ledger.state();
    let access = scope::case_access(&ledger, &caller, &id).map_err(|w| denied(w, &path))?;
    let case = ledger
        .cases
        .get(&id)
        .ok_or_else(|| denied(CaseDenied::Hidden, &path))?;
    let body = match access {
        CaseAccess::Full => serde_json::to_value(view::full(case, now)),
        CaseAccess::Addressed(agency) => serde_json::to_value(view::addressed(case, &agency)),
    }
    .map_err(|e| ApiError::new(crate::ledger::Code::Internal, e.to_string()))?;
    Ok(HttpResponse::Ok().json(body))
}

/// The consent trail: auditors and the owner agency only. Other agencies' staff get 404 (the
/// case's existence is not theirs to learn here); roles that never read case data get 403.
#[get("/v1/cases/{case_id}/consent-trail")]
#[tracing::instrument(skip_all, fields(caller = %caller.id))]
pub(super) async fn consent_trail(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    _: NoQuery,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path)?;
    let now = state.clock.now();
    let ledger = state.ledger.state();
    match scope::case_access(&ledger, &caller, &id) {
        Ok(CaseAccess::Full) => {}
        Ok(CaseAccess::Addressed(_)) => return Err(denied(CaseDenied::Hidden, &path)),
        Err(why) => return Err(denied(why, &path)),
    }
    let case = ledger
        .cases
        .get(&id)
        .ok_or_else(|| denied(CaseDenied::Hidden, &path))?;
    Ok(HttpResponse::Ok().json(trail::trail(case, now)))
}
