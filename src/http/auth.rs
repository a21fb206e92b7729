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
    /// The caller as the ledger's scoping rules see it.
    pub fn reader(&self) -> crate::ledger::scope::Reader<'_> {
        crate::ledger::scope::Reader {
            id: &self.id,
            agency: &self.agency,
            roles: &self.roles,
        }
    }

    /// Whether the caller holds `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Refuses unless the caller holds one of `roles` (`auditor` only as
    /// `scope::is_auditor` allows).
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        let holds = |r: Role| match r {
            Role::Auditor => super::scope::is_auditor(self),
            _ => self.has(r),
        };
        if roles.iter().any(|r| holds(*r)) {
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
    let headers = req
        .headers()
        .get_all(actix_web::http::header::AUTHORIZATION);
    // Not a list field (RFC 9110 §11.6.2): which of two a proxy and the server would each
    // take is ambiguous, so neither is (as a reading node refuses to forward it).
    let given = headers.clone().count();
    if given > 1 {
        return Err(ApiError::bad_request(format!(
            "the authorization header is given {given} times; give it once"
        )));
    }
    let header = headers
        .into_iter()
        .next()
        .ok_or_else(|| unauthenticated("an `Authorization: Bearer <token>` header is required"))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| {
            // The scheme name is case-insensitive (RFC 9110 §11.1).
            let (scheme, token) = h.split_at_checked(7)?;
            scheme.eq_ignore_ascii_case("Bearer ").then_some(token)
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn token_of(header: &str) -> Option<String> {
        let req = TestRequest::default()
            .insert_header(("Authorization", header))
            .to_http_request();
        bearer_token(&req).ok().map(str::to_owned)
    }

    #[test]
    fn the_bearer_scheme_is_matched_without_regard_to_case() {
        for header in ["Bearer abc", "bearer abc", "BEARER abc", "Bearer  abc "] {
            assert_eq!(token_of(header).as_deref(), Some("abc"), "{header}");
        }
        for header in ["Basic abc", "Bearer", "Bearer ", "Bearerabc", "Bearé abc"] {
            assert_eq!(token_of(header), None, "{header}");
        }
    }
}
