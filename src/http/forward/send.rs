//! One forwarded exchange: the request as it leaves this node, and the writer's answer as
//! it comes back.

use std::collections::BTreeSet;
use std::io::Read;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use super::{Writer, FORWARDED_MARK};
use crate::http::problem::ApiError;
use crate::ledger::Code;

/// Largest answer taken back from the writing node (its answers are small JSON documents).
const MAX_ANSWER: u64 = 1 << 20;

/// Headers that belong to one connection, not to the request or response (RFC 9110 §7.6.1),
/// plus those the forwarding sets itself.
const NOT_FORWARDED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
    "host",
    "content-length",
    "accept-encoding",
    "content-encoding",
    "via",
    FORWARDED_MARK,
];

/// Headers the two nodes must read alike: a request repeating one is refused.
const SINGLE: &[&str] = &["authorization", "content-type"];

/// A write request as it will leave this node.
pub struct Outgoing {
    base: String,
    url: String,
    method: String,
    headers: Vec<(String, String)>,
    body: web::Bytes,
}

/// Names listed in `Connection` headers: per-connection, never forwarded.
fn connection_names<'a>(values: impl Iterator<Item = &'a str>) -> BTreeSet<String> {
    values
        .flat_map(|v| v.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| !name.is_empty())
        .collect()
}

