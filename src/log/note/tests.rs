//! Signed notes against the golang.org/x/mod/sumdb/note vectors.

use super::*;
use crate::log::vectors::signed_note;

fn peter() -> NoteSigner {
    NoteSigner::parse(&signed_note().signer_key).unwrap()
}

#[test]
fn signing_the_vector_text_gives_the_vector_note_byte_for_byte() {
    let v = signed_note();
    let signer = peter();
    assert_eq!(signer.name(), "PeterNeumann");
    assert_eq!(signer.key_hash(), 0xc74f20a3);
    assert_eq!(signer.sign(&v.text).unwrap(), v.signed_note);
}

#[test]
fn key_texts_round_trip() {
    let v = signed_note();
    let signer = peter();
    assert_eq!(signer.signer_key_text(), v.signer_key);
    assert_eq!(signer.verifier().to_text(), v.verifier_key);
    let verifier = NoteVerifier::parse(&v.verifier_key).unwrap();
    assert_eq!(verifier, signer.verifier());
    assert_eq!(verifier.name(), "PeterNeumann");
    assert_eq!(verifier.key_hash(), 0xc74f20a3);
    assert_eq!(
        verifier.verifying_key(),
        &signer.verifier().verifying_key().to_owned()
    );
}

#[test]
fn bad_verifier_keys_are_rejected() {
    let v = signed_note();
    for bad in &v.bad_verifier_keys {
        assert!(NoteVerifier::parse(bad).is_err(), "{bad}");
    }
    let good = &v.verifier_key;
    let wrong_hash = good.replace("c74f20a3", "c74f20a4");
    assert_eq!(
        NoteVerifier::parse(&wrong_hash),
        Err(NoteError::KeyHashMismatch)
    );
    for bad in [
        "",
        "PeterNeumann",
        "PeterNeumann+c74f20a3",
        "+c74f20a3+AAAA",
        "Peter Neumann+c74f20a3+AAAA",
    ] {
        assert!(NoteVerifier::parse(bad).is_err(), "{bad:?}");
    }
    assert!(NoteVerifier::parse(&good.replace("+c74f20a3+", "+c74f20a+")).is_err());
}

#[test]
fn bad_signer_keys_are_rejected() {
    let v = signed_note();
    let wrong_hash = v.signer_key.replace("c74f20a3", "00000000");
    assert_eq!(
        NoteSigner::parse(&wrong_hash).unwrap_err(),
        NoteError::KeyHashMismatch
    );
    for bad in [
        &v.verifier_key,
        &v.signer_key.replacen("PRIVATE", "PUBLIC", 1),
    ] {
        assert_eq!(
            NoteSigner::parse(bad).unwrap_err(),
            NoteError::MalformedSignerKey
        );
    }
}

#[test]
fn signer_debug_hides_the_secret() {
    let signer = peter();
    let debug = format!("{signer:?}");
    let seed64 = signer
        .signer_key_text()
        .rsplit('+')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        debug.contains("PeterNeumann") && debug.contains("c74f20a3"),
        "{debug}"
    );
    assert!(
        !debug.contains(&seed64) && !debug.contains("PRIVATE"),
        "{debug}"
    );
}

#[test]
fn key_names_follow_signed_note_rules() {
    for bad in [
        "",
        "a+b",
        "a b",
        "a\tb",
        "a\u{2003}b",
        "a\nb",
        "a\u{1}b",
        "a\u{1b}[0mb",
        "a\u{7f}b",
        "a\u{9b}b",
    ] {
        assert!(!is_valid_name(bad), "{bad:?}");
        assert!(matches!(
            NoteSigner::generate(bad),
            Err(NoteError::InvalidName(_))
        ));
    }
    assert!(is_valid_name("example.org/caseledger"));
}

