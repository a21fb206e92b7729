//! A node's local, on-disk view of the caseledger part of EventStoreDB's `$all`: entries in
//! the filtered `$all` order (the global index is the position in that order), the Merkle
//! nodes rebuilt from them (EventStoreDB does not hold them), and the checkpoint stream,
//! kept in a SQLite file through [`SqliteStore`] together with how far `$all` has been seen.
//!
//! Memory does not grow with the log: only the tree's right border and a few counters stay
//! in memory, and each batch of events is one SQLite transaction. The backend feeds the
//! mirror from a subscription; restarting resumes from the persisted position.

use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::esdb_mapping::{AllPosition, EsdbConfig};
use super::esdb_mirror_batch::{self as batch, Batch};
use super::esdb_mirror_meta::{
    self as meta, check_same_log, refuse, ClusterView, CHECKPOINT_EVENTS_KEY, LOG_KEY_KEY,
    PREFIX_KEY, SEEN_KEY,
};
use super::sqlite::SqliteStore;
use super::{EventStore, StoreError, StoreNodes};
use crate::ledger::Frontier;
use crate::log::note::NoteVerifier;

/// Default file name of the mirror inside the data directory.
pub const MIRROR_FILE: &str = "esdb-mirror.db";

/// How often at most a move of the position alone (past other applications' events) is
/// written. A filtered subscription reports one every 32 events it skips, which on a busy
/// shared cluster would otherwise be a steady stream of fsyncs. Skipping some is safe: no
/// event of ours lies between the position written and the one in memory, so a restart
/// merely skips those foreign events again.
const POSITION_EVERY: Duration = Duration::from_secs(1);

/// One event seen on `$all`, as the mirror needs it.
pub struct SeenEvent<'a> {
    pub position: AllPosition,
    pub stream: &'a str,
    pub revision: u64,
    pub event_id: Uuid,
    pub data: &'a [u8],
}

/// Where the committed mirror ends, as its readers see it: a copy, published after each
/// commit (never before), under a lock held only to copy it, never across I/O. Async code
/// on the client runtime reads this, so it never waits for a commit's fsync.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TipView {
    size: u64,
    seen: Option<AllPosition>,
    checkpoint_events: u64,
}

impl TipView {
    /// Number of committed entries (the next global index).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// How far `$all` has been seen.
    pub fn seen(&self) -> Option<AllPosition> {
        self.seen
    }

    /// Whether everything up to `p` has been seen.
    pub fn has_seen(&self, p: AllPosition) -> bool {
        self.seen.is_some_and(|s| s >= p)
    }

    /// Number of checkpoint events seen: the checkpoint stream's next revision.
    pub fn checkpoint_events(&self) -> u64 {
        self.checkpoint_events
    }
}

/// The feeder's state: where the log ends, and the Merkle tree's right border. Private to
/// the commit path: [`Mirror::ingest`] holds it across a batch and its SQLite commit.
pub struct Tip {
    size: u64,
    seen: Option<AllPosition>,
    checkpoint_events: u64,
    frontier: Frontier,
    /// When the position was last written (`None`: not since the mirror was opened).
    written: Option<Instant>,
}

impl Tip {
    /// Number of entries (the next global index).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// How far `$all` has been seen.
    pub fn seen(&self) -> Option<AllPosition> {
        self.seen
    }

    /// Number of checkpoint events seen: the checkpoint stream's next revision.
    pub fn checkpoint_events(&self) -> u64 {
        self.checkpoint_events
    }

    /// The Merkle tree's right border at `size`.
    pub fn frontier(&self) -> &Frontier {
        &self.frontier
    }

    fn view(&self) -> TipView {
        TipView {
            size: self.size,
            seen: self.seen,
            checkpoint_events: self.checkpoint_events,
        }
    }
}

/// The mirror itself. Reads go straight to the SQLite file ([`Mirror::store`]).
///
/// Two locks, so that no reader ever waits for an fsync: ingesting holds the commit lock
/// (`state`) for the whole batch, its SQLite commit included, so two feeders never
/// interleave; it is only ever taken on blocking threads. What readers need (size,
/// position) is published into `view` after the commit returns, and `view` is held only to
/// copy it in or out. Waiting for the mirror to grow or to reach a position is done on
/// `view` and `changed` ([`Mirror::wait_until`]).
pub struct Mirror {
    db: SqliteStore,
    file: PathBuf,
    cfg: EsdbConfig,
    /// The log's verifier key, once known: checkpoints are mirrored only if they verify
    /// under it (see [`batch::build`]).
    log_key: OnceLock<NoteVerifier>,
    state: Mutex<Tip>,
    view: Mutex<TipView>,
    changed: Condvar,
}

