//! Loading the ledger from its store: the start-up fold (parallel decode, overlapped with
//! the sequential fold), catching up with entries appended elsewhere, and the integrity
//! check of the stored entries against the latest signed checkpoint.

use std::collections::HashMap;
use std::sync::RwLock;

use rayon::prelude::*;

mod checkpoint;
mod nodes;

pub(super) use checkpoint::check_against_checkpoint;
use checkpoint::stated_size;
pub use nodes::check_every_node;

use super::state::{self, LedgerState};
use super::{entry, OpenError};
use crate::log::merkle;
use crate::store::{EventStore, StoreError, StoredEntry};

/// Folds the whole log into a fresh state. Entries are decoded in parallel; each entry's
/// leaf hash is recomputed from its bytes and must match the stored one, so an edited entry
/// is named by index here.
pub fn load_state(store: &dyn EventStore) -> Result<LedgerState, OpenError> {
    load_state_from(store, LedgerState::default(), &|_, _| {})
}

/// Folds the entries after `state.size` into `state`, calling `progress(done, total)` after
/// each chunk (for `caseledger rebuild`).
pub fn load_state_from(
    store: &dyn EventStore,
    state: LedgerState,
    progress: &dyn Fn(u64, u64),
) -> Result<LedgerState, OpenError> {
    let size = store.size()?;
    fold_until(store, state, size, progress)
}

/// Folds the log for opening a ledger, and returns the state and the size it was folded
/// from. Entries up to the latest checkpoint (on a shared log, the newest the fold reaches:
/// see [`checkpoint::judged_checkpoint`]) are folded as [`load_state_from`] does. The
/// entries past it were committed without one (a crash under load, an append behind the
/// server's back, or other nodes' writes during the fold), and start-up is about to sign a
/// checkpoint over them: their signatures, event ids and the rules are checked again
/// first, as the writer did.
pub fn load_for_open(
    store: &dyn EventStore,
    start: LedgerState,
) -> Result<(LedgerState, u64), OpenError> {
    load_for_open_showing(store, start, &|_, _| {})
}

/// [`load_for_open`], calling `progress(done, total)` as the fold up to the checkpoint goes.
pub fn load_for_open_showing(
    store: &dyn EventStore,
    start: LedgerState,
    progress: &dyn Fn(u64, u64),
) -> Result<(LedgerState, u64), OpenError> {
    let size = store.size()?;
    // The size the note states, not the row's column: a row claiming more than its note
    // (which takes no key to write) would skip the check of the entries in between.
    let covered = checkpoint::judged_checkpoint(store, size)?
        .map_or(0, |c| c.size.min(stated_size(&c.note)))
        .min(size);
    // A snapshot past the checkpoint folded part of the tail unchecked: start below it.
    let start = match start.size <= covered {
        true => start,
        false => LedgerState::default(),
    };
    let from = start.size;
    let mut state = fold_until(store, start, covered, progress)?;
    check_tail(store, &mut state, size)?;
    Ok((state, from))
}

/// Folds `state` up to `size` entries (at most the store's).
pub fn load_state_until(
    store: &dyn EventStore,
    state: LedgerState,
    size: u64,
) -> Result<LedgerState, OpenError> {
    let size = size.min(store.size()?);
    fold_until(store, state, size, &|_, _| {})
}

/// Folds `state` up to `size` entries.
fn fold_until(
    store: &dyn EventStore,
    mut state: LedgerState,
    size: u64,
    progress: &dyn Fn(u64, u64),
) -> Result<LedgerState, OpenError> {
    let mut cursor = state.size;
    let mut current = read_decoded(store, cursor, size)?;
    // The fold is sequential; reading and decoding the next chunk overlaps with it.
    while let Some((chunk, decoded)) = current {
        cursor += chunk.len() as u64;
        let (folded, upcoming) = rayon::join(
            || fold_chunk(&mut state, &chunk, decoded),
            || read_decoded(store, cursor, size),
        );
        folded?;
        current = upcoming?;
        progress(state.size, size);
    }
    Ok(state)
}

type Decoded = Vec<Result<entry::DecodedEntry, OpenError>>;

/// Entries per chunk of the fold, and per parallel read within a chunk.
const CHUNK: u64 = 8192;
const SLICE: u64 = 2048;

/// Reads the chunk at `from` (if below `size`) and decodes it in parallel, checking each
/// entry's bytes against its stored leaf hash.
fn read_decoded(
    store: &dyn EventStore,
    from: u64,
    size: u64,
) -> Result<Option<(Vec<StoredEntry>, Decoded)>, OpenError> {
    if from >= size {
        return Ok(None);
    }
    // Reading is the serial part of the fold: read the chunk as several slices on
    // separate reader connections, in parallel.
    let slices: Vec<Result<Vec<StoredEntry>, _>> = (0..CHUNK / SLICE)
        .into_par_iter()
        .map(|i| {
            let start = from + i * SLICE;
            match start < size {
                true => store.read_all(start, SLICE.min(size - start) as usize),
                false => Ok(Vec::new()),
            }
        })
        .collect();
    let mut chunk = Vec::with_capacity(CHUNK as usize);
    for slice in slices {
        chunk.extend(slice?);
    }
    if chunk.is_empty() {
        return Ok(None);
    }
    let decoded = chunk
        .par_iter()
        .map(|e| {
            if merkle::leaf_hash(&e.bytes) != e.leaf_hash {
                return Err(OpenError::Integrity {
                    index: e.index,
                    reason: format!(
                        "stream {} revision {}: entry bytes do not match their leaf hash",
                        e.stream, e.revision
                    ),
                });
            }
            entry::decode(&e.bytes).map_err(|err| OpenError::Integrity {
                index: e.index,
                reason: format!("stream {} revision {}: {err}", e.stream, e.revision),
            })
        })
        .collect();
    Ok(Some((chunk, decoded)))
}

