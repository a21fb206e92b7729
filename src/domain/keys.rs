//! Fixed-size binary values that travel as text: key ids and token hashes (lowercase hex) and
//! Ed25519 public keys (standard base64). Each keeps the decoded 32 bytes.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::ids::ParseIdError;

/// Decodes exactly 64 lowercase hex digits. Uppercase is refused so each value has a single
/// spelling, which keeps string comparison of key ids and token hashes sound.
fn decode_lower_hex(text: &str, rule: &'static str) -> Result<[u8; 32], ParseIdError> {
    let well_formed = text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let mut bytes = [0u8; 32];
    if !well_formed || hex::decode_to_slice(text, &mut bytes).is_err() {
        return Err(ParseIdError(rule));
    }
    Ok(bytes)
}

/// Whether a 32-byte Ed25519 point encoding spells its y coordinate canonically: below
/// p = 2^255 − 19 once the sign bit is dropped (p itself is `ed ff … ff 7f`). The decoder
/// reduces the 19 other spellings (y < 19 only), which RFC 8032 §5.1.3 refuses.
pub fn canonical_y(encoding: &[u8; 32]) -> bool {
    let top = encoding[31] & 0x7f;
    !(top == 0x7f && encoding[1..31].iter().all(|&b| b == 0xff) && encoding[0] >= 0xed)
}

/// The id of an Ed25519 key: SHA-256 of the 32-byte public key, as 64 lowercase hex digits
/// (the DSSE `keyid`, DESIGN §2.1). Not `Copy`: it is a map key, passed by reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; 32]);

impl KeyId {
    /// The key id of a raw 32-byte public key.
    pub fn of(public_key: &[u8; 32]) -> Self {
        KeyId(Sha256::digest(public_key).into())
    }

    /// Wraps an already computed digest.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        KeyId(bytes)
    }

    /// The digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl FromStr for KeyId {
    type Err = ParseIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        decode_lower_hex(text, "invalid key id: expected 64 lowercase hex digits").map(KeyId)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

string_serde!(KeyId, "KeyId", "a key id", { "type": "string", "pattern": "^[0-9a-f]{64}$" });

/// A SHA-256 digest as 64 lowercase hex digits; used for `token_sha256`, so bearer tokens
/// themselves never enter the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Hex([u8; 32]);

impl Sha256Hex {
    /// The SHA-256 digest of `data`.
    pub fn digest(data: &[u8]) -> Self {
        Sha256Hex(Sha256::digest(data).into())
    }

    /// Wraps an already computed digest.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Sha256Hex(bytes)
    }

    /// The digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl FromStr for Sha256Hex {
    type Err = ParseIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        decode_lower_hex(text, "invalid sha-256: expected 64 lowercase hex digits").map(Sha256Hex)
    }
}

impl fmt::Display for Sha256Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

string_serde!(Sha256Hex, "Sha256Hex", "a sha-256 hex digest", { "type": "string", "pattern": "^[0-9a-f]{64}$" });

/// A raw 32-byte Ed25519 public key, written as standard (padded) base64.
///
/// Only the 32 bytes are checked here; whether they are a valid curve point is the envelope
/// layer's concern when it builds a verifying key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKeyB64([u8; 32]);

impl PublicKeyB64 {
    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        PublicKeyB64(bytes)
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key id (SHA-256 of the key) that signatures made with this key carry.
    pub fn key_id(&self) -> KeyId {
        KeyId::of(&self.0)
    }
}

impl FromStr for PublicKeyB64 {
    type Err = ParseIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        // STANDARD rejects non-canonical padding and trailing bits, so each key has one spelling.
        STANDARD
            .decode(text)
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .map(PublicKeyB64)
            .ok_or(ParseIdError(
                "invalid public key: expected standard base64 of exactly 32 bytes",
            ))
    }
}

impl fmt::Display for PublicKeyB64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&STANDARD.encode(self.0))
    }
}

string_serde!(PublicKeyB64, "PublicKeyB64", "a base64 public key", {
    "type": "string",
    "contentEncoding": "base64",
    "pattern": "^[A-Za-z0-9+/]{43}=$"
});
