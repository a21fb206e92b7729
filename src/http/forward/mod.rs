//! Writes on a reading node: refused, or forwarded to the one writing node.
//!
//! Several caseledger nodes may serve one EventStoreDB log, but only one may write it: two
//! writers would decide on states that miss each other's latest entries (docs/eventstoredb.md).
//! A node started with `--read-only --forward-writes URL` sends each write request to the
//! writing node and answers with its response, so clients can use any node:
//!
//! - Refused here, never sent on: a request without a well-formed bearer token, a body over
//!   the endpoint's limit or slower than [`super::Limits::body_wait`]. Whether the token is valid is the
//!   writer's to say, so a token it issued a moment ago works before this node mirrors it.
//! - The path is rebuilt from the route (the principal id parsed), with the client's query.
//! - Headers go on except the per-connection ones (RFC 9110 §7.6.1, and any the client's
//!   `Connection` names); repeats are joined, and a repeated `Authorization` or
//!   `Content-Type` is refused, since the two nodes might read different copies.
//! - Forwarded requests carry `caseledger-forwarded: 1`. A reading node refuses such a
//!   request instead of forwarding it again, so two misconfigured readers cannot loop.
//! - After a 2xx answer, this node waits (bounded) until its own view of a shared log holds
//!   the receipt's entries, so a client that wrote through it reads its write from it next.

mod send;

use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use tokio::sync::Semaphore;

use super::auth::{bearer_token, Caller};
use super::budget::{slot, BodyBudget};
use super::problem::ApiError;
use super::{read_body, AppState};
use crate::ledger::Code;

use send::Outgoing;

/// The header a reading node puts on the requests it forwards.
pub const FORWARDED_MARK: &str = "caseledger-forwarded";

/// Forwarded writes in flight at once; more wait for a slot, up to
/// [`QUEUE_WAIT`](super::budget::QUEUE_WAIT).
const MAX_IN_FLIGHT: usize = 64;

/// KiB of request bodies held at once for forwarding, from their first byte until the
/// writer answered (each write reserves its endpoint's limit).
const BODY_BUDGET_KIB: u32 = 256 * 1024;
/// Body memory, apart, for tokens this node does not know (in KiB): four largest batches.
const STRANGER_BUDGET_KIB: u32 = 16 * 1024;
/// Body memory one known token may hold at once (in KiB): a quarter of [`BODY_BUDGET_KIB`],
/// so one principal (or a leaked token) announcing bodies it never sends cannot hold
/// everyone's.
const PER_TOKEN_KIB: u32 = BODY_BUDGET_KIB / 4;

/// How long the writing node has to answer a forwarded write (its group commit takes
/// milliseconds; this bounds a hung connection).
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// The writing node a reading node forwards writes to.
pub struct Writer {
    base: String,
    agent: ureq::Agent,
    slots: Arc<Semaphore>,
    /// Body memory for requests whose token this node knows, shared by token hash.
    bodies: BodyBudget<[u8; 32]>,
    /// Body memory for requests whose token this node does not know.
    strangers: BodyBudget<[u8; 32]>,
    mirror_wait: Duration,
}

