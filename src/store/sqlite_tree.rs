//! How the SQLite backend lays out the Merkle tree: each entry's row carries, in its `tree`
//! column, the hashes of the complete nodes its leaf completes, level 0 (the leaf itself)
//! first. Leaf `i` completes the nodes `(l, i >> l)` for `l` in `0..=trailing_ones(i)`, so
//! node `(l, j)` lives in row `((j + 1) << l) - 1` at offset `32 * l`.
//!
//! Keeping the nodes in the entry's row means a commit touches no B-tree besides the
//! entries table and its indexes (a separate node table cost about two more index inserts per
//! entry, on pages of their own), while a proof still reads O(log n) rows by primary key.
//! The copy of the leaf hash at level 0 lets the start-up check name an entry whose bytes
//! and `leaf_hash` column were both edited.

use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension};

use super::StoreError;
use crate::log::merkle::Hash;

/// The row that holds node `(level, index)`, if the tree can have one there.
pub(super) fn holder(level: u8, index: u64) -> Option<u64> {
    let span = 1u64.checked_shl(u32::from(level))?;
    index.checked_add(1)?.checked_mul(span)?.checked_sub(1)
}

/// The `tree` blob of each entry in `indexes`, built from a group's new nodes. A group's
/// nodes must be exactly what its leaves complete, from level 0 up without gaps; a group
/// without nodes (tests, benchmarks of bare commits) stores empty blobs.
pub(super) fn blobs(
    indexes: impl Iterator<Item = u64>,
    nodes: &[(u8, u64, Hash)],
) -> Result<Vec<Vec<u8>>, StoreError> {
    let mut by_row: BTreeMap<u64, Vec<(u8, Hash)>> = BTreeMap::new();
    for &(level, index, hash) in nodes {
        let row = holder(level, index).ok_or_else(|| node_error(level, index))?;
        by_row.entry(row).or_default().push((level, hash));
    }
    let mut out = Vec::new();
    for i in indexes {
        let mut mine = by_row.remove(&i).unwrap_or_default();
        mine.sort_by_key(|(level, _)| *level);
        let contiguous = mine
            .iter()
            .zip(0u8..)
            .all(|((level, _), want)| *level == want);
        if !contiguous || mine.len() > i.trailing_ones() as usize + 1 {
            return Err(StoreError::Corrupt(format!(
                "the group's Merkle nodes for entry {i} are not levels 0..={} of its leaf",
                i.trailing_ones()
            )));
        }
        out.push(mine.iter().flat_map(|(_, h)| *h).collect());
    }
    if let Some((row, mine)) = by_row.into_iter().next() {
        return Err(node_error(mine[0].0, row >> mine[0].0));
    }
    Ok(out)
}

fn node_error(level: u8, index: u64) -> StoreError {
    StoreError::Corrupt(format!(
        "Merkle node {level}/{index} is not completed by an entry of its group"
    ))
}

/// Reads node `(level, index)`.
pub(super) fn read_node(c: &Connection, level: u8, index: u64) -> Result<Option<Hash>, StoreError> {
    let Some(row) = holder(level, index) else {
        return Ok(None);
    };
    let Ok(row) = i64::try_from(row) else {
        return Ok(None);
    };
    let mut st = c.prepare_cached("SELECT substr(tree, ?1, 32) FROM entries WHERE idx = ?2")?;
    let offset = 32 * i64::from(level) + 1;
    let h: Option<Vec<u8>> = st
        .query_row(params![offset, row], |r| r.get(0))
        .optional()?;
    Ok(h.and_then(|v| v.try_into().ok()))
}

