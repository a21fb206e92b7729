//! The data directory: `ledger.db` (SQLite), `log.key` (the checkpoint signer key),
//! `service.key.json` (the server's own principal), and the first admin's key file.
//! `init` creates it and writes the genesis entries; `open` loads it for `serve`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use serde_json::json;

mod checks;
mod lock;
mod snapshots;

pub use checks::check_init;
use checks::prepare_init;
pub use lock::{lock_writer, WriterLock, LOCK_FILE};
pub use snapshots::{save_snapshot, Snapshotter};

use crate::client;
use crate::domain::PrincipalId;
use crate::envelope::KeyFile;
use crate::ledger::{
    snapshot, Clock, ExpectedRevision, Ledger, LedgerState, OpenError, WriteError,
};
use crate::log::note::NoteSigner;
use crate::metrics::Metrics;
use crate::store::sqlite::SqliteStore;
use crate::store::EventStore;

/// File names inside the data directory.
pub const DB_FILE: &str = "ledger.db";
pub const LOG_KEY_FILE: &str = "log.key";
pub const SERVICE_KEY_FILE: &str = "service.key.json";

/// Principal id of the server's own `service` principal.
pub const SERVICE_PRINCIPAL: &str = "ledger-service";

/// What `init` reports (`--json` prints exactly these fields).
#[derive(Debug, Serialize)]
pub struct InitReport {
    pub data_dir: String,
    pub origin: String,
    pub log_key: String,
    pub admin_principal: String,
    pub admin_key_file: String,
    pub admin_token: String,
}

/// Options for `init`.
#[derive(Debug, Clone)]
pub struct InitOptions {
    pub origin: Option<String>,
    pub admin: String,
    pub agency: String,
}

impl Default for InitOptions {
    fn default() -> Self {
        Self {
            origin: None,
            admin: "admin".into(),
            agency: "operator".into(),
        }
    }
}

/// Errors setting up or opening a data directory. Causes are part of the message, not
/// error sources, which reports (`{:#}`) would print a second time.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("writing the genesis entries: {0}")]
    Genesis(WriteError),
}

impl From<WriteError> for DataDirError {
    fn from(e: WriteError) -> Self {
        Self::Genesis(e)
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DataDirError + '_ {
    move |error| DataDirError::Io {
        path: path.display().to_string(),
        error,
    }
}

/// Writes a new file only the owner can read (never over an existing one), and syncs it.
pub fn write_secret(path: &Path, text: &str) -> Result<(), DataDirError> {
    crate::envelope::write_new_private(path, text.as_bytes()).map_err(io(path))
}

/// Creates `dir` (and its parents) owner-only: it holds signing keys and the ledger.
pub fn create_private_dir(dir: &Path) -> Result<(), DataDirError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
    }
    Ok(())
}

/// Whether `dir` already holds a ledger.
pub fn is_initialised(dir: &Path) -> bool {
    dir.join(DB_FILE).exists()
}

/// Whether `dir` holds the keys of a ledger kept in a shared store (EventStoreDB).
pub fn has_keys(dir: &Path) -> bool {
    dir.join(LOG_KEY_FILE).exists() && dir.join(SERVICE_KEY_FILE).exists()
}

/// Creates a data directory and writes the genesis entries.
pub fn init(
    dir: &Path,
    opts: &InitOptions,
    clock: Arc<dyn Clock>,
) -> Result<InitReport, DataDirError> {
    init_on(dir, opts, clock, None)
}

