//! How one batch of signatures is checked.
//!
//! One equation for every batch: ed25519-zebra's batch verification, with random 128-bit
//! coefficients z_i: `[8](−(Σ z_i s_i) B + Σ z_i R_i + Σ_A (Σ_{i: A_i = A} z_i h_i) A)` must
//! be the identity, `h_i = SHA-512(R_i ‖ A_i ‖ M_i)`, every `s_i` canonical. The terms of the
//! signatures made with one key are coalesced into one, so the multiscalar multiplication has
//! n + k + 1 points for k keys instead of 2n + 1. A log is signed by its caseworkers, a few
//! hundred people, and the signature stage groups each window of signatures by key before
//! cutting batches, so k is small. (Raw rates over 1024 signatures on the 2-core build
//! machine, relative to `ed25519_dalek::verify_batch`: 1.55× with one key, 1.33× with 256,
//! 1.07× with 512, 0.80× when all are distinct, since zebra decompresses each key once per
//! batch. A batch with mostly distinct keys does not occur in a real log; one equation for
//! all, with [`check`] judging each signature by one predicate, keeps the verdict on a
//! bundle independent of how it was cut into batches.)
//!
//! What the equation accepts that `verify_strict` (the server's check, DESIGN §1) refuses:
//! multiplying by the cofactor 8 removes every small-order component, so
//! - a small-order or non-canonically encoded `R` would pass: screened before, such a
//!   signature goes to `verify_strict` (see [`super::strict_r`]);
//! - a key with a small-order component (a registered key is never small-order, the rules
//!   refuse weak keys, but a prime-order point plus a small-order one is not weak) would let
//!   every signature under it pass: a job carries whether its key is torsion-free (computed
//!   once per key by the replay), and a signature under any other key goes to
//!   `verify_strict`;
//! - an `R` with a small-order component (R' + T, where `verify_strict` needs exactly R')
//!   passes. Only the key's holder can make one (R' must still satisfy the equation); telling
//!   it apart would cost a scalar multiplication per signature. See docs/verify.md.
//!
//! Both this equation and `verify_strict` refuse a non-canonical `s`; both hash the bytes of
//! `R` and of the key as given (the registered bytes, kept by `VerifyingKey::from_bytes`).

use ed25519_dalek::{Signature, VerifyingKey};
use rand_chacha::rand_core::{OsRng, SeedableRng};
use rand_chacha::ChaCha12Rng;

use super::entry::SigJob;
use super::report::Failure;