/// Nodes `(level, first)` onwards, `count` of them: at level 0 (the leaves, one per row) one
/// range scan, above it one read by primary key each.
pub(super) fn read_nodes(
    c: &Connection,
    level: u8,
    first: u64,
    count: u64,
) -> Result<Vec<Option<Hash>>, StoreError> {
    let end = first.saturating_add(count);
    if level > 0 {
        return (first..end).map(|i| read_node(c, level, i)).collect();
    }
    let len = usize::try_from(end - first)
        .map_err(|_| StoreError::Unavailable("too many nodes asked".into()))?;
    let mut out = vec![None; len];
    let mut st = c.prepare_cached(
        "SELECT idx, substr(tree, 1, 32) FROM entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
    )?;
    let (from, to) = (clamp(first), clamp(end));
    let rows = st.query_map(params![from, to], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
    })?;
    for row in rows {
        let (idx, hash) = row?;
        let slot = u64::try_from(idx).ok().and_then(|i| i.checked_sub(first));
        if let Some(slot) = slot.and_then(|s| out.get_mut(s as usize)) {
            *slot = hash.try_into().ok();
        }
    }
    Ok(out)
}

fn clamp(index: u64) -> i64 {
    i64::try_from(index).unwrap_or(i64::MAX)
}

/// Whether the store has this version's layout (each entry's nodes in its row).
pub(super) fn is_current(c: &Connection) -> Result<bool, StoreError> {
    Ok(
        c.prepare("SELECT 1 FROM pragma_table_info('entries') WHERE name = 'tree'")?
            .exists([])?,
    )
}

