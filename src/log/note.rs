//! C2SP signed-note with Ed25519 keys: key text formats, signing and opening notes,
//! byte-compatible with golang.org/x/mod/sumdb/note.
//!
//! A note is UTF-8 text ending in a newline, a blank line, then one line per signature
//! `— <name> <base64(key hash || signature)>`. The signature covers the text only.

use base64::{engine::general_purpose::STANDARD, Engine as _};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// The signature type byte for Ed25519 in signed-note keys.
const ALG_ED25519: u8 = 0x01;
/// Opening refuses notes with more signature lines than this, so a hostile note
/// cannot make us parse without bound (the Go implementation uses the same limit).
pub const MAX_SIGNATURES: usize = 100;
pub(crate) const SIG_PREFIX: &str = "— ";

/// Why a key or note was rejected.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum NoteError {
    /// A key name that is empty, contains `+` or contains whitespace.
    #[error("invalid key name {0:?}")]
    InvalidName(String),
    /// A verifier key text that does not have the `<name>+<hash>+<base64>` form.
    #[error("malformed verifier key")]
    MalformedVerifierKey,
    /// A signer key text that does not have the `PRIVATE+KEY+<name>+<hash>+<base64>` form.
    #[error("malformed signer key")]
    MalformedSignerKey,
    /// The key hash in a key text does not match its name and key.
    #[error("key hash does not match the key name and public key")]
    KeyHashMismatch,
    /// A key for a signature algorithm other than Ed25519.
    #[error("unsupported key algorithm 0x{0:02x}")]
    UnsupportedAlgorithm(u8),
    /// Note text to sign must be non-empty and end with a newline.
    #[error("note text must end with a newline")]
    TextWithoutNewline,
    /// The note does not follow the signed-note format.
    #[error("malformed note: {0}")]
    MalformedNote(&'static str),
    /// More than [`MAX_SIGNATURES`] signature lines.
    #[error("note has more than {MAX_SIGNATURES} signatures")]
    TooManySignatures,
    /// A signature by a known key that does not verify: the note was tampered with.
    #[error("invalid signature by {name}")]
    InvalidSignature { name: String },
    /// No signature by any of the given verifiers.
    #[error("note has no signature by a known key")]
    Unverified,
}

/// Whether `name` is a valid key name: non-empty, no `+`, no (Unicode) whitespace, and no
/// control character (the name is a log's origin, and a checkpoint whose origin holds one
/// is refused by [`super::Checkpoint::parse`]: a log named so could never be verified).
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.contains('+')
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Key hash: the first 4 bytes of `SHA-256(name || "\n" || 0x01 || public key)`.
fn key_hash(name: &str, key: &VerifyingKey) -> u32 {
    typed_key_hash(name, ALG_ED25519, key)
}

/// The first 4 bytes of `SHA-256(name || "\n" || alg || public key)`: the key hash of a
/// signed-note key of signature type `alg`.
pub(crate) fn typed_key_hash(name: &str, alg: u8, key: &VerifyingKey) -> u32 {
    let digest = Sha256::new()
        .chain_update(name)
        .chain_update(b"\n")
        .chain_update([alg])
        .chain_update(key.as_bytes())
        .finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// Parses `<hash>+<base64(0x01 || 32 bytes)>`, the shared tail of both key texts.
fn parse_key_tail(rest: &str, malformed: NoteError) -> Result<(u32, [u8; 32]), NoteError> {
    parse_typed_key_tail(rest, ALG_ED25519, malformed)
}

/// Parses `<hash>+<base64(alg || 32 bytes)>`.
pub(crate) fn parse_typed_key_tail(
    rest: &str,
    alg: u8,
    malformed: NoteError,
) -> Result<(u32, [u8; 32]), NoteError> {
    let (hash_hex, key64) = rest.split_once('+').ok_or(malformed.clone())?;
    if hash_hex.len() != 8 || !hash_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(malformed);
    }
    let hash = u32::from_str_radix(hash_hex, 16).map_err(|_| malformed.clone())?;
    let key = STANDARD.decode(key64).map_err(|_| malformed.clone())?;
    match key.split_first() {
        None => Err(malformed),
        Some((&a, bytes)) if a == alg => Ok((hash, bytes.try_into().map_err(|_| malformed)?)),
        Some((&alg, _)) => Err(NoteError::UnsupportedAlgorithm(alg)),
    }
}

