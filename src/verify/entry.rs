//! Per-entry work that needs no other entry, run in parallel: parsing the bundle entry,
//! decoding the entry bytes and hashing the leaf. Also the signature jobs, checked in
//! batches across cores.

use std::borrow::Cow;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, VerifyingKey};
use rayon::prelude::*;

use super::report::{Check, Failure};
use crate::envelope::PAYLOAD_TYPE;
use crate::ledger::entry::{self, DecodedEntry};
use crate::log::merkle::{leaf_hash, Hash};

/// Signatures per `verify_batch` call: large enough to amortise the multiscalar
/// multiplication, small enough that a failing batch is cheap to re-check one by one.
const BATCH: usize = 64;

/// A bundle entry as parsed from its raw JSON; proof hashes are borrowed, not copied.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry<'a> {
    index: u64,
    #[serde(borrow)]
    entry: Cow<'a, str>,
    #[serde(borrow)]
    proof: Vec<Cow<'a, str>>,
}

/// An entry that parsed and decoded.
pub(super) struct Prepared {
    pub index: u64,
    pub leaf: Hash,
    /// The decoded inclusion proof, not yet checked.
    pub proof: Vec<Hash>,
    pub decoded: DecodedEntry,
    /// The DSSE pre-authentication encoding the signature covers.
    pub message: Vec<u8>,
}

/// Parses one raw bundle entry and decodes its bytes; its proof is checked by [`super::proofs`].
/// `position` (the entry's place in the bundle) names it when even its index is unreadable.
pub(super) fn prepare(raw: &[u8], position: u64) -> Result<Prepared, Failure> {
    let e: RawEntry<'_> = serde_json::from_slice(raw).map_err(|err| {
        Failure::bundle(
            Check::Format,
            format!("bundle entry number {position} (from 0) is not an entry: {err}"),
        )
    })?;
    let leaf = leaf_hash(e.entry.as_bytes());
    let decoded = entry::decode(e.entry.as_bytes())
        .map_err(|err| Failure::at(e.index, Check::Entry, err.to_string()))?;
    let named = |check, msg: String| {
        Failure::at(e.index, check, msg).in_stream(&decoded.stream, decoded.revision)
    };
    let proof = e
        .proof
        .iter()
        .map(|h| {
            let mut buf = [0u8; 48];
            let n = B64.decode_slice(h.as_bytes(), &mut buf).ok()?;
            <Hash>::try_from(&buf[..n]).ok()
        })
        .collect::<Option<Vec<Hash>>>()
        .ok_or_else(|| {
            named(
                Check::InclusionProof,
                "a proof hash is not base64 of 32 bytes".into(),
            )
        })?;
    let message = crate::envelope::pae(PAYLOAD_TYPE, decoded.envelope.payload());
    Ok(Prepared {
        index: e.index,
        leaf,
        proof,
        decoded,
        message,
    })
}

/// One signature to check, with the key the replay found registered for it.
pub(super) struct SigJob {
    pub index: u64,
    pub stream: String,
    pub revision: u64,
    pub key: VerifyingKey,
    pub message: Vec<u8>,
    pub signature: Signature,
}

impl SigJob {
    fn strict(&self) -> Result<(), Failure> {
        self.key
            .verify_strict(&self.message, &self.signature)
            .map_err(|_| {
                Failure::at(
                    self.index,
                    Check::Signature,
                    "the DSSE signature does not verify under the signer's registered key",
                )
                .in_stream(&self.stream, self.revision)
            })
    }
}

/// Checks every job on all cores; the failure with the lowest index, if any.
///
/// Batches go through `ed25519_dalek::verify_batch`; a failing batch is re-checked one
/// signature at a time with `verify_strict` to name the culprit. With `strict`, every
/// signature is checked with `verify_strict` (see docs/verify.md for the difference).
pub(super) fn check_signatures(jobs: &[SigJob], strict: bool) -> Option<Failure> {
    jobs.par_chunks(BATCH)
        .filter_map(|chunk| {
            if !strict {
                let msgs: Vec<&[u8]> = chunk.iter().map(|j| j.message.as_slice()).collect();
                let sigs: Vec<Signature> = chunk.iter().map(|j| j.signature).collect();
                let keys: Vec<VerifyingKey> = chunk.iter().map(|j| j.key).collect();
                if ed25519_dalek::verify_batch(&msgs, &sigs, &keys).is_ok() {
                    return None;
                }
            }
            chunk.iter().find_map(|j| j.strict().err())
        })
        .min_by_key(|f| f.index)
}
