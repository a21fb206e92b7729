//! `GET /v1/export` (auditors): a bundle (DESIGN §4.1) to verify offline. With `?case=` a
//! case bundle; without it the full log, streamed in constant memory.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::web::Bytes;
use actix_web::{get, web, HttpResponse};
use serde::Deserialize;
use tokio::sync::mpsc;

use super::auth::Caller;
use super::problem::ApiError;
use super::AppState;
use crate::bundle::export::{self, ExportError, LogIdentity};
use crate::domain::{CaseId, Role};
use crate::ledger::Code;
use crate::log::merkle::TreeError;

/// How long an export waits for a checkpoint covering every entry committed before it.
/// Under load the writer signs at most once a second, and an idle writer at once.
const COVERED_WITHIN: Duration = Duration::from_secs(5);

/// Bytes per piece of a streamed full-log bundle, and pieces queued ahead of the client.
const PIECE: usize = 64 * 1024;
const PIECES_AHEAD: usize = 16;
/// How long a streamed export waits for a client that reads nothing.
const STALLED: Duration = Duration::from_secs(60);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ExportQuery {
    case: Option<String>,
    /// `true`: the bundle is proved against the newest checkpoint every witness cosigned.
    witnessed: Option<bool>,
}

impl From<ExportError> for ApiError {
    fn from(e: ExportError) -> Self {
        match e {
            ExportError::NotFound(stream) => ApiError::not_found(format!("no case {stream}")),
            e @ ExportError::Uncovered { .. } => ApiError::new(Code::Unavailable, e.to_string()),
            ExportError::NoCheckpoint => ApiError::new(
                Code::Unavailable,
                "the log has no signed checkpoint yet; retry in a moment",
            ),
            e @ ExportError::NotWitnessed => ApiError::new(
                Code::Unavailable,
                format!("{e}: the witnesses have not cosigned a checkpoint yet; retry later"),
            ),
            ExportError::Store(s) => s.into(),
            ExportError::Tree(TreeError::Storage(m)) => {
                ApiError::hidden(Code::Unavailable, super::log::STORE_UNREADABLE, &m)
            }
            other => ApiError::hidden(
                Code::Internal,
                "the export failed; see the server log",
                &other,
            ),
        }
    }
}

/// `GET /v1/export?case=<uuid>`: the case's entries, the identity entries needed to check
/// them, each with its inclusion proof, and a checkpoint covering them. `GET /v1/export`:
/// every entry of the log, streamed.
#[get("/v1/export")]
pub(super) async fn bundle(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Auditor])?;
    let case = q
        .case
        .as_deref()
        .map(|c| {
            c.parse::<CaseId>().map_err(|_| {
                ApiError::bad_request("case must be a case UUID (lowercase, hyphenated)")
            })
        })
        .transpose()?;
    let witnessed = q.witnessed.unwrap_or(false);
    if witnessed && state.cosignatures.witnesses() == 0 {
        return Err(ApiError::bad_request(
            "witnessed=true: this server submits its checkpoints to no witness",
        ));
    }
    // Before a full log's streaming starts, where an error can only cut the body short
    // (once there is a witnessed checkpoint there always is one, newer or not: the newest
    // complete one is never pruned).
    if witnessed && state.cosignatures.newest_witnessed().is_none() {
        return Err(ExportError::NotWitnessed.into());
    }
    // Everything committed before this request is in the bundle (but for one proved against
    // the witnessed checkpoint, which is older under load). The state's guard is dropped
    // before waiting.
    if !witnessed {
        let committed = state.ledger.state().size;
        covering_checkpoint(&state, committed).await?;
    }
    let id = LogIdentity {
        cosignatures: Some(state.cosignatures.clone()),
        witnessed,
        ..LogIdentity::of(state.ledger.note_signer())
    };
    match case {
        Some(case) => export_case(&state, id, case).await,
        None => export_full(&state, id).await,
    }
}

async fn export_case(
    state: &AppState,
    id: LogIdentity,
    case: CaseId,
) -> Result<HttpResponse, ApiError> {
    let stream = format!("case-{case}");
    // The identity streams and the size they cover, read together: the store can already
    // hold a checkpoint over entries the read state has not published yet.
    let (identity, visible) = {
        let read = state.ledger.state();
        (export::identity_streams(read.streams.keys()), read.size)
    };
    let store = state.ledger.store().clone();
    // Gathered first, so that every refusal (no such case, a case past the checkpoint) is
    // its own problem response; then streamed, not built whole in memory.
    let gathered = {
        let store = store.clone();
        let id = id.clone();
        web::block(move || export::gather_case(store.as_ref(), &id, &stream, &identity, visible))
            .await??
    };
    streamed(STALLED, move |out| {
        gathered
            .write(store.as_ref(), &id, out)
            .map(drop)
            .map_err(|e| e.to_string())
    })
    .await
}

