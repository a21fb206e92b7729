//! Checkpoint text, signing and opening.

use super::*;
use crate::log::merkle::{empty_root, leaf_hash};

const ORIGIN: &str = "caseledger.example/log";

fn checkpoint() -> Checkpoint {
    Checkpoint {
        origin: ORIGIN.into(),
        size: 1234,
        root: leaf_hash(b"root"),
    }
}

#[test]
fn text_round_trips() {
    let cp = checkpoint();
    let text = cp.to_text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[..2], [ORIGIN, "1234"]);
    assert_eq!(Checkpoint::parse(&text), Ok(cp));
    let empty = Checkpoint {
        origin: ORIGIN.into(),
        size: 0,
        root: empty_root(),
    };
    assert_eq!(
        empty.to_text(),
        format!("{ORIGIN}\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")
    );
    assert_eq!(Checkpoint::parse(&empty.to_text()), Ok(empty));
}

#[test]
fn extension_lines_are_accepted_and_ignored() {
    let cp = checkpoint();
    let text = format!("{}ext one\next two\n", cp.to_text());
    assert_eq!(Checkpoint::parse(&text), Ok(cp));
}

#[test]
fn malformed_text_is_rejected() {
    let root = checkpoint().to_text().lines().nth(2).unwrap().to_owned();
    let short_root = base64::engine::general_purpose::STANDARD.encode([0u8; 31]);
    let cases = [
        format!("{ORIGIN}\n1234\n{root}"),
        format!("{ORIGIN}\n1234\n"),
        format!("\n1234\n{root}\n"),
        format!("{ORIGIN}\n01234\n{root}\n"),
        format!("{ORIGIN}\n+1234\n{root}\n"),
        format!("{ORIGIN}\n-1\n{root}\n"),
        format!("{ORIGIN}\n12a4\n{root}\n"),
        format!("{ORIGIN}\n\n{root}\n"),
        format!("{ORIGIN}\n 1234\n{root}\n"),
        format!("{ORIGIN}\n18446744073709551616\n{root}\n"),
        format!("{ORIGIN}\n1234\n{}\n", root.trim_end_matches('=')),
        format!("{ORIGIN}\n1234\n{short_root}\n"),
        format!("{ORIGIN}\n1234\n{root}x\n"),
        format!("{ORIGIN}\n1234\n{root}\n\n"),
        format!("{ORIGIN}\r\n1234\n{root}\n"),
    ];
    for case in cases {
        assert!(Checkpoint::parse(&case).is_err(), "{case:?}");
    }
    assert!(Checkpoint::parse(&format!("{ORIGIN}\n18446744073709551615\n{root}\n")).is_ok());
}

#[test]
fn signed_checkpoint_opens_with_the_log_key() {
    let signer = NoteSigner::generate(ORIGIN).unwrap();
    let note = checkpoint().sign(&signer).unwrap();
    assert!(note.starts_with(&checkpoint().to_text()));
    assert_eq!(
        Checkpoint::open_signed(&note, &signer.verifier()),
        Ok(checkpoint())
    );
}

#[test]
fn tampered_checkpoints_are_rejected() {
    let signer = NoteSigner::generate(ORIGIN).unwrap();
    let note = checkpoint().sign(&signer).unwrap();
    let root = checkpoint().to_text().lines().nth(2).unwrap().to_owned();
    let other_root = checkpoint_root_text(leaf_hash(b"other"));
    let tampered = [
        note.replacen("1234", "1235", 1),
        note.replacen(&root, &other_root, 1),
        note.replacen(ORIGIN, "caseledger.example/lo9", 1),
    ];
    for case in tampered {
        let err = Checkpoint::open_signed(&case, &signer.verifier()).unwrap_err();
        assert!(
            matches!(
                err,
                CheckpointError::Note(NoteError::InvalidSignature { .. })
            ),
            "{err}"
        );
    }
}

fn checkpoint_root_text(root: Hash) -> String {
    base64::engine::general_purpose::STANDARD.encode(root)
}

#[test]
fn signature_by_another_key_is_rejected() {
    let log = NoteSigner::generate(ORIGIN).unwrap();
    let impostor = NoteSigner::generate(ORIGIN).unwrap();
    let note = checkpoint().sign(&impostor).unwrap();
    let err = Checkpoint::open_signed(&note, &log.verifier()).unwrap_err();
    assert_eq!(err, CheckpointError::Note(NoteError::Unverified));
}

#[test]
fn origin_must_name_the_log_key() {
    let other = NoteSigner::generate("other.example/log").unwrap();
    assert!(matches!(
        checkpoint().sign(&other),
        Err(CheckpointError::OriginMismatch { .. })
    ));
    // Signed by the right key but for another origin: a valid note, refused as a checkpoint.
    let foreign = Checkpoint {
        origin: "elsewhere".into(),
        ..checkpoint()
    };
    let note = other.sign(&foreign.to_text()).unwrap();
    let err = Checkpoint::open_signed(&note, &other.verifier()).unwrap_err();
    assert!(
        matches!(err, CheckpointError::OriginMismatch { .. }),
        "{err}"
    );
}
