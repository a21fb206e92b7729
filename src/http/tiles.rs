//! The C2SP `tlog-tiles` read API under the prefix `/v1/log` (the checkpoint is
//! `/v1/log/checkpoint`, as the spec's `<prefix>/checkpoint`): hash tiles and entry bundles,
//! so existing transparency tooling can read the log and compute its own proofs. Geometry
//! and paths are in [`crate::log::tiles`].
//!
//! Tiles are for auditors, like the inclusion proofs and raw entries they stand in for. A
//! tile never changes once it exists, so it may be kept (`Cache-Control: private,
//! immutable`); everything else the server answers is `no-store`.

use std::sync::Arc;

use actix_web::http::header::{HeaderValue, CACHE_CONTROL};
use actix_web::{get, web, HttpResponse};

use super::auth::Caller;
use super::log::proof_error;
use super::problem::ApiError;
use super::query::NoQuery;
use super::AppState;
use crate::domain::Role;
use crate::ledger::Code;
use crate::log::merkle::TreeError;
use crate::log::tiles::{entry_bundle, Tile, MAX_BUNDLED_ENTRY};
use crate::store::EventStore;

const IMMUTABLE: &str = "private, max-age=31536000, immutable";

/// What a tile lists in the node's current tree, and the store to read it from.
struct Located {
    /// Tree level of its nodes (0 for entries).
    level: u8,
    first: u64,
    count: u64,
    store: Arc<dyn EventStore>,
}

/// The tile at `path`, once the caller is known to be an auditor.
fn locate(state: &AppState, caller: &Caller, path: &str) -> Result<Located, ApiError> {
    caller.require(&[Role::Auditor])?;
    let tile = Tile::parse(path).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let size = state.ledger.state().size;
    let (level, first, count) = tile.nodes_within(size).ok_or_else(|| {
        ApiError::not_found(format!(
            "tile/{tile} is not complete in the log of {size} entries"
        ))
    })?;
    let store = state.ledger.store().clone();
    Ok(Located {
        level,
        first,
        count,
        store,
    })
}

fn tile_response(body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header((CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE)))
        .body(body)
}

/// `GET /v1/log/tile/entries/<N>[.p/<W>]`: an entry bundle, each entry's exact bytes after
/// its length as a big-endian `u16`; gzip when the client accepts it.
#[get(
    "/v1/log/tile/entries/{tail:.*}",
    wrap = "actix_web::middleware::Compress::default()"
)]
pub(super) async fn entries(
    state: web::Data<AppState>,
    caller: Caller,
    tail: web::Path<String>,
    _: NoQuery,
) -> Result<HttpResponse, ApiError> {
    let at = locate(&state, &caller, &format!("entries/{tail}"))?;
    let (first, count, store) = (at.first, at.count, at.store);
    let rows = web::block(move || store.read_all(first, count as usize)).await??;
    let in_order =
        rows.len() as u64 == count && rows.iter().zip(first..).all(|(e, index)| e.index == index);
    if !in_order {
        let cause = format!("entries {first}.. read back as {} rows", rows.len());
        return Err(ApiError::hidden(
            Code::Internal,
            "the store returned other entries than asked; see the server log",
            &cause,
        ));
    }
    let body = entry_bundle(rows.iter().map(|e| e.bytes.as_slice())).map_err(|(i, len)| {
        let index = first + i as u64;
        ApiError::new(
            Code::EntryTooLarge,
            format!(
                "entry {index} is {len} bytes, more than the {MAX_BUNDLED_ENTRY} an entry \
                 bundle can carry; read it from /v1/log/entries?start={index}&limit=1"
            ),
        )
    })?;
    Ok(tile_response(body))
}

/// `GET /v1/log/tile/<L>/<N>[.p/<W>]`: a hash tile, 32 bytes per hash.
#[get("/v1/log/tile/{tail:.*}")]
pub(super) async fn hashes(
    state: web::Data<AppState>,
    caller: Caller,
    tail: web::Path<String>,
    _: NoQuery,
) -> Result<HttpResponse, ApiError> {
    let at = locate(&state, &caller, &tail)?;
    let (level, first, count, store) = (at.level, at.first, at.count, at.store);
    let nodes = web::block(move || store.nodes(level, first, count)).await??;
    let mut body = Vec::with_capacity(32 * nodes.len());
    for (node, index) in nodes.into_iter().zip(first..) {
        let hash = node.ok_or_else(|| proof_error(TreeError::MissingNode { level, index }))?;
        body.extend_from_slice(&hash);
    }
    Ok(tile_response(body))
}