/// Moves a store written by an earlier version, with its nodes in a `tree_nodes` table,
/// to this layout, in one transaction. Returns whether anything was migrated.
pub(super) fn migrate(conn: &mut Connection) -> Result<bool, StoreError> {
    let has_column = is_current;
    // A migrated store (every open but the first after an upgrade) takes no write lock: a
    // reader beside a running server must not make its commits busy.
    if has_column(conn)? {
        return Ok(false);
    }
    // Checked again inside a write transaction: of two processes opening an old store at
    // once, the second waits for the first and then finds the column there.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    if has_column(&tx)? {
        return Ok(false);
    }
    tx.execute_batch("ALTER TABLE entries ADD COLUMN tree BLOB NOT NULL DEFAULT x''")?;
    let old_table: bool = tx
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tree_nodes'")?
        .exists([])?;
    if old_table {
        let size: i64 = tx.query_row("SELECT COALESCE(MAX(idx) + 1, 0) FROM entries", [], |r| {
            r.get(0)
        })?;
        let mut get = tx.prepare("SELECT hash FROM tree_nodes WHERE level = ?1 AND idx = ?2")?;
        let mut put = tx.prepare("UPDATE entries SET tree = ?1 WHERE idx = ?2")?;
        for i in 0..size as u64 {
            let mut blob = Vec::new();
            for level in 0..=i.trailing_ones() {
                let h: Option<Vec<u8>> = get
                    .query_row(params![level, (i >> level) as i64], |r| r.get(0))
                    .optional()?;
                let h = h.ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "migrating the Merkle tree: node {level}/{} is missing",
                        i >> level
                    ))
                })?;
                blob.extend_from_slice(&h);
            }
            put.execute(params![blob, i as i64])?;
        }
        drop((get, put));
        tx.execute_batch("DROP TABLE tree_nodes")?;
    }
    tx.commit()?;
    Ok(old_table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_node_lives_in_the_row_of_the_leaf_that_completes_it() {
        assert_eq!(holder(0, 5), Some(5));
        assert_eq!(holder(1, 0), Some(1));
        assert_eq!(holder(2, 1), Some(7));
        assert_eq!(holder(3, 0), Some(7));
        assert_eq!(holder(63, 1), None);
        assert_eq!(holder(64, 0), None);
    }

    #[test]
    fn blobs_hold_levels_from_the_leaf_up_and_refuse_strays_and_gaps() {
        let h = |b: u8| [b; 32];
        // Leaves 2 and 3: leaf 3 completes (1, 1) and (2, 0).
        let nodes = [(0, 2, h(2)), (0, 3, h(3)), (2, 0, h(20)), (1, 1, h(11))];
        let b = blobs(2..4, &nodes).expect("blobs");
        assert_eq!(b[0], h(2).to_vec());
        assert_eq!(b[1], [h(3), h(11), h(20)].concat());
        assert!(blobs(2..4, &[(1, 1, h(11))]).is_err(), "level 0 missing");
        assert!(
            blobs(2..3, &[(0, 3, h(3))]).is_err(),
            "node of no entry in the group"
        );
        assert_eq!(blobs(0..2, &[]).expect("bare"), vec![Vec::<u8>::new(); 2]);
    }

    /// A database in the layout of earlier versions, filled the way their writer filled it.
    fn old_layout(path: &std::path::Path, leaves: &[Hash]) {
        use crate::log::merkle::{self, MemoryNodes};
        let c = Connection::open(path).expect("open");
        c.execute_batch(
            "CREATE TABLE entries (idx INTEGER PRIMARY KEY, stream TEXT NOT NULL,
               revision INTEGER NOT NULL, event_id BLOB NOT NULL UNIQUE,
               recorded_at TEXT NOT NULL, leaf_hash BLOB NOT NULL, bytes BLOB NOT NULL,
               UNIQUE (stream, revision));
             CREATE TABLE tree_nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL,
               hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID;",
        )
        .expect("old schema");
        let nodes = merkle::append_nodes(&MemoryNodes::default(), 0, leaves).expect("nodes");
        for (i, leaf) in leaves.iter().enumerate() {
            c.execute(
                "INSERT INTO entries VALUES (?1, 'agency-a', ?1, ?2, '', ?3, x'')",
                params![
                    i as i64,
                    uuid::Uuid::new_v4().as_bytes().as_slice(),
                    leaf.as_slice()
                ],
            )
            .expect("entry");
        }
        for (level, idx, hash) in nodes {
            c.execute(
                "INSERT INTO tree_nodes VALUES (?1, ?2, ?3)",
                params![level, idx as i64, hash.as_slice()],
            )
            .expect("node");
        }
    }

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n)
            .map(|i| crate::log::merkle::leaf_hash(&i.to_be_bytes()))
            .collect()
    }

    #[test]
    fn a_store_with_a_node_table_is_migrated_into_the_entry_rows() {
        use crate::log::merkle::{self, MemoryNodes, NodeSource};
        use crate::store::{sqlite::SqliteStore, EventStore, StoreNodes};
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("old.db");
        let leaves = leaves(37);
        let tree = MemoryNodes::from_leaves(&leaves);
        old_layout(&path, &leaves);
        // Beside a server (export, report) the old layout is refused and left as it is:
        // only the process holding the writer lock migrates.
        let refused = SqliteStore::open_existing(&path).err().expect("refused");
        assert!(
            refused.to_string().contains("earlier version's layout"),
            "{refused}"
        );
        assert!(!is_current(&Connection::open(&path).expect("open")).expect("layout"));
        let store = SqliteStore::open(&path).expect("migrates");
        let nodes = StoreNodes(&store);
        for level in 0..6u8 {
            for index in 0..(37u64 >> level) {
                assert_eq!(
                    nodes.node(level, index).expect("node"),
                    tree.node(level, index).expect("reference"),
                    "node {level}/{index}"
                );
            }
        }
        assert_eq!(store.node(0, 37).expect("read"), None);
        assert_eq!(
            merkle::root(&nodes, 37).expect("root"),
            merkle::root(&tree, 37).expect("reference root")
        );
        drop(store);
        SqliteStore::open(&path).expect("a migrated store opens again as it is");
        SqliteStore::open_existing(&path).expect("and beside a server");
    }

    #[test]
    fn a_migration_with_a_missing_node_fails_and_changes_nothing() {
        use crate::store::sqlite::SqliteStore;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("old.db");
        old_layout(&path, &leaves(8));
        let c = Connection::open(&path).expect("open");
        c.execute("DELETE FROM tree_nodes WHERE level = 1 AND idx = 2", [])
            .expect("delete");
        let err = SqliteStore::open(&path).err().expect("refused");
        assert!(err.to_string().contains("node 1/2 is missing"), "{err}");
        let column: bool = c
            .prepare("SELECT 1 FROM pragma_table_info('entries') WHERE name = 'tree'")
            .expect("query")
            .exists([])
            .expect("exists");
        let nodes: i64 = c
            .query_row("SELECT COUNT(*) FROM tree_nodes", [], |r| r.get(0))
            .expect("count");
        assert!(!column, "the migration was rolled back");
        assert_eq!(nodes, 14, "the node table is untouched");
    }
}
