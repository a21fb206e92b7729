//! Projection snapshots of a data directory: the one written at start-up and shutdown, and
//! the periodic ones written while serving.

use std::path::Path;

use crate::ledger::{snapshot, Ledger, LedgerState};
use crate::store::EventStore;

/// Serialises snapshot writers (the periodic one and the one at shutdown share a file).
static SNAPSHOT_WRITE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Persists the ledger's folded state so the next start folds only newer entries. A failure
/// only costs start-up time, so it is logged, not returned.
pub fn save_snapshot(dir: &Path, ledger: &Ledger) {
    // Cloned under the read lock (the writer's next publish waits for it), written after.
    let state = ledger.state().clone();
    write_snapshot(dir, &state, ledger.store().as_ref());
}

fn write_snapshot(dir: &Path, state: &LedgerState, store: &dyn EventStore) {
    let _one_writer = SNAPSHOT_WRITE.lock().unwrap_or_else(|p| p.into_inner());
    let path = dir.join(snapshot::SNAPSHOT_FILE);
    match snapshot::save(&path, state, store) {
        Ok(()) => tracing::info!(size = state.size, "projection snapshot written"),
        Err(e) => tracing::warn!(error = %e, "cannot write the projection snapshot"),
    }
}

/// Writes projection snapshots while the server runs, so a crash (kill -9, power loss)
/// costs a restart at most `every` entries of folding, not the whole log since the last
/// clean start. Stops when dropped.
///
/// It keeps a projection of its own and folds new entries into it from the store, so the
/// serving path never waits for it (cloning the live state of a 1M-event log holds the read
/// lock, and with it every append, for most of a second). The price is a second copy of the
/// projections in memory and the CPU to fold each entry once more, off the request path.
pub struct Snapshotter {
    stop: Option<crossbeam_channel::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Snapshotter {
    /// Checks every `interval` whether `every` entries were appended since the last
    /// snapshot, and if so folds them and writes one. Call it before serving: it copies the
    /// ledger's state once.
    pub fn start(dir: &Path, ledger: Ledger, every: u64, interval: std::time::Duration) -> Self {
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        let dir = dir.to_owned();
        let mut state = ledger.state().clone();
        let store = ledger.store().clone();
        drop(ledger);
        let thread = std::thread::Builder::new()
            .name("snapshotter".into())
            .spawn(move || {
                while let Err(crossbeam_channel::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(interval)
                {
                    // Only what a checkpoint covers: start-up re-checks the entries past the
                    // latest checkpoint, and would have to start below a snapshot past it.
                    let covered = match store.latest_checkpoint() {
                        Ok(cp) => cp.map_or(0, |c| c.size),
                        Err(_) => continue,
                    };
                    if covered < state.size.saturating_add(every) {
                        continue;
                    }
                    let taken = std::mem::take(&mut state);
                    match crate::ledger::load_state_until(store.as_ref(), taken, covered) {
                        Ok(folded) => state = folded,
                        Err(e) => {
                            tracing::warn!(error = %e, "periodic snapshot: cannot fold the log");
                            // Start over from nothing at the next check (never from a state
                            // that may be half folded).
                            continue;
                        }
                    }
                    write_snapshot(&dir, &state, store.as_ref());
                }
            })
            .inspect_err(|e| tracing::warn!(error = %e, "no periodic projection snapshots"))
            .ok();
        Self {
            stop: Some(stop),
            thread,
        }
    }
}

impl Drop for Snapshotter {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
