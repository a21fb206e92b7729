//! The hand-built log's own RFC 6962 tree and signed checkpoint, written from the RFCs'
//! definitions in the tests, not with the library's tree, proof or note code: a verifier
//! that agrees with them agrees with the specifications, not merely with itself.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

fn sha256(parts: &[&[u8]]) -> Hash {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// RFC 6962 §2.1: the hash of a leaf holding `bytes`.
pub fn leaf(bytes: &[u8]) -> Hash {
    sha256(&[&[0x00], bytes])
}

/// The largest power of two smaller than `n` (n > 1).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// A tree over leaf hashes, its subtree hashes remembered (a proof of each of 12 000
/// leaves would otherwise hash the whole tree each time).
pub struct Tree<'a> {
    leaves: &'a [Hash],
    memo: std::cell::RefCell<std::collections::HashMap<(usize, usize), Hash>>,
}

impl<'a> Tree<'a> {
    pub fn new(leaves: &'a [Hash]) -> Self {
        Self {
            leaves,
            memo: Default::default(),
        }
    }

    /// MTH(D[n]) of the whole tree.
    pub fn root(&self) -> Hash {
        self.mth(0, self.leaves.len())
    }

    /// MTH of the `n` leaves from `start`.
    fn mth(&self, start: usize, n: usize) -> Hash {
        match n {
            0 => sha256(&[]),
            1 => self.leaves[start],
            n => {
                if let Some(h) = self.memo.borrow().get(&(start, n)) {
                    return *h;
                }
                let k = split(n);
                let h = sha256(&[&[0x01], &self.mth(start, k), &self.mth(start + k, n - k)]);
                self.memo.borrow_mut().insert((start, n), h);
                h
            }
        }
    }

    /// PATH(m, D[n]): the audit path of leaf `m`, deepest sibling first.
    pub fn path(&self, m: usize) -> Vec<Hash> {
        fn path(t: &Tree<'_>, m: usize, start: usize, n: usize) -> Vec<Hash> {
            if n <= 1 {
                return Vec::new();
            }
            let k = split(n);
            let (mut p, sibling) = if m < k {
                (path(t, m, start, k), t.mth(start + k, n - k))
            } else {
                (path(t, m - k, start + k, n - k), t.mth(start, k))
            };
            p.push(sibling);
            p
        }
        assert!(m < self.leaves.len(), "no leaf {m}");
        path(self, m, 0, self.leaves.len())
    }

    /// PROOF(m, D[n]): the consistency proof from the first `m` leaves to all of them
    /// (0 < m <= n; RFC 6962 defines no other).
    pub fn consistency(&self, m: usize) -> Vec<Hash> {
        fn subproof(t: &Tree<'_>, m: usize, start: usize, n: usize, whole: bool) -> Vec<Hash> {
            if m == n {
                return if whole {
                    Vec::new()
                } else {
                    vec![t.mth(start, n)]
                };
            }
            let k = split(n);
            let (mut p, other) = if m <= k {
                (subproof(t, m, start, k, whole), t.mth(start + k, n - k))
            } else {
                (subproof(t, m - k, start + k, n - k, false), t.mth(start, k))
            };
            p.push(other);
            p
        }
        let n = self.leaves.len();
        assert!(0 < m && m <= n, "no consistency proof from {m} entries");
        subproof(self, m, 0, n, true)
    }
}

/// C2SP tlog-checkpoint text of a tree, signed as a C2SP signed-note by `key` under `origin`
/// (key hash: the first 4 bytes of SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)).
pub fn signed_checkpoint(origin: &str, key: &SigningKey, size: usize, root: &Hash) -> String {
    let text = format!("{origin}\n{size}\n{}\n", B64.encode(root));
    let public = key.verifying_key().to_bytes();
    let hash = sha256(&[origin.as_bytes(), b"\n", &[0x01], &public]);
    let mut blob = hash[..4].to_vec();
    blob.extend_from_slice(&key.sign(text.as_bytes()).to_bytes());
    format!("{text}\n\u{2014} {origin} {}\n", B64.encode(blob))
}
