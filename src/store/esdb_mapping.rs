//! The pure half of the EventStoreDB backend (DESIGN §6): how the `--store esdb://…` URL,
//! ledger stream names, expected revisions, event metadata, checkpoint events and `$all`
//! positions map onto EventStoreDB. No I/O here, so all of it is unit-tested without a server.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::redact::redact_url;
use super::{StoreError, StoredCheckpoint, StoredEntry};
use crate::domain::StreamId;
use crate::ledger::entry;
use crate::log::merkle;

/// Default prefix of every EventStoreDB stream caseledger writes.
pub const DEFAULT_PREFIX: &str = "caseledger-";

/// Suffix of the stream that holds signed checkpoints, after the prefix. Ledger streams are
/// `case-…`, `agency-…` and `principal-…`, so a `$` name can never collide with one.
pub const CHECKPOINT_SUFFIX: &str = "$checkpoints";

/// EventStoreDB event type of a checkpoint event.
pub const CHECKPOINT_EVENT_TYPE: &str = "caseledger.checkpoint";

/// EventStoreDB's default `MaxAppendSize`: 1 MiB per append, all its events together.
pub const DEFAULT_MAX_APPEND: usize = 1 << 20;

/// Marker written into every entry event's custom metadata.
pub const ENTRY_FORMAT: &str = "caseledger-entry/v1";

/// The `--store esdb://…` setting, split into the part the `eventstore` crate parses and
/// the part that is ours. `Debug` shows the connection string without its password.
#[derive(Clone, PartialEq, Eq)]
pub struct EsdbConfig {
    /// The connection string handed to `eventstore::ClientSettings` (our own parameters
    /// removed, so the crate does not warn about them).
    pub connection: String,
    /// Stream-name prefix (`prefix=` parameter; default [`DEFAULT_PREFIX`]).
    pub prefix: String,
    /// The server's `MaxAppendSize` (`max_append_bytes=` parameter; default
    /// [`DEFAULT_MAX_APPEND`]): one append holds at most this many bytes, as
    /// [`append_size`] counts them.
    pub max_append: usize,
}

impl EsdbConfig {
    /// Parses `esdb://host:2113[,host2:2113…]?tls=false[&prefix=name-][&max_append_bytes=N]`
    /// (also `esdb+discover://`).
    pub fn parse(url: &str) -> Result<Self, String> {
        if !is_esdb_url(url) {
            return Err(format!(
                "`{}` is not an EventStoreDB connection string (esdb://host:2113?tls=false)",
                redact_url(url)
            ));
        }
        let (base, query) = match url.split_once('?') {
            Some((b, q)) => (b, q),
            None => (url, ""),
        };
        let mut prefix = DEFAULT_PREFIX.to_owned();
        let mut max_append = DEFAULT_MAX_APPEND;
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some((k, v)) if k.eq_ignore_ascii_case("prefix") => prefix = v.to_owned(),
                Some((k, v)) if k.eq_ignore_ascii_case("max_append_bytes") => {
                    max_append = v.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                        format!(
                            "max_append_bytes `{v}` must be a positive number of bytes (the \
                             server's MaxAppendSize; default {DEFAULT_MAX_APPEND})"
                        )
                    })?
                }
                _ => kept.push(pair),
            }
        }
        if prefix.is_empty() || prefix.starts_with('$') {
            return Err(format!(
                "prefix `{prefix}` must be non-empty and must not start with `$` (system streams)"
            ));
        }
        let connection = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        Ok(Self {
            connection,
            prefix,
            max_append,
        })
    }

    /// The host list of the connection string, for messages ("EventStoreDB at …").
    pub fn address(&self) -> &str {
        let rest = self.connection.split_once("://").map_or("", |(_, r)| r);
        let rest = rest.split(['?', '/']).next().unwrap_or(rest);
        rest.rsplit_once('@').map_or(rest, |(_, hosts)| hosts)
    }

    /// EventStoreDB stream of a ledger stream.
    pub fn stream_name(&self, ledger_stream: &str) -> String {
        format!("{}{ledger_stream}", self.prefix)
    }

    /// The dedicated checkpoint stream.
    pub fn checkpoint_stream(&self) -> String {
        format!("{}{CHECKPOINT_SUFFIX}", self.prefix)
    }

    /// What an EventStoreDB stream seen on `$all` holds. A stream under the prefix is a
    /// ledger stream only when the rest is a valid ledger stream id: another application's
    /// `caseledger-foo`, or a second ledger's `caseledger-eu-case-…` beside our `caseledger-`,
    /// is not ours and must not stop the feed as corrupt data.
    pub fn classify<'a>(&self, esdb_stream: &'a str) -> StreamKind<'a> {
        match esdb_stream.strip_prefix(self.prefix.as_str()) {
            Some(CHECKPOINT_SUFFIX) => StreamKind::Checkpoints,
            Some(rest) if rest.parse::<StreamId>().is_ok() => StreamKind::Ledger(rest),
            _ => StreamKind::Foreign,
        }
    }
}

