//! `GET /v1/streams/{stream}`: a stream's entries with index and revision, scoped by role.

use actix_web::{get, web, HttpResponse};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::auth::Caller;
use super::problem::ApiError;
use super::query::{page_limit, position, Number};
use super::scope;
use super::AppState;
use crate::domain::StreamId;
use crate::store::StoredEntry;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Page {
    from: Option<Number>,
    limit: Option<Number>,
}

/// One entry as the read API returns it: position plus the exact entry JSON.
#[derive(Serialize)]
pub(super) struct EntryView {
    index: u64,
    revision: u64,
    recorded_at: String,
    leaf_hash: String,
    entry: Box<RawValue>,
}

impl EntryView {
    pub(super) fn of(e: StoredEntry) -> Result<Self, ApiError> {
        let text = String::from_utf8(e.bytes)
            .map_err(|_| ApiError::new(crate::ledger::Code::Internal, "entry is not UTF-8"))?;
        let entry = RawValue::from_string(text)
            .map_err(|_| ApiError::new(crate::ledger::Code::Internal, "entry is not JSON"))?;
        Ok(Self {
            index: e.index,
            revision: e.revision,
            recorded_at: e.recorded_at,
            leaf_hash: B64.encode(e.leaf_hash),
            entry,
        })
    }
}

#[derive(Serialize)]
struct StreamView {
    stream: String,
    entries: Vec<EntryView>,
    /// Revision to ask for next, when more entries may follow.
    next_revision: Option<u64>,
}

/// Reads a stream the caller may see; others get 404, so existence does not leak.
#[get("/v1/streams/{stream}")]
#[tracing::instrument(skip_all, fields(caller = %caller.id))]
pub(super) async fn read_stream(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    page: web::Query<Page>,
) -> Result<HttpResponse, ApiError> {
    let name = path.into_inner();
    let stream =
        StreamId::parse(&name).map_err(|e| ApiError::bad_request(format!("stream id: {e}")))?;
    let hidden = || ApiError::not_found(format!("no stream {name} visible to you"));
    if !scope::can_read_stream(&state.ledger.state(), &caller, &stream) {
        return Err(hidden());
    }
    let from = position("from", page.from.as_ref())?;
    let limit = page_limit(page.limit.as_ref())?;
    let store = state.ledger.store().clone();
    let key = name.clone();
    // A stream that does not exist is 404 whatever the page asked for; one read past its
    // end is an empty page.
    let (rows, exists) = web::block(move || {
        let rows = store.read_stream(&key, from, limit)?;
        let exists = !rows.is_empty() || (from > 0 && !store.read_stream(&key, 0, 1)?.is_empty());
        Ok::<_, crate::store::StoreError>((rows, exists))
    })
    .await??;
    if !exists {
        return Err(hidden());
    }
    let next_revision = (rows.len() == limit).then(|| from.saturating_add(limit as u64));
    let entries = rows
        .into_iter()
        .map(EntryView::of)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(StreamView {
        stream: stream.to_string(),
        entries,
        next_revision,
    }))
}
