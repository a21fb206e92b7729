//! C2SP `tlog-cosignature` v1 (Ed25519): a witness's statement that, as of a time, a
//! checkpoint is the largest consistent tree head it has observed for its log. Witnesses
//! cosign only checkpoints consistent with the last one they cosigned, so two views of a
//! log (a split view) need every witness an auditor requires to sign both.
//!
//! A cosignature is a signed-note signature line `— <name> base64(key ID || timestamp ||
//! signature)`: key ID the first 4 bytes of `SHA-256(name || "\n" || 0x04 || public key)`,
//! timestamp a big-endian `u64` of POSIX seconds, and the Ed25519 signature over
//! `cosignature/v1\ntime <timestamp>\n` followed by the checkpoint's note text. Witness
//! keys are written as signed-note keys of type 0x04: `<name>+<hex key ID>+<base64(0x04 ||
//! key)>`, and `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x04 || seed)>` for the secret.

use base64::{engine::general_purpose::STANDARD, Engine as _};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use super::note::{
    check_name, is_valid_name, key_text, parse_secret_text, parse_typed_key_tail, split,
    typed_key_hash, NoteError, SIG_PREFIX,
};

/// The signature type of Ed25519 cosignature/v1 keys.
const ALG_COSIGNATURE_V1: u8 = 0x04;
/// Timestamp and Ed25519 signature: what follows the key ID in a cosignature.
const BLOB: usize = 8 + 64;

/// A witness's public key, as auditors pin it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessKey {
    name: String,
    hash: u32,
    key: VerifyingKey,
}

impl WitnessKey {
    /// Parses `<name>+<hex key ID>+<base64(0x04 || public key)>`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let malformed = NoteError::MalformedVerifierKey;
        let (name, rest) = text.split_once('+').ok_or(malformed.clone())?;
        if !is_valid_name(name) {
            return Err(malformed);
        }
        let (hash, bytes) = parse_typed_key_tail(rest, ALG_COSIGNATURE_V1, malformed.clone())?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| malformed)?;
        let parsed = Self::from_key(name, key)?;
        if parsed.hash != hash {
            return Err(NoteError::KeyHashMismatch);
        }
        Ok(parsed)
    }

    fn from_key(name: &str, key: VerifyingKey) -> Result<Self, NoteError> {
        check_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            hash: typed_key_hash(name, ALG_COSIGNATURE_V1, &key),
            key,
        })
    }

    /// The witness's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key text, as [`WitnessKey::parse`] reads it.
    pub fn to_text(&self) -> String {
        key_text(
            "",
            &self.name,
            self.hash,
            ALG_COSIGNATURE_V1,
            self.key.as_bytes(),
        )
    }
}

/// A witness's signing key. `Debug` never shows the key.
#[derive(Clone)]
pub struct Witness {
    public: WitnessKey,
    key: SigningKey,
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witness")
            .field("name", &self.public.name)
            .finish_non_exhaustive()
    }
}

impl Witness {
    /// A witness named `name` for an existing key.
    pub fn from_signing_key(name: &str, key: SigningKey) -> Result<Self, NoteError> {
        let public = WitnessKey::from_key(name, key.verifying_key())?;
        Ok(Self { public, key })
    }

    /// A witness named `name` with a fresh key from the operating system's RNG.
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        Self::from_signing_key(name, SigningKey::generate(&mut rand_core::OsRng))
    }

    /// Parses `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x04 || seed)>`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let (name, hash, seed) = parse_secret_text(text, ALG_COSIGNATURE_V1)?;
        let witness = Self::from_signing_key(name, SigningKey::from_bytes(&seed))?;
        if witness.public.hash != hash {
            return Err(NoteError::KeyHashMismatch);
        }
        Ok(witness)
    }

    /// The public key.
    pub fn public(&self) -> &WitnessKey {
        &self.public
    }

    /// The secret key text. Store it like the secret it is; never log it.
    pub fn secret_text(&self) -> String {
        let p = &self.public;
        key_text(
            "PRIVATE+KEY+",
            &p.name,
            p.hash,
            ALG_COSIGNATURE_V1,
            self.key.as_bytes(),
        )
    }

    /// The cosignature line (ending in a newline) over a checkpoint's note `text` (its
    /// lines up to and including the root's newline, without signatures), at `time`.
    pub fn cosign(&self, text: &str, time: u64) -> String {
        let signature = self.key.sign(&message(text, time));
        let mut blob = self.public.hash.to_be_bytes().to_vec();
        blob.extend_from_slice(&time.to_be_bytes());
        blob.extend_from_slice(&signature.to_bytes());
        format!(
            "{SIG_PREFIX}{} {}\n",
            self.public.name,
            STANDARD.encode(blob)
        )
    }
}

/// What a cosignature/v1 signs.
fn message(text: &str, time: u64) -> Vec<u8> {
    format!("cosignature/v1\ntime {time}\n{text}").into_bytes()
}

/// A cosignature that verified.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Cosigned {
    /// The witness's name.
    pub witness: String,
    /// When it cosigned, in POSIX seconds.
    pub time: u64,
}

/// The cosignatures on `note` by the witnesses among `keys`, one per witness, in note order.
/// Lines of other keys are ignored; a line by one of `keys` that does not verify rejects the
/// note (it was tampered with), as a log signature does in [`super::note::open`].
pub fn cosignatures(note: &str, keys: &[WitnessKey]) -> Result<Vec<Cosigned>, NoteError> {
    let (text, lines) = split(note)?;
    let mut out: Vec<Cosigned> = Vec::new();
    for (name, hash, blob) in lines {
        let Some(key) = keys.iter().find(|k| k.name == name && k.hash == hash) else {
            continue;
        };
        if out.iter().any(|c| c.witness == name) {
            continue;
        }
        let invalid = || NoteError::InvalidSignature {
            name: name.to_owned(),
        };
        let (time, sig) = blob.split_at_checked(8).ok_or_else(invalid)?;
        let time = u64::from_be_bytes(time.try_into().map_err(|_| invalid())?);
        let valid = blob.len() == BLOB
            && time <= i64::MAX as u64
            && Signature::from_slice(sig)
                .and_then(|s| key.key.verify_strict(&message(text, time), &s))
                .is_ok();
        if !valid {
            return Err(invalid());
        }
        out.push(Cosigned {
            witness: name.to_owned(),
            time,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