/// Like [`init`], with the ledger in `shared` (EventStoreDB) instead of `ledger.db`; the
/// data directory then holds only the keys. A shared store that already holds a ledger is
/// refused: the other nodes need that ledger's keys, copied from the node that made it.
pub fn init_on(
    dir: &Path,
    opts: &InitOptions,
    clock: Arc<dyn Clock>,
    shared: Option<Arc<dyn EventStore>>,
) -> Result<InitReport, DataDirError> {
    if let Some(store) = &shared {
        if store.size()? > 0 || has_keys(dir) {
            return Err(DataDirError::Invalid(format!(
                "the store already holds a ledger or {} already holds keys; copy {LOG_KEY_FILE} \
                 and {SERVICE_KEY_FILE} from the node that initialised it",
                dir.display()
            )));
        }
        // Checkpoints left behind by a ledger whose entry streams were deleted: a new log
        // under that prefix would be refused at its first start (none of them is its key's).
        let published = store.published_checkpoints();
        if published > 0 {
            return Err(DataDirError::Invalid(format!(
                "the store holds no entries under this prefix but {published} checkpoint(s) of \
                 a ledger: choose another prefix (`prefix=` in the store URL), or delete that \
                 ledger's checkpoint stream too; nothing was written"
            )));
        }
    }
    let (admin, signer) = prepare_init(dir, opts)?;
    let signer_name = signer.name().to_owned();
    create_private_dir(dir)?;
    // One process at a time: a `serve` started meanwhile waits or is refused rather than
    // finding half a genesis. (With a shared store the caller holds the lock already.)
    let _lock = match shared {
        None => Some(lock_writer(dir)?),
        Some(_) => None,
    };
    if shared.is_none() {
        // Checked again under the lock: another `init` may have finished meanwhile.
        prepare_init(dir, opts)?;
    }
    crate::envelope::remove_key_leftovers(dir);
    if let Some(store) = &shared {
        store.trust_log_key(&signer.verifier())?;
    }
    write_secret(
        &dir.join(LOG_KEY_FILE),
        &format!("{}\n", signer.signer_key_text()),
    )?;
    let admin_key = KeyFile::generate(admin.clone());
    let admin_key_path = dir.join(format!("{admin}.key.json"));
    admin_key
        .write_new(&admin_key_path)
        .map_err(|e| DataDirError::Invalid(e.to_string()))?;
    let service_key = KeyFile::generate(PrincipalId::parse(SERVICE_PRINCIPAL).expect("slug"));
    service_key
        .write_new(&dir.join(SERVICE_KEY_FILE))
        .map_err(|e| DataDirError::Invalid(e.to_string()))?;
    let verifier = signer.verifier().to_text();
    let ledger = match shared {
        Some(store) => Ledger::open(store, signer, clock.clone(), Arc::new(Metrics::new()))?,
        None => open_store_ledger(dir, signer, clock.clone())?,
    };
    let token = crate::http::new_token();
    genesis(
        &ledger,
        &admin_key,
        &service_key,
        &opts.agency,
        &token,
        clock.now(),
    )?;
    Ok(InitReport {
        data_dir: dir.display().to_string(),
        origin: signer_name,
        log_key: verifier,
        admin_principal: admin.to_string(),
        admin_key_file: admin_key_path.display().to_string(),
        admin_token: token,
    })
}

/// What `init` writes: the admin's registration, the service principal's, the admin's token.
pub const GENESIS_ENTRIES: u64 = 3;

/// Entry 0: the admin registers itself; entry 1: it registers the service principal;
/// entry 2: the service records the admin's first token.
fn genesis(
    ledger: &Ledger,
    admin: &KeyFile,
    service: &KeyFile,
    agency: &str,
    token: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), DataDirError> {
    let admin_stream = format!("principal-{}", admin.principal);
    let steps = [
        (
            admin,
            "principal.registered",
            admin_stream.clone(),
            json!({"agency": agency, "roles": ["admin"], "public_key": admin.public_key_b64()}),
        ),
        (
            admin,
            "principal.registered",
            format!("principal-{SERVICE_PRINCIPAL}"),
            json!({"agency": agency, "roles": ["service"], "public_key": service.public_key_b64()}),
        ),
        (
            service,
            "principal.token_issued",
            admin_stream,
            json!({
                "token_sha256": hex::encode(crate::http::auth::token_hash(token)),
                "requested_by": admin.principal.as_str(),
            }),
        ),
    ];
    for (key, kind, stream, data) in steps {
        let wire = client::signed_event(key, kind, &stream, data, now);
        let v = client::self_verified(key, &wire).map_err(DataDirError::Invalid)?;
        ledger.submit_blocking(stream, vec![v], ExpectedRevision::Any)?;
    }
    Ok(())
}

/// Reads the log signer key.
pub fn read_signer(dir: &Path) -> Result<NoteSigner, DataDirError> {
    let path = dir.join(LOG_KEY_FILE);
    let text = std::fs::read_to_string(&path).map_err(io(&path))?;
    NoteSigner::parse(text.trim())
        .map_err(|e| DataDirError::Invalid(format!("{}: {e}", path.display())))
}

/// Reads the service principal's key.
pub fn read_service_key(dir: &Path) -> Result<KeyFile, DataDirError> {
    KeyFile::read(&dir.join(SERVICE_KEY_FILE)).map_err(|e| DataDirError::Invalid(e.to_string()))
}

/// Opens the SQLite store of a data directory (moving an earlier version's layout: only
/// with the writer lock held, or at `init`).
pub fn open_sqlite(dir: &Path) -> Result<Arc<dyn EventStore>, DataDirError> {
    Ok(Arc::new(SqliteStore::open(&dir.join(DB_FILE))?))
}

