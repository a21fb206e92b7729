//! Bearer-token authentication. Tokens are 256-bit random strings; the ledger knows only
//! their SHA-256 (from `principal.token_issued` entries), so a stolen database yields none.

use std::future::{ready, Ready};

use actix_web::{web, FromRequest, HttpRequest};
use sha2::{Digest, Sha256};

use super::problem::ApiError;
use super::AppState;
use crate::domain::{AgencyId, PrincipalId, Role};
use crate::ledger::Code;

/// The authenticated principal behind a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub id: PrincipalId,
    pub agency: AgencyId,
    pub roles: Vec<Role>,
}

impl Caller {
    /// Whether the caller holds `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Refuses unless the caller holds one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.iter().any(|r| self.has(*r)) {
            Ok(())
        } else {
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            Err(ApiError::forbidden(format!(
                "this endpoint needs the role {}",
                names.join(" or ")
            )))
        }
    }
}

/// SHA-256 of a bearer token's text, as `principal.token_issued` records it.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn unauthenticated(m: &str) -> ApiError {
    ApiError::new(Code::Unauthenticated, m)
}

/// The bearer token of a request, checked for shape only (not whether anyone holds it).
pub fn bearer_token(req: &HttpRequest) -> Result<&str, ApiError> {
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or_else(|| unauthenticated("an `Authorization: Bearer <token>` header is required"))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| unauthenticated("the Authorization header must be `Bearer <token>`"))?;
    Ok(token)
}

fn authenticate(req: &HttpRequest) -> Result<Caller, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::new(Code::Internal, "application state missing"))?;
    let token = bearer_token(req)?;
    let now = state.clock.now();
    let ledger = state.ledger.state();
    let p = ledger
        .registry
        .authenticate(&token_hash(token), &now)
        .ok_or_else(|| unauthenticated("the token is unknown, expired or revoked"))?;
    Ok(Caller {
        id: p.id.clone(),
        agency: p.agency.clone(),
        roles: p.roles.clone(),
    })
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(authenticate(req))
    }
}