/// Whether the batch equation holds for every `(message, signature, key)` (see the module
/// documentation for what it does not check).
pub fn holds(msgs: &[&[u8]], sigs: &[Signature], keys: &[VerifyingKey]) -> bool {
    debug_assert!(msgs.len() == sigs.len() && sigs.len() == keys.len());
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
/// Each signature is judged by one predicate whatever batch it is in, so the verdict on a
/// bundle does not depend on how it was cut into batches: a signature whose `R` fails the
/// screen (see [`super::strict_r`]) or whose key has a small-order component, which the
/// batch equation would let through, by `verify_strict`; every other one by the batch
/// equation, and when a batch of them fails, one at a time by the same cofactored equation
/// to name the culprits. With `strict`, every signature is checked with `verify_strict`
/// (see docs/verify.md for the difference).
pub(super) fn check(batch: &[Queued], strict: bool) -> Option<(u64, Failure)> {
    let failures = |jobs: &[&Queued], judge: fn(&SigJob) -> Result<(), Failure>| {
        jobs.iter()
            .filter_map(|q| judge(&q.job).err().map(|f| (q.seq, f)))
            .collect::<Vec<_>>()
    };
    let all: Vec<&Queued> = batch.iter().collect();
    if strict {
        return first(failures(&all, SigJob::strict));
    }
    let (plain, screened): (Vec<&Queued>, Vec<&Queued>) = all
        .into_iter()
        .partition(|q| q.job.key_torsion_free && !super::strict_r::refused(&q.job.signature));
    let mut found = failures(&screened, SigJob::strict);
    let msgs: Vec<&[u8]> = plain.iter().map(|q| q.job.message.as_slice()).collect();
    let sigs: Vec<Signature> = plain.iter().map(|q| q.job.signature).collect();
    let keys: Vec<VerifyingKey> = plain.iter().map(|q| q.job.key).collect();
    if !plain.is_empty() && !holds(&msgs, &sigs, &keys) {
        let mut culprits = failures(&plain, SigJob::cofactored);
        if culprits.is_empty() {
            // The batch and single forms agree (ZIP 215); should they not, refuse rather
            // than pass: name what the server's check refuses, or else the first job.
            culprits = failures(&plain, SigJob::strict);
        }
        if culprits.is_empty() {
            culprits.extend(
                plain
                    .iter()
                    .min_by_key(|q| q.seq)
                    .map(|q| (q.seq, q.job.failure())),
            );
        }
        found.extend(culprits);
    }
    first(found)
}

/// A batch is grouped by key, not in log order: the first failure is the lowest place.
fn first(failures: Vec<(u64, Failure)>) -> Option<(u64, Failure)> {
    failures.into_iter().min_by_key(|(seq, _)| *seq)
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
    fn valid_batches_pass_and_any_forgery_fails_whatever_the_number_of_keys() {
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
    fn a_non_canonical_s_is_refused() {
        // s + L satisfies the same equation; it is refused as non-canonical, as
        // `verify_strict` refuses it.
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

    /// A signature made by hand by the holder of `seed`'s key, with a small-order component
    /// (of order 8) added to the key or to `R`, over the first message `entry {i}` for which
    /// `verify_strict` refuses it. The key and the signature.
    fn with_torsion(seed: u8, in_key: bool, in_r: bool) -> (Vec<u8>, Signature, VerifyingKey) {
        use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT as B, EIGHT_TORSION};
        use curve25519_dalek::scalar::{clamp_integer, Scalar};
        use sha2::{Digest, Sha512};
        let t = EIGHT_TORSION[1];
        let h = Sha512::digest([seed; 32]);
        let a = Scalar::from_bytes_mod_order(clamp_integer(h[..32].try_into().expect("32")));
        let point = if in_key { a * B + t } else { a * B };
        let key = VerifyingKey::from_bytes(point.compress().as_bytes()).expect("a key");
        assert!(!key.is_weak());
        let r = Scalar::from_hash(Sha512::new().chain_update(&h[32..]));
        let big_r = if in_r { r * B + t } else { r * B }.compress();
        for i in 0.. {
            let message = format!("entry {i}").into_bytes();
            let k = Scalar::from_hash(
                Sha512::new()
                    .chain_update(big_r.as_bytes())
                    .chain_update(key.as_bytes())
                    .chain_update(&message),
            );
            let mut bytes = [0u8; 64];
            bytes[..32].copy_from_slice(big_r.as_bytes());
            bytes[32..].copy_from_slice((r + k * a).as_bytes());
            let signature = Signature::from_bytes(&bytes);
            if key.verify_strict(&message, &signature).is_err() {
                return (message, signature, key);
            }
        }
        unreachable!()
    }

    #[test]
    fn small_order_components_pass_the_cofactored_equation_and_fail_verify_strict() {
        for (in_key, in_r) in [(true, false), (false, true)] {
            let (message, signature, key) = with_torsion(9, in_key, in_r);
            assert!(!super::super::strict_r::refused(&signature));
            let mut items = signed(63, 1, &[]);
            items.push((message, signature, key));
            // The documented difference (docs/verify.md), and why a key's is screened.
            assert!(holds_for(&items), "key {in_key}, R {in_r}");
        }
    }

    fn queued(items: Vec<(Vec<u8>, Signature, VerifyingKey)>) -> Vec<Queued> {
        items
            .into_iter()
            .enumerate()
            .map(|(i, (message, signature, key))| Queued {
                seq: i as u64,
                job: SigJob {
                    index: i as u64,
                    stream: "agency-a".into(),
                    revision: 0,
                    key_torsion_free: key.to_edwards().is_torsion_free(),
                    key,
                    message,
                    signature,
                },
            })
            .collect()
    }

    #[test]
    fn a_signature_under_a_key_with_a_small_order_component_is_checked_strictly() {
        let mut items = signed(40, 4, &[]);
        items.insert(17, with_torsion(9, true, false));
        let (seq, f) = check(&queued(items), false).expect("refused");
        assert_eq!((seq, f.index), (17, Some(17)));
        // Without that key the batch passes.
        assert!(check(&queued(signed(40, 4, &[])), false).is_none());
    }

    #[test]
    fn each_signature_is_judged_alone_whatever_its_batch_holds() {
        // An R with a small-order component (passes the batch equation, fails
        // verify_strict) next to a screened key's signature, then next to a forgery: only
        // the screened one and the forgery are named, as they would be in any other batch.
        let mut items = signed(40, 4, &[30]);
        items.insert(5, with_torsion(11, false, true));
        items.insert(17, with_torsion(9, true, false));
        let (seq, _) = check(&queued(items.clone()), false).expect("refused");
        assert_eq!(seq, 17);
        items.remove(17);
        let (seq, _) = check(&queued(items.clone()), false).expect("refused");
        assert_eq!(seq, 31, "the forgery, moved by the insertion at 5");
        // With `strict`, the torsioned R is named first.
        assert_eq!(check(&queued(items), true).map(|(s, _)| s), Some(5));
    }
}