impl std::fmt::Debug for EsdbConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EsdbConfig")
            .field("connection", &redact_url(&self.connection))
            .field("prefix", &self.prefix)
            .field("max_append", &self.max_append)
            .finish()
    }
}

/// Whether a `--store` value names EventStoreDB.
pub fn is_esdb_url(url: &str) -> bool {
    url.starts_with("esdb://") || url.starts_with("esdb+discover://")
}

/// The kind of an EventStoreDB stream under our prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind<'a> {
    /// A ledger stream (the name without the prefix).
    Ledger(&'a str),
    /// The checkpoint stream.
    Checkpoints,
    /// Anything else: another application's stream (or another ledger's, under a longer
    /// prefix) that happens to share the prefix but is not `<prefix><ledger stream id>`.
    Foreign,
}

/// The expected revision of an append, mirroring `eventstore::ExpectedRevision` so the
/// mapping stays testable without the crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// The stream must not exist.
    NoStream,
    /// The stream's last event must have this revision.
    Exact(u64),
}

/// The expected revision for appending an entry with ledger revision `revision`: revision 0
/// opens the stream; revision n follows revision n − 1. Ledger and EventStoreDB revisions
/// are the same numbers, so a stream never drifts from its ledger revisions.
pub fn expected_for(revision: u64) -> Expected {
    match revision {
        0 => Expected::NoStream,
        n => Expected::Exact(n - 1),
    }
}

/// The expected revision of the checkpoint stream given how many checkpoints it holds.
pub fn expected_checkpoint(held: u64) -> Expected {
    expected_for(held)
}

/// A position in `$all` (commit, prepare), ordered as EventStoreDB orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AllPosition {
    pub commit: u64,
    pub prepare: u64,
}

impl Ord for AllPosition {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.commit, self.prepare).cmp(&(other.commit, other.prepare))
    }
}

impl PartialOrd for AllPosition {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// How far a subscription checkpoint at `p` may move what a node has seen, given `head`,
/// the newest `$all` position the node knows to exist (read as the head of `$all`, returned
/// by an append, or carried by a delivered event). Some server versions send a checkpoint
/// of `(u64::MAX, u64::MAX)` or one past the end of `$all`; taking it would make the node
/// skip every event later written below that position. So a position with a `u64::MAX`
/// part is ignored (`None`), and any other is capped at `head` (everything of ours up to
/// `p` was delivered, so everything up to `head` was too). With no known head only the
/// `u64::MAX` guard applies.
pub fn checkpoint_position(p: AllPosition, head: Option<AllPosition>) -> Option<AllPosition> {
    if p.commit == u64::MAX || p.prepare == u64::MAX {
        return None;
    }
    Some(head.map_or(p, |h| p.min(h)))
}

/// Custom metadata of an entry event: a format marker and the leaf hash, so a reader can
/// tell our events from look-alikes and spot damaged data without decoding the entry.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct EntryMetadata {
    pub format: String,
    /// Hex RFC 6962 leaf hash of the event data.
    pub leaf_hash: String,
}

/// The custom metadata of an entry's event.
pub fn entry_metadata(e: &StoredEntry) -> EntryMetadata {
    EntryMetadata {
        format: ENTRY_FORMAT.to_owned(),
        leaf_hash: hex::encode(e.leaf_hash),
    }
}

/// The EventStoreDB event type of an entry: the ledger event type (`consent.granted`, …).
pub fn entry_event_type(bytes: &[u8]) -> Result<String, StoreError> {
    entry::decode(bytes)
        .map(|d| d.payload.type_name().to_owned())
        .map_err(|e| StoreError::Corrupt(format!("entry to append does not decode: {e}")))
}

/// What an entry event read back from `$all` must carry.
pub struct RecordedEntry<'a> {
    pub ledger_stream: &'a str,
    /// The EventStoreDB revision within its stream.
    pub revision: u64,
    pub event_id: Uuid,
    pub data: &'a [u8],
}