#[test]
fn every_valid_key_name_can_be_a_checkpoint_origin() {
    // Names `init` takes become the origin line of every checkpoint: both checks must agree.
    let candidates = (0u32..0x250)
        .chain([0x2028, 0x200b, 0x202e, 0xfeff])
        .filter_map(char::from_u32);
    let root = format!("{}=", "A".repeat(43));
    for c in candidates {
        let name = format!("log{c}x");
        let parsed = crate::log::Checkpoint::parse(&format!("{name}\n1\n{root}\n"));
        if is_valid_name(&name) {
            assert!(
                parsed.is_ok(),
                "{c:?} is valid as a name, refused as an origin"
            );
        }
    }
}

#[test]
fn open_accepts_the_vector_note_and_ignores_unknown_signers() {
    let v = signed_note();
    let peter = NoteVerifier::parse(&v.verifier_key).unwrap();
    let opened = open(&v.signed_note, std::slice::from_ref(&peter)).unwrap();
    assert_eq!(opened.text, v.text);
    assert_eq!(opened.verified_by, ["PeterNeumann"]);

    let both = format!("{}{}", v.signed_note, v.other_signature_line);
    let opened = open(&both, std::slice::from_ref(&peter)).unwrap();
    assert_eq!(opened.verified_by, ["PeterNeumann"]);

    let enoch = NoteVerifier::parse(&v.other_verifier_key).unwrap();
    let opened = open(&both, &[peter, enoch.clone()]).unwrap();
    assert_eq!(opened.verified_by, ["PeterNeumann", "EnochRoot"]);

    assert_eq!(open(&v.signed_note, &[enoch]), Err(NoteError::Unverified));
    assert_eq!(open(&v.signed_note, &[]), Err(NoteError::Unverified));
}

#[test]
fn tampered_notes_are_rejected() {
    let v = signed_note();
    let peter = [NoteVerifier::parse(&v.verifier_key).unwrap()];
    let tampered_text = v.signed_note.replacen("cryptography", "cryptographY", 1);
    assert_eq!(
        open(&tampered_text, &peter),
        Err(NoteError::InvalidSignature {
            name: "PeterNeumann".into()
        })
    );
    let cases = [
        v.signed_note.trim_end_matches('\n').to_owned(),
        v.signed_note.replacen("\n\n", "\n", 1),
        v.signed_note.replacen("— ", "-- ", 1),
        v.signed_note.replacen("PeterNeumann ", "PeterNeumann  ", 1),
        v.signed_note.replacen("x08go", "x08g!", 1),
        v.signed_note.replacen("If you", "If\u{7}you", 1),
        format!("{}\n", v.signed_note),
        format!("{}— PeterNeumann AAAA\n", v.signed_note),
        v.text.clone(),
    ];
    for case in cases {
        assert!(open(&case, &peter).is_err(), "{case:?}");
    }
}

#[test]
fn too_many_signature_lines_are_refused() {
    let v = signed_note();
    let peter = [NoteVerifier::parse(&v.verifier_key).unwrap()];
    // The note already carries one signature line.
    let at_limit = v.other_signature_line.repeat(MAX_SIGNATURES - 1);
    assert!(open(&format!("{}{at_limit}", v.signed_note), &peter).is_ok());
    let over = format!("{}{at_limit}{}", v.signed_note, v.other_signature_line);
    assert_eq!(open(&over, &peter), Err(NoteError::TooManySignatures));
}

#[test]
fn sign_requires_a_trailing_newline_and_round_trips() {
    let signer = NoteSigner::generate("caseledger.test/log").unwrap();
    assert_eq!(
        signer.sign("no newline"),
        Err(NoteError::TextWithoutNewline)
    );
    let note = signer.sign("hello\nworld\n").unwrap();
    let opened = open(&note, &[signer.verifier()]).unwrap();
    assert_eq!(opened.text, "hello\nworld\n");
    let reparsed = NoteSigner::parse(&signer.signer_key_text()).unwrap();
    assert_eq!(reparsed.sign("x\n").unwrap(), signer.sign("x\n").unwrap());
}
