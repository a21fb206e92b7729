use base64::{engine::general_purpose::STANDARD, Engine as _};
use ed25519_dalek::{Signer as _, SigningKey};
use sha2::{Digest, Sha256};

use super::*;
use crate::log::note::{open, NoteSigner};
use crate::log::Checkpoint;

fn witness() -> Witness {
    Witness::from_signing_key("witness.example/w1", SigningKey::from_bytes(&[7; 32])).unwrap()
}

fn log() -> NoteSigner {
    NoteSigner::from_signing_key("example.com/log", SigningKey::from_bytes(&[9; 32])).unwrap()
}

fn signed_checkpoint() -> (String, String) {
    let cp = Checkpoint {
        origin: "example.com/log".into(),
        size: 20_852_163,
        root: [3; 32],
    };
    (cp.to_text(), cp.sign(&log()).unwrap())
}

#[test]
fn a_cosignature_is_the_spec_s_bytes() {
    let w = witness();
    let (text, _) = signed_checkpoint();
    let line = w.cosign(&text, 1_679_315_147);
    // Built here from the spec's definitions, sharing nothing with `cosign` but the key.
    let key = SigningKey::from_bytes(&[7; 32]);
    let mut id_input = b"witness.example/w1\n\x04".to_vec();
    id_input.extend_from_slice(key.verifying_key().as_bytes());
    let id = &Sha256::digest(&id_input)[..4];
    let message = format!("cosignature/v1\ntime 1679315147\n{text}");
    let mut blob = id.to_vec();
    blob.extend_from_slice(&1_679_315_147u64.to_be_bytes());
    blob.extend_from_slice(&key.sign(message.as_bytes()).to_bytes());
    let want = format!("— witness.example/w1 {}\n", STANDARD.encode(&blob));
    assert_eq!(line, want);
    let vkey = format!(
        "witness.example/w1+{}+{}",
        id.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        STANDARD.encode([&[4u8][..], key.verifying_key().as_bytes()].concat())
    );
    assert_eq!(w.public().to_text(), vkey);
}

#[test]
fn key_texts_round_trip_and_other_types_are_refused() {
    let w = witness();
    assert_eq!(
        WitnessKey::parse(&w.public().to_text()),
        Ok(w.public().clone())
    );
    let back = Witness::parse(&w.secret_text()).unwrap();
    assert_eq!(back.public(), w.public());
    assert!(!format!("{w:?}").contains(&w.secret_text()[20..]));
    // A log (signed-note type 0x01) key is not a witness key, nor the other way round.
    let log_key = log().verifier().to_text();
    assert_eq!(
        WitnessKey::parse(&log_key),
        Err(NoteError::UnsupportedAlgorithm(1))
    );
    assert!(crate::log::NoteVerifier::parse(&w.public().to_text()).is_err());
    // A key ID that does not match the name and key.
    let text = w.public().to_text();
    let renamed = text.replacen("w1+", "w2+", 1);
    assert_eq!(WitnessKey::parse(&renamed), Err(NoteError::KeyHashMismatch));
}

#[test]
fn cosignatures_verify_and_the_log_signature_still_opens() {
    let w = witness();
    let other =
        Witness::from_signing_key("other.example/w", SigningKey::from_bytes(&[8; 32])).unwrap();
    let (text, note) = signed_checkpoint();
    let cosigned = format!("{note}{}{}", w.cosign(&text, 10), other.cosign(&text, 11));
    // The log's key still opens the note, ignoring the cosignatures.
    assert!(open(&cosigned, &[log().verifier()]).is_ok());
    let got = cosignatures(&cosigned, &[w.public().clone()]).unwrap();
    assert_eq!(
        got,
        vec![Cosigned {
            witness: "witness.example/w1".into(),
            time: 10
        }]
    );
    let both = [w.public().clone(), other.public().clone()];
    assert_eq!(cosignatures(&cosigned, &both).unwrap().len(), 2);
    // No cosignature by a pinned witness: none, not an error.
    assert_eq!(cosignatures(&note, &both).unwrap(), vec![]);
    // Twice by one witness counts once.
    let twice = format!("{cosigned}{}", w.cosign(&text, 12));
    assert_eq!(cosignatures(&twice, &both).unwrap().len(), 2);
}

#[test]
fn a_cosignature_that_does_not_verify_rejects_the_note() {
    let w = witness();
    let keys = [w.public().clone()];
    let (text, note) = signed_checkpoint();
    let line = w.cosign(&text, 1_000);
    let bad = || {
        Err::<Vec<Cosigned>, _>(NoteError::InvalidSignature {
            name: "witness.example/w1".into(),
        })
    };
    // Over another checkpoint.
    let other = text.replace("20852163", "20852164");
    let moved = format!("{note}{}", w.cosign(&other, 1_000));
    assert_eq!(cosignatures(&moved, &keys), bad());
    // Its time changed, or cut short, or a timestamp past 2^63 − 1.
    let (name, b64) = line.trim_end().rsplit_once(' ').unwrap();
    let mut blob = STANDARD.decode(b64).unwrap();
    blob[11] ^= 1;
    let retimed = format!("{note}{name} {}\n", STANDARD.encode(&blob));
    assert_eq!(cosignatures(&retimed, &keys), bad());
    let short = format!("{note}{name} {}\n", STANDARD.encode(&blob[..40]));
    assert_eq!(cosignatures(&short, &keys), bad());
    let late = format!("{note}{}", w.cosign(&text, 1 << 63));
    assert_eq!(cosignatures(&late, &keys), bad());
}
