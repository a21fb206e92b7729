//! Property tests: whatever is altered in a valid hand-built bundle — any byte of any entry,
//! a dropped, reordered or duplicated entry, an entry's index, the checkpoint, any bit of any
//! proof hash, a proof hash added or removed at either end — the verifier rejects it. (The
//! reference implementation's probes of the proofs alone, swapped roots and wrong sizes
//! included, are in `src/log/proof/probes.rs`.)

mod common;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use caseledger::bundle::Bundle;
use caseledger::verify::{verify_bundle, Options, Report};
use common::tree::{leaf, Hash, Tree};
use common::{world, HandLog};
use proptest::prelude::*;

fn fixture() -> (HandLog, Bundle) {
    let w = world();
    let b = w.log.bundle();
    assert!(run(&w.log, &b).ok, "the fixture itself must verify");
    (w.log, b)
}

/// Full-log verification: a full export is checked with `--full`, so a bundle that lost
/// entries cannot pass as a partial one.
fn run(log: &HandLog, b: &Bundle) -> Report {
    let opts = Options {
        strict: false,
        require_full: true,
        require_heads: false,
    };
    verify_bundle(b, &log.signer.verifier(), opts)
}

/// The hand-built log's tree (`common::tree`, written from RFC 6962's definitions) agrees
/// with the reference implementation's vectors: every root, audit path and consistency
/// proof, so a bundle the verifier accepts is right by the RFC, not by the library.
#[test]
fn the_hand_built_tree_gives_the_rfc6962_vectors() {
    let v: serde_json::Value =
        serde_json::from_str(include_str!("vectors/rfc6962.json")).expect("vectors");
    let hex32 = |h: &serde_json::Value| -> Hash {
        hex::decode(h.as_str().expect("hex"))
            .expect("hex")
            .try_into()
            .expect("32 bytes")
    };
    let hashes = |p: &serde_json::Value| -> Vec<Hash> {
        p.as_array().expect("list").iter().map(hex32).collect()
    };
    let leaves: Vec<Hash> = v["leaf_inputs_hex"]
        .as_array()
        .expect("leaves")
        .iter()
        .map(|l| leaf(&hex::decode(l.as_str().expect("hex")).expect("hex")))
        .collect();
    let roots = v["roots_by_tree_size_hex"].as_object().expect("roots");
    assert_eq!(roots.len(), leaves.len() + 1);
    for (size, root) in roots {
        let size: usize = size.parse().expect("size");
        assert_eq!(
            Tree::new(&leaves[..size]).root(),
            hex32(root),
            "root of {size}"
        );
    }
    let (inclusion, consistency) = (
        v["inclusion_proofs"].as_array().expect("inclusion"),
        v["consistency_proofs"].as_array().expect("consistency"),
    );
    assert_eq!((inclusion.len(), consistency.len()), (5, 5));
    for p in inclusion {
        let (m, n) = (
            p["leaf_index"].as_u64().expect("m"),
            p["tree_size"].as_u64().expect("n"),
        );
        let tree = Tree::new(&leaves[..n as usize]);
        assert_eq!(
            tree.path(m as usize),
            hashes(&p["proof"]),
            "leaf {m} of {n}"
        );
    }
    for p in consistency {
        let (m, n) = (
            p["size1"].as_u64().expect("m"),
            p["size2"].as_u64().expect("n"),
        );
        let tree = Tree::new(&leaves[..n as usize]);
        assert_eq!(
            tree.consistency(m as usize),
            hashes(&p["proof"]),
            "{m} to {n}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_flipped_byte_in_any_entry_is_rejected(e in 0usize..6, pos in any::<prop::sample::Index>(), x in 1u8..=255) {
        let (log, mut b) = fixture();
        let mut bytes = b.entries[e].entry.clone().into_bytes();
        let i = pos.index(bytes.len());
        bytes[i] ^= x;
        let altered = String::from_utf8_lossy(&bytes).into_owned();
        prop_assume!(altered != b.entries[e].entry);
        b.entries[e].entry = altered;
        prop_assert!(!run(&log, &b).ok);
    }

    #[test]
    fn a_dropped_entry_is_rejected(e in 0usize..6) {
        let (log, mut b) = fixture();
        b.entries.remove(e);
        prop_assert!(!run(&log, &b).ok);
    }

    #[test]
    fn reordered_entries_are_rejected(a in 0usize..6, c in 0usize..6) {
        prop_assume!(a != c);
        let (log, mut b) = fixture();
        b.entries.swap(a, c);
        prop_assert!(!run(&log, &b).ok);
    }

    #[test]
    fn a_duplicated_entry_is_rejected(e in 0usize..6, at in 0usize..7) {
        let (log, mut b) = fixture();
        let dup = b.entries[e].clone();
        b.entries.insert(at, dup);
        prop_assert!(!run(&log, &b).ok);
    }

    #[test]
    fn an_altered_checkpoint_is_rejected(pos in any::<prop::sample::Index>(), c in proptest::char::range('!', '~')) {
        let (log, mut b) = fixture();
        let mut chars: Vec<char> = b.checkpoint.chars().collect();
        let i = pos.index(chars.len());
        prop_assume!(chars[i] != c);
        chars[i] = c;
        b.checkpoint = chars.into_iter().collect();
        prop_assert!(!run(&log, &b).ok);
    }

    #[test]
    fn a_flipped_bit_in_any_proof_hash_is_rejected(e in 0usize..6, h in any::<prop::sample::Index>(), bit in 0usize..256) {
        let (log, mut b) = fixture();
        let proof = &mut b.entries[e].proof;
        let k = h.index(proof.len());
        let mut hash = B64.decode(&proof[k]).expect("b64");
        hash[bit / 8] ^= 1 << (bit % 8);
        proof[k] = B64.encode(hash);
        let r = run(&log, &b);
        prop_assert_eq!(r.failure.expect("rejected").index, Some(e as u64));
    }

    #[test]
    fn a_proof_hash_added_or_removed_at_either_end_is_rejected(e in 0usize..6, last in any::<bool>(), add in any::<bool>(), extra in any::<[u8; 32]>()) {
        let (log, mut b) = fixture();
        let proof = &mut b.entries[e].proof;
        match (add, last) {
            (true, false) => proof.insert(0, B64.encode(extra)),
            (true, true) => proof.push(B64.encode(extra)),
            (false, false) => drop(proof.remove(0)),
            (false, true) => drop(proof.pop()),
        }
        let r = run(&log, &b);
        prop_assert_eq!(r.failure.expect("rejected").index, Some(e as u64));
    }

    #[test]
    fn a_wrong_index_is_rejected(e in 0usize..6, to in 0u64..12) {
        let (log, mut b) = fixture();
        prop_assume!(b.entries[e].index != to);
        b.entries[e].index = to;
        prop_assert!(!run(&log, &b).ok);
    }
}
