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

use rayon::prelude::*;

use super::entry::Prepared;
use super::report::{Check, Failure};
use crate::log::merkle::{node_hash, Hash};
use crate::log::proof::verify_inclusion;
use crate::log::Checkpoint;

/// log2 of the chunk size the fast path applies to.
const LEVELS: usize = 12;
/// Entries per chunk for the fast path (the reader's chunk size).
pub const CHUNK: usize = 1 << LEVELS;

/// Replaces each entry whose proof does not lead to the checkpoint root by its failure.
pub(super) fn check(chunk: &mut [Result<Prepared, Failure>], cp: &Checkpoint) {
    if fast(chunk, cp) {
        return;
    }
    chunk.par_iter_mut().for_each(|slot| {
        if let Ok(p) = slot {
            if let Err(err) = verify_inclusion(&p.leaf, p.index, cp.size, &p.proof, &cp.root) {
                let d = &p.decoded;
                *slot = Err(Failure::at(
                    p.index,
                    Check::InclusionProof,
                    format!(
                        "the entry bytes are not leaf {} of the checkpoint's tree of size {}: {err}",
                        p.index, cp.size
                    ),
                )
                .in_stream(&d.stream, d.revision));
            }
        }
    });
}

/// The fast path; false when it does not apply or anything differs.
fn fast(chunk: &[Result<Prepared, Failure>], cp: &Checkpoint) -> bool {
    let entries: Option<Vec<&Prepared>> = chunk.iter().map(|r| r.as_ref().ok()).collect();
    let Some(entries) = entries else {
        return false;
    };
    let Some(first) = entries.first() else {
        return false;
    };
    let start = first.index;
    let aligned = entries.len() == CHUNK
        && start % CHUNK as u64 == 0
        && start + CHUNK as u64 <= cp.size
        && entries.iter().zip(start..).all(|(p, i)| p.index == i);
    if !aligned || first.proof.len() < LEVELS {
        return false;
    }
    if verify_inclusion(&first.leaf, start, cp.size, &first.proof, &cp.root).is_err() {
        return false;
    }
    let levels = subtree(entries.iter().map(|p| p.leaf).collect());
    let upper = &first.proof[LEVELS..];
    entries.par_iter().all(|p| {
        let offset = (p.index - start) as usize;
        p.proof.len() == first.proof.len()
            && p.proof[LEVELS..] == *upper
            && (0..LEVELS).all(|l| p.proof[l] == levels[l][(offset >> l) ^ 1])
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
