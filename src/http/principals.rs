//! `POST /v1/principals/{id}/tokens`: an admin asks for a bearer token for a principal. The
//! server's `service` principal records its SHA-256 in a signed `principal.token_issued`
//! entry; the token itself is returned once and never stored.

use actix_web::{post, web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::{token_hash, Caller};
use super::forward::{authenticated, writable, Write};
use super::problem::ApiError;
use super::{read_body, AppState};
use crate::client;
use crate::domain::{PrincipalId, Role, Timestamp};
use crate::ledger::{Code, ExpectedRevision, Outcome};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    /// The events' timestamp rules (RFC 3339, UTC, a four-digit year, see [`expiry`]):
    /// chrono's own parser would also take `+10000-01-01T00:00:00Z` or a local offset, which
    /// the signed `principal.token_issued` could not carry.
    expires_at: Option<String>,
}

/// The request body: empty, or one JSON object (not serde's other spelling of a struct, an
/// array of its fields) and nothing after it.
fn token_request(body: &[u8]) -> Result<TokenRequest, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(TokenRequest::default());
    }
    let refused = |e: serde_json::Error| ApiError::new(Code::SchemaViolation, format!("body: {e}"));
    let mut de = serde_json::Deserializer::from_slice(body);
    let request = crate::domain::bounded::object_only(&mut de).map_err(refused)?;
    de.end().map_err(refused)?;
    Ok(request)
}

/// The expiry asked for, held to the rules of a timestamp in a new event (at most nine
/// fraction digits, no second 60), and in the future.
fn expiry(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
    let refused = |m: String| ApiError::new(Code::SchemaViolation, m);
    let at: Timestamp = text
        .parse()
        .map_err(|e: crate::domain::ParseIdError| refused(format!("expires_at: {e}")))?;
    crate::domain::time::new_stamp_fits("expires_at", text).map_err(refused)?;
    let at = DateTime::<Utc>::from(at);
    if at <= now {
        return Err(refused("expires_at is in the past".into()));
    }
    Ok(at)
}

#[derive(Serialize)]
struct IssuedToken {
    principal: String,
    token: String,
    token_sha256: String,
    expires_at: Option<String>,
    index: u64,
}

/// Creates a fresh 256-bit bearer token.
pub fn new_token() -> String {
    let mut raw = [0u8; 32];
    OsRng.fill_bytes(&mut raw);
    format!("clt_{}", URL_SAFE_NO_PAD.encode(raw))
}

/// Largest token request body (a label and an expiry).
const TOKEN_REQUEST_BYTES: usize = 4096;

#[post("/v1/principals/{id}/tokens")]
#[tracing::instrument(skip_all, fields(caller))]
pub(super) async fn issue_token(
    state: web::Data<AppState>,
    caller: Result<Caller, ApiError>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let id = || {
        PrincipalId::parse(&path).map_err(|e| ApiError::bad_request(format!("principal id: {e}")))
    };
    // The route forwarded to a writing node carries no query: one is refused here too.
    let route = || {
        super::query::no_query(&req)?;
        Ok(format!("/v1/principals/{}/tokens", id()?))
    };
    let payload = match writable(&state, &req, payload, TOKEN_REQUEST_BYTES, route).await? {
        Write::Here(payload) => payload,
        Write::Forwarded(answer) => return Ok(answer),
    };
    let caller = authenticated(caller)?;
    caller.require(&[Role::Admin])?;
    super::query::no_query(&req)?;
    let id = id()?;
    match state.ledger.state().registry.principals.get(&id) {
        Some(p) if p.active => {}
        Some(_) => {
            return Err(ApiError::new(
                Code::InvalidTransition,
                format!("principal {id} is deactivated"),
            ))
        }
        None => return Err(ApiError::not_found(format!("no principal {id}"))),
    }
    let body = read_body(&req, payload, TOKEN_REQUEST_BYTES, state.limits.body_wait).await?;
    let request = token_request(&body)?;
    let now = state.clock.now();
    let expires_at = request
        .expires_at
        .map(|text| expiry(&text, now))
        .transpose()?;
    let token = new_token();
    let sha = hex::encode(token_hash(&token));
    let mut data = json!({"token_sha256": sha, "requested_by": caller.id.as_str()});
    if let Some(e) = expires_at {
        data["expires_at"] = json!(crate::domain::time::format_utc(&e));
    }
    let stream = format!("principal-{id}");
    let wire = client::signed_event(
        &state.service_key,
        "principal.token_issued",
        &stream,
        data,
        now,
    );
    let verified = client::self_verified(&state.service_key, &wire)
        .map_err(|e| ApiError::new(Code::Internal, format!("service key: {e}")))?;
    let outcome = state
        .ledger
        .submit(stream, vec![verified], ExpectedRevision::Any)
        .await?;
    let (Outcome::Created(r) | Outcome::Repeated(r)) = outcome;
    Ok(HttpResponse::Created().json(IssuedToken {
        principal: id.to_string(),
        token,
        token_sha256: sha,
        expires_at: expires_at.map(|e| crate::domain::time::format_utc(&e)),
        index: r[0].index,
    }))
}
