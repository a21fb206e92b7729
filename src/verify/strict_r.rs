//! What `verify_strict` refuses in a signature's `R` before it checks any equation, checked
//! on the encoding alone so that a batch can be screened without decompressing a point.
//!
//! The batch equation (see [`super::batch`]) accepts a small-order `R` and a non-canonical
//! encoding of `R` when the rest holds; `verify_strict` (the server's check, DESIGN §1)
//! refuses both. A signature with such an `R` is therefore checked with `verify_strict`.
//! Screening only ever sends a signature to the stricter check (whatever `verify_strict`
//! accepts, the batch equation accepts too). The one difference left between the two
//! predicates (an `R` with a small-order component, which the cofactored equation ignores)
//! is in docs/verify.md.

use std::sync::LazyLock;

use curve25519_dalek::constants::EIGHT_TORSION;

use crate::domain::keys::canonical_y;

/// The y coordinates (the encoding without its sign bit) of the eight points of order
/// dividing 8: every encoding with one of these y is a small-order point.
static SMALL_ORDER_Y: LazyLock<Vec<[u8; 32]>> = LazyLock::new(|| {
    EIGHT_TORSION
        .iter()
        .map(|p| without_sign(p.compress().to_bytes()))
        .collect()
});

fn without_sign(mut y: [u8; 32]) -> [u8; 32] {
    y[31] &= 0x7f;
    y
}

/// Whether `verify_strict` refuses a signature for its `R` encoding alone: its y is not
/// below p = 2^255 − 19 (a non-canonical encoding), or it names a point of small order
/// (which also covers the non-canonical sign of x = 0, at y = ±1).
pub(super) fn refused(signature: &ed25519_dalek::Signature) -> bool {
    let y = without_sign(*signature.r_bytes());
    !canonical_y(&y) || SMALL_ORDER_Y.contains(&y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::edwards::CompressedEdwardsY;
    use ed25519_dalek::Signature;

    fn with_r(r: [u8; 32]) -> Signature {
        let mut bytes = [0u8; 64];
        bytes[..32].copy_from_slice(&r);
        Signature::from_bytes(&bytes)
    }

    /// y = p + d, little-endian (d ≤ 18, so it still fits in 255 bits).
    fn p_plus(d: u8) -> [u8; 32] {
        let mut y = [0xff; 32];
        y[31] = 0x7f;
        y[0] = 0xed + d;
        y
    }

    #[test]
    fn every_small_order_point_is_refused_in_either_sign() {
        // y = 1 (the identity), −1 (order 2), 0 (the two of order 4), ±y₈ (the four of order 8).
        let distinct: std::collections::BTreeSet<_> = SMALL_ORDER_Y.iter().collect();
        assert_eq!(distinct.len(), 5);
        for p in EIGHT_TORSION {
            let r = p.compress().to_bytes();
            assert!(refused(&with_r(r)));
            let mut flipped = r;
            flipped[31] ^= 0x80;
            assert!(refused(&with_r(flipped)));
        }
    }

    #[test]
    fn exactly_the_encodings_of_y_at_or_above_p_are_non_canonical() {
        for d in 0..=18 {
            assert!(!canonical_y(&p_plus(d)), "p + {d}");
            // The decoder reduces them: each decodes as y = d, when that is on the curve.
            if let Some(point) = CompressedEdwardsY(p_plus(d)).decompress() {
                assert_ne!(point.compress().to_bytes(), p_plus(d));
            }
        }
        // p − 1 is canonical: y = −1, the point of order 2, refused for its order.
        let mut minus_one = p_plus(0);
        minus_one[0] = 0xec;
        assert!(canonical_y(&minus_one) && SMALL_ORDER_Y.contains(&minus_one));
        assert!(refused(&with_r(minus_one)));
        assert!(canonical_y(&[0; 32]));
    }

    #[test]
    fn an_ordinary_r_passes_the_screen() {
        use ed25519_dalek::{Signer, SigningKey};
        let key = SigningKey::from_bytes(&[7; 32]);
        for m in 0u8..64 {
            assert!(!refused(&key.sign(&[m])));
        }
    }
}