impl Mirror {
    /// Opens (creating if needed) the mirror file for the log under `cfg.prefix`. A file
    /// built for another prefix, or one that is not a mirror at all, is refused.
    pub fn open(file: &Path, cfg: &EsdbConfig) -> Result<Self, StoreError> {
        let db = SqliteStore::open(file).map_err(|e| refuse_open(file, e))?;
        let size = db.size()?;
        check_prefix(&db, file, &cfg.prefix, size)?;
        // A mirror without entries has nothing that proves it is of this cluster, so its
        // position is not trusted: it reads `$all` from the start again (nothing of ours
        // lies there, or it would hold entries).
        let seen = match size {
            0 => None,
            _ => db
                .meta(SEEN_KEY)?
                .map(|b| meta::decode_position(&b))
                .transpose()?,
        };
        let checkpoint_events = db
            .meta(CHECKPOINT_EVENTS_KEY)?
            .map(|b| meta::decode_count(CHECKPOINT_EVENTS_KEY, &b))
            .transpose()?
            .unwrap_or(0);
        let tip = Tip {
            size,
            seen,
            checkpoint_events,
            frontier: Frontier::load(&db, size),
            written: None,
        };
        Ok(Self {
            db,
            file: file.to_owned(),
            cfg: cfg.clone(),
            log_key: OnceLock::new(),
            view: Mutex::new(tip.view()),
            state: Mutex::new(tip),
            changed: Condvar::new(),
        })
    }

    /// From now on, mirrors only checkpoints that verify under `key` and match the tree:
    /// whoever can append to the shared checkpoint stream cannot make this node serve, or
    /// stop publishing over, a checkpoint the log never signed. Set when the node opens the
    /// store with its `log.key`, or by `init` once it has created the key; a second, other
    /// key is refused. The key is recorded in the file: a mirror built for another key is
    /// refused, and one built before keys were recorded has its checkpoints checked first.
    pub fn trust(&self, key: &NoteVerifier) -> Result<(), StoreError> {
        if let Some(k) = self.log_key.get() {
            return match k == key {
                true => Ok(()),
                false => Err(StoreError::Unavailable(format!(
                    "the mirror already trusts log key {}, not {}",
                    k.to_text(),
                    key.to_text()
                ))),
            };
        }
        let text = key.to_text();
        // A mirror that holds nothing yet proves nothing about any key: it starts again.
        let empty = self.db.size()? == 0 && self.db.latest_checkpoint()?.is_none();
        match self.db.meta(LOG_KEY_KEY)? {
            Some(held) if held == text.as_bytes() => {}
            Some(_) if empty => self.db.set_meta(LOG_KEY_KEY, text.as_bytes())?,
            Some(held) => {
                return Err(refuse(
                    &self.file,
                    format!(
                        "it was built for log key {}, but this node's is {text}",
                        String::from_utf8_lossy(&held)
                    ),
                ))
            }
            None => {
                self.check_held_checkpoints(key)?;
                self.db.set_meta(LOG_KEY_KEY, text.as_bytes())?;
            }
        }
        let _ = self.log_key.set(key.clone());
        Ok(())
    }

