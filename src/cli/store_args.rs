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
    /// node needs its own. (`init` uses a throwaway mirror of its own instead.)
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

/// The mirror file `init` writes a shared log's genesis entries through, inside the data
/// directory (owner-only, like the node's own mirror).
const INIT_MIRROR: &str = ".esdb-init-mirror.db";

/// A mirror file used only while `init` runs, under the data directory's writer lock;
/// removed when dropped (with SQLite's side files) before the lock is released (fields drop
/// after `drop`), and the directories `init` created too, if nothing else is left in them.
struct Throwaway {
    file: PathBuf,
    /// The directories `init` created, innermost first.
    created: Vec<PathBuf>,
    /// The writer lock, held as long as the mirror file exists.
    _held: datadir::WriterLock,
}

impl Throwaway {
    /// Removes the mirror file and SQLite's side files.
    fn remove_file(file: &Path) -> std::io::Result<()> {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut path = file.to_owned().into_os_string();
            path.push(suffix);
            match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        let _ = Self::remove_file(&self.file);
        remove_created(&self.created);
    }
}

/// Removes the directories `init` created (innermost first) while they hold nothing but the
/// writer lock file: once `init` has written the keys, nothing is removed.
fn remove_created(created: &[PathBuf]) {
    let Some(data) = created.first() else {
        return;
    };
    let only_lock = std::fs::read_dir(data).is_ok_and(|entries| {
        entries
            .filter_map(Result::ok)
            .all(|e| e.file_name() == datadir::LOCK_FILE)
    });
    if !only_lock {
        return;
    }
    let _ = std::fs::remove_file(data.join(datadir::LOCK_FILE));
    for dir in created {
        if std::fs::remove_dir(dir).is_err() {
            break;
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
        let log_key = match self.is_shared() {
            true => read_log_key(data)?,
            false => None,
        };
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
    /// read into a throwaway mirror in the data directory (the node's own is built later, by
    /// `serve`, which checks checkpoints). The data directory and the options are checked
    /// first; `init` then refuses a store that already holds a ledger, and otherwise makes the
    /// store trust the key it creates before it writes the genesis entries.
    pub fn init_shared(
        &self,
        data: &Path,
        opts: &InitOptions,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<InitReport> {
        datadir::check_init(data, opts)?;
        let created: Vec<PathBuf> = data
            .ancestors()
            .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
            .map(Path::to_owned)
            .collect();
        if created.is_empty() {
            // An existing directory is secured by `init` itself, once its checks have passed.
            std::fs::create_dir_all(data)
                .with_context(|| format!("creating {}", data.display()))?;
        } else {
            datadir::create_private_dir(data)?;
        }
        // One `init` at a time per directory: the mirror file's name is fixed.
        let held = match datadir::lock_writer(data) {
            Ok(held) => held,
            Err(e) => {
                remove_created(&created);
                return Err(e.into());
            }
        };
        let throwaway = Throwaway {
            file: data.join(INIT_MIRROR),
            created,
            _held: held,
        };
        // Left by an `init` that was killed: nothing in it is trusted.
        Throwaway::remove_file(&throwaway.file)
            .with_context(|| format!("removing {}", throwaway.file.display()))?;
        // Owner-only from the start: it holds a copy of the log (SQLite's side files take
        // the main file's mode).
        datadir::write_secret(&throwaway.file, "")?;
        let store = match self.connect(&throwaway.file, None)? {
            Backend::Shared(store) => store,
            Backend::Sqlite => anyhow::bail!("`{}` is not a shared store", self.store),
        };
        let report = datadir::init_on(data, opts, clock, Some(store.clone()));
        // The ledger `init` opened hands the store back once its writer thread has stopped;
        // the file is removed after that, not under a running mirror.
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while Arc::strong_count(&store) > 1 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if Arc::strong_count(&store) > 1 {
            tracing::warn!(
                "init's ledger is still running; its throwaway mirror is removed anyway"
            );
        }
        drop(store);
        Ok(report?)
    }
}

/// The log's verifier key, when the data directory holds `log.key`.
fn read_log_key(data: &Path) -> anyhow::Result<Option<NoteVerifier>> {
    match data.join(datadir::LOG_KEY_FILE).exists() {
        true => Ok(Some(datadir::read_signer(data)?.verifier())),
        false => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::SystemClock;

    #[test]
    fn an_init_that_cannot_take_the_lock_leaves_the_other_inits_mirror_alone() {
        let dir = tempfile::tempdir().expect("tmp");
        let args = StoreArgs {
            store: "esdb://127.0.0.1:1?tls=false".into(),
            store_timeout: 1,
            esdb_mirror: None,
        };
        // Another init holds the directory and is writing its throwaway mirror.
        let _other = datadir::lock_writer(dir.path()).expect("lock");
        let theirs = dir.path().join(INIT_MIRROR);
        std::fs::write(&theirs, b"in use").expect("write");
        let refused = args
            .init_shared(dir.path(), &InitOptions::default(), Arc::new(SystemClock))
            .expect_err("the directory is in use");
        assert!(format!("{refused:#}").contains("in use"), "{refused:#}");
        assert!(theirs.exists(), "the other init's mirror was removed");
    }
}
