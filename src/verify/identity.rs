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

/// The index below which the heads count, once they hold for the bundle's entries.
pub(super) fn check(
    note: &str,
    key: &NoteVerifier,
    cp: &Checkpoint,
    replay: &Replay,
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
    if let Some(last) = replay.last_case_index().filter(|&l| l >= before) {
        return Err(failure(format!(
            "the identity heads count entries below index {before}; the case entry at index \
             {last} is not covered"
        )));
    }
    // What the bundle holds of each identity stream: revisions 0..=r, contiguous (the
    // replay checked that), so r + 1 entries, all of them below `before`.
    for (stream, &(revision, index)) in &replay.identity_last {
        let held = revision + 1;
        let named = |f: Failure| f.in_stream(stream, revision);
        if index >= before {
            return Err(named(failure(format!(
                "entry {index} of {stream} is past the identity heads' index {before}"
            ))));
        }
        match heads.counts.get(stream) {
            Some(&attested) if attested == held => {}
            Some(&attested) => {
                return Err(named(failure(format!(
                    "the log key attests {attested} entries of {stream} below index {before}; \
                     the bundle holds {held}{}",
                    if attested > held {
                        " (an entry was left out)"
                    } else {
                        ""
                    }
                ))))
            }
            None => {
                return Err(named(failure(format!(
                    "{stream} is in the bundle, but the identity heads do not count it"
                ))))
            }
        }
    }
    if let Some((stream, n)) = heads
        .counts
        .iter()
        .find(|(s, _)| !replay.identity_last.contains_key(*s))
    {
        return Err(failure(format!(
            "the log key attests {n} entries of {stream} below index {before}; the bundle holds none"
        )));
    }
    Ok(before)
}
