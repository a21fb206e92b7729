//! The catch-up subscription to `$all` that feeds a node's mirror: server-side filtered on
//! our stream prefix, started from the position the mirror has seen (persisted, so a
//! restart resumes where it stopped), and resubscribed a second after any drop.
//!
//! Events are committed in batches: a pump task forwards everything the subscription yields
//! into a channel, and the feeder takes whatever has arrived (up to [`BATCH`]) as one
//! mirror commit. The pump is what makes this safe: the crate's `next_subscription_event`
//! is not cancel-safe (dropping it mid-wait drops the connection), so it is always awaited
//! to the end, never raced against a timer.

use std::sync::Arc;
use std::time::Duration;

use eventstore::{
    ResolvedEvent, StreamPosition, SubscribeToAllOptions, Subscription, SubscriptionEvent,
    SubscriptionFilter,
};
use tokio::sync::mpsc;

use super::esdb_client::Clients;
use super::esdb_feed::{self, from_pos, to_pos, unavailable, Shared};
use super::esdb_mapping::{checkpoint_position, AllPosition};
use super::StoreError;

/// Most subscription messages committed to the mirror as one batch.
pub const BATCH: usize = 512;

type Message = eventstore::Result<SubscriptionEvent>;

/// What the feeder does after a batch.
enum Next {
    Continue,
    Resubscribe,
    Stop,
}

