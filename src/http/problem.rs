//! RFC 9457 `application/problem+json` errors, each with a stable `code` member.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::envelope::EnvelopeError;
use crate::ledger::{Code, RuleViolation, WriteError};
use crate::store::StoreError;

/// Every error an endpoint can return. The variant decides the status; `code` is what
/// clients branch on.
#[derive(Debug, thiserror::Error)]
#[error("{code:?}: {detail}")]
pub struct ApiError {
    pub code: Code,
    pub detail: String,
}

impl ApiError {
    pub fn new(code: Code, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(Code::NotFound, what)
    }

    pub fn forbidden(what: impl Into<String>) -> Self {
        Self::new(Code::Forbidden, what)
    }

    pub fn bad_request(what: impl Into<String>) -> Self {
        Self::new(Code::BadRequest, what)
    }

    /// An error whose cause may name paths or hosts (a store's or the system's message):
    /// the cause goes to the server log, the client gets `detail` alone.
    pub fn hidden(code: Code, detail: &str, cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "{detail}");
        Self::new(code, detail)
    }
}

/// The HTTP status of each code.
pub fn status_of(code: Code) -> StatusCode {
    match code {
        Code::InvalidEnvelope
        | Code::BadSignature
        | Code::SchemaViolation
        | Code::StreamMismatch
        | Code::BadRequest => StatusCode::BAD_REQUEST,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::Forbidden | Code::UnknownKey | Code::KeyRevoked => StatusCode::FORBIDDEN,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::WrongExpectedRevision | Code::DuplicateEventConflict => StatusCode::CONFLICT,
        Code::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Code::ConsentRequired | Code::ConsentScope | Code::InvalidTransition | Code::ClockSkew => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::BadGateway => StatusCode::BAD_GATEWAY,
        Code::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        Code::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
        Code::EntryTooLarge => StatusCode::NOT_IMPLEMENTED,
        Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn title_of(code: Code) -> &'static str {
    match code {
        Code::InvalidEnvelope => "Invalid DSSE envelope",
        Code::BadSignature => "Signature does not verify",
        Code::UnknownKey => "Unknown signing key",
        Code::KeyRevoked => "Signing key revoked",
        Code::SchemaViolation => "Does not fit its schema",
        Code::StreamMismatch => "Stream mismatch",
        Code::WrongExpectedRevision => "Wrong expected revision",
        Code::DuplicateEventConflict => "Duplicate event id with different content",
        Code::ConsentRequired => "No consent in force",
        Code::ConsentScope => "Consent does not cover this disclosure",
        Code::InvalidTransition => "Invalid transition",
        Code::Unauthenticated => "Authentication required",
        Code::Forbidden => "Forbidden",
        Code::PayloadTooLarge => "Payload too large",
        Code::ClockSkew => "Clock skew",
        Code::NotFound => "Not found",
        Code::BadRequest => "Bad request",
        Code::Unavailable => "Service unavailable",
        Code::BadGateway => "Writing node failed",
        Code::MethodNotAllowed => "Method not allowed",
        Code::RequestTimeout => "Request timeout",
        Code::EntryTooLarge => "Entry too large for an entry bundle",
        Code::Internal => "Internal error",
    }
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    code: &'a str,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        status_of(self.code)
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let body = Problem {
            kind: format!("https://caseledger.dev/problems/{}", self.code.as_str()),
            title: title_of(self.code),
            status: status.as_u16(),
            detail: &self.detail,
            code: self.code.as_str(),
        };
        let mut resp = HttpResponse::build(status);
        resp.content_type("application/problem+json");
        if self.code == Code::Unauthenticated {
            resp.insert_header(("WWW-Authenticate", "Bearer"));
        }
        resp.body(serde_json::to_string(&body).unwrap_or_default())
    }
}

impl From<RuleViolation> for ApiError {
    fn from(v: RuleViolation) -> Self {
        Self::new(v.code, v.message)
    }
}

impl From<EnvelopeError> for ApiError {
    fn from(e: EnvelopeError) -> Self {
        let code = match e {
            EnvelopeError::BadSignature(_) => Code::BadSignature,
            _ => Code::InvalidEnvelope,
        };
        Self::new(code, e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => Self::new(Code::WrongExpectedRevision, m),
            StoreError::Corrupt(m) => {
                tracing::error!(error = %m, "store integrity error");
                Self::new(Code::Internal, "the store reported an integrity error")
            }
            StoreError::Unavailable(m) => {
                tracing::error!(error = %m, "store unavailable");
                Self::new(
                    Code::Unavailable,
                    "the store failed before the write was confirmed; retry with the same event_id (retries are idempotent)",
                )
            }
        }
    }
}

impl From<WriteError> for ApiError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Rule(v) => v.into(),
            WriteError::Store(s) => s.into(),
            e @ WriteError::WriterStopped => Self::new(Code::Unavailable, e.to_string()),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(_: actix_web::error::BlockingError) -> Self {
        Self::new(Code::Internal, "worker pool failure")
    }
}
