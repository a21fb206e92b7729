//! What the on-disk EventStoreDB mirror keeps beside its entries (the `meta` keys and their
//! encoding), how those keys reach disk in the same SQLite transaction as the entries they
//! describe, and the rules that refuse a mirror file built from another log.

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection};
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

/// Tables and triggers of the staging connection. `SqliteStore::commit` writes entries,
/// nodes and a checkpoint in one transaction but no `meta` rows; these triggers copy the
/// rows staged for the next commit into `meta` from inside that transaction, so the `$all`
/// position commits (or rolls back) together with the entries it covers. The `meta`,
/// `entries` and `checkpoints` tables are `SqliteStore`'s (tree nodes are not touched).
const STAGING_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS esdb_staged_meta (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TRIGGER IF NOT EXISTS esdb_publish_with_entries AFTER INSERT ON entries
BEGIN
    INSERT OR REPLACE INTO meta (key, value) SELECT key, value FROM esdb_staged_meta;
END;
CREATE TRIGGER IF NOT EXISTS esdb_publish_with_checkpoints AFTER INSERT ON checkpoints
BEGIN
    INSERT OR REPLACE INTO meta (key, value) SELECT key, value FROM esdb_staged_meta;
END;
";

/// A second connection to the mirror file that stages the `meta` rows of the next commit.
pub struct Staging {
    conn: Connection,
}

impl Staging {
    /// Opens the staging connection on a file `SqliteStore::open` has already set up.
    pub fn open(file: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(file)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        // Staged rows need no durability of their own: they matter only once the next
        // commit (synchronous=FULL, later in the same WAL) has made them durable with it.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(STAGING_SCHEMA)?;
        Ok(Self { conn })
    }

    /// Replaces the staged rows. Every commit of the mirror is preceded by this call, so a
    /// commit never publishes the rows of an earlier one.
    pub fn stage(&mut self, rows: &[(&str, Vec<u8>)]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM esdb_staged_meta", [])?;
        for (key, value) in rows {
            tx.execute(
                "INSERT INTO esdb_staged_meta (key, value) VALUES (?1, ?2)",
                params![key, value],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// What the cluster holds, as far as telling whether a mirror is of it goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterView {
    /// The event at revision 0 of the mirror's first entry's stream: id and leaf hash of
    /// its data (`None` if that stream does not exist there).
    pub first: Option<(Uuid, Hash)>,
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

/// Refuses a mirror whose first entry (`ours`) the cluster does not hold in the same place,
/// or that has seen more of `$all` than the cluster holds: either means the mirror was built
/// from another cluster (or the cluster lost data), and its positions mean nothing here.
pub fn check_same_log(
    file: &Path,
    ours: Option<&StoredEntry>,
    seen: Option<AllPosition>,
    cluster: &ClusterView,
) -> Result<(), StoreError> {
    if let Some(e) = ours {
        let place = format!("stream {} revision {}", e.stream, e.revision);
        match cluster.first {
            None => return Err(refuse(file, format!("EventStoreDB holds no {place}"))),
            Some((id, leaf)) if id != e.event_id || leaf != e.leaf_hash => {
                return Err(refuse(
                    file,
                    format!(
                    "its first entry is event {} at {place}, EventStoreDB holds event {id} there",
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
