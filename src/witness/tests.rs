use ed25519_dalek::SigningKey;

use super::state::WitnessState;
use super::*;
use crate::log::merkle::{leaf_hash, root, MemoryNodes};
use crate::log::proof::consistency_proof;
use crate::log::NoteSigner;

fn log() -> NoteSigner {
    NoteSigner::from_signing_key("example.com/log", SigningKey::from_bytes(&[9; 32])).unwrap()
}

/// The tree of `n` leaves (named by `seed`) and its signed checkpoint.
fn tree(seed: u8, n: u64) -> (MemoryNodes, String) {
    let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&[seed, i as u8])).collect();
    let nodes = MemoryNodes::from_leaves(&leaves);
    let cp = Checkpoint {
        origin: "example.com/log".into(),
        size: n,
        root: root(&nodes, n).unwrap(),
    };
    (nodes, cp.sign(&log()).unwrap())
}

fn submission(old: u64, proof: Vec<Hash>, note: &str) -> Submission {
    Submission {
        old,
        proof,
        note: note.to_owned(),
    }
}

#[test]
fn a_body_reads_back_as_it_was_written_and_malformed_ones_are_400() {
    let (nodes, note) = tree(1, 9);
    let sub = submission(5, consistency_proof(&nodes, 5, 9).unwrap(), &note);
    let back = Submission::parse(&sub.to_body()).unwrap();
    assert_eq!((back.old, &back.proof, &back.note), (5, &sub.proof, &note));
    let hash = STANDARD.encode([0u8; 32]);
    for bad in [
        format!("old 5\n{note}"),
        format!("old 05\n\n{note}"),
        format!("old -1\n\n{note}"),
        format!("new 5\n\n{note}"),
        format!("old 5\nnot base64\n\n{note}"),
        format!("old 5\n{}\n\n{note}", STANDARD.encode([0u8; 31])),
        format!("old 5\n{}\n{note}", format!("{hash}\n").repeat(64)),
    ] {
        assert!(
            matches!(Submission::parse(&bad), Err(Refusal::BadRequest(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn each_refusal_is_the_spec_s() {
    let logs = [log().verifier()];
    let (nodes, note9) = tree(1, 9);
    let (_, note5) = tree(1, 5);
    let at = |size: u64, seed: u8| {
        let (nodes, _) = tree(seed, size);
        Ok(Some(Latest {
            size,
            root: root(&nodes, size).unwrap(),
        }))
    };
    let status = |sub: &Submission, latest: Result<Option<Latest>, Refusal>| {
        check(sub, &logs, |_| latest)
            .map(|_| 200)
            .unwrap_or_else(|r| r.status())
    };
    let proof = consistency_proof(&nodes, 5, 9).unwrap();
    // First sight, from 0 with no proof; then from the cosigned size with a proof.
    assert_eq!(status(&submission(0, vec![], &note9), Ok(None)), 200);
    assert_eq!(status(&submission(5, proof.clone(), &note9), at(5, 1)), 200);
    // The same checkpoint again (re-cosigned as time passes).
    assert_eq!(status(&submission(9, vec![], &note9), at(9, 1)), 200);
    // Old size not the witness's: 409 naming its size.
    let r = check(&submission(0, vec![], &note9), &logs, |_| at(5, 1));
    assert_eq!(r.unwrap_err(), Refusal::Conflict(5));
    // Same size, another root: 409, never cosigned.
    assert_eq!(status(&submission(9, vec![], &note9), at(9, 2)), 409);
    // A proof from a tree the log never had (a fork at 5): 422.
    assert_eq!(status(&submission(5, proof.clone(), &note9), at(5, 2)), 422);
    // Old size past the checkpoint: 400; a proof from 0: 400.
    assert_eq!(status(&submission(10, vec![], &note9), at(10, 1)), 400);
    assert_eq!(status(&submission(0, proof.clone(), &note9), Ok(None)), 400);
    // Going back to a smaller checkpoint is a conflict.
    assert_eq!(status(&submission(5, vec![], &note5), at(9, 1)), 409);
    // An origin the witness does not follow: 404; not signed by its key: 403.
    let other = NoteSigner::from_signing_key("other.example/log", SigningKey::from_bytes(&[5; 32]))
        .unwrap();
    let foreign = Checkpoint {
        origin: "other.example/log".into(),
        size: 1,
        root: [0; 32],
    }
    .sign(&other)
    .unwrap();
    assert_eq!(status(&submission(0, vec![], &foreign), Ok(None)), 404);
    let impostor =
        NoteSigner::from_signing_key("example.com/log", SigningKey::from_bytes(&[6; 32])).unwrap();
    let forged = Checkpoint::parse(&note9[..note9.find("\n\n").unwrap() + 1])
        .unwrap()
        .sign(&impostor)
        .unwrap();
    assert_eq!(status(&submission(0, vec![], &forged), Ok(None)), 403);
}

#[test]
fn the_state_survives_a_restart_and_a_fork_is_refused_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("witness.db");
    let logs = [log().verifier()];
    let (nodes, note9) = tree(1, 9);
    let (_, note5) = tree(1, 5);
    let state = WitnessState::open(&path).unwrap();
    state
        .advance(&submission(0, vec![], &note5), &logs)
        .unwrap();
    let proof = consistency_proof(&nodes, 5, 9).unwrap();
    let accepted = state.advance(&submission(5, proof, &note9), &logs).unwrap();
    assert_eq!(accepted.checkpoint.size, 9);
    drop(state);
    let state = WitnessState::open(&path).unwrap();
    let latest = state.latest("example.com/log").unwrap().unwrap();
    assert_eq!((latest.size, latest.root), (9, accepted.checkpoint.root));
    // Another tree of 9 (a fork): refused, and the record unchanged.
    let (_, fork9) = tree(2, 9);
    let r = state.advance(&submission(9, vec![], &fork9), &logs);
    assert!(matches!(r, Err(Refusal::Fork(_))), "{r:?}");
    assert_eq!(state.latest("example.com/log").unwrap().unwrap(), latest);
}

#[test]
fn a_cosignature_covers_the_note_text_the_log_signed() {
    let logs = [log().verifier()];
    // A checkpoint with an extension line, as another log may write.
    let text = "example.com/log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\next\n";
    let note = log().sign(text).unwrap();
    let accepted = check(&submission(0, vec![], &note), &logs, |_| Ok(None)).unwrap();
    assert_eq!(accepted.text, text);
    let w = crate::log::cosignature::Witness::generate("w.example/1").unwrap();
    let cosigned = format!("{note}{}", cosign(&w, &accepted, 5));
    let found = crate::log::cosignature::cosignatures(&cosigned, &[w.public().clone()]).unwrap();
    assert_eq!(found.len(), 1);
}
