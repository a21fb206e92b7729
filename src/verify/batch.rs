//! How one batch of signatures is checked.
//!
//! The batch equation is the cofactored one of ed25519-dalek's `verify_batch`: with random
//! 128-bit z_i, `[8](−(Σ z_i s_i) B + Σ z_i R_i + Σ (z_i h_i) A_i)` must be the identity,
//! `h_i = SHA-512(R_i ‖ A_i ‖ M_i)`, every `s_i` canonical. When many signatures share a
//! key, ed25519-zebra's verifier coalesces their `A` terms into one (`(Σ z_i h_i) A`), so
//! the multiscalar multiplication has n + k + 1 points for k keys instead of 2n + 1. A log
//! is signed by its caseworkers, a few hundred people at most, and the signature stage
//! groups each window of signatures by key before cutting batches, so k is small.
//!
//! The two crates accept the same signatures: both decompress `R` and `A` without asking for
//! canonical encodings (an `R` that `verify_strict` refuses is screened before, see
//! [`super::strict_r`]; a weak `A` is refused at registration), both refuse a non-canonical
//! `s`, both multiply by the cofactor. Where most keys are distinct, zebra pays one point
//! decompression per key that dalek's pre-decompressed keys do not, and dalek is faster
//! (measured on 1024 signatures: zebra 1.55× dalek's rate with 1 key, 1.33× with 256 keys,
//! 1.07× with 512, 0.80× with 1024), so such a batch goes through dalek.

use ed25519_dalek::{Signature, VerifyingKey};
use rand_chacha::rand_core::{OsRng, SeedableRng};
use rand_chacha::ChaCha12Rng;

use super::entry::SigJob;
use super::report::Failure;

/// Whether the batch equation holds for every `(message, signature, key)`: the batch is
/// valid, up to the difference described in docs/verify.md. Coalesces keys when at most
/// half of the signatures start a run of their key (in a batch grouped by key, when at
/// most half have a key of their own; ungrouped, coalescing is chosen less often).
pub fn holds(msgs: &[&[u8]], sigs: &[Signature], keys: &[VerifyingKey]) -> bool {
    debug_assert!(msgs.len() == sigs.len() && sigs.len() == keys.len());
    let runs = 1 + keys.windows(2).filter(|k| k[0] != k[1]).count();
    if 2 * runs > keys.len() {
        return ed25519_dalek::verify_batch(msgs, sigs, keys).is_ok();
    }
    let mut verifier = ed25519_zebra::batch::Verifier::new();
    for ((m, s), k) in msgs.iter().zip(sigs).zip(keys) {
        verifier.queue((
            ed25519_zebra::VerificationKeyBytes::from(k.to_bytes()),
            ed25519_zebra::Signature::from(s.to_bytes()),
            m,
        ));
    }
    // A fresh seed from the operating system per batch: the coefficients must be unknown
    // to whoever made the bundle. ChaCha, not one system call per coefficient (7% faster).
    let rng = ChaCha12Rng::from_rng(OsRng).expect("the operating system's random source");
    verifier.verify(rng).is_ok()
}

/// A signature job and its place among all the jobs pushed (the number pushed before it).
pub(super) struct Queued {
    pub seq: u64,
    pub job: SigJob,
}

/// Checks one batch; of its failures, the one pushed first, with its place.
///
/// The batch goes through [`holds`]; if that fails, every signature is re-checked with
/// `verify_strict` to name the culprit. So is a batch holding an `R` that `verify_strict`
/// refuses on its encoding alone (see [`super::strict_r`]), which the batch equation would
/// let through. With `strict`, every signature is checked with `verify_strict` (see
/// docs/verify.md for the difference).
pub(super) fn check(batch: &[Queued], strict: bool) -> Option<(u64, Failure)> {
    if !strict
        && !batch
            .iter()
            .any(|q| super::strict_r::refused(&q.job.signature))
    {
        let msgs: Vec<&[u8]> = batch.iter().map(|q| q.job.message.as_slice()).collect();
        let sigs: Vec<Signature> = batch.iter().map(|q| q.job.signature).collect();
        let keys: Vec<VerifyingKey> = batch.iter().map(|q| q.job.key).collect();
        if holds(&msgs, &sigs, &keys) {
            return None;
        }
    }
    // A batch is grouped by key, not in log order: the first failure is the lowest place.
    batch
        .iter()
        .filter_map(|q| q.job.strict().err().map(|f| (q.seq, f)))
        .min_by_key(|(seq, _)| *seq)
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer, SigningKey};

    use super::*;

    /// `n` signatures by `keys` distinct keys, grouped by key as the signature stage groups
    /// them, the ones at `forged` over another message.
    fn signed(n: usize, keys: usize, forged: &[usize]) -> Vec<(Vec<u8>, Signature, VerifyingKey)> {
        let keys: Vec<SigningKey> = (0..keys)
            .map(|k| SigningKey::from_bytes(&[k as u8 + 1; 32]))
            .collect();
        (0..n)
            .map(|i| {
                let key = &keys[i * keys.len() / n];
                let message = format!("entry {i}").into_bytes();
                let over: &[u8] = if forged.contains(&i) {
                    b"other"
                } else {
                    &message
                };
                let signature = key.sign(over);
                (message, signature, key.verifying_key())
            })
            .collect()
    }

    fn holds_for(items: &[(Vec<u8>, Signature, VerifyingKey)]) -> bool {
        let msgs: Vec<&[u8]> = items.iter().map(|i| i.0.as_slice()).collect();
        let sigs: Vec<Signature> = items.iter().map(|i| i.1).collect();
        let keys: Vec<VerifyingKey> = items.iter().map(|i| i.2).collect();
        holds(&msgs, &sigs, &keys)
    }

    #[test]
    fn both_equations_accept_valid_batches_and_refuse_any_forgery() {
        // 1 and 8 keys for 64 signatures coalesce; 40 and 64 keys go through dalek.
        for keys in [1, 8, 40, 64] {
            assert!(holds_for(&signed(64, keys, &[])), "{keys} keys, valid");
            for forged in [0, 31, 63] {
                assert!(
                    !holds_for(&signed(64, keys, &[forged])),
                    "{keys} keys, {forged}"
                );
            }
        }
    }

    #[test]
    fn a_signature_moved_to_another_key_is_refused_even_when_keys_coalesce() {
        let mut items = signed(64, 2, &[]);
        // Entry 0's signature (key 0), claimed for key 1: both keys still in the batch.
        items[0].2 = items[63].2;
        assert_ne!(items[0].2, items[1].2);
        assert!(!holds_for(&items));
    }

    #[test]
    fn a_non_canonical_s_is_refused_by_both_equations() {
        // s + L verifies the same equation; both crates refuse it as non-canonical.
        const L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        for keys in [1, 64] {
            let mut items = signed(64, keys, &[]);
            let i = 5;
            let mut bytes = items[i].1.to_bytes();
            let mut carry = 0u16;
            for (b, l) in bytes[32..].iter_mut().zip(L) {
                let sum = *b as u16 + l as u16 + carry;
                *b = sum as u8;
                carry = sum >> 8;
            }
            items[i].1 = Signature::from_bytes(&bytes);
            assert!(!holds_for(&items), "{keys} keys");
        }
    }
}
