//! What `init` checks before it creates anything (nothing of a ledger in the directory,
//! well-formed options), and what opening checks of the keys it finds.

use std::path::Path;

use ed25519_dalek::SigningKey;
use rand_core::{OsRng, RngCore};

use super::{
    has_keys, is_initialised, DataDirError, InitOptions, DB_FILE, GENESIS_ENTRIES, LOG_KEY_FILE,
    SERVICE_KEY_FILE, SERVICE_PRINCIPAL,
};
use crate::domain::PrincipalId;
use crate::envelope::KeyFile;
use crate::ledger::Ledger;
use crate::log::note::NoteSigner;

/// Checks, without creating anything, that `init` can run on `dir` with `opts` (nothing of
/// a ledger there, options well formed); shared stores check this before connecting.
pub fn check_init(dir: &Path, opts: &InitOptions) -> Result<(), DataDirError> {
    prepare_init(dir, opts).map(drop)
}

/// The local checks of `init`, then the first admin's id and a new log key.
pub(super) fn prepare_init(
    dir: &Path,
    opts: &InitOptions,
) -> Result<(PrincipalId, NoteSigner), DataDirError> {
    if is_initialised(dir) {
        return Err(DataDirError::Invalid(format!(
            "{} already holds a ledger; refusing to overwrite it",
            dir.display()
        )));
    }
    if has_keys(dir) {
        return Err(DataDirError::Invalid(format!(
            "{} holds a ledger's keys ({LOG_KEY_FILE}, {SERVICE_KEY_FILE}) but no {DB_FILE}: \
             it is probably the data directory of an EventStoreDB-backed ledger (give its \
             --store), or an `init` that stopped before its ledger was written; refusing to \
             overwrite the keys",
            dir.display()
        )));
    }
    // SQLite's side files of a removed ledger.db: opening a new database beside them could
    // replay the old write-ahead log into it.
    if let Some(left) = ["-wal", "-shm", "-journal"]
        .iter()
        .map(|side| format!("{DB_FILE}{side}"))
        .find(|f| dir.join(f).exists())
    {
        return Err(DataDirError::Invalid(format!(
            "{} holds {left}, left from a ledger whose {DB_FILE} was removed; remove it (or \
             the whole directory) and run `init` again",
            dir.display()
        )));
    }
    if let Some(left) = [LOG_KEY_FILE, SERVICE_KEY_FILE]
        .iter()
        .find(|f| dir.join(f).exists())
    {
        return Err(DataDirError::Invalid(format!(
            "{} holds {left} from an `init` that did not finish; remove the directory (it \
             holds no ledger) and run `init` again",
            dir.display()
        )));
    }
    // Everything given is checked before anything is created.
    let admin = PrincipalId::parse(&opts.admin)
        .map_err(|e| DataDirError::Invalid(format!("--admin: {e}")))?;
    crate::domain::AgencyId::parse(&opts.agency)
        .map_err(|e| DataDirError::Invalid(format!("--agency: {e}")))?;
    if admin.as_str() == SERVICE_PRINCIPAL {
        return Err(DataDirError::Invalid(format!(
            "--admin: `{SERVICE_PRINCIPAL}` is the ledger's own service principal; choose \
             another id for the first admin"
        )));
    }
    let admin_key = dir.join(format!("{admin}.key.json"));
    if admin_key == dir.join(SERVICE_KEY_FILE) {
        return Err(DataDirError::Invalid(format!(
            "--admin: the key file of `{admin}` would be {SERVICE_KEY_FILE}, the service \
             principal's; choose another id for the first admin"
        )));
    }
    if admin_key.exists() {
        return Err(DataDirError::Invalid(format!(
            "{} already exists; init never overwrites a key file",
            admin_key.display()
        )));
    }
    let origin = opts.origin.clone().unwrap_or_else(|| {
        let mut tag = [0u8; 4];
        OsRng.fill_bytes(&mut tag);
        format!("caseledger.local/{}", hex::encode(tag))
    });
    let signer = NoteSigner::from_signing_key(&origin, SigningKey::generate(&mut OsRng))
        .map_err(|e| DataDirError::Invalid(format!("--origin: {e}")))?;
    Ok((admin, signer))
}

/// The service key in `dir` is a key the log registered for the principal its file names:
/// another ledger's key (or a file naming another principal) would start cleanly, then fail
/// every token issuance, so it is refused. A key revoked since, or a service principal
/// deactivated since, is only warned about: admins may do either, and the node must still
/// start (token issuance then fails until a new service principal's key is in place).
pub(super) fn service_key_registered(
    dir: &Path,
    ledger: &Ledger,
    service: &KeyFile,
) -> Result<(), DataDirError> {
    let state = ledger.state();
    let keyid = service.keyid();
    // Roles never change after registration: a principal registered without `service`
    // (an admin's key file copied over the service's, say) can never issue a token.
    let serves = |p: &crate::domain::PrincipalId| {
        state
            .registry
            .principals
            .get(p)
            .is_some_and(|r| r.has(crate::domain::Role::Service))
    };
    match state.registry.keys.get(&keyid) {
        Some(k) if k.principal == service.principal && serves(&k.principal) => {
            let active = state
                .registry
                .principals
                .get(&k.principal)
                .is_some_and(|p| p.active);
            if k.revoked.is_some() || !active {
                tracing::warn!(
                    principal = %k.principal,
                    "{SERVICE_KEY_FILE}: the key is revoked or its principal deactivated, so \
                     no token can be issued (nor by `caseledger token`). To replace it: \
                     deactivate that principal if it is still active, register a new \
                     principal with the service role and a key from `caseledger keygen`, and \
                     put that key file in place as {SERVICE_KEY_FILE} (docs/case-domain.md)"
                );
            }
            Ok(())
        }
        _ => Err(DataDirError::Invalid(format!(
            "{}: {SERVICE_KEY_FILE} (keyid {keyid}, principal {}) is not a key this log \
             registered for a principal with the service role: another ledger's key, or \
             another principal's. Copy {SERVICE_KEY_FILE} and {LOG_KEY_FILE} from the node \
             that initialised this one",
            dir.display(),
            service.principal
        ))),
    }
}
/// A warning when other users may read or enter `dir` (a directory made by a version before
/// init narrowed it, or widened since): it holds the ledger, its keys and the projections,
/// and the files in it take the umask's mode.
pub(super) fn open_to_others(dir: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then(|| {
            format!(
                "{} has mode {mode:o}: other users may read the ledger and its keys; \
                 `chmod 700 {}` (init creates it so)",
                dir.display(),
                dir.display()
            )
        })
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        None
    }
}

/// A shared store's log holds the whole genesis (on SQLite, `open` checks it before
/// anything else).
pub(super) fn shared_genesis_complete(dir: &Path, size: u64) -> Result<(), DataDirError> {
    if size == 0 {
        return Err(DataDirError::Invalid(format!(
            "the store holds no ledger: check --store (its host and stream prefix). The keys \
             in {} are of a ledger it should hold; to start a new ledger instead, run \
             `caseledger init --store …` with a new, empty data directory",
            dir.display()
        )));
    }
    if size < GENESIS_ENTRIES {
        // The genesis entries are separate appends: an `init --store` stopped between them
        // leaves a log no admin can use (its token was never recorded).
        return Err(DataDirError::Invalid(format!(
            "the store holds {size} of the {GENESIS_ENTRIES} genesis entries. If an `init \
             --store` is running, start this node once it has finished; if it stopped, no \
             admin token was handed out: initialise a new ledger under another stream prefix \
             (docs/eventstoredb.md), with new keys"
        )));
    }
    Ok(())
}
