//! The bundle's header: its format, the log key it names, and its checkpoint, signed by
//! that key, for the origin it names.

use super::report::{Check, Failure};
use crate::bundle::{BundleHeader, FORMAT};
use crate::log::note::NoteVerifier;
use crate::log::Checkpoint;

/// The checkpoint of a header that names `key` and carries a checkpoint signed by it.
pub(super) fn check(key: &NoteVerifier, h: &BundleHeader) -> Result<Checkpoint, Failure> {
    if h.format != FORMAT {
        return Err(Failure::bundle(
            Check::Format,
            format!("format is {}, expected {FORMAT:?}", quoted(&h.format)),
        ));
    }
    let ours = key.to_text();
    if h.log_key.trim() != ours {
        return Err(Failure::bundle(
            Check::LogKey,
            format!(
                "the bundle names log key {}, not the given {ours:?}",
                quoted(&h.log_key)
            ),
        ));
    }
    let cp = Checkpoint::open_signed(&h.checkpoint, key).map_err(|e| {
        Failure::bundle(
            Check::Checkpoint,
            format!("the checkpoint does not verify: {e}"),
        )
    })?;
    if h.origin != cp.origin {
        return Err(Failure::bundle(
            Check::Checkpoint,
            format!(
                "origin {} differs from the checkpoint's {}",
                quoted(&h.origin),
                quoted(&cp.origin)
            ),
        ));
    }
    Ok(cp)
}

/// The failure of a bundle whose header comes after more than `entries` entries or `bytes`
/// bytes of them.
pub(super) fn late(entries: usize, bytes: usize) -> Failure {
    Failure::bundle(
        Check::Format,
        format!(
            "more than {entries} entries or {} MiB of entries come before the header (format, \
             origin, log_key, checkpoint); write the header first",
            bytes >> 20
        ),
    )
}

/// A header member as a failure quotes it: whole up to 100 characters, else its start and
/// its length (a member may be megabytes long).
fn quoted(member: &str) -> String {
    const SHOWN: usize = 100;
    match member.char_indices().nth(SHOWN) {
        None => format!("{member:?}"),
        Some((cut, _)) => format!("{:?}… ({} bytes)", &member[..cut], member.len()),
    }
}