    /// The checkpoints a mirror kept before it recorded a log key, checked as new ones are.
    fn check_held_checkpoints(&self, key: &NoteVerifier) -> Result<(), StoreError> {
        let size = self.db.size()?;
        let tree = StoreNodes(&self.db as &dyn EventStore);
        for cp in self.db.checkpoints()? {
            if let Some(why) = batch::refusal(key, &cp, size, &tree)? {
                return Err(refuse(
                    &self.file,
                    format!(
                        "it holds a checkpoint of size {} that is not the log's: {why}",
                        cp.size
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The mirror file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The committed entries, nodes and checkpoints, for reading.
    pub fn store(&self) -> &SqliteStore {
        &self.db
    }

    /// Where the committed mirror ends. Never waits for a commit in progress: safe to call
    /// from async code.
    pub fn tip(&self) -> TipView {
        *self.view.lock().expect("mirror view")
    }

    /// Waits until `done` holds for the published view or `deadline` passes; returns the
    /// view then. `done` runs with the view's lock held, so a [`Mirror::wake`] after it
    /// returned `false` is never lost. Blocks: not for async code.
    pub fn wait_until(&self, deadline: Instant, mut done: impl FnMut(&TipView) -> bool) -> TipView {
        let mut view = self.view.lock().expect("mirror view");
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if done(&view) || left.is_zero() {
                return *view;
            }
            view = self
                .changed
                .wait_timeout(view, left)
                .expect("mirror view")
                .0;
        }
    }

    /// Wakes the waiters of [`Mirror::wait_until`] to look again at what they wait on
    /// (for something outside the mirror, such as the feed's health). Taking the lock
    /// first means a waiter is either already waiting or has not checked yet.
    pub fn wake(&self) {
        drop(self.view.lock().expect("mirror view"));
        self.changed.notify_all();
    }

    /// Number of committed entries (without waiting for a batch being committed).
    pub fn size(&self) -> Result<u64, StoreError> {
        self.db.size()
    }

    /// Refuses to go on if the cluster does not hold this mirror's log (`check_same_log`).
    pub fn check_cluster(&self, cluster: &ClusterView) -> Result<(), StoreError> {
        let ends = self.ends()?;
        let ours = ends.each_ref().map(Option::as_ref);
        check_same_log(&self.file, ours, self.tip().seen(), cluster)
    }

    /// Where the mirror's first and last entries are (stream, revision), for `check_cluster`.
    pub fn end_places(&self) -> Result<[Option<(String, u64)>; 2], StoreError> {
        Ok(self.ends()?.map(|e| e.map(|e| (e.stream, e.revision))))
    }

    fn ends(&self) -> Result<[Option<super::StoredEntry>; 2], StoreError> {
        let at = |i: u64| Ok::<_, StoreError>(self.db.read_all(i, 1)?.into_iter().next());
        Ok([at(0)?, at(self.db.size()?.saturating_sub(1))?])
    }

    /// Folds a batch of events (in `$all` order), then records that nothing of ours lies
    /// unseen before `then` (a filtered subscription's checkpoint, or the end of a scan), in
    /// one transaction. Events at or before the seen position are repeats (two feeders, or
    /// a resubscription) and are ignored, so feeding is idempotent. A batch with one bad
    /// event writes nothing.
    pub fn ingest(
        &self,
        events: &[SeenEvent<'_>],
        then: Option<AllPosition>,
    ) -> Result<(), StoreError> {
        let mut tip = self.state.lock().expect("mirror commit lock");
        let Some(b) = batch::build(&self.cfg, self.log_key.get(), &self.db, &tip, events, then)?
        else {
            return Ok(());
        };
        self.commit(&mut tip, b)?;
        // Published only now that the commit returned: no reader sees a size or a position
        // whose data is not committed yet.
        *self.view.lock().expect("mirror view") = tip.view();
        self.changed.notify_all();
        Ok(())
    }

    /// Records that nothing of ours lies unseen before `p`.
    pub fn advance(&self, p: AllPosition) -> Result<(), StoreError> {
        self.ingest(&[], Some(p))
    }

    fn commit(&self, tip: &mut Tip, b: Batch) -> Result<(), StoreError> {
        let seen = meta::encode_position(b.seen);
        let size = tip.size + b.group.entries.len() as u64;
        // A skipped checkpoint event still moves the count (a node publishing its own
        // checkpoint expects the next revision), so it is written with the position.
        let counted = b.checkpoint_events != tip.checkpoint_events;
        if b.group.entries.is_empty() && b.group.checkpoint.is_none() && !counted {
            // Only the position moves: one autocommitted write is atomic on its own.
            if tip.written.is_none_or(|t| t.elapsed() >= POSITION_EVERY) {
                self.db.set_meta(SEEN_KEY, &seen)?;
                tip.written = Some(Instant::now());
            }
        } else {
            let mut rows = vec![(SEEN_KEY, seen)];
            if counted {
                rows.push((
                    CHECKPOINT_EVENTS_KEY,
                    meta::encode_count(b.checkpoint_events),
                ));
            }
            let rows: Vec<(&str, &[u8])> = rows.iter().map(|(k, v)| (*k, v.as_slice())).collect();
            let nodes = b.group.nodes.clone();
            self.db.commit_with_meta(b.group, &rows)?;
            tip.frontier.advance(size, &nodes);
            tip.written = Some(Instant::now());
        }
        tip.size = size;
        tip.seen = Some(b.seen);
        tip.checkpoint_events = b.checkpoint_events;
        Ok(())
    }
}

/// Refuses a mirror built for another prefix; records the prefix in a new one.
fn check_prefix(db: &SqliteStore, file: &Path, prefix: &str, size: u64) -> Result<(), StoreError> {
    match db.meta(PREFIX_KEY)? {
        Some(p) if p == prefix.as_bytes() => Ok(()),
        Some(p) => Err(refuse(
            file,
            format!(
                "it was built for the stream prefix `{}`, but --store names `{prefix}`",
                String::from_utf8_lossy(&p)
            ),
        )),
        None if size == 0 => db.set_meta(PREFIX_KEY, prefix.as_bytes()),
        None => Err(refuse(
            file,
            "it holds entries but records no stream prefix (it is not an EventStoreDB mirror)",
        )),
    }
}

/// A file SQLite cannot open (damaged, or not a database) is named, with the way out.
fn refuse_open(file: &Path, e: StoreError) -> StoreError {
    StoreError::Unavailable(format!(
        "opening the EventStoreDB mirror {}: {e} (delete it to rebuild it from EventStoreDB)",
        file.display()
    ))
}

#[cfg(test)]
#[path = "esdb_mirror_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "esdb_mirror_disk_tests.rs"]
mod disk_tests;

#[cfg(test)]
#[path = "esdb_mirror_trust_tests.rs"]
mod trust_tests;
