//! What `sync` or a commit waits for the mirror to hold, and whether it holds it.
//!
//! A scan may only claim positions it read, so a target must be something a forward read of
//! `$all` returns: the position of an event the leader returned (the head `sync` read), or
//! our own appended events named by id. Never the position EventStoreDB reports for an
//! append (see [`Target::appended`] for why).

use uuid::Uuid;

use super::esdb_mapping::{stream_runs, AllPosition};
use super::esdb_mirror::{Mirror, TipView};
use super::{EventStore, StoreError, StoredEntry};

/// What the mirror must hold before a wait (or a scan) is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Everything in `$all` up to the event at this position: the newest event the leader
    /// returned when asked for the head of `$all`.
    Position(AllPosition),
    /// Entry events we appended, by event id.
    Entries(Vec<Uuid>),
    /// Revision `n` of the checkpoint stream (a checkpoint we appended there).
    Checkpoint(u64),
}

impl Target {
    /// The events a commit of `entries` waits for: the last event of each append (one
    /// append per run of one stream). Within an append the last event has the highest
    /// position, and the mirror folds `$all` in order, so holding it means holding the run.
    ///
    /// Why ids and not the position `append_to_stream` returns: the crate passes on the
    /// server's `AppendResp` position as is. EventStoreDB (20.6 and later) fills it from
    /// the commit acknowledgement of the append's last prepare record, as commit *and*
    /// prepare position (its source calls this "not technically correct"); that is today
    /// the last event's own `$all` position. But an idempotent repeat whose events are not
    /// readable yet, or an empty append, answers `NoPosition`, which the crate turns into
    /// position 0 (a wait for it is over at once, our events unseen), and nothing in the
    /// protocol promises an event's position. Event ids need no such promise.
    pub fn appended(entries: &[StoredEntry]) -> Self {
        Target::Entries(
            stream_runs(entries)
                .iter()
                .filter_map(|run| run.last())
                .map(|e| e.event_id)
                .collect(),
        )
    }