/// Parses `PRIVATE+KEY+<name>+<hex hash>+<base64(alg || seed)>` into its parts (the hash
/// still to be checked against the key).
pub(crate) fn parse_secret_text(text: &str, alg: u8) -> Result<(&str, u32, [u8; 32]), NoteError> {
    let malformed = NoteError::MalformedSignerKey;
    let rest = text.strip_prefix("PRIVATE+KEY+").ok_or(malformed.clone())?;
    let (name, rest) = rest.split_once('+').ok_or(malformed.clone())?;
    if !is_valid_name(name) {
        return Err(malformed);
    }
    let (hash, seed) = parse_typed_key_tail(rest, alg, malformed)?;
    Ok((name, hash, seed))
}

/// `<prefix><name>+<hex hash>+<base64(alg || key)>`: the text of a key (a secret one when
/// `prefix` is `PRIVATE+KEY+`).
pub(crate) fn key_text(prefix: &str, name: &str, hash: u32, alg: u8, key: &[u8]) -> String {
    let mut typed = vec![alg];
    typed.extend_from_slice(key);
    let text = format!("{prefix}{name}+{hash:08x}+{}", STANDARD.encode(&typed));
    // Best effort: do not leave a copy of a seed in freed memory.
    typed.fill(0);
    text
}

pub(crate) fn check_name(name: &str) -> Result<(), NoteError> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(NoteError::InvalidName(name.to_owned()))
    }
}

/// A named Ed25519 public key that verifies note signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    hash: u32,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// Parses a verifier key text `<name>+<hash>+<base64(0x01 || public key)>`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let (name, rest) = text
            .split_once('+')
            .ok_or(NoteError::MalformedVerifierKey)?;
        if !is_valid_name(name) {
            return Err(NoteError::MalformedVerifierKey);
        }
        let (hash, bytes) = parse_key_tail(rest, NoteError::MalformedVerifierKey)?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| NoteError::MalformedVerifierKey)?;
        if key_hash(name, &key) != hash {
            return Err(NoteError::KeyHashMismatch);
        }
        Ok(Self {
            name: name.to_owned(),
            hash,
            key,
        })
    }

    fn from_key(name: &str, key: VerifyingKey) -> Result<Self, NoteError> {
        check_name(name)?;
        let hash = key_hash(name, &key);
        Ok(Self {
            name: name.to_owned(),
            hash,
            key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key hash that signature lines carry.
    pub fn key_hash(&self) -> u32 {
        self.hash
    }

    /// The Ed25519 public key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// The verifier key text, as [`NoteVerifier::parse`] reads it.
    pub fn to_text(&self) -> String {
        key_text("", &self.name, self.hash, ALG_ED25519, self.key.as_bytes())
    }
}

/// A named Ed25519 private key that signs notes. `Debug` never shows the key.
#[derive(Clone)]
pub struct NoteSigner {
    verifier: NoteVerifier,
    key: SigningKey,
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.verifier.name)
            .field("key_hash", &format_args!("{:08x}", self.verifier.hash))
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// A signer named `name` for an existing key.
    pub fn from_signing_key(name: &str, key: SigningKey) -> Result<Self, NoteError> {
        let verifier = NoteVerifier::from_key(name, key.verifying_key())?;
        Ok(Self { verifier, key })
    }

    /// A signer named `name` with a fresh key from the operating system's RNG.
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        Self::from_signing_key(name, SigningKey::generate(&mut rand_core::OsRng))
    }

    /// Parses a signer key text `PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let (name, hash, seed) = parse_secret_text(text, ALG_ED25519)?;
        let signer = Self::from_signing_key(name, SigningKey::from_bytes(&seed))?;
        if signer.key_hash() != hash {
            return Err(NoteError::KeyHashMismatch);
        }
        Ok(signer)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        self.verifier.name()
    }

    /// The key hash that signature lines carry.
    pub fn key_hash(&self) -> u32 {
        self.verifier.key_hash()
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        self.verifier.clone()
    }

    /// The signer key text. This is the secret key: store it like one, never log it.
    pub fn signer_key_text(&self) -> String {
        key_text(
            "PRIVATE+KEY+",
            self.name(),
            self.key_hash(),
            ALG_ED25519,
            self.key.as_bytes(),
        )
    }

    /// Signs `text`, which must end with a newline, returning the complete note.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        if !text.ends_with('\n') {
            return Err(NoteError::TextWithoutNewline);
        }
        let signature = self.key.sign(text.as_bytes());
        let mut blob = self.key_hash().to_be_bytes().to_vec();
        blob.extend_from_slice(&signature.to_bytes());
        Ok(format!(
            "{text}\n{SIG_PREFIX}{} {}\n",
            self.name(),
            STANDARD.encode(blob)
        ))
    }
}

