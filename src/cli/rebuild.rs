//! `caseledger rebuild`: folds the whole log again from entry 0 (with progress), with the
//! start-up checks and a check of every stored Merkle node, then replaces the projection
//! snapshot and says whether the rebuilt state equals the one the previous snapshot held
//! (one that disagrees is kept aside). A log the checks refuse leaves the snapshot as it was.

use std::io::Write;

use anyhow::Context;
use std::time::Instant;

use crate::datadir;
use crate::ledger::snapshot::SnapshotError;
use crate::ledger::{self, snapshot, Ledger};

/// Arguments of `rebuild`.
#[derive(Debug, clap::Args)]
pub struct RebuildArgs {
    #[command(flatten)]
    pub data: super::DataArg,
}

/// `caseledger rebuild`.
pub fn rebuild(args: RebuildArgs) -> anyhow::Result<()> {
    let dir = &args.data.data;
    if !datadir::is_initialised(dir) {
        anyhow::bail!("{} holds no ledger", dir.display());
    }
    // A running server writes the snapshot too, and would keep its own state: stop it first.
    let _lock = datadir::lock_writer(dir)?;
    snapshot::remove_leftovers(dir);
    let store = datadir::open_sqlite(dir)?;
    let signer = datadir::read_signer(dir)?;
    let path = dir.join(snapshot::SNAPSHOT_FILE);
    // A snapshot that does not match this log (it covers more entries than the log holds,
    // or another entry at its end) says the log was rolled back or rewritten since: worth
    // an exit code, not only a line. One that cannot be read is only noted.
    let (previous, mismatch) = match snapshot::load(&path, store.as_ref()) {
        Ok(previous) => (previous, None),
        Err(SnapshotError::Mismatch(why)) => {
            // Kept as evidence, beside any kept before.
            let aside = snapshot::set_aside(&path)
                .with_context(|| format!("moving {} aside", path.display()))?;
            eprintln!(
                "the snapshot does not match this log ({why}); moved to {}",
                aside.display()
            );
            (None, Some(why))
        }
        Err(e) => {
            eprintln!("the snapshot could not be used ({e}); it is discarded");
            (None, None)
        }
    };
    let started = Instant::now();
    let progress = |done: u64, total: u64| {
        eprint!("\rfolded {done}/{total} entries");
        let _ = std::io::stderr().flush();
    };
    // The checks a server makes at start-up: a log it would refuse is not rebuilt from.
    let state = Ledger::check_log(store.as_ref(), &signer, &progress)?;
    eprintln!();
    // Start-up reads only the Merkle nodes on the tree's right edge; here every one.
    ledger::check_every_node(store.as_ref(), state.size, &|done, total| {
        eprint!("\rchecked the Merkle nodes of {done}/{total} entries");
        let _ = std::io::stderr().flush();
    })?;
    eprintln!();
    let took = started.elapsed();
    let same = match previous {
        Some(prev) if prev.size == state.size => Some(prev == state),
        // Catching the snapshot up may fail on its own state (a revision it got wrong): that
        // is a disagreement too, and must not stop the rebuild from replacing it.
        Some(prev) => Some(
            match ledger::load_state_from(store.as_ref(), prev, &|_, _| {}) {
                Ok(caught_up) => caught_up == state,
                Err(e) => {
                    eprintln!("the snapshot cannot be caught up with the log: {e}");
                    false
                }
            },
        ),
        None => None,
    };
    if same == Some(false) {
        // A snapshot that matched the log but folds to another state: kept for whoever
        // looks into it (a tampered snapshot, or a fold that changed).
        let aside = snapshot::set_aside(&path)
            .with_context(|| format!("moving {} aside", path.display()))?;
        eprintln!("the disagreeing snapshot is kept as {}", aside.display());
    }
    snapshot::save(&path, &state, store.as_ref())?;
    println!(
        "rebuilt projections from {} entries in {:.2} s: {} cases, {} principals, {} agencies",
        state.size,
        took.as_secs_f64(),
        state.cases.len(),
        state.registry.principals.len(),
        state.registry.agencies.len()
    );
    if let Some(same) = same {
        println!(
            "rebuilt state {} the discarded snapshot (caught up to the log)",
            if same { "equals" } else { "DIFFERS FROM" }
        );
        if !same {
            anyhow::bail!("the discarded snapshot disagreed with the log");
        }
    }
    if let Some(why) = mismatch {
        anyhow::bail!("the discarded snapshot did not match this log: {why}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn rebuild_is_refused_beside_a_running_ledger() {
        let dir = tempfile::tempdir().expect("tmp");
        let clock = std::sync::Arc::new(crate::ledger::SystemClock);
        datadir::init(dir.path(), &datadir::InitOptions::default(), clock.clone()).expect("init");
        let args = || RebuildArgs {
            data: super::super::DataArg {
                data: dir.path().to_owned(),
            },
        };
        let (ledger, _) = datadir::open(dir.path(), clock).expect("open");
        let refused = rebuild(args()).expect_err("refused while the ledger runs");
        assert!(format!("{refused:#}").contains("in use"), "{refused:#}");
        drop(ledger);
        rebuild(args()).expect("rebuilt once the ledger stopped");
    }
}
