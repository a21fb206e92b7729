//! What `bench-log --bundle` builds its figures on: the signature sample taken from a bundle
//! (the raw reference runs over exactly those signatures) and the verifier's pause between
//! chunks (where the raw windows are interleaved).

mod common;

use caseledger::bundle::Bundle;
use caseledger::verify::{signature_sample, verify_reader_pausing, Check, Options, CHUNK};
use common::world;

fn text(b: &Bundle) -> String {
    serde_json::to_string(b).expect("bundle")
}

#[test]
fn the_sample_is_the_bundles_first_signatures_with_their_registered_keys() {
    let w = world();
    let b = w.log.bundle();
    let key = w.log.signer.verifier();
    let all = signature_sample(text(&b).as_bytes(), &key, 1000).expect("sample");
    assert_eq!(
        all.len(),
        b.entries.len(),
        "every signature when n is larger"
    );
    for (i, (message, signature, vk)) in all.iter().enumerate() {
        vk.verify_strict(message, signature)
            .unwrap_or_else(|e| panic!("signature {i}: {e}"));
        let entry =
            caseledger::ledger::entry::decode(b.entries[i].entry.as_bytes()).expect("entry");
        assert_eq!(
            message.as_slice(),
            entry.envelope.signed_message(),
            "entry {i}"
        );
        assert_eq!(signature, entry.envelope.signature(), "entry {i}");
    }
    let messages: Vec<&[u8]> = all.iter().map(|s| s.0.as_slice()).collect();
    let signatures: Vec<_> = all.iter().map(|s| s.1).collect();
    let keys: Vec<_> = all.iter().map(|s| s.2).collect();
    ed25519_dalek::verify_batch(&messages, &signatures, &keys).expect("a valid batch");
    let two = signature_sample(text(&b).as_bytes(), &key, 2).expect("sample");
    assert_eq!(two.len(), 2);
    assert_eq!(two[..], all[..2]);
}

#[test]
fn a_sample_across_chunks_takes_each_signature_once_in_log_order() {
    let mut w = world();
    w.grow_to(2 * CHUNK + 5);
    let b = w.log.bundle();
    let key = w.log.signer.verifier();
    let signed = |i: usize| {
        caseledger::ledger::entry::decode(b.entries[i].entry.as_bytes())
            .expect("entry")
            .envelope
            .signed_message()
            .to_vec()
    };
    for n in [CHUNK + 3, 10 * CHUNK] {
        let sample = signature_sample(text(&b).as_bytes(), &key, n).expect("sample");
        assert_eq!(sample.len(), n.min(b.entries.len()), "n = {n}");
        for i in [0, CHUNK - 1, CHUNK, sample.len() - 1] {
            assert_eq!(sample[i].0, signed(i), "n = {n}, signature {i}");
        }
    }
}

#[test]
fn a_bundle_that_fails_before_the_sample_is_full_gives_no_sample() {
    let w = world();
    let mut b = w.log.bundle();
    b.entries[1].proof.swap(0, 1);
    let err = signature_sample(text(&b).as_bytes(), &w.log.signer.verifier(), 1000)
        .expect_err("a tampered bundle sampled");
    assert!(err.to_string().contains("entry 1"), "{err}");
    // A forged signature on the last entry read: its chunk's signatures are checked too.
    let mut w = world();
    let last = w.log.entries.len() - 1;
    let entry = &mut w.log.entries[last];
    let at = entry.find("\"sig\":\"").expect("sig") + 7;
    let new = if &entry[at..at + 1] == "A" { "B" } else { "A" };
    entry.replace_range(at..at + 1, new);
    let err = signature_sample(
        text(&w.log.bundle()).as_bytes(),
        &w.log.signer.verifier(),
        1000,
    )
    .expect_err("a forged signature sampled");
    assert!(err.to_string().contains(&format!("entry {last}")), "{err}");
    let other = common::HandLog::new();
    let err = signature_sample(
        text(&w.log.bundle()).as_bytes(),
        &other.signer.verifier(),
        10,
    )
    .expect_err("a bundle of another log sampled");
    assert!(err.to_string().contains("log key"), "{err}");
}

#[test]
fn the_verifier_pauses_after_each_chunk_with_the_entries_handed_over() {
    let mut w = world();
    w.grow_to(2 * CHUNK + 5);
    let b = w.log.bundle();
    let key = w.log.signer.verifier();
    let paused = |b: &Bundle, every: u64| {
        let mut seen = Vec::new();
        let r = verify_reader_pausing(
            text(b).as_bytes(),
            &key,
            Options::default(),
            every,
            &mut |position| seen.push(position),
        );
        (r, seen)
    };
    let (r, seen) = paused(&b, 1);
    assert!(r.ok, "{:?}", r.failure);
    let all = b.entries.len() as u64;
    assert_eq!(seen, [CHUNK as u64, 2 * CHUNK as u64, all]);
    assert_eq!(r.signatures, all);
    // Pauses only once `every` entries have passed since the last one.
    let (r, seen) = paused(&b, CHUNK as u64 + 1);
    assert!(r.ok, "{:?}", r.failure);
    assert_eq!(seen, [2 * CHUNK as u64]);
    // Once a failure is known nothing is paused for: the first chunk fails here.
    let mut b = b;
    b.entries[5].proof.swap(0, 1);
    let (r, seen) = paused(&b, 1);
    assert_eq!(r.failure.and_then(|f| f.index), Some(5));
    assert!(seen.is_empty(), "{seen:?}");
    // Nor once a signature failed: the verifier finds it while waiting for its signature
    // batches before the first pause. The counts stop at the failing entry.
    let entry = &mut w.log.entries[5];
    let at = entry.find("\"sig\":\"").expect("sig") + 7;
    let new = if &entry[at..at + 1] == "A" { "B" } else { "A" };
    entry.replace_range(at..at + 1, new);
    let (r, seen) = paused(&w.log.bundle(), 1);
    let f = r.failure.expect("forged signature accepted");
    assert_eq!((f.index, f.check), (Some(5), Check::Signature), "{f}");
    assert_eq!((r.entries, r.signatures), (5, 5));
    assert!(seen.is_empty(), "{seen:?}");
}