/// Rebuilds a `StoredEntry` at global `index` from an event read back, checking that the
/// entry's own stream and revision agree with where EventStoreDB holds it (a copied or
/// moved event is refused rather than silently given a new place in the log).
pub fn decode_entry(r: &RecordedEntry<'_>, index: u64) -> Result<StoredEntry, StoreError> {
    let corrupt = |why: String| {
        StoreError::Corrupt(format!(
            "EventStoreDB stream {} revision {}: {why}",
            r.ledger_stream, r.revision
        ))
    };
    let d = entry::decode(r.data).map_err(|e| corrupt(e.to_string()))?;
    if d.stream != r.ledger_stream || d.revision != r.revision {
        return Err(corrupt(format!(
            "entry says stream {} revision {}",
            d.stream, d.revision
        )));
    }
    if d.payload.event_id != r.event_id {
        return Err(corrupt(format!(
            "event id {} differs from the envelope's {}",
            r.event_id, d.payload.event_id
        )));
    }
    Ok(StoredEntry {
        index,
        stream: d.stream,
        revision: d.revision,
        event_id: r.event_id,
        recorded_at: entry::format_time(&d.recorded_at),
        leaf_hash: merkle::leaf_hash(r.data),
        bytes: r.data.to_vec(),
    })
}

/// The data of a checkpoint event.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CheckpointData {
    pub size: u64,
    pub note: String,
}

/// Checkpoint event data bytes.
pub fn checkpoint_data(cp: &StoredCheckpoint) -> Vec<u8> {
    serde_json::to_vec(&CheckpointData {
        size: cp.size,
        note: cp.note.clone(),
    })
    .expect("checkpoint serialises")
}

/// Reads a checkpoint event's data.
pub fn decode_checkpoint(data: &[u8]) -> Result<StoredCheckpoint, StoreError> {
    let c: CheckpointData = serde_json::from_slice(data)
        .map_err(|e| StoreError::Corrupt(format!("checkpoint event: {e}")))?;
    Ok(StoredCheckpoint {
        size: c.size,
        note: c.note,
    })
}

/// Splits a group's entries into runs of consecutive entries on one stream, in group order.
pub fn stream_runs(entries: &[StoredEntry]) -> Vec<&[StoredEntry]> {
    entries
        .chunk_by(|a, b| a.stream == b.stream && b.revision == a.revision + 1)
        .collect()
}

/// Room an event takes beyond its data and metadata, counted high: the server counts the
/// event type twice (UTF-16), and ledger event types are far shorter than 64 characters.
const EVENT_OVERHEAD: usize = 2 * 64 + 64;

/// The bytes an entry's event takes against the server's `MaxAppendSize`, counted high:
/// its data (the entry's exact bytes), its metadata (of one length for every entry: the
/// leaf hash is fixed-width hex) and a fixed allowance for the event type.
pub fn append_size(entry_bytes: &[u8]) -> usize {
    static METADATA: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let metadata = *METADATA.get_or_init(|| {
        let any = EntryMetadata {
            format: ENTRY_FORMAT.to_owned(),
            leaf_hash: hex::encode([0u8; 32]),
        };
        serde_json::to_vec(&any).map_or(256, |m| m.len())
    });
    entry_bytes.len() + metadata + EVENT_OVERHEAD
}

/// The appends of a group, in group order: each stream run (one append is atomic within its
/// stream), cut where a run holds more than `limit` bytes ([`append_size`]) into pieces
/// packed greedily from whole requests (`request_ends`, see
/// [`CommitGroup`](super::CommitGroup)), so that no request is split. A request alone over
/// the limit (the writer refuses those) is a piece of its own.
pub fn appends<'a>(
    entries: &'a [StoredEntry],
    request_ends: &[usize],
    limit: usize,
) -> Vec<&'a [StoredEntry]> {
    let mut out = Vec::new();
    let mut start = 0;
    for run in stream_runs(entries) {
        let end = start + run.len();
        let cuts = request_ends
            .iter()
            .copied()
            .filter(|&c| c > start && c < end)
            .chain([end]);
        let (mut piece, mut size, mut from) = (start, 0, start);
        for cut in cuts {
            let unit: usize = entries[from..cut]
                .iter()
                .map(|e| append_size(&e.bytes))
                .sum();
            if size > 0 && size + unit > limit {
                out.push(&entries[piece..from]);
                (piece, size) = (from, 0);
            }
            size += unit;
            from = cut;
        }
        out.push(&entries[piece..end]);
        start = end;
    }
    out
}

#[cfg(test)]
#[path = "esdb_mapping_tests.rs"]
pub(crate) mod tests;
