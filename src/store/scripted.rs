//! Test support: a store that fails as scripted (a full disk, another node appending first,
//! a backend that stops answering for a while); everything else, and the calls that do not
//! fail, are the real store's.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use uuid::Uuid;

use super::{CommitGroup, EventStore, StoreError, StoredCheckpoint, StoredEntry};
use crate::log::merkle::Hash;

/// How call number `n` (from 0) fails, if it does.
pub type Script = fn(usize) -> Option<StoreError>;

/// A store whose commits and log reads fail as scripted.
pub struct Scripted {
    inner: Arc<dyn EventStore>,
    commits: AtomicUsize,
    fails: Script,
    reads: AtomicUsize,
    /// How `read_all` call number `n` fails, if it does.
    pub read_fails: Script,
    /// The append limit it reports, as EventStoreDB reports its `MaxAppendSize`.
    pub limit: Option<usize>,
    /// The request ends of every commit handed over, failed or not.
    pub request_ends: Mutex<Vec<Vec<usize>>>,
    /// Shared (as EventStoreDB is) and failing to publish checkpoints: each commit stores
    /// its entries and drops the checkpoint, as when publishing it failed after them.
    pub drops_checkpoints: bool,
    /// Checkpoints a shared checkpoint stream holds that verify under no key of this node's:
    /// when set, none of the inner store's checkpoints is returned, as a mirror keeps none.
    pub foreign_checkpoints: u64,
    /// The commit (counted from 0) whose entries are stored before its scripted failure is
    /// returned: EventStoreDB writes one stream's run, then another stream conflicts.
    pub writes_then_fails: Option<usize>,
    /// Checkpoints still to drop before they are published again (see
    /// `drops_checkpoints`); a store that counts them is shared.
    pub drops_next_checkpoints: AtomicUsize,
    /// Whether the store says other nodes append to it too.
    pub shared: bool,
    /// `size` fails, as EventStoreDB's does while its subscription is down.
    pub size_fails: bool,
    /// When set, `size` is the size as of the last `sync`: a view fed by a subscription
    /// that has stopped delivering.
    pub view: Option<Mutex<u64>>,
    /// `sync` fails while `size` answers: a leader that cannot be reached.
    pub sync_fails: bool,
}

impl Scripted {
    /// Commits fail as `fails` says; reads do not fail.
    pub fn new(inner: Arc<dyn EventStore>, fails: Script) -> Self {
        Self {
            inner,
            commits: AtomicUsize::new(0),
            fails,
            reads: AtomicUsize::new(0),
            read_fails: |_| None,
            limit: None,
            request_ends: Mutex::default(),
            drops_checkpoints: false,
            foreign_checkpoints: 0,
            writes_then_fails: None,
            drops_next_checkpoints: AtomicUsize::new(0),
            shared: false,
            size_fails: false,
            view: None,
            sync_fails: false,
        }
    }

    /// `read_all` calls so far.
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::Relaxed)
    }
}

impl EventStore for Scripted {
    fn commit(&self, mut group: CommitGroup) -> Result<(), StoreError> {
        let n = self.commits.fetch_add(1, Ordering::Relaxed);
        let drop_next = group.checkpoint.is_some()
            && self
                .drops_next_checkpoints
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok();
        if self.drops_checkpoints || drop_next {
            group.checkpoint = None;
        }
        let ends = group.request_ends.clone();
        self.request_ends.lock().expect("ends").push(ends);
        match (self.fails)(n) {
            Some(e) if self.writes_then_fails == Some(n) => {
                group.checkpoint = None;
                self.inner.commit(group)?;
                Err(e)
            }
            Some(e) => Err(e),
            None => self.inner.commit(group),
        }
    }
    fn size(&self) -> Result<u64, StoreError> {
        match (self.size_fails, &self.view) {
            (true, _) => Err(StoreError::Unavailable("the subscription is down".into())),
            (false, Some(view)) => Ok(*view.lock().expect("view")),
            (false, None) => self.inner.size(),
        }
    }
    fn sync(&self) -> Result<u64, StoreError> {
        if self.size_fails || self.sync_fails {
            return Err(StoreError::Unavailable("the leader does not answer".into()));
        }
        let size = self.inner.sync()?;
        if let Some(view) = &self.view {
            *view.lock().expect("view") = size;
        }
        Ok(size)
    }
    fn is_shared(&self) -> bool {
        self.shared
            || self.drops_checkpoints
            || self.foreign_checkpoints > 0
            || self.drops_next_checkpoints.load(Ordering::Relaxed) > 0
            || self.inner.is_shared()
    }
    fn published_checkpoints(&self) -> u64 {
        self.foreign_checkpoints + self.inner.published_checkpoints()
    }
    fn append_limit(&self) -> Option<usize> {
        self.limit
    }
    fn read_all(&self, from: u64, limit: usize) -> Result<Vec<StoredEntry>, StoreError> {
        match (self.read_fails)(self.reads.fetch_add(1, Ordering::Relaxed)) {
            Some(e) => Err(e),
            None => self.inner.read_all(from, limit),
        }
    }
    fn read_stream(
        &self,
        stream: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        self.inner.read_stream(stream, from, limit)
    }
    fn find_event(&self, event_id: &Uuid) -> Result<Option<StoredEntry>, StoreError> {
        self.inner.find_event(event_id)
    }
    fn node(&self, level: u8, index: u64) -> Result<Option<Hash>, StoreError> {
        self.inner.node(level, index)
    }
    fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        match self.foreign_checkpoints {
            0 => self.inner.latest_checkpoint(),
            _ => Ok(None),
        }
    }
    fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        match self.foreign_checkpoints {
            0 => self.inner.checkpoints(),
            _ => Ok(Vec::new()),
        }
    }
    fn wait_for_growth(&self, size: u64, timeout: Duration) -> Result<u64, StoreError> {
        self.inner.wait_for_growth(size, timeout)
    }
}
