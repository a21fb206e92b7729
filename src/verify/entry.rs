//! Per-entry work that needs no other entry, run in parallel: parsing the bundle entry,
//! decoding the entry bytes and hashing the leaf. Also the signature jobs
//! ([`super::signatures`] runs them in batches).

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, VerifyingKey};

use super::report::{Check, Failure};
use crate::domain::bounded::object_only;
use crate::jsonscan::Cursor;
use crate::ledger::entry::{self, DecodedEntry};
use crate::log::merkle::{leaf_hash, Hash};

/// A bundle entry as parsed from its raw JSON; proof hashes are borrowed, not copied.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry<'a> {
    index: u64,
    #[serde(borrow)]
    entry: Cow<'a, str>,
    #[serde(borrow, deserialize_with = "proof_list")]
    proof: Vec<Cow<'a, str>>,
}

/// The most hashes an inclusion proof has (a tree of 2^64 leaves is 64 levels high).
const MAX_PROOF: usize = 64;

/// A proof list, refused as soon as it holds more than [`MAX_PROOF`] items: a hostile list
/// of empty strings would otherwise take eight times its bytes before any hash is checked.
fn proof_list<'de: 'a, 'a, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<Cow<'a, str>>, D::Error> {
    struct Hashes;
    impl<'de> serde::de::Visitor<'de> for Hashes {
        type Value = Vec<Cow<'de, str>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "a list of at most {MAX_PROOF} proof hashes")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut hashes = Vec::new();
            while let Some(h) = seq.next_element::<Borrowed<'de>>()? {
                if hashes.len() == MAX_PROOF {
                    return Err(serde::de::Error::custom(format!(
                        "a proof of more than {MAX_PROOF} hashes"
                    )));
                }
                hashes.push(h.0);
            }
            Ok(hashes)
        }
    }
    d.deserialize_seq(Hashes)
}

/// A string borrowed from the input where it holds no escape.
#[derive(serde::Deserialize)]
struct Borrowed<'a>(#[serde(borrow)] Cow<'a, str>);

/// An entry that parsed and decoded.
pub(super) struct Prepared<'a> {
    pub index: u64,
    pub leaf: Hash,
    /// The inclusion proof, not yet checked.
    pub proof: Proof<'a>,
    pub decoded: DecodedEntry,
}

/// Characters of one base64 hash; the exporter quotes each and separates them with commas.
pub(super) const HASH_TEXT: usize = 44;
const HASH_STRIDE: usize = HASH_TEXT + 3;

/// An inclusion proof as the bundle spells it.
#[derive(Debug, PartialEq)]
pub(super) enum Proof<'a> {
    /// The exporter's spelling, kept as text: `"h","h",...`, each `h` 44 base64 characters.
    /// Compared as text where the expected hashes are known ([`super::proofs`]), so most
    /// proof hashes are never decoded.
    Text(&'a [u8]),
    /// Any other spelling, decoded.
    Decoded(Vec<Hash>),
    /// A hash that is not base64 of 32 bytes.
    Invalid,
}

impl Proof<'_> {
    /// Number of hashes.
    pub fn len(&self) -> usize {
        match self {
            Proof::Text(t) => (t.len() + 1) / HASH_STRIDE,
            Proof::Decoded(h) => h.len(),
            Proof::Invalid => 0,
        }
    }

    /// The base64 text of hash `i`, for the text form.
    pub fn text(&self, i: usize) -> Option<&[u8; HASH_TEXT]> {
        match self {
            Proof::Text(t) => t
                .get(i * HASH_STRIDE + 1..i * HASH_STRIDE + 1 + HASH_TEXT)
                .and_then(|h| h.try_into().ok()),
            _ => None,
        }
    }

    /// The text of hashes `i..`, separators included, for the text form (empty past the end).
    pub fn text_from(&self, i: usize) -> Option<&[u8]> {
        match self {
            Proof::Text(t) => t.get((i * HASH_STRIDE).min(t.len())..),
            _ => None,
        }
    }

    /// The hashes; `None` when one is not base64 of 32 bytes.
    pub fn hashes(&self) -> Option<Cow<'_, [Hash]>> {
        match self {
            Proof::Text(t) => t
                .chunks(HASH_STRIDE)
                .map(|h| proof_hash(&h[1..=HASH_TEXT]))
                .collect::<Option<Vec<_>>>()
                .map(Cow::Owned),
            Proof::Decoded(h) => Some(Cow::Borrowed(h)),
            Proof::Invalid => None,
        }
    }
}

/// A bundle entry's parts: index, entry bytes, proof.
type Parts<'a> = (u64, Vec<u8>, Proof<'a>);

/// One proof hash from its base64 text.
fn proof_hash(text: &[u8]) -> Option<Hash> {
    let mut buf = [0u8; 48];
    let n = B64.decode_slice(text, &mut buf).ok()?;
    <Hash>::try_from(&buf[..n]).ok()
}