    /// Whether the mirror holds the target, given its published `view` (read before).
    /// `Entries` looks the ids up in the mirror file: a short blocking read, so not for
    /// the client's runtime threads.
    pub fn held(&self, mirror: &Mirror, view: &TipView) -> Result<bool, StoreError> {
        match self {
            Target::Position(p) => Ok(view.has_seen(*p)),
            Target::Checkpoint(n) => Ok(view.checkpoint_events() > *n),
            Target::Entries(ids) => {
                for id in ids {
                    if mirror.store().find_event(id)?.is_none() {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
        }
    }

    /// The target as an error message names it.
    pub fn describe(&self) -> String {
        match self {
            Target::Position(p) => format!(
                "the event at {}/{} (the head of $all the leader reported)",
                p.commit, p.prepare
            ),
            Target::Entries(ids) => match ids.as_slice() {
                [one] => format!("our appended event {one}"),
                [.., last] => format!("our {} appends (the last event {last})", ids.len()),
                [] => "nothing".to_owned(),
            },
            Target::Checkpoint(n) => format!("our checkpoint event (revision {n})"),
        }
    }
}

/// Whether each entry landed at the index the writer gave it, as the mirror reads the log:
/// `false` when another node's entries came first. An event found at its index with other
/// bytes is a `Conflict`: EventStoreDB takes an append of an event id it already holds at
/// that revision as an idempotent repeat without comparing data, so when an earlier append
/// of the same event (refused on a timeout, committed later) sits there, the writer must
/// catch up and answer the request as a repeat of what the log holds, not with its own
/// bytes and receipt.
pub(super) fn landed(
    entries: &[StoredEntry],
    find: impl Fn(&Uuid) -> Result<Option<StoredEntry>, StoreError>,
) -> Result<bool, StoreError> {
    let mut placed = true;
    for e in entries {
        match find(&e.event_id)? {
            // Entry bytes hold no index: another node's entries coming first move ours
            // without changing them. Other bytes can only be an earlier append of the same
            // event, wherever it landed.
            Some(found) if found.leaf_hash != e.leaf_hash => {
                return Err(StoreError::Conflict(format!(
                    "event {} is in the log at index {} with other bytes (an earlier append \
                     of it landed late)",
                    e.event_id, found.index
                )))
            }
            found => placed &= found.is_some_and(|s| s.index == e.index),
        }
    }
    Ok(placed)
}

#[cfg(test)]
mod tests {
    use super::super::esdb_feed::tests::{at, shared};
    use super::super::esdb_mapping::checkpoint_data;
    use super::super::esdb_mapping::tests::entry;
    use super::super::esdb_mirror::SeenEvent;
    use super::super::StoredCheckpoint;
    use super::*;

    #[test]
    fn a_commit_waits_for_the_last_event_of_each_append() {
        let (a0, a1, b0) = (entry("a", 0, 5), entry("a", 1, 6), entry("b", 0, 7));
        let group = [a0, a1.clone(), b0.clone()];
        assert_eq!(
            Target::appended(&group),
            Target::Entries(vec![a1.event_id, b0.event_id])
        );
        assert_eq!(Target::appended(&[]), Target::Entries(vec![]));
    }

    #[test]
    fn entries_are_held_only_once_in_the_mirror_whatever_position_it_has_seen() {
        let (_dir, s) = shared();
        let a0 = entry("a", 0, 0);
        let target = Target::appended(std::slice::from_ref(&a0));
        // A position past the append (as a reported one could be) proves nothing.
        s.mirror.advance(at(20)).expect("advance");
        assert!(!target.held(&s.mirror, &s.mirror.tip()).expect("held"));
        assert!(Target::Position(at(20))
            .held(&s.mirror, &s.mirror.tip())
            .expect("held"));
        let stream = s.cfg.stream_name(&a0.stream);
        let ev = SeenEvent {
            position: at(21),
            stream: &stream,
            revision: 0,
            event_id: a0.event_id,
            data: &a0.bytes,
        };
        s.mirror.ingest(&[ev], None).expect("ingest");
        assert!(target.held(&s.mirror, &s.mirror.tip()).expect("held"));
    }

    #[test]
    fn a_checkpoint_is_held_once_its_revision_is_seen() {
        let (_dir, s) = shared();
        let target = Target::Checkpoint(0);
        assert!(!target.held(&s.mirror, &s.mirror.tip()).expect("held"));
        let data = checkpoint_data(&StoredCheckpoint {
            size: 0,
            note: "n".into(),
        });
        let stream = s.cfg.checkpoint_stream();
        let ev = SeenEvent {
            position: at(1),
            stream: &stream,
            revision: 0,
            event_id: Uuid::new_v4(),
            data: &data,
        };
        s.mirror.ingest(&[ev], None).expect("ingest");
        assert!(target.held(&s.mirror, &s.mirror.tip()).expect("held"));
        assert!(!Target::Checkpoint(1)
            .held(&s.mirror, &s.mirror.tip())
            .expect("held"));
    }

    fn stored(index: u64, leaf: u8) -> StoredEntry {
        StoredEntry {
            index,
            stream: "agency-a".into(),
            revision: index,
            event_id: Uuid::from_u128(u128::from(index) + 1),
            recorded_at: "2026-12-06T00:00:00.000000Z".into(),
            leaf_hash: [leaf; 32],
            bytes: vec![],
        }
    }

    #[test]
    fn an_event_the_log_holds_with_other_bytes_is_a_conflict_not_a_success() {
        let ours = vec![stored(4, 1), stored(5, 1)];
        let log = |held: Vec<StoredEntry>| {
            move |id: &Uuid| Ok(held.iter().find(|e| e.event_id == *id).cloned())
        };
        assert!(landed(&ours, log(ours.clone())).expect("placed"));
        // Another node's entry came first: ours sit one further on.
        let shifted: Vec<_> = ours
            .iter()
            .map(|e| StoredEntry {
                index: e.index + 1,
                ..e.clone()
            })
            .collect();
        assert!(!landed(&ours, log(shifted)).expect("not placed"));
        // An earlier append of the second event landed late at the same index: other bytes.
        let late = vec![stored(4, 1), stored(5, 2)];
        assert!(matches!(
            landed(&ours, log(late)),
            Err(StoreError::Conflict(_))
        ));
        // ...or ahead of an entry of the group, at another index.
        let ahead = vec![
            StoredEntry {
                index: 4,
                ..stored(5, 2)
            },
            StoredEntry {
                index: 5,
                ..stored(4, 1)
            },
        ];
        assert!(matches!(
            landed(&ours, log(ahead)),
            Err(StoreError::Conflict(_))
        ));
    }
}
