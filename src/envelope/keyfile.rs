//! Principal key files: `{"principal","keyid","public_key","secret_key"}` (base64 raw
//! 32-byte values), written with mode 0600 because they hold a signing secret.

use std::fmt;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::SigningKey;
use rand_core::OsRng;
use serde::{Deserialize, Serialize};

use crate::domain::{KeyId, PrincipalId};

/// A principal's Ed25519 key pair as stored on disk.
#[derive(Clone)]
pub struct KeyFile {
    pub principal: PrincipalId,
    pub key: SigningKey,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileJson {
    principal: String,
    keyid: String,
    public_key: String,
    secret_key: String,
}

/// Errors reading or writing key files.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The I/O error is in the message (not a `source`, which error reports would print a
    /// second time).
    #[error("key file {path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("key file {path}: {reason}")]
    Invalid { path: String, reason: String },
}

impl fmt::Debug for KeyFile {
    // The secret key must never reach logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyFile")
            .field("principal", &self.principal)
            .field("keyid", &self.keyid())
            .finish_non_exhaustive()
    }
}

impl KeyFile {
    /// A fresh random key for `principal`.
    pub fn generate(principal: PrincipalId) -> Self {
        Self {
            principal,
            key: SigningKey::generate(&mut OsRng),
        }
    }

    /// The hex SHA-256 of the public key.
    pub fn keyid(&self) -> KeyId {
        KeyId::of(self.key.verifying_key().as_bytes())
    }

    /// Standard base64 of the 32-byte public key (the form events carry).
    pub fn public_key_b64(&self) -> String {
        B64.encode(self.key.verifying_key().as_bytes())
    }

    /// Serialises the key file JSON (contains the secret).
    pub fn to_json(&self) -> String {
        let json = KeyFileJson {
            principal: self.principal.to_string(),
            keyid: self.keyid().to_string(),
            public_key: self.public_key_b64(),
            secret_key: B64.encode(self.key.to_bytes()),
        };
        serde_json::to_string_pretty(&json).expect("key file serialises") + "\n"
    }

    /// Parses key file JSON; the keyid and public key must match the secret.
    pub fn from_json(text: &str, path: &str) -> Result<Self, KeyFileError> {
        let invalid = |reason: String| KeyFileError::Invalid {
            path: path.to_owned(),
            reason,
        };
        let json: KeyFileJson = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let principal =
            PrincipalId::parse(&json.principal).map_err(|e| invalid(format!("principal: {e}")))?;
        let secret: [u8; 32] = B64
            .decode(&json.secret_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| invalid("secret_key must be base64 of 32 bytes".into()))?;
        let file = Self {
            principal,
            key: SigningKey::from_bytes(&secret),
        };
        if file.public_key_b64() != json.public_key || file.keyid().to_string() != json.keyid {
            return Err(invalid(
                "public_key/keyid do not match the secret key".into(),
            ));
        }
        Ok(file)
    }

    /// Reads a key file.
    pub fn read(path: &Path) -> Result<Self, KeyFileError> {
        let text = std::fs::read_to_string(path).map_err(|error| KeyFileError::Io {
            path: path.display().to_string(),
            error,
        })?;
        // A byte order mark, as some editors write, is not part of the JSON.
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        Self::from_json(text, &path.display().to_string())
    }

    /// Writes the key file with mode 0600, refusing to overwrite an existing file.
    pub fn write_new(&self, path: &Path) -> Result<(), KeyFileError> {
        write_new_private(path, self.to_json().as_bytes()).map_err(|error| KeyFileError::Io {
            path: path.display().to_string(),
            error,
        })
    }
}

/// The prefix of a key file being written (see [`write_new_private`]).
const KEY_TEMP_PREFIX: &str = ".caseledger-key-";

/// Removes from `dir` what a [`write_new_private`] killed before it finished left behind
/// (a copy of a private key under a temporary name). Call where no other process writes
/// keys in `dir` (under the data directory's writer lock).
pub fn remove_key_leftovers(dir: &Path) {
    crate::leftovers::remove(dir, KEY_TEMP_PREFIX, "an unfinished key file");
}

/// Writes a new owner-only (0600) file at `path` whole or not at all, never over an
/// existing file or through a link: written and fsynced under a temporary name beside it,
/// then linked to `path` (which fails if anything is there), the directory fsynced. A
/// crash or a full disk leaves no half-written key to block the next attempt. Where the
/// filesystem has no hard links, the file is created in place (removed if the write fails).
pub fn write_new_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // tempfile creates its files 0600.
    let mut tmp = tempfile::Builder::new()
        .prefix(KEY_TEMP_PREFIX)
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    let tmp = tmp.into_temp_path();
    match std::fs::hard_link(&tmp, path) {
        Ok(()) => {
            // The temporary name goes before the directory is made durable: no second
            // name of the key survives a crash after this (`remove_key_leftovers` sweeps
            // one left by a crash before).
            // The key is in place: a temporary name that cannot be removed is swept later
            // (init does), not a reason to report the key unwritten.
            let _ = tmp.close();
            #[cfg(unix)]
            std::fs::File::open(dir)?.sync_all()?;
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(e),
        Err(_) => {
            drop(tmp);
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts.open(path)?;
            let written = f.write_all(bytes).and_then(|()| f.sync_all());
            if written.is_err() {
                let _ = std::fs::remove_file(path);
            }
            written
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_round_trips_with_mode_0600() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k.json");
        let kf = KeyFile::generate(PrincipalId::parse("cw-1").expect("slug"));
        kf.write_new(&path).expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let back = KeyFile::read(&path).expect("read");
        assert_eq!(back.key.to_bytes(), kf.key.to_bytes());
        let refused = kf.write_new(&path).expect_err("never overwrites a key");
        // As the command line reports it: the cause once, not repeated by the error chain.
        let report = format!("{:#}", anyhow::Error::from(refused));
        assert_eq!(report.matches("os error").count(), 1, "{report}");
        assert!(!format!("{kf:?}").contains(&B64.encode(kf.key.to_bytes())));
    }

    #[test]
    fn a_key_file_is_never_written_through_a_link_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let kf = KeyFile::generate(PrincipalId::parse("cw-1").expect("slug"));
        let outside = dir.path().join("outside");
        let link = dir.path().join("k.json");
        #[cfg(unix)]
        {
            // A dangling link where the key should go: refused, nothing created at its target.
            std::os::unix::fs::symlink(&outside, &link).expect("symlink");
            kf.write_new(&link).expect_err("a link is in the way");
            assert!(!outside.exists());
            std::fs::remove_file(&link).expect("remove");
        }
        kf.write_new(&link).expect("write");
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("list")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["k.json".to_owned()]);
        // Read back also with a byte order mark in front, as some editors save it.
        let with_bom = format!("\u{feff}{}", std::fs::read_to_string(&link).expect("read"));
        std::fs::write(&link, with_bom).expect("write");
        assert_eq!(KeyFile::read(&link).expect("read").keyid(), kf.keyid());
    }

    #[test]
    fn mismatched_public_key_is_refused() {
        let kf = KeyFile::generate(PrincipalId::parse("cw-1").expect("slug"));
        let other = KeyFile::generate(PrincipalId::parse("cw-1").expect("slug"));
        let text = kf
            .to_json()
            .replace(&kf.public_key_b64(), &other.public_key_b64());
        assert!(KeyFile::from_json(&text, "x").is_err());
    }
}