/// The full log, written on a blocking thread into pieces that the response streams.
async fn export_full(state: &AppState, id: LogIdentity) -> Result<HttpResponse, ApiError> {
    let store = state.ledger.store().clone();
    streamed(STALLED, move |out| {
        export::write_full(store.as_ref(), &id, out, &mut |_, _| {})
            .map(drop)
            .map_err(|e| e.to_string())
    })
    .await
}

/// A JSON response streamed from what `produce` writes on a blocking thread. A failure
/// before the first piece is an error response; after it, it can only cut the body short
/// (the connection is dropped before the body ends): a bundle cut short is not valid JSON,
/// and `verify` refuses it.
async fn streamed<F>(stalled: Duration, produce: F) -> Result<HttpResponse, ApiError>
where
    F: FnOnce(&mut Pieces) -> Result<(), String> + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(PIECES_AHEAD);
    // Set only once everything is queued: a body whose pieces stop without it ends in an
    // error, even when the error itself found no room in the queue (or the producer died).
    let whole = Arc::new(AtomicBool::new(false));
    let done = whole.clone();
    tokio::task::spawn_blocking(move || {
        let mut out = Pieces {
            buf: Vec::with_capacity(PIECE),
            tx: tx.clone(),
            stalled,
        };
        let written = produce(&mut out).and_then(|()| out.flush().map_err(|e| e.to_string()));
        if written.is_ok() {
            done.store(true, Ordering::Release);
        }
        if let Err(e) = written {
            tracing::warn!(error = %e, "streamed export stopped");
            // Without waiting: nobody listens if the client went away, and a stalled client
            // may never make room.
            let _ = tx.try_send(Err(std::io::Error::other(e)));
        }
    });
    let mut rx = rx;
    let first = match rx.recv().await {
        Some(Ok(piece)) => piece,
        // Its cause is logged where it happened.
        Some(Err(_)) => {
            return Err(ApiError::new(
                Code::Unavailable,
                "the export failed before its first bytes (see the server log); retry shortly",
            ))
        }
        None => {
            return Err(ApiError::new(
                Code::Internal,
                "the export stopped unannounced",
            ))
        }
    };
    let rest = futures_util::stream::unfold(Some(rx), move |rx| {
        let whole = whole.clone();
        async move {
            let mut rx = rx?;
            match rx.recv().await {
                Some(piece) => Some((piece, Some(rx))),
                None if whole.load(Ordering::Acquire) => None,
                None => Some((
                    Err(std::io::Error::other("the export stopped before the end")),
                    None,
                )),
            }
        }
    });
    let body =
        futures_util::StreamExt::chain(futures_util::stream::once(async { Ok(first) }), rest);
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .streaming(body))
}

/// A `Write` that hands the response PIECE bytes at a time, waiting while the client lags.
struct Pieces {
    buf: Vec<u8>,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    /// How long to wait for a client that takes nothing ([`STALLED`]).
    stalled: Duration,
}

impl Pieces {
    /// Queues the buffer; gives up when the client has taken nothing for `stalled`, so that
    /// a client that stops reading without closing does not hold a blocking thread for good.
    fn send(&mut self) -> std::io::Result<()> {
        let piece = std::mem::replace(&mut self.buf, Vec::with_capacity(PIECE));
        let mut piece = Ok(Bytes::from(piece));
        let deadline = std::time::Instant::now() + self.stalled;
        loop {
            match self.tx.try_send(piece) {
                Ok(()) => return Ok(()),
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::BrokenPipe,
                        "client gone",
                    ))
                }
                Err(mpsc::error::TrySendError::Full(_)) if std::time::Instant::now() > deadline => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("the client read nothing for {} s", self.stalled.as_secs()),
                    ))
                }
                Err(mpsc::error::TrySendError::Full(back)) => {
                    piece = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }
}

impl Write for Pieces {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= PIECE {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            self.send()
        }
    }
}

/// Waits until the store's latest checkpoint covers `size` entries.
async fn covering_checkpoint(state: &AppState, size: u64) -> Result<(), ApiError> {
    let deadline = tokio::time::Instant::now() + COVERED_WITHIN;
    loop {
        let store = state.ledger.store().clone();
        let covered = web::block(move || store.latest_checkpoint())
            .await??
            .map_or(0, |c| c.size);
        if covered >= size {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ApiError::new(
                Code::Unavailable,
                format!(
                    "no checkpoint covers the {size} committed entries yet (the latest covers \
                     {covered}); retry shortly"
                ),
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests;