impl Outgoing {
    /// The request `req` (body `body`, already read) as sent to `route` on `writer`.
    pub fn new(
        writer: &Writer,
        req: &HttpRequest,
        route: &str,
        body: web::Bytes,
    ) -> Result<Self, ApiError> {
        let map = req.headers();
        let hop = connection_names(
            map.get_all(header::CONNECTION)
                .filter_map(|v| v.to_str().ok()),
        );
        let mut headers = Vec::new();
        let mut via = Vec::new();
        for name in map.keys() {
            let name = name.as_str();
            let values = map
                .get_all(name)
                .map(|v| v.to_str())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| {
                    ApiError::bad_request(format!("header {name} is not visible ASCII"))
                })?;
            if name == "via" {
                via = values.iter().map(|v| v.to_string()).collect();
                continue;
            }
            if NOT_FORWARDED.contains(&name) || hop.contains(name) {
                continue;
            }
            if values.len() > 1 && SINGLE.contains(&name) {
                return Err(ApiError::bad_request(format!(
                    "the {name} header is given {} times; give it once",
                    values.len()
                )));
            }
            headers.push((name.to_owned(), values.join(", ")));
        }
        via.push("1.1 caseledger".to_owned());
        headers.push(("via".to_owned(), via.join(", ")));
        headers.push((FORWARDED_MARK.to_owned(), "1".to_owned()));
        let url = match req.query_string() {
            "" => format!("{}{route}", writer.base),
            query => format!("{}{route}?{query}", writer.base),
        };
        Ok(Self {
            base: writer.base.clone(),
            url,
            method: req.method().as_str().to_owned(),
            headers,
            body,
        })
    }

    /// Sends the request and takes the answer back. A writer that cannot be reached (nothing
    /// was sent) is 503 `unavailable`; one that fails after the request left (it may have
    /// written) is 502 `bad_gateway`, which says the outcome is unknown.
    pub async fn send(
        self,
        agent: &ureq::Agent,
        held: impl Send + 'static,
    ) -> Result<Answer, ApiError> {
        let agent = agent.clone();
        let base = self.base.clone();
        let path = self.url.split('?').next().unwrap_or_default();
        let events = path.ends_with("/v1/events") || path.ends_with("/v1/events/batch");
        let exchanged = web::block(move || {
            let answer = self.exchange(&agent);
            drop(held);
            answer
        })
        .await
        .map_err(|e| ApiError::new(Code::Internal, format!("forwarding thread: {e}")))?;
        // The writing node's address and the transport's words go to the log only: they
        // name the private network to anyone who can reach this node.
        exchanged.map_err(|failure| match failure {
            Failure::NotSent(why) => {
                tracing::warn!(writer = %base, error = %why, "cannot reach the writing node");
                ApiError::new(
                    Code::Unavailable,
                    "this node forwards writes to the writing node, which could not be reached; \
                     nothing was written",
                )
            }
            Failure::Unknown(why) => {
                tracing::warn!(writer = %base, error = %why, "the writing node failed to answer");
                let again = if events {
                    "read the stream, or send the same event again (a repeat of a written \
                     event is answered with its receipt)"
                } else {
                    "a repeat issues another token (revoke the first if it was issued)"
                };
                ApiError::new(
                    Code::BadGateway,
                    format!(
                        "this node forwarded the request to the writing node, which failed to \
                         answer; it may or may not have done it: {again}"
                    ),
                )
            }
        })
    }

    fn exchange(self, agent: &ureq::Agent) -> Result<Answer, Failure> {
        let mut request = agent.request(&self.method, &self.url);
        for (name, value) in &self.headers {
            request = request.set(name, value);
        }
        let response = match request.send_bytes(&self.body) {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(ureq::Error::Transport(t)) => {
                return Err(match t.kind() {
                    ureq::ErrorKind::Dns
                    | ureq::ErrorKind::ConnectionFailed
                    | ureq::ErrorKind::InvalidUrl
                    | ureq::ErrorKind::UnknownScheme => Failure::NotSent(t.to_string()),
                    _ => Failure::Unknown(t.to_string()),
                })
            }
        };
        let status = response.status();
        let status = StatusCode::from_u16(status)
            .ok()
            .filter(|s| (200..600).contains(&s.as_u16()))
            .ok_or_else(|| Failure::Unknown(format!("it answered status {status}")))?;
        let hop = connection_names(response.all("connection").into_iter());
        let names: BTreeSet<String> = response.headers_names().into_iter().collect();
        let mut headers = Vec::new();
        for name in names {
            if NOT_FORWARDED.contains(&name.as_str()) || hop.contains(&name) {
                continue;
            }
            for value in response.all(&name) {
                headers.push((name.clone(), value.to_owned()));
            }
        }
        let mut body = Vec::new();
        response
            .into_reader()
            .take(MAX_ANSWER + 1)
            .read_to_end(&mut body)
            .map_err(|e| Failure::Unknown(format!("reading its answer: {e}")))?;
        if body.len() as u64 > MAX_ANSWER {
            return Err(Failure::Unknown(format!(
                "its answer is longer than {MAX_ANSWER} bytes"
            )));
        }
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

/// Why an exchange failed.
enum Failure {
    /// Before anything was sent.
    NotSent(String),
    /// After the request left: the writer may have written.
    Unknown(String),
}

/// The writing node's answer, as taken back.
pub struct Answer {
    status: StatusCode,
    headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The answer as this node's response.
    pub fn into_response(self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        for (name, value) in self.headers {
            if let (Ok(name), Ok(value)) = (
                header::HeaderName::try_from(name),
                header::HeaderValue::try_from(value),
            ) {
                response.append_header((name, value));
            }
        }
        response.body(self.body)
    }
}

/// The log size a write answer implies: one past the highest receipt index in it (a
/// receipt's or an issued token's `index`, or a batch's `receipts[].index`).
pub fn size_after(body: &[u8]) -> Option<u64> {
    let answer: serde_json::Value = serde_json::from_slice(body).ok()?;
    let receipts = answer["receipts"].as_array().into_iter().flatten();
    std::iter::once(&answer)
        .chain(receipts)
        .filter_map(|r| r["index"].as_u64())
        .max()
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_size_after_a_write_is_one_past_its_highest_index() {
        assert_eq!(size_after(br#"{"index": 7, "revision": 0}"#), Some(8));
        let batch = br#"{"stream": "s", "receipts": [{"index": 3}, {"index": 5}, {"index": 4}]}"#;
        assert_eq!(size_after(batch), Some(6));
        assert_eq!(size_after(br#"{"token": "x"}"#), None);
        assert_eq!(size_after(b"not json"), None);
    }

    #[test]
    fn connection_lists_name_per_connection_headers() {
        let names = connection_names(["close, X-Trace", " keep-alive ,,"].into_iter());
        let names: Vec<_> = names.into_iter().collect();
        assert_eq!(names, ["close", "keep-alive", "x-trace"]);
    }
}