/// Opens the SQLite store of a data directory beside a server that may be writing it
/// (`export`, `report`): nothing is created or migrated.
pub fn open_sqlite_beside(dir: &Path) -> Result<Arc<dyn EventStore>, DataDirError> {
    Ok(Arc::new(SqliteStore::open_existing(&dir.join(DB_FILE))?))
}

fn open_store_ledger(
    dir: &Path,
    signer: NoteSigner,
    clock: Arc<dyn Clock>,
) -> Result<Ledger, DataDirError> {
    let store = open_sqlite(dir)?;
    Ok(Ledger::open(
        store,
        signer,
        clock,
        Arc::new(Metrics::new()),
    )?)
}

/// Opens an initialised data directory's ledger (SQLite backend) and the service key. The
/// ledger holds the directory's writer lock until it is dropped.
pub fn open(dir: &Path, clock: Arc<dyn Clock>) -> Result<(Ledger, KeyFile), DataDirError> {
    if !is_initialised(dir) {
        return Err(DataDirError::Invalid(format!(
            "{} holds no ledger; run `caseledger init --data {}` first (or `serve --init`)",
            dir.display(),
            dir.display()
        )));
    }
    let lock = lock_writer(dir)?;
    if let Some(warning) = checks::open_to_others(dir) {
        tracing::warn!("{warning}");
    }
    let signer = read_signer(dir)?;
    let service = read_service_key(dir)?;
    let store = open_sqlite(dir)?;
    let size = store.size()?;
    if size < GENESIS_ENTRIES {
        return Err(DataDirError::Invalid(format!(
            "{}: `init` did not finish (the log holds {size} of its {GENESIS_ENTRIES} genesis \
             entries, and no admin token was handed out); remove the directory and run `init` \
             again",
            dir.display()
        )));
    }
    snapshot::remove_leftovers(dir);
    let path = dir.join(snapshot::SNAPSHOT_FILE);
    let start = match snapshot::load(&path, store.as_ref()) {
        Ok(s) => s.unwrap_or_default(),
        Err(snapshot::SnapshotError::Mismatch(why)) => {
            // Evidence that the log was rolled back (a restored backup, a disk that lost
            // acknowledged writes) or rewritten since the snapshot: checkpoints past this
            // log, or over other entries, may have been handed out, and signing new ones
            // would fork the log under the same key. Refused until someone decides.
            return Err(DataDirError::Invalid(format!(
                "the projection snapshot {} does not match this log ({why}): the log was \
                 rolled back or rewritten since it was written, and checkpoints signed \
                 before may disagree with any signed now. Nothing was signed or appended. \
                 Find out why (a restored backup? a lost disk cache?). To go on with the \
                 log as it is, run `caseledger rebuild --data {}`: it keeps the snapshot \
                 aside as evidence, checks the whole log and writes a new one (and exits \
                 non-zero, to record the mismatch); then start again, and tell the \
                 auditors who hold this log's checkpoints.",
                path.display(),
                dir.display(),
            )));
        }
        Err(e) => {
            tracing::warn!(error = %e, "ignoring the projection snapshot; folding the whole log");
            LedgerState::default()
        }
    };
    let from = start.size;
    // Holding the lock from here: if the checks below refuse, the writer thread already
    // running keeps it until it has stopped.
    let ledger =
        Ledger::open_from(store, signer, clock, Arc::new(Metrics::new()), start)?.holding(lock);
    checks::service_key_registered(dir, &ledger, &service)?;
    if ledger.state().size != from {
        save_snapshot(dir, &ledger);
    }
    Ok((ledger, service))
}

/// Opens a ledger kept in a shared store (EventStoreDB), with the log key and the service
/// key from `dir`.
pub fn open_shared(
    dir: &Path,
    store: Arc<dyn EventStore>,
    clock: Arc<dyn Clock>,
) -> Result<(Ledger, KeyFile), DataDirError> {
    if !has_keys(dir) {
        return Err(DataDirError::Invalid(format!(
            "{} holds no {LOG_KEY_FILE} / {SERVICE_KEY_FILE}; run `caseledger init --store …` \
             once, or copy them from the node that did",
            dir.display()
        )));
    }
    if let Some(warning) = checks::open_to_others(dir) {
        tracing::warn!("{warning}");
    }
    let signer = read_signer(dir)?;
    let service = read_service_key(dir)?;
    let ledger = Ledger::open(store, signer, clock, Arc::new(Metrics::new()))?;
    checks::shared_genesis_complete(dir, ledger.state().size)?;
    checks::service_key_registered(dir, &ledger, &service)?;
    Ok((ledger, service))
}

/// The default data directory path.
pub fn default_dir() -> PathBuf {
    PathBuf::from("./caseledger-data")
}

#[cfg(test)]
mod tests;
