//! Checking a case bundle's identity heads (see [`crate::bundle::heads`]): signed by the log
//! key, for the bundle's checkpoint, naming exactly the case entries and the principal and
//! agency entries the bundle holds. Then no entry of the case, and no identity entry before
//! its last one, was left out, or the log key signed a false count.

use super::replay::Replay;
use super::report::{Check, Failure, HeadsHeld};
use crate::bundle::heads::IdentityHeads;
use crate::domain::StreamId;
use crate::log::note::NoteVerifier;
use crate::log::Checkpoint;

fn failure(message: String) -> Failure {
    Failure::bundle(Check::IdentityHeads, message)
}

/// Checks the bundle's own heads, then any kept from case bundles (`--heads`); with
/// `require`, at least one must be there.
pub(super) fn check_all(
    notes: &[String],
    key: &NoteVerifier,
    cp: &Checkpoint,
    replay: &Replay,
    full: bool,
    require: bool,
) -> Result<Vec<HeadsHeld>, Failure> {
    let held = (notes.iter())
        .map(|note| check(note, key, cp, replay, full))
        .collect::<Result<Vec<_>, _>>()?;
    if require && held.is_empty() {
        return Err(failure(
            "the partial bundle carries no identity heads, so nothing shows that no entry was \
             left out of it (--require-heads)"
                .into(),
        ));
    }
    Ok(held)
}

/// What the heads attest, once they hold for the bundle's entries. They end right after
/// the case's last entry, as the exporter signs them; a full-log bundle (the audit that
/// refutes a false count) holds other cases and later entries too, and may be of a later
/// checkpoint that extends the heads' tree.
fn check(
    note: &str,
    key: &NoteVerifier,
    cp: &Checkpoint,
    replay: &Replay,
    full: bool,
) -> Result<HeadsHeld, Failure> {
    let heads =
        IdentityHeads::open(note, key).map_err(|e| failure(format!("the identity heads {e}")))?;
    same_tree(&heads, cp, replay, full)?;
    let before = heads.before;
    if before > heads.size {
        return Err(failure(format!(
            "the identity heads count entries below index {before}, past their tree's size {}",
            heads.size
        )));
    }
    case_complete(&heads, replay, full)?;
    // Each identity stream's entries below `before` (revisions contiguous from 0: the
    // replay checked that), against the count the log key signed; every stream either
    // names, in byte order, so that the failure named is the same on every run.
    let streams: std::collections::BTreeSet<&String> = (replay.identity_indexes.keys())
        .chain(heads.counts.keys())
        .collect();
    for stream in streams {
        let indexes = replay
            .identity_indexes
            .get(stream)
            .map_or(&[][..], Vec::as_slice);
        let held = indexes.partition_point(|&i| i < before) as u64;
        let attested = heads.counts.get(stream).copied().unwrap_or(0);
        if attested != held {
            let mut f = failure(format!(
                "the log key attests {attested} entries of {stream} below index {before}; the \
                 bundle holds {held}{}",
                left_out(attested, held)
            ));
            // Named at its last entry below `before`, after which one is missing.
            f.stream = Some(stream.clone());
            f.revision = held.checked_sub(1);
            return Err(f);
        }
    }
    Ok(HeadsHeld {
        case: StreamId::Case(heads.case).to_string(),
        tree_size: heads.size,
        before,
    })
}

/// The heads are for the bundle's checkpoint, or (heads kept from an earlier case bundle,
/// `verify --heads`) for an earlier tree that a full-log bundle was shown to extend.
fn same_tree(
    heads: &IdentityHeads,
    cp: &Checkpoint,
    replay: &Replay,
    full: bool,
) -> Result<(), Failure> {
    let size = heads.size;
    if (size, heads.root) == (cp.size, cp.root)
        || (full && size < cp.size && replay.since.extends(size, &heads.root))
    {
        return Ok(());
    }
    Err(failure(if size < cp.size && !full {
        format!(
            "the identity heads are for the tree of size {size}, older than the checkpoint's \
             {}: only a bundle of the whole log (caseledger export) can be checked against them",
            cp.size
        )
    } else if size < cp.size {
        format!(
            "the identity heads are for the tree of size {size}, which the checkpoint of size \
             {} was not shown to extend",
            cp.size
        )
    } else {
        format!(
            "the identity heads are for the tree of size {size}, not the checkpoint's {}",
            cp.size
        )
    }))
}

/// The attested case: the bundle holds all its entries in the tree, the last at
/// `before − 1`, and (a partial bundle) no other case.
fn case_complete(heads: &IdentityHeads, replay: &Replay, full: bool) -> Result<(), Failure> {
    let stream = StreamId::Case(heads.case).to_string();
    let steps = replay
        .state
        .cases
        .get(&heads.case)
        .map_or(&[][..], |c| &c.steps);
    // In a full log later than the heads, the case may have gone on since.
    let steps = &steps[..steps.partition_point(|s| s.index < heads.size)];
    let attested = heads.case_entries;
    // A case bundle holding another case: the heads were taken from another case's bundle.
    if let Some(other) = replay
        .cases
        .iter()
        .next()
        .filter(|_| steps.is_empty() && !full)
    {
        return Err(failure(format!(
            "the identity heads attest {attested} entries of {stream}, a case the bundle does \
             not hold (it holds {other}): heads of another case?"
        )));
    }
    if steps.len() as u64 != attested {
        let mut f = failure(format!(
            "the log key attests {attested} entries of {stream} in the tree of size {}; the \
             bundle holds {}{}",
            heads.size,
            steps.len(),
            left_out(attested, steps.len() as u64)
        ));
        if let Some(last) = steps.last() {
            f = f.in_stream(&stream, last.revision);
        }
        return Err(f);
    }
    if let Some(last) = steps.last().filter(|l| l.index + 1 != heads.before) {
        return Err(failure(format!(
            "the identity heads were signed for {stream} ending at index {}; its last entry \
             is at index {}",
            heads.before - 1,
            last.index
        ))
        .in_stream(&stream, last.revision));
    }
    match replay.cases.iter().find(|c| **c != stream) {
        Some(other) if !full => Err(failure(format!(
            "the identity heads attest {stream}; the bundle holds {other} too"
        ))),
        _ => Ok(()),
    }
}

/// What a count short of the attested one means.
fn left_out(attested: u64, held: u64) -> &'static str {
    if attested > held {
        " (an entry was left out)"
    } else {
        ""
    }
}
