//! Writes on a reading node: refused, or forwarded to the one writing node.
//!
//! Several caseledger nodes may serve one EventStoreDB log, but only one may write it: two
//! writers would decide on states that miss each other's latest entries (docs/eventstoredb.md).
//! A node started with `--read-only --forward-writes URL` sends each write request (method,
//! path, query, end-to-end headers, body) to the writing node and answers with its response,
//! so clients can use any node. The body is read here first, within the endpoint's limit, so
//! an oversized request is refused without being sent on.

use std::io::Read;
use std::time::Duration;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use super::problem::ApiError;
use super::{read_body, AppState};
use crate::ledger::Code;

/// Largest response taken back from the writing node (its answers are small JSON documents).
const MAX_ANSWER: u64 = 1 << 20;

/// Headers that belong to one connection, not to the request or response (RFC 9110 §7.6.1),
/// plus those the forwarding itself sets.
const NOT_FORWARDED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "accept-encoding",
    "content-encoding",
];

/// The writing node a reading node forwards writes to.
pub struct Writer {
    base: String,
    agent: ureq::Agent,
}

impl Writer {
    /// A writer at `base` (`http://host:port`, no path). Only plain HTTP: nodes talk over
    /// their private network, as with EventStoreDB in the compose file.
    pub fn new(base: &str) -> Result<Self, String> {
        let base = base.trim_end_matches('/');
        let rest = base.strip_prefix("http://").ok_or_else(|| {
            format!("--forward-writes must be an http:// URL of the writing node, got {base:?}")
        })?;
        if rest.is_empty() || rest.contains('/') {
            return Err(format!(
                "--forward-writes takes the writing node's base URL (http://host:port), got {base:?}"
            ));
        }
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .redirects(0)
            .build();
        Ok(Self {
            base: base.to_owned(),
            agent,
        })
    }

    /// The writing node's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }
}

/// Where a write request goes.
pub(super) enum Write {
    /// This node writes: the body is still to be read.
    Here(web::Payload),
    /// The writing node answered.
    Forwarded(HttpResponse),
}

/// Lets a write through on a writing node; forwards it from a reading node that knows the
/// writer; refuses it (503 `unavailable`) on a reading node that does not.
pub(super) async fn writable(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Write, ApiError> {
    if !state.limits.read_only {
        return Ok(Write::Here(payload));
    }
    let Some(writer) = &state.writer else {
        return Err(ApiError::new(
            Code::Unavailable,
            "this node serves reads only (--read-only); send writes to the writing node",
        ));
    };
    let body = read_body(req, payload, limit).await?;
    forward(writer, req, body).await.map(Write::Forwarded)
}

/// The writing node's answer, as taken back: status, headers, body.
type Answer = (u16, Vec<(String, String)>, Vec<u8>);

async fn forward(
    writer: &Writer,
    req: &HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let url = format!("{}{path}", writer.base);
    let method = req.method().as_str().to_owned();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .filter(|(name, _)| !NOT_FORWARDED.contains(&name.as_str()))
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
        .collect();
    let agent = writer.agent.clone();
    let unreachable = |why: String| {
        ApiError::new(
            Code::Unavailable,
            format!(
                "this node forwards writes to {}, which did not answer: {why}",
                writer.base
            ),
        )
    };
    let answer = web::block(move || -> Result<Answer, String> {
        let mut request = agent.request(&method, &url).set("Via", "1.1 caseledger");
        for (name, value) in &headers {
            request = request.set(name, value);
        }
        let response = match request.send_bytes(&body) {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => return Err(e.to_string()),
        };
        let status = response.status();
        let headers = response
            .headers_names()
            .into_iter()
            .filter(|name| !NOT_FORWARDED.contains(&name.as_str()))
            .filter_map(|name| {
                let value = response.header(&name)?.to_owned();
                Some((name, value))
            })
            .collect();
        let mut body = Vec::new();
        response
            .into_reader()
            .take(MAX_ANSWER)
            .read_to_end(&mut body)
            .map_err(|e| format!("reading its answer: {e}"))?;
        Ok((status, headers, body))
    })
    .await
    .map_err(|e| unreachable(e.to_string()))?
    .map_err(unreachable)?;
    let (status, headers, body) = answer;
    let status = StatusCode::from_u16(status).map_err(|e| unreachable(e.to_string()))?;
    let mut response = HttpResponse::build(status);
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::try_from(name),
            header::HeaderValue::try_from(value),
        ) {
            response.append_header((name, value));
        }
    }
    Ok(response.body(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_plain_http_base_url_names_a_writer() {
        assert_eq!(
            Writer::new("http://writer:8080/").expect("ok").base(),
            "http://writer:8080"
        );
        for bad in [
            "https://writer:8080",
            "writer:8080",
            "http://",
            "http://writer:8080/v1",
        ] {
            assert!(Writer::new(bad).is_err(), "{bad}");
        }
    }
}
