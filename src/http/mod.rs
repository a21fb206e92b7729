//! The HTTP API (DESIGN §4) on actix-web: one file per resource, errors as problem+json.

pub mod auth;
pub mod budget;
mod cases;
mod directory;
mod events;
mod export;
mod forward;
mod health;
mod log;
mod principals;
pub mod problem;
mod query;
mod reports;
pub use forward::{Writer, ANSWER_TIMEOUT, FORWARDED_MARK};
pub use principals::new_token;
mod scope;
mod streams;
mod tiles;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use futures_util::StreamExt;

use crate::envelope::KeyFile;
use crate::ledger::{Clock, Code, Ledger};
use problem::ApiError;

/// Request-size limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest body of `POST /v1/events` (bytes).
    pub max_event_bytes: usize,
    /// Largest body of `POST /v1/events/batch` (bytes).
    pub max_batch_bytes: usize,
    /// Most events in one batch.
    pub max_batch_events: usize,
    /// A reading node beside the writing one: writes are forwarded to the writer when the
    /// state names one, and refused with 503 `unavailable` otherwise.
    pub read_only: bool,
    /// How long a request body may take to arrive, from the end of its headers: a client
    /// that sends its headers and then trickles (or stops sending) the body would otherwise
    /// hold a connection and its buffer for as long as it likes.
    pub body_wait: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_event_bytes: 64 * 1024,
            max_batch_bytes: 4 * 1024 * 1024,
            max_batch_events: 1000,
            read_only: false,
            // A full 4 MiB batch at about 1.1 Mbit/s.
            body_wait: std::time::Duration::from_secs(30),
        }
    }
}

/// Shared by every handler.
pub struct AppState {
    pub ledger: Ledger,
    /// The server's `service` principal key: signs the events the server writes itself.
    pub service_key: KeyFile,
    pub clock: Arc<dyn Clock>,
    pub limits: Limits,
    /// The statistics projection and report settings.
    pub reports: Arc<crate::reports::ReportService>,
    /// Where a read-only node forwards writes (none: it refuses them).
    pub writer: Option<Writer>,
    /// Memory for the bodies of the writes this node decides, shared by principal
    /// (`Default::default()`: see [`budget::WRITER_BODIES_KIB`]).
    pub bodies: budget::BodyBudget<crate::domain::PrincipalId>,
    /// Witnesses' cosignatures of the latest checkpoint (`serve --witness`), which
    /// `GET /v1/log/checkpoint` appends.
    pub cosignatures: std::sync::Arc<crate::witness::feeder::Cosignatures>,
}

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(events::append)
        .service(events::append_batch)
        .service(streams::read_stream)
        .service(log::entries)
        .service(log::checkpoint)
        .service(log::witnessed)
        .service(log::key)
        .service(log::inclusion)
        .service(log::consistency)
        // The entry bundles' route first: the hash tiles' would take `entries` as a level.
        .service(tiles::entries)
        .service(tiles::hashes)
        .service(export::bundle)
        .service(principals::issue_token)
        .service(cases::get_case)
        .service(cases::consent_trail)
        .service(directory::list_agencies)
        .service(directory::get_agency)
        .service(directory::list_schemas)
        .service(directory::get_schema)
        .service(reports::agencies)
        .service(reports::program)
        .service(health::healthz)
        .service(health::readyz)
        .service(health::metrics);
}

/// Every route's method and path pattern, as `routes` registers them: a request that matches
/// a path but not its method is told which methods the path takes (405 and `Allow`).
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/events"),
    ("POST", "/v1/events/batch"),
    ("GET", "/v1/streams/{stream}"),
    ("GET", "/v1/log/entries"),
    ("GET", "/v1/log/checkpoint"),
    ("GET", "/v1/log/checkpoint/witnessed"),
    ("GET", "/v1/log/key"),
    ("GET", "/v1/log/proof/inclusion"),
    ("GET", "/v1/log/proof/consistency"),
    ("GET", "/v1/log/tile/entries/{tail:.*}"),
    ("GET", "/v1/log/tile/{tail:.*}"),
    ("GET", "/v1/export"),
    ("POST", "/v1/principals/{id}/tokens"),
    ("GET", "/v1/cases/{case_id}"),
    ("GET", "/v1/cases/{case_id}/consent-trail"),
    ("GET", "/v1/agencies"),
    ("GET", "/v1/agencies/{id}"),
    ("GET", "/v1/schemas"),
    ("GET", "/v1/schemas/{type}"),
    ("GET", "/v1/reports/agencies"),
    ("GET", "/v1/reports/program"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
];