impl Writer {
    /// A writer at `base` (`http://host:port`, no path, query or credentials). Only plain
    /// HTTP: nodes talk over their private network, as with EventStoreDB in the compose
    /// file. `answer_timeout` bounds each forwarded exchange; `mirror_wait` is how long a
    /// 2xx answer waits for this node's view of the log to hold the new entries (zero when
    /// the two nodes do not share a log).
    pub fn new(
        base: &str,
        answer_timeout: Duration,
        mirror_wait: Duration,
    ) -> Result<Self, String> {
        let base = base.trim_end_matches('/');
        if base.contains('@') {
            // Not quoted: what comes before the `@` may be a password.
            return Err(
                "--forward-writes takes the writing node's base URL (http://host:port) \
                        without credentials: writes carry their own bearer token"
                    .into(),
            );
        }
        let rest = base.strip_prefix("http://").ok_or_else(|| {
            format!("--forward-writes must be an http:// URL of the writing node, got {base:?}")
        })?;
        if rest.is_empty() || rest.contains(['/', '?', '#']) {
            return Err(format!(
                "--forward-writes takes the writing node's base URL (http://host:port), got {base:?}"
            ));
        }
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(2).min(answer_timeout))
            .timeout(answer_timeout)
            .redirects(0)
            .max_idle_connections_per_host(MAX_IN_FLIGHT)
            .build();
        Ok(Self {
            base: base.to_owned(),
            agent,
            slots: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            bodies: BodyBudget::new(BODY_BUDGET_KIB, PER_TOKEN_KIB),
            strangers: BodyBudget::new(STRANGER_BUDGET_KIB, STRANGER_BUDGET_KIB),
            mirror_wait,
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

/// Lets a write through on a writing node; forwards it to the writer from a reading node
/// that knows one (to the path `route` gives); refuses it (503 `unavailable`) on a reading
/// node that does not, and on a reading node it was already forwarded to.
pub(super) async fn writable(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    route: impl FnOnce() -> Result<String, ApiError>,
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
    // Whether the token is valid is the writer's to say (it may have issued it a moment
    // ago), but a request without one is not worth reading and sending on.
    let token = bearer_token(req)?;
    if req.headers().contains_key(FORWARDED_MARK) {
        tracing::error!(forwards_to = %writer.base, "a forwarded write reached a reading node");
        return Err(ApiError::new(
            Code::Unavailable,
            "this write was forwarded to a node that serves reads only; --forward-writes must \
             name the writing node",
        ));
    }
    let route = route()?;
    // A token this node's copy of the log does not know (issued a moment ago, or none at
    // all) draws on a small budget of its own: bodies announced and never sent cannot then
    // hold the memory that known writers' requests wait for.
    let hash = crate::http::auth::token_hash(token);
    let known = {
        let now = chrono::Utc::now();
        state
            .ledger
            .state()
            .registry
            .authenticate(&hash, &now)
            .is_some()
    };
    // A body announced over the limit is refused at once (413), before it waits for memory
    // it could never use.
    let announced = crate::http::announced_length(req, limit)?;
    // Memory first: the body may take its announced length (up to `limit` bytes unannounced)
    // while it arrives and is sent on; a known token's own share first, so one token cannot
    // hold the whole pool.
    let needed = announced.unwrap_or(limit);
    let budget = match known {
        true => writer
            .bodies
            .hold(Some(hash), needed, "request bodies for the writing node"),
        false => writer
            .strangers
            .hold(None, needed, "request bodies for the writing node"),
    }
    .await?;
    let body = read_body(req, payload, limit, state.limits.body_wait).await?;
    let outgoing = Outgoing::new(writer, req, &route, body)?;
    let exchange = slot(
        &writer.slots,
        1,
        "writes are already on their way to the writing node",
    )
    .await?;
    // All go with the exchange: a client that hangs up does not free them early.
    let answer = outgoing.send(&writer.agent, (budget, exchange)).await?;
    if answer.status().is_success() {
        if let Some(size) = send::size_after(&answer.body) {
            mirrored(state, size, writer.mirror_wait).await;
        }
    }
    Ok(Write::Forwarded(answer.into_response()))
}

/// The caller of a write this node handles itself: a reading node leaves authentication to
/// the writer it forwards to, so handlers extract the caller as a `Result` and check it here,
/// after [`writable`]. Records the caller on the request's span.
pub(super) fn authenticated(caller: Result<Caller, ApiError>) -> Result<Caller, ApiError> {
    let caller = caller?;
    tracing::Span::current().record("caller", caller.id.as_str());
    Ok(caller)
}

/// Waits, up to `wait`, until this node's view of the log holds `size` entries.
async fn mirrored(state: &AppState, size: u64, wait: Duration) {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let have = state.ledger.state().size;
        if have >= size {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            if !wait.is_zero() {
                tracing::warn!(
                    have,
                    size,
                    "forwarded write answered before this node mirrored it"
                );
            }
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer(base: &str) -> Result<Writer, String> {
        Writer::new(base, ANSWER_TIMEOUT, Duration::ZERO)
    }

    #[test]
    fn only_a_plain_http_base_url_names_a_writer() {
        assert_eq!(
            writer("http://writer:8080/").expect("ok").base(),
            "http://writer:8080"
        );
        for bad in [
            "https://writer:8080",
            "writer:8080",
            "http://",
            "http://writer:8080/v1",
            "http://writer:8080?x=1",
            "http://writer:8080#f",
            "http://user:pw@writer:8080",
        ] {
            assert!(writer(bad).is_err(), "{bad}");
        }
        // A password is never quoted back (the message goes to the terminal and the log).
        let Err(why) = writer("http://svc:s3cret@writer:8080") else {
            panic!("accepted")
        };
        assert!(
            !why.contains("s3cret") && why.contains("without credentials"),
            "{why}"
        );
    }
}
