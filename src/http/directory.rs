//! The agency directory (`GET /v1/agencies`, `GET /v1/agencies/{id}`) and the published event
//! schemas (`GET /v1/schemas`, `GET /v1/schemas/{type}`). Directory data describes agencies,
//! never people, so every authenticated role may read it.

use std::sync::OnceLock;

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use serde_json::Value;

use super::auth::Caller;
use super::problem::ApiError;
use super::query::NoQuery;
use super::AppState;
use crate::domain::schema::event_schemas;
use crate::domain::{AgencyData, AgencyId};
use crate::ledger::entry::format_time;
use crate::ledger::registry::AgencyRecord;

#[derive(Serialize)]
struct AgencyView<'a> {
    id: &'a AgencyId,
    #[serde(flatten)]
    data: &'a AgencyData,
    registered_at: String,
    updated_at: String,
}

impl<'a> AgencyView<'a> {
    fn of(a: &'a AgencyRecord) -> Self {
        Self {
            id: &a.id,
            data: &a.data,
            registered_at: format_time(&a.registered_at),
            updated_at: format_time(&a.updated_at),
        }
    }
}

/// Every registered agency, by id.
#[get("/v1/agencies")]
pub(super) async fn list_agencies(
    state: web::Data<AppState>,
    _caller: Caller,
    _: NoQuery,
) -> HttpResponse {
    let ledger = state.ledger.state();
    let agencies: Vec<AgencyView<'_>> = ledger
        .registry
        .agencies
        .values()
        .map(AgencyView::of)
        .collect();
    HttpResponse::Ok().json(serde_json::json!({ "agencies": agencies }))
}

/// One agency.
#[get("/v1/agencies/{id}")]
pub(super) async fn get_agency(
    state: web::Data<AppState>,
    _caller: Caller,
    path: web::Path<String>,
    _: NoQuery,
) -> Result<HttpResponse, ApiError> {
    let id =
        AgencyId::parse(&path).map_err(|e| ApiError::bad_request(format!("agency id: {e}")))?;
    let ledger = state.ledger.state();
    let agency = ledger
        .registry
        .agencies
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("no agency {id}")))?;
    Ok(HttpResponse::Ok().json(AgencyView::of(agency)))
}

fn schemas() -> &'static [(&'static str, Value)] {
    static SCHEMAS: OnceLock<Vec<(&'static str, Value)>> = OnceLock::new();
    SCHEMAS.get_or_init(event_schemas)
}

/// The JSON Schema of every event type (public: it is the published contract).
#[get("/v1/schemas")]
pub(super) async fn list_schemas(_: NoQuery) -> HttpResponse {
    let map: serde_json::Map<String, Value> = schemas()
        .iter()
        .map(|(t, s)| ((*t).to_owned(), s.clone()))
        .collect();
    HttpResponse::Ok().json(serde_json::json!({ "schemas": map }))
}

/// The JSON Schema of one event type.
#[get("/v1/schemas/{type}")]
pub(super) async fn get_schema(
    path: web::Path<String>,
    _: NoQuery,
) -> Result<HttpResponse, ApiError> {
    let (_, schema) = schemas()
        .iter()
        .find(|(t, _)| *t == path.as_str())
        .ok_or_else(|| ApiError::not_found(format!("no event type {}", path.as_str())))?;
    Ok(HttpResponse::Ok()
        .content_type("application/schema+json")
        .json(schema))
}
