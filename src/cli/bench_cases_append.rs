//! The reference for `bench-cases`' rule overhead: the per-event cost of the writer's append
//! path (decide, entry bytes, Merkle nodes, signed checkpoint, one SQLite commit per group).

use std::sync::Arc;
use std::time::Instant;

use chrono::{Duration, Utc};
use ed25519_dalek::SigningKey;
use rand_core::OsRng;

use super::bench_cases::{case_events, registry, Raw};
use crate::client;
use crate::domain::{CaseId, PrincipalId};
use crate::envelope::KeyFile;
use crate::ledger::entry::format_time;
use crate::ledger::{ExpectedRevision, Ledger, SystemClock, Verified};
use crate::log::note::NoteSigner;
use crate::metrics::Metrics;
use crate::store::sqlite::SqliteStore;

const CASES: usize = 1000;
const THREADS: usize = 4;

fn verified(keys: &[KeyFile], raw: Raw) -> anyhow::Result<Verified> {
    let (k, stream, kind, data) = raw;
    let wire = client::signed_event(&keys[k], kind, &stream, data, Utc::now());
    client::self_verified(&keys[k], &wire).map_err(anyhow::Error::msg)
}

/// Microseconds per appended event.
pub fn measure() -> anyhow::Result<f64> {
    let dir = std::env::temp_dir().join(format!("caseledger-append-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    let store = Arc::new(SqliteStore::open(&dir.join("bench.db"))?);
    let signer = NoteSigner::from_signing_key("bench.local/log", SigningKey::generate(&mut OsRng))?;
    let ledger = Ledger::open(
        store,
        signer,
        Arc::new(SystemClock),
        Arc::new(Metrics::new()),
    )?;
    let keys: Vec<KeyFile> = ["admin", "cw-owner", "cw-legal", "cw-clinic"]
        .iter()
        .map(|p| PrincipalId::parse(p).map(KeyFile::generate))
        .collect::<Result<_, _>>()?;
    for raw in registry(&keys) {
        let stream = raw.1.clone();
        ledger.submit_blocking(stream, vec![verified(&keys, raw)?], ExpectedRevision::Any)?;
    }
    let until = format_time(&(Utc::now() + Duration::days(365)));
    let mut batches = Vec::with_capacity(CASES);
    for _ in 0..CASES {
        let stream = format!("case-{}", CaseId::random());
        let events = case_events(&stream, &until, 0, "cw-owner")
            .into_iter()
            .map(|r| verified(&keys, r))
            .collect::<anyhow::Result<Vec<_>>>()?;
        batches.push((stream, events));
    }
    let events: usize = batches.iter().map(|b| b.1.len()).sum();
    let started = Instant::now();
    std::thread::scope(|s| -> anyhow::Result<()> {
        let per = batches.len().div_ceil(THREADS);
        let handles: Vec<_> = batches
            .chunks(per)
            .map(|part| {
                let ledger = ledger.clone();
                s.spawn(move || -> anyhow::Result<()> {
                    for (stream, events) in part {
                        ledger.submit_blocking(
                            stream.clone(),
                            events.clone(),
                            ExpectedRevision::NoStream,
                        )?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("append thread panicked"))??;
        }
        Ok(())
    })?;
    let us = started.elapsed().as_secs_f64() * 1e6 / events as f64;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(us)
}
