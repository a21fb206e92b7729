//! Parsing bundle entries in the exact and the general spelling.

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

#[test]
fn a_proof_of_more_than_64_hashes_is_refused_while_it_is_read() {
    let hash = format!("\"{}\"", B64.encode([0u8; 32]));
    let spelled = |n: usize| {
        format!(
            "{{ \"index\": 0, \"entry\": \"e\", \"proof\": [{}] }}",
            vec![hash.as_str(); n].join(",")
        )
    };
    let (sixty_four, sixty_five) = (spelled(64), spelled(65));
    let (_, _, proof) = general(sixty_four.as_bytes(), 0).expect("64 hashes");
    assert_eq!(proof.len(), 64);
    let err = general(sixty_five.as_bytes(), 0).expect_err("65 hashes");
    assert!(
        err.message.contains("a proof of more than 64 hashes"),
        "{err}"
    );
    // In the exporter's spelling too: the exact scan declines the list, so it is refused
    // before any of its hashes is decoded.
    let hashes = |n: usize| vec![[7u8; 32]; n];
    assert!(scan(exported(0, "e", &hashes(64)).as_bytes()).is_some());
    let long = exported(0, "e", &hashes(65));
    assert!(scan(long.as_bytes()).is_none());
    let err = prepare(long.as_bytes(), 0, None).err().expect("65 hashes");
    assert!(
        err.message.contains("a proof of more than 64 hashes"),
        "{err}"
    );
}
