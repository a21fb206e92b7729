//! The `eventstore` crate's client, made anew when the one in use can no longer reach the
//! cluster. In eventstore 4.0.0 the client's connection task ends for good when a
//! connection attempt fails (its node is gone and discovery ran out of attempts): every
//! later call returns `ConnectionClosed`. And after a server error it asks for a node again
//! but, given none, keeps the one it had: a dead leader stays selected. A fresh client
//! discovers the cluster from its seeds again, so a node outlives a failover or a cluster
//! that started after it.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use eventstore::{Client, ClientSettings};

/// How long a client must have been in use before a server error has it made anew. A
/// client given up after a server error leaves its connection task parked for good (the
/// task holds a sender to itself), so renewals for server errors are spaced out: an
/// election parks a task or two. A lost connection has ended the task: always renewed.
const RENEW_AFTER_SERVER_ERROR: Duration = Duration::from_secs(5);

/// The client in use and how it is made again.
pub struct Clients {
    settings: ClientSettings,
    runtime: tokio::runtime::Handle,
    /// The client in use, its generation (how many times it was made anew) and when it was
    /// made.
    current: Mutex<(u64, Client, Instant)>,
}

impl Clients {
    /// A client for `settings` on `runtime` (it connects lazily, on the first call).
    pub fn new(
        runtime: tokio::runtime::Handle,
        settings: ClientSettings,
    ) -> eventstore::Result<Self> {
        let client = Client::with_runtime_handle(runtime.clone(), settings.clone())?;
        Ok(Self {
            settings,
            runtime,
            current: Mutex::new((0, client, Instant::now())),
        })
    }

    /// The client in use, with its generation.
    pub fn get(&self) -> (u64, Client) {
        let current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        (current.0, current.1.clone())
    }

    /// Runs `f` on the client in use; an error that the client cannot get over by itself
    /// has it made anew for the next call.
    pub async fn call<T, F, Fut>(&self, f: F) -> eventstore::Result<T>
    where
        F: FnOnce(Client) -> Fut,
        Fut: Future<Output = eventstore::Result<T>>,
    {
        let (generation, client) = self.get();
        let out = f(client).await;
        if let Err(e) = &out {
            self.after_error(generation, e);
        }
        out
    }

    /// After `e` from the client of `generation`: makes a new one if `e` says the client
    /// will not reach the cluster again by itself, unless another caller already did (or,
    /// for a server error, the client is younger than [`RENEW_AFTER_SERVER_ERROR`]).
    pub fn after_error(&self, generation: u64, e: &eventstore::Error) {
        if !needs_new_client(e) {
            return;
        }
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let young = current.2.elapsed() < RENEW_AFTER_SERVER_ERROR;
        if current.0 != generation || (young && matches!(e, eventstore::Error::ServerError(_))) {
            return;
        }
        match Client::with_runtime_handle(self.runtime.clone(), self.settings.clone()) {
            Ok(client) => {
                tracing::warn!(error = %e, "EventStoreDB client made anew to discover the cluster again");
                *current = (generation + 1, client, Instant::now());
            }
            Err(made) => tracing::error!(error = %made, "cannot make a new EventStoreDB client"),
        }
    }
}

/// Whether an error leaves the client unable to reach the cluster by itself: its
/// connection task ended (`ConnectionClosed`), a connection attempt failed, or the node it
/// keeps answered with a server error (the crate would not select another).
pub fn needs_new_client(e: &eventstore::Error) -> bool {
    matches!(
        e,
        eventstore::Error::ConnectionClosed
            | eventstore::Error::GrpcConnectionError(_)
            | eventstore::Error::ServerError(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clients() -> (tokio::runtime::Runtime, Clients) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let settings = "esdb://127.0.0.1:1?tls=false"
            .parse::<ClientSettings>()
            .expect("settings");
        let clients = Clients::new(rt.handle().clone(), settings).expect("client");
        (rt, clients)
    }

    #[test]
    fn a_client_that_cannot_reach_the_cluster_by_itself_is_made_anew_once() {
        let (rt, clients) = clients();
        let (first, _) = clients.get();
        // Refusals a live client gets over by itself leave it in place.
        for e in [
            eventstore::Error::WrongExpectedVersion {
                expected: eventstore::ExpectedRevision::Any,
                current: eventstore::CurrentRevision::NoStream,
            },
            eventstore::Error::ResourceNotFound,
        ] {
            assert!(!needs_new_client(&e));
            let out: eventstore::Result<()> = rt.block_on(clients.call(|_| async { Err(e) }));
            assert!(out.is_err());
            assert_eq!(clients.get().0, first);
        }
        let closed = || async { Err::<(), _>(eventstore::Error::ConnectionClosed) };
        let _ = rt.block_on(clients.call(|_| closed()));
        assert_eq!(clients.get().0, first + 1);
        // A second caller that failed on the old client does not replace the new one.
        clients.after_error(first, &eventstore::Error::ConnectionClosed);
        assert_eq!(clients.get().0, first + 1);
        // A server error renews only a client in use for a while (each renewal after one
        // leaves the old client's connection task parked).
        let not_ready = eventstore::Error::ServerError("not ready".into());
        clients.after_error(first + 1, &not_ready);
        assert_eq!(clients.get().0, first + 1, "a young client is kept");
        clients.current.lock().expect("current").2 -= RENEW_AFTER_SERVER_ERROR;
        clients.after_error(first + 1, &not_ready);
        assert_eq!(clients.get().0, first + 2);
    }
}
