//! The C2SP `tlog-tiles` read API under the prefix `/v1/log` (the checkpoint is
//! `/v1/log/checkpoint`, as the spec's `<prefix>/checkpoint`): hash tiles and entry bundles,
//! so existing transparency tooling can read the log and compute its own proofs. Geometry
//! and paths are in [`crate::log::tiles`].
//!
//! Tiles are for auditors, like the inclusion proofs and raw entries they stand in for. A
//! hash tile never changes once it exists and holds nothing but hashes, so it may be kept
//! (`Cache-Control: private, immutable`); an entry bundle holds what `/v1/log/entries` and
//! the exports hold (token hashes among it), and is `no-store` as they are.

use actix_web::http::header::{HeaderValue, CACHE_CONTROL};
use actix_web::{get, web, HttpRequest, HttpResponse};

use super::auth::Caller;
use super::log::proof_error;
use super::problem::ApiError;
use super::query::NoQuery;
use super::AppState;
use crate::domain::Role;
use crate::ledger::Code;
use crate::log::merkle::TreeError;
use crate::log::tiles::{entry_bundle, Tile, TileKind, MAX_BUNDLED_ENTRY};
use crate::store::{EventStore, StoreError};

const PREFIX: &str = "/v1/log/tile/";
const IMMUTABLE: &str = "private, max-age=31536000, immutable";

/// The tile the request names, once the caller is known to be an auditor. The path is read
/// as sent, escapes undecoded (`%2F` is no separator here), so each tile has one address.
fn tile_of(req: &HttpRequest, caller: &Caller, bundle: bool) -> Result<Tile, ApiError> {
    caller.require(&[Role::Auditor])?;
    let path = req.path().strip_prefix(PREFIX).unwrap_or_default();
    let tile = Tile::parse(path).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if (tile.kind == TileKind::Entries) != bundle {
        return Err(ApiError::bad_request(format!(
            "{path:?} is not a tile path (entry bundles are under {PREFIX}entries/)"
        )));
    }
    Ok(tile)
}

/// Reads what `tile` lists with `read(store, tree level, first, count)`, on the blocking
/// pool, if the tile is complete in the store's tree (every node of a committed entry is
/// final, so the store's own size bounds it, whatever this node's view has folded yet).
async fn read_tile<T: Send + 'static>(
    state: &AppState,
    tile: Tile,
    read: impl FnOnce(&dyn EventStore, u8, u64, u64) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = state.ledger.store().clone();
    let found = web::block(move || {
        let size = store.size()?;
        match tile.nodes_within(size) {
            Some((level, first, count)) => read(store.as_ref(), level, first, count).map(Ok),
            None => Ok(Err(size)),
        }
    })
    .await??;
    found.map_err(|size| {
        ApiError::not_found(format!(
            "tile/{tile} is not complete in the log of {size} entries"
        ))
    })
}

/// The store answered a tile's read with other rows than asked (the cause is logged).
fn read_back_wrong(cause: String) -> ApiError {
    ApiError::hidden(
        Code::Internal,
        "the store returned other data than asked; see the server log",
        &cause,
    )
}

fn tile_response(body: Vec<u8>, cache: Option<&'static str>) -> HttpResponse {
    let mut resp = HttpResponse::Ok();
    resp.content_type("application/octet-stream");
    if let Some(cache) = cache {
        resp.insert_header((CACHE_CONTROL, HeaderValue::from_static(cache)));
    }
    resp.body(body)
}

/// `GET /v1/log/tile/entries/<N>[.p/<W>]`: an entry bundle, each entry's exact bytes after
/// its length as a big-endian `u16`; compressed when the client accepts it.
#[get(
    "/v1/log/tile/entries/{tail:.*}",
    wrap = "actix_web::middleware::Compress::default()"
)]
pub(super) async fn entries(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    _: NoQuery,
) -> Result<HttpResponse, ApiError> {
    let tile = tile_of(&req, &caller, true)?;
    let (first, rows) = read_tile(&state, tile, |store, _, first, count| {
        Ok((first, store.read_all(first, count as usize)?))
    })
    .await?;
    let count = u64::from(tile.width);
    let in_order =
        rows.len() as u64 == count && rows.iter().zip(first..).all(|(e, index)| e.index == index);
    if !in_order {
        return Err(read_back_wrong(format!(
            "entries {first}.. read back as {} rows",
            rows.len()
        )));
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
    Ok(tile_response(body, None))
}

/// `GET /v1/log/tile/<L>/<N>[.p/<W>]`: a hash tile, 32 bytes per hash.
#[get("/v1/log/tile/{tail:.*}")]
pub(super) async fn hashes(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    _: NoQuery,
) -> Result<HttpResponse, ApiError> {
    let tile = tile_of(&req, &caller, false)?;
    let (level, first, nodes) = read_tile(&state, tile, |store, level, first, count| {
        Ok((level, first, store.nodes(level, first, count)?))
    })
    .await?;
    let mut body = Vec::with_capacity(32 * nodes.len());
    for (node, index) in nodes.into_iter().zip(first..) {
        let hash = node.ok_or_else(|| proof_error(TreeError::MissingNode { level, index }))?;
        body.extend_from_slice(&hash);
    }
    if body.len() != 32 * usize::from(tile.width) {
        return Err(read_back_wrong(format!(
            "tile/{tile} read back as {} bytes",
            body.len()
        )));
    }
    Ok(tile_response(body, Some(IMMUTABLE)))
}
