//! Starting the EventStoreDB backend: opening the node's mirror file, refusing one built
//! from another log, starting the subscription from the position the mirror persisted, and
//! the first catch-up, all retried while the server cannot be reached yet.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eventstore::ClientSettings;

use super::esdb_client::Clients;
use super::esdb_feed::{self, unavailable, Shared};
use super::esdb_mapping::EsdbConfig;
use super::esdb_mirror::Mirror;
use super::esdb_subscription;
use super::eventstore::EsdbStore;
use super::redact::{redact_url, scrub};
use super::StoreError;
use crate::log::note::NoteVerifier;

/// How long start-up lets the subscription replay history before reading the rest itself.
const REPLAY_GRACE: Duration = Duration::from_secs(5);

impl EsdbStore {
    /// Opens the local mirror file `mirror`, checks that the cluster holds the log the
    /// mirror was built from, subscribes from the position it persisted, and returns once
    /// the mirror holds everything `$all` held at connection time. An unreachable server is
    /// an `Unavailable` error naming EventStoreDB and the address, after at most `timeout`;
    /// a mirror of another log or prefix is refused (`Corrupt`, naming the file); nothing
    /// panics. Checkpoints are mirrored only if they verify under `log_key` (see
    /// [`Mirror::trust`]).
    pub fn connect(
        url: &str,
        mirror: &Path,
        timeout: Duration,
        log_key: Option<NoteVerifier>,
    ) -> Result<Self, StoreError> {
        let cfg = EsdbConfig::parse(url).map_err(StoreError::Unavailable)?;
        let settings = cfg.connection.parse::<ClientSettings>().map_err(|e| {
            StoreError::Unavailable(format!(
                "EventStoreDB connection string `{}`: {}",
                redact_url(url),
                scrub(&e.to_string(), &cfg.connection)
            ))
        })?;
        if let Some(file) = settings.tls_ca_file() {
            check_ca_file(Path::new(file))?;
        }
        if let Some((cert, key)) = settings.user_certificate() {
            check_pem_file(
                "userCertFile",
                Path::new(cert),
                holds_pem_certificate,
                "certificate",
            )?;
            check_pem_file(
                "userKeyFile",
                Path::new(key),
                holds_pem_private_key,
                "private key",
            )?;
        }
        super::esdb_tls::as_the_client_builds_it(&settings)?;
        create_parent(mirror)?;
        owner_only(mirror)?;
        let mirror = Mirror::open(mirror, &cfg)?;
        if let Some(key) = &log_key {
            mirror.trust(key)?;
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("esdb-client")
            .enable_all()
            .build()
            .map_err(|e| {
                StoreError::Unavailable(format!("starting the EventStoreDB runtime: {e}"))
            })?;
        let clients = Clients::new(rt.handle().clone(), settings)
            .map_err(|e| unavailable(&cfg, "creating the client", e))?;
        let store = Self {
            shared: Arc::new(Shared::new(cfg, mirror)),
            clients: Arc::new(clients),
            rt: Some(rt),
        };
        store.start(Instant::now() + timeout)?;
        Ok(store)
    }

    /// Checks the mirror against the cluster, starts the subscription, and waits for the
    /// first catch-up, retrying what fails for want of a server until `deadline` (a cluster
    /// that is still electing a leader, or a container started before its database).
    fn start(&self, deadline: Instant) -> Result<(), StoreError> {
        retrying(deadline, || self.check_mirror(deadline))?;
        let rt = self.rt.as_ref().ok_or_else(|| {
            StoreError::Unavailable("the EventStoreDB runtime has stopped".into())
        })?;
        rt.spawn(esdb_subscription::run(
            self.clients.clone(),
            self.shared.clone(),
        ));
        let grace = deadline
            .saturating_duration_since(Instant::now())
            .min(REPLAY_GRACE);
        let size = retrying(deadline, || self.catch_up(grace))?;
        tracing::info!(
            address = self.shared.cfg.address(),
            mirror = %self.shared.mirror.file().display(),
            size,
            "EventStoreDB caught up"
        );
        Ok(())
    }

    /// Refuses a mirror file whose log the cluster does not hold (see
    /// [`Mirror::check_cluster`]).
    /// Refusals are read again until `deadline` (start-up's `--store-timeout`) at most.
    fn check_mirror(&self, deadline: Instant) -> Result<(), StoreError> {
        let places = self.shared.mirror.end_places()?;
        let (clients, cfg) = (self.clients.clone(), self.shared.cfg.clone());
        let deadline = deadline.min(Instant::now() + esdb_feed::OP_TIMEOUT);
        let view = self
            .run(async move { esdb_feed::cluster_view(&clients, &cfg, places, deadline).await })?;
        // Known before the subscription starts, so its first checkpoints are capped too.
        self.shared.note_head(view.head.unwrap_or_default());
        self.shared.mirror.check_cluster(&view)
    }
}

/// Refuses a `tlsCaFile=` that cannot be read or holds no PEM certificate. eventstore 4.0.0
/// reads it when it first connects (even with `tls=false`) and panics on a missing or
/// malformed file, inside its connection task, so the node would retry until the timeout
/// with a panic in its log instead of saying what is wrong.
fn check_ca_file(file: &Path) -> Result<(), StoreError> {
    check_pem_file("tlsCaFile", file, holds_pem_certificate, "certificate")
}

/// Refuses a PEM file of the connection string (`setting`) that cannot be read or holds no
/// block `holds` recognises. The client certificate and key (`userCertFile`,
/// `userKeyFile`) are read the same way as the CA file, and a bad one panics alike.
fn check_pem_file(
    setting: &str,
    file: &Path,
    holds: fn(&str) -> bool,
    what: &str,
) -> Result<(), StoreError> {
    let refused = |why: String| {
        StoreError::Unavailable(format!("EventStoreDB {setting} {}: {why}", file.display()))
    };
    let text = std::fs::read(file).map_err(|e| refused(format!("cannot be read: {e}")))?;
    if holds(&String::from_utf8_lossy(&text)) {
        Ok(())
    } else {
        Err(refused(format!(
            "holds no PEM {what} (-----BEGIN … -----END …)"
        )))
    }
}

/// Whether `text` holds a PEM private key block (PKCS#8, PKCS#1 or SEC1: the three the
/// client reads).
fn holds_pem_private_key(text: &str) -> bool {
    ["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"]
        .iter()
        .any(|kind| {
            let (begin, end) = (
                format!("-----BEGIN {kind}-----"),
                format!("-----END {kind}-----"),
            );
            text.split_once(begin.as_str()).is_some_and(|(_, rest)| {
                rest.split_once(end.as_str())
                    .is_some_and(|(body, _)| !body.trim().is_empty())
            })
        })
}

/// Whether `text` holds at least one complete PEM certificate block.
fn holds_pem_certificate(text: &str) -> bool {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    text.split_once(BEGIN).is_some_and(|(_, rest)| {
        rest.split_once(END)
            .is_some_and(|(body, _)| !body.trim().is_empty())
    })
}

/// Retries `f` while it fails for want of a server, until `deadline`.
fn retrying<T>(
    deadline: Instant,
    mut f: impl FnMut() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    loop {
        match f() {
            Err(StoreError::Unavailable(why)) if Instant::now() < deadline => {
                tracing::warn!(%why, "EventStoreDB not reachable yet; retrying");
                std::thread::sleep(Duration::from_secs(1));
            }
            other => return other,
        }
    }
}

/// Makes the mirror file owner-only, creating it empty if needed: it holds a copy of the
/// whole log, and SQLite would create it (and its side files, which take its mode) readable
/// by everyone under the usual umask. An existing file and side files are narrowed too.
fn owner_only(file: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let failed = |what: &Path, e: std::io::Error| {
            StoreError::Unavailable(format!(
                "making the EventStoreDB mirror {} owner-only: {e}",
                what.display()
            ))
        };
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(file)
            .map_err(|e| failed(file, e))?;
        for side in ["", "-wal", "-shm"] {
            let mut path = file.as_os_str().to_owned();
            path.push(side);
            let path = std::path::PathBuf::from(path);
            match std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)) {
                // Another user's file this one may write (a shared group): SQLite can still
                // open it; only its owner can narrow it.
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                    tracing::warn!(file = %path.display(), "the EventStoreDB mirror belongs to another user; it could not be made owner-only");
                }
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(failed(&path, e)),
                _ => {}
            }
        }
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