fn fold_chunk(
    state: &mut LedgerState,
    chunk: &[StoredEntry],
    decoded: Decoded,
) -> Result<(), OpenError> {
    for (e, d) in chunk.iter().zip(decoded) {
        let d = d?;
        if e.index != state.size || d.revision != state.next_revision(&d.stream) {
            return Err(out_of_sequence(e.index, &d));
        }
        state.apply(&applied(e.index, &d));
    }
    Ok(())
}

/// Folds the entries from `state.size` to `size`, each only after `decide`, its event id and
/// its signature (under the key the registry then holds) pass.
fn check_tail(store: &dyn EventStore, state: &mut LedgerState, size: u64) -> Result<(), OpenError> {
    while state.size < size {
        let Some((chunk, decoded)) = read_decoded(store, state.size, size)? else {
            return Err(OpenError::Store(StoreError::Unavailable(format!(
                "the store reported {size} entries but holds only {}",
                state.size
            ))));
        };
        for (e, d) in chunk.iter().zip(decoded) {
            let d = d?;
            if e.index != state.size || d.revision != state.next_revision(&d.stream) {
                return Err(out_of_sequence(e.index, &d));
            }
            let refuse = |reason: String| OpenError::Integrity {
                index: e.index,
                reason: format!(
                    "stream {} revision {} (past the latest checkpoint): {reason}",
                    d.stream, d.revision
                ),
            };
            if let Some(first) = state.event_ids.get(&d.payload.event_id) {
                return Err(refuse(format!(
                    "its event id was recorded at index {first}"
                )));
            }
            if state
                .last_recorded_at
                .is_some_and(|last| d.recorded_at < last)
            {
                return Err(refuse(
                    "its recorded_at is earlier than the entry before".into(),
                ));
            }
            let keyid = d.envelope.keyid();
            if let Err(rule) = super::rules::decide(state, &d.payload, keyid, d.recorded_at) {
                let why = format!("{}: {}", rule.code.as_str(), rule.message);
                if !store.is_shared() {
                    return Err(refuse(why));
                }
                tracing::warn!(
                    index = e.index,
                    stream = %d.stream,
                    "an entry past the latest checkpoint breaks a rule (two writing nodes?): {why}"
                );
            }
            state.apply(&applied(e.index, &d));
            // After `apply`, so that the genesis entry finds the key it registers.
            let signed = state.registry.keys.get(keyid).is_some_and(|k| {
                k.key
                    .verify_strict(d.envelope.signed_message(), d.envelope.signature())
                    .is_ok()
            });
            if !signed {
                return Err(refuse("its signature does not verify".into()));
            }
        }
    }
    Ok(())
}

fn out_of_sequence(index: u64, d: &entry::DecodedEntry) -> OpenError {
    OpenError::Integrity {
        index,
        reason: format!(
            "stream {} revision {} is out of sequence",
            d.stream, d.revision
        ),
    }
}

fn applied(index: u64, d: &entry::DecodedEntry) -> state::Applied<'_> {
    state::Applied {
        index,
        revision: d.revision,
        recorded_at: d.recorded_at,
        keyid: d.envelope.keyid(),
        event: &d.payload,
    }
}

/// Folds the store's entries from `state.size` up to `size` into `state` and, entry for
/// entry, into `read` (the read side, at the same size), copying neither: how a node takes
/// in what other nodes appended to a shared store. Each chunk is read, decoded and checked
/// (leaf hashes, index and revision sequence) whole before any of it is applied, so on
/// failure both states stay at the same, earlier size.
pub fn fold_both(
    store: &dyn EventStore,
    state: &mut LedgerState,
    read: &RwLock<LedgerState>,
    size: u64,
) -> Result<(), OpenError> {
    while state.size < size {
        let Some((chunk, decoded)) = read_decoded(store, state.size, size)? else {
            return Err(OpenError::Store(StoreError::Unavailable(format!(
                "the store reported {size} entries but holds only {}",
                state.size
            ))));
        };
        let decoded = decoded.into_iter().collect::<Result<Vec<_>, _>>()?;
        let mut next: HashMap<&str, u64> = HashMap::new();
        for (i, (e, d)) in chunk.iter().zip(&decoded).enumerate() {
            let revision = next
                .get(d.stream.as_str())
                .copied()
                .unwrap_or_else(|| state.next_revision(&d.stream));
            if e.index != state.size + i as u64 || d.revision != revision {
                return Err(out_of_sequence(e.index, d));
            }
            next.insert(&d.stream, revision + 1);
        }
        let in_step = read.read().expect("read state").size == state.size;
        for (e, d) in chunk.iter().zip(&decoded) {
            state.apply(&applied(e.index, d));
        }
        // Readers wait only while the chunk is applied to the read side (or, should it ever
        // have left the write state's step, while a copy made outside the lock is swapped in).
        if in_step {
            let mut read = read.write().expect("read state");
            for (e, d) in chunk.iter().zip(&decoded) {
                read.apply(&applied(e.index, d));
            }
        } else {
            let copy = state.clone();
            let stale = std::mem::replace(&mut *read.write().expect("read state"), copy);
            drop(stale);
        }
    }
    Ok(())
}
