//! The transparency-log endpoints: raw entries, checkpoints, the verifier key and proofs.

use actix_web::{get, web, HttpResponse};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::problem::ApiError;
use super::query::{page_limit, position, NoQuery, Number};
use super::AppState;
use crate::domain::Role;
use crate::ledger::Code;
use crate::log::proof;
use crate::store::StoreNodes;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EntriesQuery {
    start: Option<Number>,
    limit: Option<Number>,
}

/// `GET /v1/log/entries`: NDJSON, one entry's exact bytes per line (auditors).
#[get("/v1/log/entries")]
pub(super) async fn entries(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<EntriesQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Auditor])?;
    let start = position("start", q.start.as_ref())?;
    let limit = page_limit(q.limit.as_ref())?;
    let store = state.ledger.store().clone();
    let rows = web::block(move || store.read_all(start, limit)).await??;
    let mut body = Vec::new();
    for e in rows {
        body.extend_from_slice(&e.bytes);
        body.push(b'\n');
    }
    Ok(HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .body(body))
}

/// `GET /v1/log/checkpoint`: the latest signed checkpoint (public), with the cosignatures
/// the witnesses gave it so far.
#[get("/v1/log/checkpoint")]
pub(super) async fn checkpoint(
    state: web::Data<AppState>,
    _: NoQuery,
) -> Result<HttpResponse, ApiError> {
    let store = state.ledger.store().clone();
    let cp = web::block(move || store.latest_checkpoint())
        .await??
        .ok_or_else(|| ApiError::not_found("the log has no checkpoint yet"))?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(state.cosignatures.attach(&cp.note)))
}

/// `GET /v1/log/checkpoint/witnessed`: the newest checkpoint every configured witness has
/// cosigned, with their cosignatures (public). The latest checkpoint may not have them yet
/// under load; this one does, and is usually a moment older (after a restart with the
/// witnesses down, the one kept from before, however old: auditors may bound the age with
/// `--witness-max-age`).
#[get("/v1/log/checkpoint/witnessed")]
pub(super) async fn witnessed(
    state: web::Data<AppState>,
    _: NoQuery,
) -> Result<HttpResponse, ApiError> {
    let note = state.cosignatures.witnessed().ok_or_else(|| {
        ApiError::not_found(
            "no checkpoint is cosigned by every witness yet (or this server has no --witness)",
        )
    })?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(note))
}

/// `GET /v1/log/key`: the log's verifier key, as `init` printed it (public).
#[get("/v1/log/key")]
pub(super) async fn key(state: web::Data<AppState>, _: NoQuery) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(state.ledger.verifier_key().to_string())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct InclusionQuery {
    index: Number,
    size: Number,
}

#[derive(Serialize)]
struct InclusionProof {
    index: u64,
    size: u64,
    hashes: Vec<String>,
}

/// What a client is told when the store fails under a proof (the cause is logged).
pub(super) const STORE_UNREADABLE: &str = "the store could not be read; retry shortly";
const TREE_INCOMPLETE: &str = "the stored tree lacks a node the proof needs; see the server log";

pub(super) fn proof_error(e: crate::log::merkle::TreeError) -> ApiError {
    use crate::log::merkle::TreeError;
    match e {
        TreeError::Storage(m) => ApiError::hidden(Code::Unavailable, STORE_UNREADABLE, &m),
        TreeError::MissingNode { .. } => ApiError::hidden(Code::Internal, TREE_INCOMPLETE, &e),
        other => ApiError::bad_request(other.to_string()),
    }
}

/// A tree size given as query parameter `name`: 1 to the log's size.
fn check_size(state: &AppState, name: &str, size: u64) -> Result<(), ApiError> {
    let have = state.ledger.state().size;
    if size == 0 || size > have {
        return Err(ApiError::bad_request(format!(
            "{name} must be between 1 and the log size {have}"
        )));
    }
    Ok(())
}

/// `GET /v1/log/proof/inclusion?index=&size=` (auditors).
#[get("/v1/log/proof/inclusion")]
pub(super) async fn inclusion(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<InclusionQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Auditor])?;
    let (index, size) = (q.index.read("index")?, q.size.read("size")?);
    check_size(&state, "size", size)?;
    let store = state.ledger.store().clone();
    let hashes =
        web::block(move || proof::inclusion_proof(&StoreNodes(store.as_ref()), index, size))
            .await?
            .map_err(proof_error)?;
    Ok(HttpResponse::Ok().json(InclusionProof {
        index,
        size,
        hashes: hashes.iter().map(|h| B64.encode(h)).collect(),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConsistencyQuery {
    from: Number,
    to: Number,
}

#[derive(Serialize)]
struct ConsistencyProof {
    from: u64,
    to: u64,
    hashes: Vec<String>,
}

/// `GET /v1/log/proof/consistency?from=&to=` (public).
#[get("/v1/log/proof/consistency")]
pub(super) async fn consistency(
    state: web::Data<AppState>,
    q: web::Query<ConsistencyQuery>,
) -> Result<HttpResponse, ApiError> {
    let (from, to) = (q.from.read("from")?, q.to.read("to")?);
    check_size(&state, "to", to)?;
    if from == 0 || from > to {
        return Err(ApiError::bad_request("from must be between 1 and to"));
    }
    let store = state.ledger.store().clone();
    let hashes =
        web::block(move || proof::consistency_proof(&StoreNodes(store.as_ref()), from, to))
            .await?
            .map_err(proof_error)?;
    Ok(HttpResponse::Ok().json(ConsistencyProof {
        from,
        to,
        hashes: hashes.iter().map(|h| B64.encode(h)).collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::merkle::TreeError;

    /// A store's message can name the database file or the cluster's hosts: the consistency
    /// proof is public, so it stays in the server log.
    #[test]
    fn a_store_failure_under_a_proof_is_answered_without_its_message() {
        let cause = "store unavailable: sqlite: unable to open database file: /srv/ledger.db";
        let e = proof_error(TreeError::Storage(cause.into()));
        assert_eq!(
            (e.code, e.detail.as_str()),
            (Code::Unavailable, STORE_UNREADABLE)
        );
        let e = proof_error(TreeError::MissingNode { level: 3, index: 9 });
        assert_eq!(
            (e.code, e.detail.as_str()),
            (Code::Internal, TREE_INCOMPLETE)
        );
        // A bad request still says what is wrong with it.
        let e = proof_error(TreeError::OutOfRange { index: 9, size: 4 });
        assert_eq!(e.code, Code::BadRequest);
        assert!(e.detail.contains("out of range"), "{}", e.detail);
    }
}