/// Creates the mirror file's directory (owner-only, like the data directory) if needed.
fn create_parent(file: &Path) -> Result<(), StoreError> {
    let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| {
        StoreError::Unavailable(format!(
            "creating {} for the EventStoreDB mirror: {e}",
            dir.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn the_mirror_file_and_its_side_files_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tmp");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        let fresh = dir.path().join("fresh.db");
        owner_only(&fresh).expect("created");
        assert_eq!(mode(&fresh), 0o600);
        // One an earlier version created under a 022 umask, with its write-ahead log.
        let old = dir.path().join("old.db");
        let wal = dir.path().join("old.db-wal");
        for f in [&old, &wal] {
            std::fs::write(f, b"x").expect("write");
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        }
        owner_only(&old).expect("narrowed");
        assert_eq!((mode(&old), mode(&wal)), (0o600, 0o600));
        assert_eq!(std::fs::read(&old).expect("read"), b"x", "content kept");
    }

    const CERT: &str =
        "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n";

    #[test]
    fn a_ca_file_needs_a_complete_certificate_block() {
        assert!(holds_pem_certificate(CERT));
        assert!(holds_pem_certificate(&format!("# our CA\n{CERT}{CERT}")));
        assert!(!holds_pem_certificate(""));
        assert!(!holds_pem_certificate("not a certificate"));
        assert!(!holds_pem_certificate(
            "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"
        ));
        assert!(!holds_pem_certificate(
            "-----BEGIN CERTIFICATE-----\nMIIB\n"
        ));
        assert!(!holds_pem_certificate(
            "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"
        ));
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_refused_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing-ca.pem");
        let empty = dir.path().join("empty-ca.pem");
        std::fs::write(&empty, "").expect("write");
        for file in [&missing, &empty] {
            match check_ca_file(file) {
                Err(StoreError::Unavailable(why)) => {
                    assert!(why.contains(&file.display().to_string()), "{why}")
                }
                other => panic!("{} must be refused: {other:?}", file.display()),
            }
        }
        let good = dir.path().join("ca.pem");
        std::fs::write(&good, CERT).expect("write");
        check_ca_file(&good).expect("a file with a certificate passes");
    }

    #[test]
    fn a_client_key_file_must_hold_a_private_key() {
        assert!(holds_pem_private_key(
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n"
        ));
        assert!(holds_pem_private_key(
            "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----"
        ));
        assert!(!holds_pem_private_key(CERT));
        assert!(!holds_pem_private_key(
            "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"
        ));
        let dir = tempfile::tempdir().expect("tempdir");
        let cert = dir.path().join("client.pem");
        std::fs::write(&cert, CERT).expect("write");
        match check_pem_file("userKeyFile", &cert, holds_pem_private_key, "private key") {
            Err(StoreError::Unavailable(why)) => {
                assert!(
                    why.contains("userKeyFile") && why.contains("private key"),
                    "{why}"
                )
            }
            other => panic!("a certificate is no key: {other:?}"),
        }
    }
}
