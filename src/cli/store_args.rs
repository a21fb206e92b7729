//! `--store` (shared by `init` and `serve`): opening the backend, and the first `init` of a
//! shared EventStoreDB log.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::datadir::{self, InitOptions, InitReport};
use crate::ledger::Clock;
use crate::log::note::NoteVerifier;
use crate::store::esdb_mapping::is_esdb_url;
use crate::store::esdb_mirror::MIRROR_FILE;
use crate::store::redact::redact_url;
use crate::store::{open_backend, Backend};

/// `--store` and its connection timeout (shared by `init` and `serve`). `Debug` shows the
/// store URL without its password.
#[derive(clap::Args)]
pub struct StoreArgs {
    /// Storage backend: `sqlite` (the data directory's ledger.db) or
    /// `esdb://host:2113?tls=false[&prefix=caseledger-]` (EventStoreDB / KurrentDB).
    #[arg(long, env = "CASELEDGER_STORE", default_value = "sqlite")]
    pub store: String,
    /// Seconds to wait for EventStoreDB to answer at start-up before giving up.
    #[arg(long, env = "CASELEDGER_STORE_TIMEOUT", default_value_t = 30)]
    pub store_timeout: u64,
    /// EventStoreDB only: the node's local mirror of the log (a SQLite file; delete it to
    /// rebuild it from EventStoreDB). Default: esdb-mirror.db in the data directory. Each
    /// node needs its own.
    #[arg(long, env = "CASELEDGER_ESDB_MIRROR")]
    pub esdb_mirror: Option<PathBuf>,
}

impl std::fmt::Debug for StoreArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreArgs")
            .field("store", &redact_url(&self.store))
            .field("store_timeout", &self.store_timeout)
            .field("esdb_mirror", &self.esdb_mirror)
            .finish()
    }
}

/// A mirror file used only while `init` writes a shared log's genesis entries, removed
/// when dropped (with SQLite's side files).
struct Throwaway(PathBuf);

impl Drop for Throwaway {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

impl StoreArgs {
    /// Whether `--store` names a log shared with other nodes (EventStoreDB).
    pub fn is_shared(&self) -> bool {
        is_esdb_url(&self.store)
    }

    /// Opens the backend, or fails with a message naming it and its address. A shared
    /// store needs the log key of `data`: its mirror keeps only checkpoints signed with it,
    /// and a mirror built without it would hold none, for good.
    pub fn open(&self, data: &Path) -> anyhow::Result<Backend> {
        let log_key = read_log_key(data)?;
        if self.is_shared() && log_key.is_none() {
            anyhow::bail!(
                "the log on EventStoreDB at `{}` is checked with its log key, but {} holds no \
                 {}: copy {} and {} from the node that initialised this log (or run `init` \
                 with this --store on an empty cluster)",
                redact_url(&self.store),
                data.display(),
                datadir::LOG_KEY_FILE,
                datadir::LOG_KEY_FILE,
                datadir::SERVICE_KEY_FILE
            );
        }
        let mirror = self
            .esdb_mirror
            .clone()
            .unwrap_or_else(|| data.join(MIRROR_FILE));
        self.connect(&mirror, log_key.as_ref())
    }

    fn connect(&self, mirror: &Path, log_key: Option<&NoteVerifier>) -> anyhow::Result<Backend> {
        open_backend(
            &self.store,
            mirror,
            Duration::from_secs(self.store_timeout),
            log_key,
        )
        .with_context(|| format!("opening the store `{}`", redact_url(&self.store)))
    }

    /// `init` on a shared log: there is no log key to check the log with yet, so the store is
    /// read into a throwaway mirror (the node's own is built later, by a node that checks
    /// checkpoints); `init` refuses a store that already holds a ledger, and otherwise makes
    /// the store trust the key it creates before it writes the genesis entries.
    pub fn init_shared(
        &self,
        data: &Path,
        opts: &InitOptions,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<InitReport> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let file = std::env::temp_dir().join(format!(
            "caseledger-init-mirror-{}-{nanos}.db",
            std::process::id()
        ));
        let _throwaway = Throwaway(file.clone());
        let store = match self.connect(&file, None)? {
            Backend::Shared(store) => store,
            Backend::Sqlite => anyhow::bail!("`{}` is not a shared store", self.store),
        };
        Ok(datadir::init_on(data, opts, clock, Some(store))?)
    }
}

/// The log's verifier key, when the data directory holds `log.key`.
fn read_log_key(data: &Path) -> anyhow::Result<Option<NoteVerifier>> {
    match data.join(datadir::LOG_KEY_FILE).exists() {
        true => Ok(Some(datadir::read_signer(data)?.verifier())),
        false => Ok(None),
    }
}
