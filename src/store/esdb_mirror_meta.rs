//! What the on-disk EventStoreDB mirror keeps beside its entries (the `meta` keys and their
//! encoding; they are committed in the same SQLite transaction as the entries they describe)
//! and the rules that refuse a mirror file built from another log.

use std::path::Path;

use uuid::Uuid;

use super::esdb_mapping::AllPosition;
use super::{StoreError, StoredEntry};
use crate::log::merkle::Hash;

/// `meta` key: the stream prefix the mirror was built for (UTF-8).
pub const PREFIX_KEY: &str = "esdb.prefix";
/// `meta` key: how far `$all` has been seen (commit then prepare position, 8 bytes each, BE).
pub const SEEN_KEY: &str = "esdb.seen";
/// `meta` key: the next revision of `<prefix>$checkpoints` (8 bytes, BE). The checkpoint
/// table keeps one head per size, so it cannot say how many checkpoint events there were.
pub const CHECKPOINT_EVENTS_KEY: &str = "esdb.checkpoint_events";
/// `meta` key: the log key (signed-note verifier text) whose checkpoints the mirror keeps.
pub const LOG_KEY_KEY: &str = "esdb.log_key";

/// The `meta` value of a position.
pub fn encode_position(p: AllPosition) -> Vec<u8> {
    let mut v = p.commit.to_be_bytes().to_vec();
    v.extend_from_slice(&p.prepare.to_be_bytes());
    v
}

/// A position from its `meta` value.
pub fn decode_position(b: &[u8]) -> Result<AllPosition, StoreError> {
    let bytes: [u8; 16] = b
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("mirror meta {SEEN_KEY}: {} bytes", b.len())))?;
    let (commit, prepare) = bytes.split_at(8);
    Ok(AllPosition {
        commit: decode_count(SEEN_KEY, commit)?,
        prepare: decode_count(SEEN_KEY, prepare)?,
    })
}

/// The `meta` value of a count.
pub fn encode_count(n: u64) -> Vec<u8> {
    n.to_be_bytes().to_vec()
}

/// A count from its `meta` value.
pub fn decode_count(key: &str, b: &[u8]) -> Result<u64, StoreError> {
    let bytes: [u8; 8] = b
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("mirror meta {key}: {} bytes", b.len())))?;
    Ok(u64::from_be_bytes(bytes))
}

/// What the cluster holds, as far as telling whether a mirror is of it goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterView {
    /// The event at revision 0 of the mirror's first entry's stream: id and leaf hash of
    /// its data (`None` if that stream does not exist there).
    pub first: Option<(Uuid, Hash)>,
    /// The event where the mirror's last entry is (its stream and revision), likewise.
    pub last: Option<(Uuid, Hash)>,
    /// The position of the last event in `$all` (`None` if `$all` is empty).
    pub head: Option<AllPosition>,
}

/// The error that refuses a mirror file, telling the user how to rebuild it.
pub fn refuse(file: &Path, why: impl std::fmt::Display) -> StoreError {
    let file = file.display();
    StoreError::Corrupt(format!(
        "the EventStoreDB mirror {file} does not belong to this log: {why}; \
         delete {file} to rebuild it from EventStoreDB"
    ))
}

/// Refuses a mirror whose first or last entry (`ours`) the cluster does not hold in the
/// same place, or that has seen more of `$all` than the cluster holds: each means the mirror
/// was built from another cluster, or the cluster lost data (restored from a backup older
/// than the mirror), and its positions mean nothing here.
pub fn check_same_log(
    file: &Path,
    ours: [Option<&StoredEntry>; 2],
    seen: Option<AllPosition>,
    cluster: &ClusterView,
) -> Result<(), StoreError> {
    for ((e, held), which) in ours
        .into_iter()
        .zip([cluster.first, cluster.last])
        .zip(["first", "last"])
    {
        let Some(e) = e else { continue };
        let place = format!("stream {} revision {}", e.stream, e.revision);
        match held {
            None => return Err(refuse(file, format!("EventStoreDB holds no {place}"))),
            Some((id, leaf)) if id != e.event_id || leaf != e.leaf_hash => {
                return Err(refuse(
                    file,
                    format!(
                        "its {which} entry is event {} at {place}, EventStoreDB holds event {id} \
                         there",
                        e.event_id
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    match (seen, cluster.head) {
        (Some(s), None) if s > AllPosition::default() => Err(refuse(
            file,
            format!("it has read $all up to {}, but $all is empty", show(s)),
        )),
        (Some(s), Some(h)) if s > h => Err(refuse(
            file,
            format!(
                "it has read $all up to {}, but $all ends at {}",
                show(s),
                show(h)
            ),
        )),
        _ => Ok(()),
    }
}

fn show(p: AllPosition) -> String {
    format!("{}/{}", p.commit, p.prepare)
}
