//! Checking a case bundle's identity heads (see [`crate::bundle::heads`]): signed by the log
//! key, for the bundle's checkpoint, covering its case entries, and naming exactly the
//! principal and agency entries the bundle holds. Then no entry of those streams before the
//! last case entry was left out, or the log key signed a false count.

use super::replay::Replay;
use super::report::{Check, Failure};
use crate::bundle::heads::IdentityHeads;
use crate::log::note::NoteVerifier;
use crate::log::Checkpoint;

fn failure(message: String) -> Failure {
    Failure::bundle(Check::IdentityHeads, message)
}

/// The index below which the heads count, once they hold for the bundle's entries. In a
/// partial bundle they must end right after its last case entry, as the exporter signs
/// them; a full-log bundle (the audit that refutes a false count) may hold anything after.
pub(super) fn check(
    note: &str,
    key: &NoteVerifier,
    cp: &Checkpoint,
    replay: &Replay,
    full: bool,
) -> Result<u64, Failure> {
    let heads = IdentityHeads::open(note, key)
        .map_err(|e| failure(format!("the identity heads do not verify: {e}")))?;
    if (heads.size, heads.root) != (cp.size, cp.root) {
        return Err(failure(format!(
            "the identity heads are for the tree of size {}, not the checkpoint's {}",
            heads.size, cp.size
        )));
    }
    let before = heads.before;
    if before > cp.size {
        return Err(failure(format!(
            "the identity heads count entries below index {before}, past the checkpoint size {}",
            cp.size
        )));
    }
    if let Some(last) = replay
        .last_case_index()
        .filter(|&l| !full && l + 1 != before)
    {
        return Err(failure(format!(
            "the identity heads were signed for a case ending at index {}; the bundle's last \
             case entry is at index {last}",
            before.saturating_sub(1)
        )));
    }
    // Each identity stream's entries below `before` (revisions contiguous from 0: the
    // replay checked that), against the count the log key signed.
    for (stream, indexes) in &replay.identity_indexes {
        let held = indexes.partition_point(|&i| i < before) as u64;
        let attested = heads.counts.get(stream).copied().unwrap_or(0);
        if attested != held {
            let revision = indexes.len() as u64 - 1;
            return Err(failure(format!(
                "the log key attests {attested} entries of {stream} below index {before}; the \
                 bundle holds {held}{}",
                if attested > held {
                    " (an entry was left out)"
                } else {
                    ""
                }
            ))
            .in_stream(stream, revision));
        }
    }
    if let Some((stream, n)) = heads
        .counts
        .iter()
        .find(|(s, _)| !replay.identity_indexes.contains_key(*s))
    {
        return Err(failure(format!(
            "the log key attests {n} entries of {stream} below index {before}; the bundle holds none"
        )));
    }
    Ok(before)
}
