//! C2SP tlog-checkpoint: the signed tree head the log publishes, as the text of a
//! signed note (origin line, decimal tree size, base64 root hash).

use base64::{engine::general_purpose::STANDARD, Engine as _};

use super::merkle::Hash;
use super::note::{open, NoteError, NoteSigner, NoteVerifier};

/// Why a checkpoint was rejected.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum CheckpointError {
    /// The checkpoint text does not follow tlog-checkpoint.
    #[error("malformed checkpoint: {0}")]
    Malformed(&'static str),
    /// The origin line is not the name of the log key that signs or verifies it.
    #[error("checkpoint origin {origin:?} does not match log key name {key_name:?}")]
    OriginMismatch { origin: String, key_name: String },
    /// The signed note around the checkpoint is invalid or not signed by the log key.
    #[error(transparent)]
    Note(#[from] NoteError),
}

/// A tree head: the log's identity, its size and its Merkle root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line, which is also the name of its signing key.
    pub origin: String,
    /// Number of entries in the tree.
    pub size: u64,
    /// RFC 6962 root hash of the tree.
    pub root: Hash,
}

impl Checkpoint {
    /// The checkpoint body: `<origin>\n<size>\n<base64 root>\n`. We write no extension lines.
    pub fn to_text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        )
    }

    /// Parses a checkpoint body strictly. Extension lines after the root are allowed
    /// by the spec and skipped (each must be non-empty); this log writes none.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::Malformed("must end with a newline"))?;
        let mut lines = body.split('\n');
        let mut next = |what| lines.next().ok_or(CheckpointError::Malformed(what));
        let origin = next("missing origin line")?;
        let size = next("missing size line")?;
        let root = next("missing root hash line")?;
        if lines.any(str::is_empty) {
            return Err(CheckpointError::Malformed("empty extension line"));
        }
        if origin.is_empty() {
            return Err(CheckpointError::Malformed("empty origin"));
        }
        if origin.chars().any(char::is_control) {
            return Err(CheckpointError::Malformed("control character in origin"));
        }
        Ok(Self {
            origin: origin.to_owned(),
            size: parse_size(size)?,
            root: parse_root(root)?,
        })
    }

    /// Signs the checkpoint as a note. The signer's name must equal the origin, so a
    /// log never publishes a checkpoint its own verifier key would refuse.
    pub fn sign(&self, signer: &NoteSigner) -> Result<String, CheckpointError> {
        check_origin(&self.origin, signer.name())?;
        Ok(signer.sign(&self.to_text())?)
    }

    /// Opens a signed checkpoint with the log's verifier key and parses it.
    ///
    /// The origin must equal the verifier key's name: the key names the log, so a
    /// checkpoint of another log signed with the same key is not taken for this one.
    pub fn open_signed(note: &str, verifier: &NoteVerifier) -> Result<Self, CheckpointError> {
        let opened = open(note, std::slice::from_ref(verifier))?;
        let checkpoint = Self::parse(&opened.text)?;
        check_origin(&checkpoint.origin, verifier.name())?;
        Ok(checkpoint)
    }
}

fn check_origin(origin: &str, key_name: &str) -> Result<(), CheckpointError> {
    if origin == key_name {
        Ok(())
    } else {
        Err(CheckpointError::OriginMismatch {
            origin: origin.to_owned(),
            key_name: key_name.to_owned(),
        })
    }
}

/// ASCII decimal without sign or leading zeros, fitting in a u64.
fn parse_size(line: &str) -> Result<u64, CheckpointError> {
    let bad = CheckpointError::Malformed("tree size is not a canonical decimal u64");
    if line.is_empty() || !line.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad);
    }
    if line.len() > 1 && line.starts_with('0') {
        return Err(bad);
    }
    line.parse().map_err(|_| bad)
}

/// Canonical padded standard base64 of exactly 32 bytes.
fn parse_root(line: &str) -> Result<Hash, CheckpointError> {
    let bad = CheckpointError::Malformed("root hash is not base64 of 32 bytes");
    let bytes = STANDARD.decode(line).map_err(|_| bad.clone())?;
    bytes.try_into().map_err(|_| bad)
}

#[cfg(test)]
mod tests;
