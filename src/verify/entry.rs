//! Per-entry work that needs no other entry, run in parallel: parsing the bundle entry,
//! decoding the entry bytes and hashing the leaf. Also the signature jobs, checked in
//! batches across cores.

use std::borrow::Cow;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, VerifyingKey};
use rayon::prelude::*;

use super::report::{Check, Failure};
use crate::envelope::PAYLOAD_TYPE;
use crate::jsonscan::Cursor;
use crate::ledger::entry::{self, DecodedEntry};
use crate::log::merkle::{leaf_hash, Hash};

/// Signatures per `verify_batch` call: large enough to amortise the multiscalar
/// multiplication, small enough that a failing batch is cheap to re-check one by one.
const BATCH: usize = 64;

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
pub(super) struct Prepared {
    pub index: u64,
    pub leaf: Hash,
    /// The decoded inclusion proof, not yet checked.
    pub proof: Vec<Hash>,
    pub decoded: DecodedEntry,
    /// The DSSE pre-authentication encoding the signature covers.
    pub message: Vec<u8>,
}

/// A bundle entry's parts: index, entry bytes, and its proof (`None`: a hash that is not
/// base64 of 32 bytes).
type Parts = (u64, Vec<u8>, Option<Vec<Hash>>);

/// One proof hash from its base64 text.
fn proof_hash(text: &str) -> Option<Hash> {
    let mut buf = [0u8; 48];
    let n = B64.decode_slice(text.as_bytes(), &mut buf).ok()?;
    <Hash>::try_from(&buf[..n]).ok()
}

/// The bundle entry in the exporter's exact spelling, read directly; `None` declines to
/// [`general`] (which reads any JSON spelling and words the errors).
fn scan(raw: &[u8]) -> Option<Parts> {
    let mut c = Cursor::new(raw);
    c.lit(r#"{"index":"#)?;
    let index = c.number()?;
    c.lit(r#","entry":""#)?;
    let entry = c.escaped_string()?;
    c.lit(r#","proof":["#)?;
    let mut proof = Vec::with_capacity(64);
    if !c.eat(b']') {
        loop {
            c.lit("\"")?;
            proof.push(proof_hash(&c.string()?)?);
            if c.eat(b']') {
                break;
            }
            c.lit(",")?;
        }
    }
    c.lit("}")?;
    c.at_end().then_some((index, entry, Some(proof)))
}

/// The bundle entry in any JSON spelling.
fn general(raw: &[u8], position: u64) -> Result<Parts, Failure> {
    let e: RawEntry<'_> = serde_json::from_slice(raw).map_err(|err| {
        Failure::bundle(
            Check::Format,
            format!("bundle entry number {position} (from 0) is not an entry: {err}"),
        )
    })?;
    let proof = e.proof.iter().map(|h| proof_hash(h)).collect();
    Ok((e.index, e.entry.into_owned().into_bytes(), proof))
}

/// Parses one raw bundle entry and decodes its bytes; its proof is checked by [`super::proofs`].
/// `position` (the entry's place in the bundle) names it when even its index is unreadable.
pub(super) fn prepare(raw: &[u8], position: u64) -> Result<Prepared, Failure> {
    let (index, bytes, proof) = match scan(raw) {
        Some(parts) => parts,
        None => general(raw, position)?,
    };
    let leaf = leaf_hash(&bytes);
    let decoded =
        entry::decode(&bytes).map_err(|err| Failure::at(index, Check::Entry, err.to_string()))?;
    let proof = proof.ok_or_else(|| {
        Failure::at(
            index,
            Check::InclusionProof,
            "a proof hash is not base64 of 32 bytes",
        )
        .in_stream(&decoded.stream, decoded.revision)
    })?;
    let message = crate::envelope::pae(PAYLOAD_TYPE, decoded.envelope.payload());
    Ok(Prepared {
        index,
        leaf,
        proof,
        decoded,
        message,
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

/// Checks every job on all cores; the failure with the lowest index, if any.
///
/// Batches go through `ed25519_dalek::verify_batch`; a failing batch is re-checked one
/// signature at a time with `verify_strict` to name the culprit. With `strict`, every
/// signature is checked with `verify_strict` (see docs/verify.md for the difference).
pub(super) fn check_signatures(jobs: &[SigJob], strict: bool) -> Option<Failure> {
    jobs.par_chunks(BATCH)
        .filter_map(|chunk| {
            if !strict {
                let msgs: Vec<&[u8]> = chunk.iter().map(|j| j.message.as_slice()).collect();
                let sigs: Vec<Signature> = chunk.iter().map(|j| j.signature).collect();
                let keys: Vec<VerifyingKey> = chunk.iter().map(|j| j.key).collect();
                if ed25519_dalek::verify_batch(&msgs, &sigs, &keys).is_ok() {
                    return None;
                }
            }
            chunk.iter().find_map(|j| j.strict().err())
        })
        .min_by_key(|f| f.index)
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

    #[test]
    fn the_exporters_spelling_is_scanned_and_others_are_declined() {
        let raw = exported(5, r#"{"v":1,"stream":"agency-a"}"#, &[[1; 32], [2; 32]]);
        let fast = scan(raw.as_bytes()).expect("scanned");
        assert_eq!(fast, general(raw.as_bytes(), 0).expect("parses"));
        assert_eq!(fast.1, br#"{"v":1,"stream":"agency-a"}"#.to_vec());
        let empty = exported(0, "x", &[]);
        assert_eq!(
            scan(empty.as_bytes()),
            Some((0, b"x".to_vec(), Some(vec![])))
        );
        let spaced = raw.replace(r#""index":5"#, r#""index": 5"#);
        assert!(scan(spaced.as_bytes()).is_none());
        let bad_hash = raw.replacen("AQEB", "!QEB", 1);
        assert!(
            scan(bad_hash.as_bytes()).is_none(),
            "declined to name the error"
        );
        assert_eq!(general(bad_hash.as_bytes(), 0).expect("json").2, None);
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
                    prop_assert_eq!(Some(fast), general(bytes, 0).ok());
                }
            }
            prop_assert!(scan(&raw).is_some() || entry.contains('\n'));
        }
    }
}