/// Runs the subscription for the life of the runtime. Corrupt data stops it for good
/// (the store then reports itself corrupt); any other failure resubscribes.
pub async fn run(clients: Arc<Clients>, shared: Arc<Shared>) {
    loop {
        let (generation, client) = clients.get();
        let sub = client.subscribe_to_all(&options(&shared)).await;
        let (tx, rx) = mpsc::channel(BATCH);
        let pump = tokio::spawn(pump(sub, tx, (clients.clone(), generation)));
        let next = feed(rx, &shared).await;
        pump.abort();
        if matches!(next, Next::Stop) {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn options(shared: &Shared) -> SubscribeToAllOptions {
    let from = shared.mirror.tip().seen();
    let filter = SubscriptionFilter::on_stream_name()
        .add_prefix(&shared.cfg.prefix)
        .max(32);
    SubscribeToAllOptions::default()
        .position(from.map_or(StreamPosition::Start, |p| {
            StreamPosition::Position(from_pos(p))
        }))
        .filter(filter)
}

/// Forwards every subscription message until the feeder goes away or the subscription
/// fails; a failure that leaves the client unable to reach the cluster has it made anew
/// for the next subscription.
async fn pump(mut sub: Subscription, tx: mpsc::Sender<Message>, client: (Arc<Clients>, u64)) {
    loop {
        let msg = sub.next_subscription_event().await;
        if let Err(e) = &msg {
            client.0.after_error(client.1, e);
        }
        let failed = msg.is_err();
        if tx.send(msg).await.is_err() || failed {
            return;
        }
    }
}

/// Commits what arrives, batch by batch, until the subscription ends.
async fn feed(mut rx: mpsc::Receiver<Message>, shared: &Arc<Shared>) -> Next {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        match apply(shared, batch).await {
            Next::Continue => {}
            other => return other,
        }
    }
    // The pump ended without a failure reaching the feeder (a panic inside the crate's
    // subscription task): the node is not live until a new subscription catches up.
    tracing::warn!(
        address = shared.cfg.address(),
        "EventStoreDB subscription ended without an error; resubscribing"
    );
    let why = "the subscription ended without an error";
    shared.set_down(Some(unavailable(&shared.cfg, "subscription", why)));
    Next::Resubscribe
}

/// One batch of subscription messages, sorted.
#[derive(Default)]
struct Sorted {
    events: Vec<ResolvedEvent>,
    /// The furthest usable filter checkpoint: everything of ours up to it was delivered.
    then: Option<AllPosition>,
    /// Whether the subscription reported that it reached the head of `$all`.
    live: bool,
    failure: Option<eventstore::Error>,
}

/// Sorts a batch; checkpoints are capped at the newest position known to exist (`head`,
/// raised by the batch's own events) and the `u64::MAX` sentinel is dropped.
fn sort(batch: Vec<Message>, mut head: Option<AllPosition>) -> Sorted {
    let mut out = Sorted::default();
    for msg in batch {
        match msg {
            Ok(SubscriptionEvent::EventAppeared(ev)) => {
                if let Some(e) = ev.event.as_ref() {
                    head = head.max(Some(to_pos(e.position)));
                }
                out.events.push(ev);
            }
            Ok(SubscriptionEvent::Checkpoint(p)) => match checkpoint_position(to_pos(p), head) {
                Some(at) => out.then = out.then.max(Some(at)),
                None => tracing::debug!(
                    commit = p.commit,
                    prepare = p.prepare,
                    "ignoring a subscription checkpoint at the u64::MAX sentinel"
                ),
            },
            // Only reaching the head counts: `Confirmed` arrives before the replay of
            // everything missed since the drop, when the mirror is still behind.
            Ok(SubscriptionEvent::CaughtUp) => out.live = true,
            Ok(_) => {}
            Err(e) => out.failure = Some(e),
        }
    }
    out
}

/// Commits one batch's events and filter checkpoints, then applies its health news.
async fn apply(shared: &Arc<Shared>, batch: Vec<Message>) -> Next {
    let Sorted {
        events,
        then,
        live,
        failure,
    } = sort(batch, shared.head());
    let committed = esdb_feed::commit(shared.clone(), events, then).await;
    match (committed, failure) {
        (Err(e @ StoreError::Corrupt(_)), _) => {
            tracing::error!(
                error = %e,
                mirror = %shared.mirror.file().display(),
                "EventStoreDB data, or this node's mirror of it, does not hold together; if \
                 the mirror file is damaged, stop the node, delete it with its -wal and -shm \
                 files and start again to rebuild it from EventStoreDB"
            );
            shared.set_down(Some(e));
            Next::Stop
        }
        (Err(e), _) => {
            tracing::warn!(error = %e, "cannot commit to the EventStoreDB mirror; resubscribing");
            shared.set_down(Some(e));
            Next::Resubscribe
        }
        (Ok(()), Some(e)) => {
            tracing::warn!(error = %e, address = shared.cfg.address(), "EventStoreDB subscription dropped; resubscribing");
            shared.set_down(Some(unavailable(&shared.cfg, "subscription", e)));
            Next::Resubscribe
        }
        (Ok(()), None) => {
            if live {
                shared.set_down(None);
            }
            Next::Continue
        }
    }
}

#[cfg(test)]
mod tests {
    use eventstore::Position;

    use super::*;

    fn checkpoint(commit: u64, prepare: u64) -> Message {
        Ok(SubscriptionEvent::Checkpoint(Position { commit, prepare }))
    }

    fn at(n: u64) -> AllPosition {
        AllPosition {
            commit: n,
            prepare: n,
        }
    }

    #[test]
    fn a_subscription_that_ends_without_an_error_leaves_the_node_down() {
        let (_dir, shared) = crate::store::esdb_feed::tests::shared();
        shared.set_down(None);
        let (tx, rx) = mpsc::channel::<Message>(1);
        drop(tx);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        assert!(matches!(
            runtime.block_on(feed(rx, &shared)),
            Next::Resubscribe
        ));
        let why = shared.down().expect("down").to_string();
        assert!(why.contains("ended without an error"), "{why}");
    }

    #[test]
    fn only_caught_up_makes_the_node_live_again() {
        let confirmed = Ok(SubscriptionEvent::Confirmed("sub-1".into()));
        assert!(!sort(vec![confirmed], None).live);
        assert!(!sort(vec![Ok(SubscriptionEvent::FellBehind)], None).live);
        assert!(sort(vec![Ok(SubscriptionEvent::CaughtUp)], None).live);
    }

    #[test]
    fn the_u64_max_checkpoint_sentinel_is_ignored() {
        let sorted = sort(vec![checkpoint(u64::MAX, u64::MAX)], Some(at(500)));
        assert_eq!(sorted.then, None);
        let sorted = sort(
            vec![checkpoint(300, 300), checkpoint(u64::MAX, u64::MAX)],
            None,
        );
        assert_eq!(sorted.then, Some(at(300)));
    }

    #[test]
    fn a_checkpoint_past_the_known_head_is_capped_at_it() {
        let sorted = sort(vec![checkpoint(900, 900)], Some(at(500)));
        assert_eq!(sorted.then, Some(at(500)));
        let sorted = sort(vec![checkpoint(400, 400)], Some(at(500)));
        assert_eq!(sorted.then, Some(at(400)));
    }
}
