//! The checks made once every entry is in: the ones no crafted bundle reaches through the
//! public API (each entry's inclusion proof already ties its leaf to the root).

use super::*;
use crate::log::merkle::{leaf_hash, RootBuilder};
use crate::log::note::NoteSigner;

fn replayed(leaves: &[&[u8]]) -> RootBuilder {
    let mut root = RootBuilder::default();
    for leaf in leaves {
        root.push(leaf_hash(leaf));
    }
    root
}

#[test]
fn a_full_log_whose_leaves_do_not_hash_to_the_checkpoint_root_fails_the_root_check() {
    let signer = NoteSigner::generate("example.org/log").expect("key");
    let key = signer.verifier();
    let mut v = Verifier::new(&key, Options::default());
    v.replay.root = replayed(&[b"a", b"b", b"c"]);
    v.replay.entries = 3;
    let matching = Checkpoint {
        origin: "example.org/log".into(),
        size: 3,
        root: v.replay.root.root(),
    };
    assert_eq!(v.kind(&matching), Kind::Full);
    assert!(v.final_checks(Some(&matching), Some(Kind::Full)).is_none());
    let other = Checkpoint {
        root: replayed(&[b"a", b"b", b"d"]).root(),
        ..matching
    };
    let f = v
        .final_checks(Some(&other), Some(v.kind(&other)))
        .expect("refused");
    assert_eq!((f.check, f.index), (Check::Root, None));
}
