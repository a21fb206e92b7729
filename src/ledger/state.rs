//! `LedgerState`: the deterministic fold over the log that the rules decide against and the
//! read side serves from. `apply` holds no business rule: it records what was accepted.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::cases::CaseBook;
use super::registry::{AgencyRecord, Registry};
use crate::domain::{AgencyId, EventPayload, KeyId, StreamId};

type PrincipalMap = HashMap<crate::domain::PrincipalId, super::registry::PrincipalRecord>;
type KeyMap = HashMap<KeyId, super::registry::KeyRecord>;
type TokenMap = HashMap<[u8; 32], super::registry::TokenRecord>;

/// Everything the log has established, as of `size` entries.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LedgerState {
    /// Entries folded so far (the next global index).
    pub size: u64,
    /// The newest `recorded_at`; the writer never records earlier than this.
    pub last_recorded_at: Option<DateTime<Utc>>,
    /// Number of entries per stream (the next revision).
    pub streams: HashMap<String, u64>,
    /// Where each event id landed, for idempotency.
    pub event_ids: HashMap<Uuid, u64>,
    pub registry: Registry,
    pub cases: CaseBook,
}

/// An accepted event as `apply` sees it.
pub struct Applied<'a> {
    pub index: u64,
    pub revision: u64,
    pub recorded_at: DateTime<Utc>,
    pub keyid: &'a KeyId,
    pub event: &'a EventPayload,
}

impl LedgerState {
    /// The next revision of `stream` (0 for a stream with no entries).
    pub fn next_revision(&self, stream: &str) -> u64 {
        self.streams.get(stream).copied().unwrap_or(0)
    }

    /// Folds one accepted entry.
    pub fn apply(&mut self, a: &Applied<'_>) {
        // Most entries extend a known stream: its name is not allocated again.
        let next = a.revision + 1;
        a.event
            .stream
            .with_name(|name| match self.streams.get_mut(name) {
                Some(n) => *n = next,
                None => {
                    self.streams.insert(name.to_owned(), next);
                }
            });
        self.event_ids.insert(a.event.event_id, a.index);
        self.size = a.index + 1;
        self.last_recorded_at = Some(a.recorded_at);
        match &a.event.stream {
            StreamId::Principal(id) => {
                self.registry
                    .apply(id.as_str(), &a.event.data, a.recorded_at, a.index)
            }
            StreamId::Agency(id) => {
                self.registry
                    .apply(id.as_str(), &a.event.data, a.recorded_at, a.index)
            }
            StreamId::Case(_) => self.cases.apply(a),
        }
    }
}

/// What `save` captured so a half-applied multi-event request can be rolled back.
pub struct Undo {
    size: u64,
    last_recorded_at: Option<DateTime<Utc>>,
    stream: String,
    stream_next: Option<u64>,
    saved: Saved,
}

/// The one part of the state a stream's events can change.
enum Saved {
    /// Principal events touch principals, keys and tokens (small maps), never agencies.
    Identity(Box<(PrincipalMap, KeyMap, TokenMap)>),
    Agency(AgencyId, Option<Box<AgencyRecord>>),
    Case(super::cases::SavedCase),
}

impl LedgerState {
    /// Captures the parts of the state that events on `stream` can change. Batches are
    /// single-stream, so this is all a failed batch must restore.
    pub fn save(&self, stream: &StreamId) -> Undo {
        let name = stream.to_string();
        Undo {
            size: self.size,
            last_recorded_at: self.last_recorded_at,
            stream_next: self.streams.get(&name).copied(),
            stream: name,
            saved: match stream {
                StreamId::Principal(_) => Saved::Identity(Box::new((
                    self.registry.principals.clone(),
                    self.registry.keys.clone(),
                    self.registry.tokens.clone(),
                ))),
                StreamId::Agency(id) => Saved::Agency(
                    id.clone(),
                    self.registry.agencies.get(id).cloned().map(Box::new),
                ),
                StreamId::Case(id) => Saved::Case(self.cases.save(id)),
            },
        }
    }

    /// Rolls back to `undo`, forgetting the event ids the failed request added.
    pub fn restore(&mut self, undo: Undo, added: impl Iterator<Item = Uuid>) {
        for id in added {
            self.event_ids.remove(&id);
        }
        self.size = undo.size;
        self.last_recorded_at = undo.last_recorded_at;
        match undo.stream_next {
            Some(n) => self.streams.insert(undo.stream, n),
            None => self.streams.remove(&undo.stream),
        };
        match undo.saved {
            Saved::Identity(saved) => {
                let (principals, keys, tokens) = *saved;
                self.registry.principals = principals;
                self.registry.keys = keys;
                self.registry.tokens = tokens;
            }
            Saved::Agency(id, Some(record)) => {
                self.registry.agencies.insert(id, *record);
            }
            Saved::Agency(id, None) => {
                self.registry.agencies.remove(&id);
            }
            Saved::Case(c) => self.cases.restore(c),
        }
    }
}
