//! The witness's HTTP service: `POST /add-checkpoint` (C2SP tlog-witness), answered with
//! the spec's status codes and plain-text bodies.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{web, App, HttpResponse, HttpServer};

use super::state::WitnessState;
use super::{cosign, Refusal, Submission};
use crate::log::cosignature::Witness;
use crate::log::NoteVerifier;

/// The largest request taken: a note of 100 signatures and 63 proof lines is about 20 KB.
const MAX_BODY: usize = 64 * 1024;

/// What the service needs.
pub struct WitnessService {
    pub state: WitnessState,
    pub logs: Vec<NoteVerifier>,
    pub witness: Witness,
    /// POSIX seconds now (a clock tests can set).
    pub now: Arc<dyn Fn() -> u64 + Send + Sync>,
}

fn text(status: u16, content_type: &str, body: String) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status)
        .content_type(content_type)
        .body(body)
}

fn refused(r: &Refusal) -> HttpResponse {
    match r {
        Refusal::Conflict(size) => text(409, "text/x.tlog.size", format!("{size}\n")),
        other => text(
            other.status(),
            "text/plain; charset=utf-8",
            format!("{other}\n"),
        ),
    }
}

async fn add_checkpoint(svc: web::Data<WitnessService>, body: web::Bytes) -> HttpResponse {
    let Ok(body) = String::from_utf8(body.to_vec()) else {
        return refused(&Refusal::BadRequest("the body is not UTF-8".into()));
    };
    let svc = svc.into_inner();
    let answer = web::block(move || {
        let sub = Submission::parse(&body)?;
        let accepted = svc.state.advance(&sub, &svc.logs)?;
        tracing::info!(
            origin = %accepted.checkpoint.origin,
            size = accepted.checkpoint.size,
            old = sub.old,
            "cosigned"
        );
        Ok::<_, Refusal>(cosign(&svc.witness, &accepted, (svc.now)()))
    })
    .await;
    match answer {
        Ok(Ok(lines)) => text(200, "text/plain; charset=utf-8", lines),
        Ok(Err(r)) => {
            if matches!(r, Refusal::Fork(_) | Refusal::Unprovable(_)) {
                tracing::warn!(refusal = %r, "a signed checkpoint that does not extend the cosigned one");
            }
            refused(&r)
        }
        Err(e) => refused(&Refusal::Unavailable(e.to_string())),
    }
}

/// Binds the service on `listener`.
pub fn build(
    svc: WitnessService,
    listener: TcpListener,
    workers: usize,
) -> std::io::Result<Server> {
    let data = web::Data::new(svc);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(MAX_BODY))
            .route("/add-checkpoint", web::post().to(add_checkpoint))
    })
    .workers(workers.max(1))
    .listen(listener)?
    .run())
}
