//! Per-entry work that needs no other entry, run in parallel: parsing the bundle entry,
//! decoding the entry bytes and hashing the leaf. Also the signature jobs and how one
//! batch of them is checked ([`super::signatures`] runs the batches).

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
    #[serde(borrow)]
    proof: Vec<Cow<'a, str>>,
}

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
    let proof = c.fixed_strings(HASH_TEXT, is_plain_ascii)?;
    c.lit("}")?;
    c.at_end().then_some((index, entry, Proof::Text(proof)))
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
        let decoded = entry::decode(&bytes)
            .map_err(|err| Failure::at(index, Check::Entry, err.to_string()))?;
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
    pub message: Vec<u8>,
    pub signature: Signature,
}

impl SigJob {
    fn strict(&self) -> Result<(), Failure> {
        self.key
            .verify_strict(&self.message, &self.signature)
            .map_err(|_| {
                Failure::at(
                    self.index,
                    Check::Signature,
                    "the DSSE signature does not verify under the signer's registered key",
                )
                .in_stream(&self.stream, self.revision)
            })
    }
}

/// Checks one batch; the first failure in it and its position, if any.
///
/// The batch goes through `ed25519_dalek::verify_batch`; if that fails, it is re-checked one
/// signature at a time with `verify_strict` to name the culprit. With `strict`, every
/// signature is checked with `verify_strict` (see docs/verify.md for the difference).
pub(super) fn check_batch(batch: &[SigJob], strict: bool) -> Option<(usize, Failure)> {
    if !strict {
        let msgs: Vec<&[u8]> = batch.iter().map(|j| j.message.as_slice()).collect();
        let sigs: Vec<Signature> = batch.iter().map(|j| j.signature).collect();
        let keys: Vec<VerifyingKey> = batch.iter().map(|j| j.key).collect();
        if ed25519_dalek::verify_batch(&msgs, &sigs, &keys).is_ok() {
            return None;
        }
    }
    batch
        .iter()
        .enumerate()
        .find_map(|(i, j)| j.strict().err().map(|f| (i, f)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A bundle entry as the exporter spells it.
    fn exported(index: u64, entry: &str, proof: &[Hash]) -> String {
        let hashes: Vec<String> = proof
            .iter()
            .map(|h| serde_json::Value::from(B64.encode(h)).to_string())
            .collect();
        format!(
            "{{\"index\":{index},\"entry\":{},\"proof\":[{}]}}",
            serde_json::Value::from(entry),
            hashes.join(",")
        )
    }

    /// Parts with the proof decoded, to compare the two readers.
    fn decoded(p: Parts<'_>) -> (u64, Vec<u8>, Option<Vec<Hash>>) {
        let hashes = p.2.hashes().map(|h| h.into_owned());
        (p.0, p.1, hashes)
    }

    #[test]
    fn the_exporters_spelling_is_scanned_and_others_are_declined() {
        let raw = exported(5, r#"{"v":1,"stream":"agency-a"}"#, &[[1; 32], [2; 32]]);
        let fast = scan(raw.as_bytes()).expect("scanned");
        assert!(matches!(fast.2, Proof::Text(_)));
        assert_eq!(fast.2.len(), 2);
        assert_eq!(
            fast.2.text(1).map(|t| &t[..]),
            Some(B64.encode([2; 32]).as_bytes())
        );
        assert_eq!(fast.2.text_from(1).map(|t| t.len()), Some(46));
        assert_eq!(fast.2.text_from(2), Some(&b""[..]));
        assert_eq!(
            decoded(fast),
            decoded(general(raw.as_bytes(), 0).expect("parses"))
        );
        let empty = exported(0, "x", &[]);
        let fast = scan(empty.as_bytes()).expect("scanned");
        assert_eq!(decoded(fast), (0, b"x".to_vec(), Some(vec![])));
        let spaced = raw.replace(r#""index":5"#, r#""index": 5"#);
        assert!(scan(spaced.as_bytes()).is_none());
        // Not base64: read as text, refused where decoded (as the generic reader does).
        let bad_hash = raw.replacen("AQEB", "!QEB", 1);
        assert_eq!(scan(bad_hash.as_bytes()).expect("scanned").2.hashes(), None);
        assert_eq!(
            general(bad_hash.as_bytes(), 0).expect("json").2,
            Proof::Invalid
        );
        // A backslash, a control character or a non-ASCII byte is left to serde_json.
        for odd in ["A\\EB", "A\tEB", "AéB"] {
            assert_eq!(odd.len(), 4);
            assert!(
                scan(raw.replacen("AQEB", odd, 1).as_bytes()).is_none(),
                "{odd}"
            );
        }
        // Base64 characters that are not a canonical hash: read as text, refused decoded.
        let odd = raw.replacen("AQEB", "AQE=", 1);
        let fast = scan(odd.as_bytes()).expect("scanned");
        assert_eq!(fast.2.hashes(), None);
        assert_eq!(general(odd.as_bytes(), 0).expect("json").2, Proof::Invalid);
    }

    #[test]
    fn a_line_candidate_the_scan_cannot_read_is_declined_not_judged() {
        let one = exported(0, "x", &[]);
        let two = format!("{one},{}", exported(1, "y", &[]));
        let declined = AtomicBool::new(false);
        // One entry the scan reads (its bytes are no log entry: judged, not declined).
        let judged = prepare(one.as_bytes(), 0, Some(&declined))
            .err()
            .expect("judged");
        assert_eq!(judged.check, Check::Entry);
        assert!(!declined.load(Ordering::Relaxed));
        assert!(prepare(two.as_bytes(), 0, Some(&declined)).is_err());
        assert!(declined.load(Ordering::Relaxed));
        let exact = prepare(two.as_bytes(), 0, None).err().expect("judged");
        assert!(exact.message.contains("not an entry"), "{}", exact.message);
    }

    #[test]
    fn an_entry_spelled_as_an_array_of_its_fields_is_not_an_entry() {
        let object = exported(0, "x", &[[1; 32]]);
        let array = format!("[0,\"x\",[\"{}\"]]", B64.encode([1; 32]));
        assert_eq!(general(object.as_bytes(), 0).expect("an entry").0, 0);
        let refused = general(array.as_bytes(), 3).expect_err("refused");
        assert_eq!(refused.check, Check::Format);
        assert!(
            refused
                .message
                .contains("bundle entry number 3 (from 0) is not an entry"),
            "{}",
            refused.message
        );
        // Nor anything after the object.
        assert!(general(format!("{object} 1").as_bytes(), 0).is_err());
    }

    proptest! {
        /// Whatever the scan accepts, serde_json reads to the same parts.
        #[test]
        fn the_scan_agrees_with_serde_json(
            entry in "[ -~é\\n]{0,60}",
            index in any::<u64>(),
            hashes in 0usize..4,
            flip in 0usize..300,
            byte in any::<u8>(),
        ) {
            let raw = exported(index, &entry, &vec![[7u8; 32]; hashes]).into_bytes();
            let mut flipped = raw.clone();
            if let Some(b) = flipped.get_mut(flip) { *b = byte; }
            for bytes in [&raw, &flipped] {
                if let Some(fast) = scan(bytes) {
                    prop_assert_eq!(Some(decoded(fast)), general(bytes, 0).ok().map(decoded));
                }
            }
            prop_assert!(scan(&raw).is_some() || entry.contains('\n'));
        }

        /// A proof list alone, as the scan reads it (44-byte items, plain ASCII): with any
        /// byte changed to any value, whatever it still accepts serde_json reads as the same
        /// list of 44-byte strings, ending where the scan says.
        #[test]
        fn proof_lists_agree_with_serde_json(
            items in proptest::collection::vec("[A-Za-z0-9+/]{43}=", 0..4),
            flip in 0usize..200,
            byte in any::<u8>(),
        ) {
            let quoted: Vec<String> = items.iter().map(|i| format!("\"{i}\"")).collect();
            let text = format!("{}]}}", quoted.join(","));
            let mut flipped = text.clone().into_bytes();
            if let Some(b) = flipped.get_mut(flip) { *b = byte; }
            let exact = Cursor::new(text.as_bytes()).fixed_strings(HASH_TEXT, is_plain_ascii);
            prop_assert_eq!(exact, Some(&text.as_bytes()[..text.len() - 2]));
            let mut c = Cursor::new(&flipped);
            if let Some(inner) = c.fixed_strings(HASH_TEXT, is_plain_ascii) {
                let json = format!("[{}]", std::str::from_utf8(inner).expect("ascii"));
                let read: Vec<String> = serde_json::from_str(&json).expect("serde reads it");
                prop_assert!(read.iter().all(|i| i.len() == HASH_TEXT));
                prop_assert_eq!(read.len(), (inner.len() + 1) / HASH_STRIDE);
                prop_assert_eq!(flipped.len() - c.rest().len(), inner.len() + 1);
            }
        }
    }
}
