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
    // Never created by opening: a witness whose record is gone does not start afresh.
    assert!(WitnessState::open(&path).is_err());
    let state = WitnessState::create(&path).unwrap();
    assert!(WitnessState::create(&path).is_err(), "created twice");
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

#[test]
fn of_two_trees_racing_from_one_size_exactly_one_is_cosigned() {
    let dir = tempfile::tempdir().unwrap();
    let state = std::sync::Arc::new(WitnessState::create(&dir.path().join("w.db")).unwrap());
    let logs = [log().verifier()];
    let (_, note5) = tree(1, 5);
    state
        .advance(&submission(0, vec![], &note5), &logs)
        .unwrap();
    for round in 0..20u8 {
        // Two histories grown from the cosigned tree of 5 (the first 5 leaves are seed 1's).
        let grown = |seed: u8| {
            let mut leaves: Vec<Hash> = (0..5u64).map(|i| leaf_hash(&[1, i as u8])).collect();
            leaves.extend((5..9u64).map(|i| leaf_hash(&[seed, round, i as u8])));
            let nodes = MemoryNodes::from_leaves(&leaves);
            let cp = Checkpoint {
                origin: "example.com/log".into(),
                size: 9 + u64::from(round),
                root: root(&nodes, 9).unwrap(),
            };
            (nodes, cp)
        };
        let have = state.latest("example.com/log").unwrap().unwrap().size;
        let subs: Vec<Submission> = [2u8, 3]
            .iter()
            .map(|seed| {
                let (nodes, mut cp) = grown(*seed);
                cp.size = 9;
                let proof = consistency_proof(&nodes, 5, 9).unwrap();
                submission(
                    have,
                    if have == 5 { proof } else { vec![] },
                    &cp.sign(&log()).unwrap(),
                )
            })
            .collect();
        let results: Vec<bool> = std::thread::scope(|s| {
            let handles: Vec<_> = subs
                .iter()
                .map(|sub| s.spawn(|| state.advance(sub, &logs).is_ok()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        if round == 0 {
            assert_eq!(results.iter().filter(|ok| **ok).count(), 1, "{results:?}");
        } else {
            // Both are forks of the tree of 9 cosigned in round 0.
            assert_eq!(results, vec![false, false]);
        }
    }
}
