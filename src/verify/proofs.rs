//! Inclusion-proof checks for a chunk of entries.
//!
//! Generic path: each proof is hashed up to the checkpoint root (about log n hashes per
//! entry). Fast path, for a chunk that is exactly one complete aligned subtree of
//! `CHUNK` leaves (every chunk of a full-log bundle but the last): the subtree is built
//! from the chunk's leaves, the first entry's proof is checked in full, and every other
//! proof is compared hash for hash with the subtree's siblings and with the first proof's
//! upper part. That is the same statement (each proof leads its leaf to the root) for one
//! hash per entry instead of ~20. If anything differs, the chunk goes through the generic
//! path, so the failure is named at the entry whose own proof is wrong.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rayon::prelude::*;

use super::entry::{Prepared, HASH_TEXT};
use super::report::{Check, Failure};
use crate::log::merkle::{node_hash, Hash};
use crate::log::proof::verify_inclusion;
use crate::log::Checkpoint;

/// log2 of the chunk size the fast path applies to.
const LEVELS: usize = 12;
/// Entries per chunk for the fast path (the reader's chunk size).
pub const CHUNK: usize = 1 << LEVELS;

/// Replaces each entry whose proof does not lead to the checkpoint root by its failure.
pub(super) fn check(chunk: &mut [Result<Prepared<'_>, Failure>], cp: &Checkpoint) {
    if fast(chunk, cp) {
        return;
    }
    chunk.par_iter_mut().for_each(|slot| {
        if let Ok(p) = slot {
            if let Err(f) = generic(p, cp) {
                *slot = Err(f);
            }
        }
    });
}

/// One proof hashed up to the root.
fn generic(p: &Prepared<'_>, cp: &Checkpoint) -> Result<(), Failure> {
    let d = &p.decoded;
    let fail =
        |m: String| Failure::at(p.index, Check::InclusionProof, m).in_stream(&d.stream, d.revision);
    let hashes = p
        .proof
        .hashes()
        .ok_or_else(|| fail("a proof hash is not base64 of 32 bytes".into()))?;
    verify_inclusion(&p.leaf, p.index, cp.size, &hashes, &cp.root).map_err(|err| {
        fail(format!(
            "the entry bytes are not leaf {} of the checkpoint's tree of size {}: {err}",
            p.index, cp.size
        ))
    })
}

/// The fast path; false when it does not apply or anything differs. Proof hashes in the
/// exporter's spelling are compared as base64 text with the expected hashes' canonical
/// encoding (decoding accepts only that encoding, so equal text is the same statement).
fn fast(chunk: &[Result<Prepared<'_>, Failure>], cp: &Checkpoint) -> bool {
    let entries: Option<Vec<&Prepared<'_>>> = chunk.iter().map(|r| r.as_ref().ok()).collect();
    let Some(entries) = entries else {
        return false;
    };
    let Some(first) = entries.first() else {
        return false;
    };
    let start = first.index;
    let aligned = entries.len() == CHUNK
        && start % CHUNK as u64 == 0
        && start
            .checked_add(CHUNK as u64)
            .is_some_and(|end| end <= cp.size)
        && entries.iter().zip(start..).all(|(p, i)| p.index == i);
    let depth = first.proof.len();
    if !aligned || depth < LEVELS || first.proof.text(0).is_none() {
        return false;
    }
    if generic(first, cp).is_err() {
        return false;
    }
    let levels = encoded(&subtree(entries.iter().map(|p| p.leaf).collect()));
    let upper = first.proof.text_from(LEVELS);
    entries.par_iter().all(|p| {
        let offset = (p.index - start) as usize;
        p.proof.len() == depth
            && (0..LEVELS).all(|l| p.proof.text(l) == Some(&levels[l][(offset >> l) ^ 1]))
            && p.proof.text_from(LEVELS) == upper
    })
}

/// Every level of the complete subtree over `leaves` (a power of two of them), leaves first.
fn subtree(leaves: Vec<Hash>) -> Vec<Vec<Hash>> {
    let mut levels = vec![leaves];
    while levels.last().is_some_and(|l| l.len() > 1) {
        let below = levels.last().expect("a level");
        let next = below.chunks(2).map(|p| node_hash(&p[0], &p[1])).collect();
        levels.push(next);
    }
    levels
}

/// The standard base64 text of every hash, level by level.
fn encoded(levels: &[Vec<Hash>]) -> Vec<Vec<[u8; HASH_TEXT]>> {
    levels
        .iter()
        .map(|level| {
            level
                .iter()
                .map(|h| {
                    let mut text = [0u8; HASH_TEXT];
                    B64.encode_slice(h, &mut text)
                        .expect("a 32-byte hash is 44 base64 characters");
                    text
                })
                .collect()
        })
        .collect()
}