/// The method a request came with, when [`head_as_get`] changed it.
#[derive(Clone, Copy)]
struct SentAsHead;

/// Serves `HEAD` as `GET` (RFC 9110 §9.3.2): the same status and headers, and the HTTP/1
/// codec, which saw the request's own method, sends no body.
fn head_as_get<S>(mut req: actix_web::dev::ServiceRequest, srv: &S) -> S::Future
where
    S: actix_web::dev::Service<actix_web::dev::ServiceRequest>,
{
    use actix_web::http::Method;
    use actix_web::HttpMessage;
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
        req.extensions_mut().insert(SentAsHead);
    }
    srv.call(req)
}

/// What no route took: 405 with `Allow` when the path exists for other methods, else 404.
async fn unmatched(req: actix_web::HttpRequest) -> actix_web::HttpResponse {
    use actix_web::{HttpMessage, ResponseError};
    let allowed: Vec<&str> = ROUTES
        .iter()
        .filter(|(_, pattern)| actix_web::dev::ResourceDef::new(*pattern).is_match(req.path()))
        .flat_map(|(method, _)| match *method {
            "GET" => &["GET", "HEAD"][..],
            _ => std::slice::from_ref(method),
        })
        .copied()
        .collect();
    let method = match req.extensions().get::<SentAsHead>() {
        Some(_) => "HEAD".to_owned(),
        None => req.method().to_string(),
    };
    if allowed.is_empty() {
        return ApiError::not_found("no such endpoint").error_response();
    }
    let allow = allowed.join(", ");
    let mut resp = ApiError::new(
        Code::MethodNotAllowed,
        format!("{} takes {allow}, not {method}", req.path()),
    )
    .error_response();
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&allow) {
        resp.headers_mut()
            .insert(actix_web::http::header::ALLOW, value);
    }
    resp
}

/// A bound, not yet awaited server.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Binds `listener` and builds the server. Port 0 picks a free port (tests use that).
    pub fn build(state: AppState, listener: TcpListener, workers: usize) -> std::io::Result<Self> {
        let port = listener.local_addr()?.port();
        let data = web::Data::new(state);
        let server =
            HttpServer::new(move || {
                App::new()
                    .app_data(data.clone())
                    .app_data(web::PathConfig::default().error_handler(|e, _| {
                        ApiError::new(Code::BadRequest, e.to_string()).into()
                    }))
                    .app_data(web::QueryConfig::default().error_handler(|e, _| {
                        ApiError::new(Code::BadRequest, e.to_string()).into()
                    }))
                    .configure(routes)
                    .default_service(web::to(unmatched))
                    .wrap_fn(head_as_get)
                    // Tokens, case views, consent trails and exports must not stay in a
                    // cache on the way or in a browser.
                    .wrap(
                        actix_web::middleware::DefaultHeaders::new()
                            .add((actix_web::http::header::CACHE_CONTROL, "no-store")),
                    )
            })
            .workers(workers.max(1))
            .listen(listener)?
            .run();
        Ok(Self { port, server })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs until stopped.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }

    /// The server handle (to stop it).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }
}

/// Reads a request body, refusing with `payload_too_large` past `limit` bytes, and with
/// `request_timeout` (408, which a client may retry) when the whole body has not arrived
/// within `wait`.
pub(crate) async fn read_body(
    req: &actix_web::HttpRequest,
    payload: web::Payload,
    limit: usize,
    wait: std::time::Duration,
) -> Result<web::Bytes, ApiError> {
    tokio::time::timeout(wait, read_body_now(req, payload, limit))
        .await
        .map_err(|_| {
            ApiError::new(
                Code::RequestTimeout,
                format!(
                    "the request body did not arrive within {} s",
                    wait.as_secs_f64()
                ),
            )
        })?
}

/// The body length the request announces (`Content-Length`), if any; 413
/// `payload_too_large` when it is over `limit`.
pub(crate) fn announced_length(
    req: &actix_web::HttpRequest,
    limit: usize,
) -> Result<Option<usize>, ApiError> {
    let announced = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    match announced {
        Some(len) if len > limit => Err(too_large(limit)),
        announced => Ok(announced),
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        Code::PayloadTooLarge,
        format!("the request body exceeds {limit} bytes"),
    )
}

async fn read_body_now(
    req: &actix_web::HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    announced_length(req, limit)?;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("reading body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