/// A byte that means itself inside a JSON string: printable ASCII (0x20..=0x7E) but the
/// backslash (the list scan counts quotes and commas itself). That a proof hash is base64
/// is checked where it is used: decoding accepts only canonical base64, and the fast path
/// compares the text with canonical encodings. Branch-free, so that checking a whole list
/// vectorises.
fn is_plain_ascii(b: u8) -> bool {
    (b.wrapping_sub(b' ') < 0x5F) & (b != b'\\')
}

/// The bundle entry in the exporter's exact spelling, read directly; `None` declines to
/// [`general`] (which reads any JSON spelling and words the errors).
fn scan(raw: &[u8]) -> Option<Parts<'_>> {
    let mut c = Cursor::new(raw);
    c.lit(r#"{"index":"#)?;
    let index = c.number()?;
    c.lit(r#","entry":""#)?;
    let entry = c.escaped_string()?;
    c.lit(r#","proof":["#)?;
    let proof = Proof::Text(c.fixed_strings(HASH_TEXT, is_plain_ascii)?);
    c.lit("}")?;
    // A longer list is declined: [`general`] refuses it while reading it.
    (c.at_end() && proof.len() <= MAX_PROOF).then_some((index, entry, proof))
}

/// The bundle entry in any JSON spelling.
fn general(raw: &[u8], position: u64) -> Result<Parts<'_>, Failure> {
    // As an object only: serde would also read the fields from an array, in order, a
    // spelling DESIGN §4.1 does not have.
    let mut json = serde_json::Deserializer::from_slice(raw);
    let e: RawEntry<'_> = object_only(&mut json)
        .and_then(|e| json.end().map(|()| e))
        .map_err(|err| {
            Failure::bundle(
                Check::Format,
                format!("bundle entry number {position} (from 0) is not an entry: {err}"),
            )
        })?;
    let proof: Option<Vec<Hash>> = e.proof.iter().map(|h| proof_hash(h.as_bytes())).collect();
    let proof = proof.map_or(Proof::Invalid, Proof::Decoded);
    Ok((e.index, e.entry.into_owned().into_bytes(), proof))
}

/// Parses one raw bundle entry and decodes its bytes; its proof is checked by [`super::proofs`].
/// `position` (the entry's place in the bundle) names it when even its index is unreadable.
/// A line candidate (see [`crate::bundle::read::RawChunk`]) the exact scan cannot read is
/// declined: it may hold several entries, and its chunk must be re-split before anything is
/// judged. `declined` is then set (the result is a placeholder nobody reports); it is
/// `None` for entries the reader split exactly.
pub(super) fn prepare<'a>(
    raw: &'a [u8],
    position: u64,
    declined: Option<&AtomicBool>,
) -> Result<Prepared<'a>, Failure> {
    let parts = match (scan(raw), declined) {
        (Some(parts), _) => Ok(parts),
        (None, Some(declined)) => {
            declined.store(true, Ordering::Relaxed);
            return Err(Failure::bundle(Check::Format, "a line to split exactly"));
        }
        (None, None) => general(raw, position),
    };
    parts.and_then(|(index, bytes, proof)| {
        let leaf = leaf_hash(&bytes);
        let decoded = entry::decode(&bytes).map_err(|err| {
            let f = Failure::at(index, Check::Entry, err.to_string());
            match entry::placed(&bytes) {
                Some((stream, revision)) => f.in_stream(&stream, revision),
                None => f,
            }
        })?;
        Ok(Prepared {
            index,
            leaf,
            proof,
            decoded,
        })
    })
}

/// One signature to check, with the key the replay found registered for it.
pub(super) struct SigJob {
    pub index: u64,
    pub stream: String,
    pub revision: u64,
    pub key: VerifyingKey,
    /// Whether `key` has no small-order component (see [`super::batch`]).
    pub key_torsion_free: bool,
    pub message: Vec<u8>,
    pub signature: Signature,
}

impl SigJob {
    /// `verify_strict`, the server's check.
    pub(super) fn strict(&self) -> Result<(), Failure> {
        self.key
            .verify_strict(&self.message, &self.signature)
            .map_err(|_| self.failure())
    }

    /// The single-signature form of the batch equation (ed25519-zebra, cofactored, ZIP 215):
    /// what the batch equation holds for, one signature at a time.
    pub(super) fn cofactored(&self) -> Result<(), Failure> {
        ed25519_zebra::VerificationKey::try_from(self.key.to_bytes())
            .and_then(|k| {
                let signature = ed25519_zebra::Signature::from(self.signature.to_bytes());
                k.verify(&signature, &self.message)
            })
            .map_err(|_| self.failure())
    }

    /// The bytes this job holds, its message and stream name included.
    pub(super) fn bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.message.capacity() + self.stream.capacity()
    }

    pub(super) fn failure(&self) -> Failure {
        Failure::at(
            self.index,
            Check::Signature,
            "the DSSE signature does not verify under the signer's registered key",
        )
        .in_stream(&self.stream, self.revision)
    }
}

#[cfg(test)]
mod tests;