/// A note whose signatures were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedNote {
    /// The signed text, ending with a newline.
    pub text: String,
    /// Names of the given verifiers whose signature verified, in note order.
    pub verified_by: Vec<String>,
}

/// A note split into its signed text and signature lines, each as `(name, key hash, the
/// rest of its decoded blob)`, at most [`MAX_SIGNATURES`] of them.
pub(crate) type SignatureLine<'a> = (&'a str, u32, Vec<u8>);

/// Splits `note` into its text and signature lines (checking the format only).
pub(crate) fn split(note: &str) -> Result<(&str, Vec<SignatureLine<'_>>), NoteError> {
    if note.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::MalformedNote("control character"));
    }
    let split = note
        .rfind("\n\n")
        .ok_or(NoteError::MalformedNote("no signature block"))?;
    let (text, sigs) = (&note[..=split], &note[split + 2..]);
    let lines = sigs.strip_suffix('\n').ok_or(NoteError::MalformedNote(
        "signature block must end with a newline",
    ))?;
    let mut out = Vec::new();
    for (count, line) in lines.split('\n').enumerate() {
        if count >= MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures);
        }
        out.push(parse_signature_line(line)?);
    }
    Ok((text, out))
}

/// Parses `note` and verifies its signatures against `verifiers`.
///
/// Signatures by keys not in `verifiers` (no matching name and key hash) are ignored;
/// at least one given verifier must have signed; a signature by a given verifier that
/// fails strict Ed25519 verification rejects the whole note.
pub fn open(note: &str, verifiers: &[NoteVerifier]) -> Result<OpenedNote, NoteError> {
    let (text, lines) = split(note)?;
    let mut verified_by: Vec<String> = Vec::new();
    let mut seen: Vec<(&str, u32)> = Vec::new();
    for (name, hash, sig) in lines {
        let Some(verifier) = verifiers.iter().find(|v| v.name == name && v.hash == hash) else {
            continue;
        };
        // A repeated signature by the same key adds nothing; Go drops it too.
        if seen.contains(&(name, hash)) {
            continue;
        }
        seen.push((name, hash));
        let valid = Signature::from_slice(&sig)
            .and_then(|s| verifier.key.verify_strict(text.as_bytes(), &s))
            .is_ok();
        if !valid {
            return Err(NoteError::InvalidSignature {
                name: name.to_owned(),
            });
        }
        verified_by.push(name.to_owned());
    }
    if verified_by.is_empty() {
        return Err(NoteError::Unverified);
    }
    Ok(OpenedNote {
        text: text.to_owned(),
        verified_by,
    })
}

/// Parses `— <name> <base64(key hash || signature)>` into its parts.
fn parse_signature_line(line: &str) -> Result<(&str, u32, Vec<u8>), NoteError> {
    let malformed = NoteError::MalformedNote("bad signature line");
    let rest = line.strip_prefix(SIG_PREFIX).ok_or(malformed.clone())?;
    let (name, b64) = rest.split_once(' ').ok_or(malformed.clone())?;
    let blob = STANDARD.decode(b64).map_err(|_| malformed.clone())?;
    if !is_valid_name(name) || blob.len() < 5 {
        return Err(malformed);
    }
    let (hash, sig) = blob.split_at(4);
    let hash = u32::from_be_bytes([hash[0], hash[1], hash[2], hash[3]]);
    Ok((name, hash, sig.to_vec()))
}

#[cfg(test)]
mod tests;
