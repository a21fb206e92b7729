use super::*;
use crate::witness::cosignatures::KEPT;

fn cp(size: u64) -> StoredCheckpoint {
    StoredCheckpoint {
        size,
        note: format!("log\n{size}\nroot\n\n— log sig\n"),
    }
}

#[test]
fn only_a_line_by_the_pinned_key_over_this_checkpoint_is_taken() {
    use crate::log::cosignature::Witness;
    use ed25519_dalek::SigningKey;
    let w = Witness::from_signing_key("w.example/1", SigningKey::from_bytes(&[1; 32])).unwrap();
    let impostor =
        Witness::from_signing_key("w.example/1", SigningKey::from_bytes(&[2; 32])).unwrap();
    let key = w.public().clone();
    let text = "log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    let log = crate::log::NoteSigner::from_signing_key("log", SigningKey::from_bytes(&[3; 32]));
    let note = log.unwrap().sign(text).unwrap();
    let good = w.cosign(text, 7);
    // Several lines under the witness's name: the one by its pinned key is taken.
    let body = format!("{}{good}", impostor.cosign(text, 7));
    assert_eq!(pick_line(&note, &body, &key), Ok(good.clone()));
    // None by the pinned key, garbage, or a cosignature of another checkpoint: none.
    let other = text.replace("\n5\n", "\n6\n");
    for body in [
        impostor.cosign(text, 7),
        "garbage\n".to_owned(),
        String::new(),
        w.cosign(&other, 7),
    ] {
        assert!(pick_line(&note, &body, &key).is_err(), "{body:?}");
    }
}

#[test]
fn lines_are_kept_for_their_checkpoint_only() {
    let c = Cosignatures::new(2);
    c.publish(&cp(5), 1, "— w1 a\n".into());
    assert_eq!(c.witnessed(), None, "one of two witnesses");
    c.publish(&cp(5), 0, "— w0 b\n".into());
    // In witness order, appended to that checkpoint only.
    let five = format!("{}— w0 b\n— w1 a\n", cp(5).note);
    assert_eq!(c.attach(&cp(5).note), five);
    assert_eq!(c.attach(&cp(6).note), cp(6).note);
    assert_eq!(c.witnessed(), Some(five.clone()));
    // A newer checkpoint cosigned by one witness: the older one keeps its lines and
    // stays the witnessed one; a late line for it still lands.
    c.publish(&cp(6), 1, "— w1 c\n".into());
    assert_eq!(c.attach(&cp(6).note), format!("{}— w1 c\n", cp(6).note));
    assert_eq!(c.witnessed(), Some(five));
    c.publish(&cp(6), 0, "— w0 d\n".into());
    let six = format!("{}— w0 d\n— w1 c\n", cp(6).note);
    assert_eq!(c.witnessed(), Some(six.clone()));
    // Only the newest few are kept, and the newest both cosigned (one witness down, the
    // other's checkpoints must not push it out); a line for one older than all of them is
    // dropped.
    for size in 7..7 + 2 * KEPT as u64 {
        c.publish(&cp(size), 0, "— w0 e\n".into());
    }
    assert_eq!(c.witnessed(), Some(six.clone()));
    assert_eq!(c.attach(&cp(7).note), cp(7).note, "an incomplete one went");
    let newest = 6 + 2 * KEPT as u64;
    assert_eq!(
        c.attach(&cp(newest).note),
        format!("{}— w0 e\n", cp(newest).note)
    );
    c.publish(&cp(5), 1, "— w1 f\n".into());
    assert_eq!(c.attach(&cp(5).note), cp(5).note);
    // Once a newer one is complete, the older complete one may go.
    c.publish(&cp(newest), 1, "— w1 g\n".into());
    c.publish(&cp(newest + 1), 0, "— w0 h\n".into());
    assert_eq!(c.attach(&cp(6).note), cp(6).note);
    assert_eq!(
        c.witnessed(),
        Some(format!("{}— w0 e\n— w1 g\n", cp(newest).note))
    );
    assert_eq!(Cosignatures::default().witnessed(), None);
}

/// A SQLite store in `dir` of `leaves` entries whose bytes start with `name`.
fn tree(dir: &std::path::Path, name: &str, leaves: u64) -> crate::store::sqlite::SqliteStore {
    use crate::store::{sqlite::SqliteStore, CommitGroup, StoredEntry};
    let store = SqliteStore::open(&dir.join(name)).unwrap();
    let entries: Vec<StoredEntry> = (0..leaves)
        .map(|i| {
            let bytes = format!("{name} {i}").into_bytes();
            StoredEntry {
                index: i,
                stream: "agency-a".into(),
                revision: i,
                event_id: uuid::Uuid::new_v4(),
                recorded_at: String::new(),
                leaf_hash: crate::log::merkle::leaf_hash(&bytes),
                bytes,
            }
        })
        .collect();
    let leaf_hashes: Vec<_> = entries.iter().map(|e| e.leaf_hash).collect();
    let nodes = crate::log::merkle::append_nodes(&StoreNodes(&store), 0, &leaf_hashes);
    let group = CommitGroup {
        entries,
        nodes: nodes.unwrap(),
        ..CommitGroup::default()
    };
    store.commit(group).unwrap();
    store
}

/// With one of two witnesses down, the file keeps the newest checkpoint both cosigned
/// however many the other cosigns since: after a restart it is still served.
#[test]
fn the_newest_complete_checkpoint_outlives_a_witness_down() {
    use crate::log::cosignature::Witness;
    use base64::Engine as _;
    use ed25519_dalek::SigningKey;
    let dir = tempfile::tempdir().unwrap();
    let last = 2 * KEPT as u64 + 2;
    let store = tree(dir.path(), "ledger.db", last);
    let log =
        crate::log::NoteSigner::from_signing_key("log.example/1", SigningKey::from_bytes(&[9; 32]))
            .unwrap();
    let text = |size: u64| {
        let root = crate::log::merkle::root(&StoreNodes(&store), size).unwrap();
        let root = base64::engine::general_purpose::STANDARD.encode(root);
        format!("log.example/1\n{size}\n{root}\n")
    };
    let checkpoint = |size: u64| StoredCheckpoint {
        size,
        note: log.sign(&text(size)).unwrap(),
    };
    let (w0, w1) = (
        Witness::generate("w.example/0").unwrap(),
        Witness::generate("w.example/1").unwrap(),
    );
    let keys = [w0.public().clone(), w1.public().clone()];
    let key = log.verifier();
    let trust = crate::witness::cosignatures::Log {
        key: &key,
        store: &store,
    };
    let path = dir.path().join("cosignatures.db");
    let c = Cosignatures::kept(&path, &keys, trust).unwrap();
    c.publish(&checkpoint(1), 0, w0.cosign(&text(1), 5));
    c.publish(&checkpoint(1), 1, w1.cosign(&text(1), 5));
    for size in 2..=last {
        c.publish(&checkpoint(size), 0, w0.cosign(&text(size), 5));
    }
    let both = format!(
        "{}{}{}",
        checkpoint(1).note,
        w0.cosign(&text(1), 5),
        w1.cosign(&text(1), 5)
    );
    assert_eq!(c.witnessed(), Some(both.clone()));
    // Memory keeps what the file keeps: the 16 newest beside it.
    let oldest = last - KEPT as u64 + 1;
    let line = w0.cosign(&text(oldest), 5);
    assert_eq!(
        c.attach(&checkpoint(oldest).note),
        format!("{}{line}", checkpoint(oldest).note)
    );
    assert_eq!(
        c.attach(&checkpoint(oldest - 1).note),
        checkpoint(oldest - 1).note
    );
    drop(c);
    let rows = crate::witness::kept::Kept::read_only(&path)
        .unwrap()
        .unwrap()
        .rows()
        .unwrap();
    assert_eq!(
        rows.len(),
        KEPT + 2,
        "the {KEPT} newest, and both lines of the complete one"
    );
    let again = Cosignatures::kept(&path, &keys, trust).unwrap();
    assert_eq!(again.witnessed(), Some(both));
}

/// What `serve --witness` keeps in the data directory comes back after a restart, and what
/// `caseledger export` reads of it is checked again: a line edited in the file, one over a
/// checkpoint the log key did not sign, and lines of witnesses no longer configured are
/// left out; only the newest [`KEPT`] checkpoints stay in the file.
#[test]
fn kept_cosignatures_come_back_checked() {
    use crate::log::cosignature::Witness;
    use crate::witness::kept::{Kept, Row};
    use base64::Engine as _;
    use ed25519_dalek::SigningKey;
    let witness = |n: u8| {
        Witness::from_signing_key(&format!("w.example/{n}"), SigningKey::from_bytes(&[n; 32]))
            .unwrap()
    };
    let (w0, w1) = (witness(1), witness(2));
    let signer = |seed: u8| {
        crate::log::NoteSigner::from_signing_key(
            "log.example/1",
            SigningKey::from_bytes(&[seed; 32]),
        )
        .unwrap()
    };
    let log = signer(9);
    let dir = tempfile::tempdir().unwrap();
    let tree = |name: &str, leaves: u64| tree(dir.path(), name, leaves);
    let last = KEPT as u64 + 3;
    let store = tree("ledger.db", last + 2);
    let other = tree("other.db", last + 2);
    let text_of = |store: &dyn EventStore, size: u64| {
        let root = crate::log::merkle::root(&StoreNodes(store), size).unwrap();
        let root = base64::engine::general_purpose::STANDARD.encode(root);
        format!("log.example/1\n{size}\n{root}\n")
    };
    let text = |size: u64| text_of(&store, size);
    let checkpoint = |size: u64| StoredCheckpoint {
        size,
        note: log.sign(&text(size)).unwrap(),
    };
    let path = dir.path().join("cosignatures.db");
    let keys = [w0.public().clone(), w1.public().clone()];
    let key = log.verifier();
    let verifier = super::super::cosignatures::Log {
        key: &key,
        store: &store,
    };
    assert!(
        Cosignatures::read(&path, verifier).unwrap().is_none(),
        "no file yet"
    );
    {
        let c = Cosignatures::kept(&path, &keys, verifier).unwrap();
        for size in 1..=last {
            c.publish(&checkpoint(size), 0, w0.cosign(&text(size), 100 + size));
            c.publish(&checkpoint(size), 1, w1.cosign(&text(size), 100 + size));
        }
    }
    let both = |size: u64| {
        let lines = format!(
            "{}{}",
            w0.cosign(&text(size), 100 + size),
            w1.cosign(&text(size), 100 + size)
        );
        format!("{}{lines}", checkpoint(size).note)
    };
    let read = Cosignatures::read(&path, verifier).unwrap().unwrap();
    assert_eq!(read.witnesses(), 2);
    assert_eq!(read.witnessed(), Some(both(last)));
    assert_eq!(
        read.newest_witnessed(),
        Some((checkpoint(last), both(last)))
    );
    // Not of another log's tree (a copy from another ledger with this key, or the store
    // restored from an older backup).
    let elsewhere = super::super::cosignatures::Log {
        key: &key,
        store: &other,
    };
    let read = Cosignatures::read(&path, elsewhere).unwrap().unwrap();
    assert_eq!(read.witnessed(), None);
    let file = Kept::read_only(&path).unwrap().unwrap();
    let rows = file.rows().unwrap();
    assert_eq!(rows.len(), 2 * KEPT, "pruned to the newest {KEPT}");
    assert_eq!(rows[0].size, last - KEPT as u64 + 1);
    drop(file);

    // Edited in the file: w0's newest line made over another checkpoint; and a row over a
    // checkpoint another key signed, for a size past all others.
    let row_of = |at: usize| {
        let row = rows
            .iter()
            .find(|r| r.size == last && r.witness == keys[at].to_text());
        row.unwrap().clone()
    };
    let file = Kept::open(&path).unwrap();
    let mut edited = row_of(0);
    edited.line = w0.cosign(&text(last + 1), 1);
    file.record(&edited, KEPT).unwrap();
    let forged = |witness: &Witness, at: usize| Row {
        size: last + 1,
        note: signer(8).sign(&text(last + 1)).unwrap(),
        witness: keys[at].to_text(),
        line: witness.cosign(&text(last + 1), 1),
    };
    file.record(&forged(&w0, 0), KEPT + 3).unwrap();
    file.record(&forged(&w1, 1), KEPT + 3).unwrap();
    // The log key's checkpoint of a tree this store does not hold, and a line of one
    // witness holding a second line.
    let foreign = Row {
        size: last + 2,
        note: log.sign(&text_of(&other, last + 2)).unwrap(),
        ..forged(&w0, 0)
    };
    for (at, w) in [(0, &w0), (1, &w1)] {
        let line = w.cosign(&text_of(&other, last + 2), 1);
        file.record(
            &Row {
                witness: keys[at].to_text(),
                line,
                ..foreign.clone()
            },
            KEPT + 3,
        )
        .unwrap();
    }
    let mut doubled = rows
        .iter()
        .find(|r| r.size == last - 1 && r.witness == keys[1].to_text())
        .unwrap()
        .clone();
    doubled.line = format!("{}{}", doubled.line, w0.cosign(&text(last - 1), 1));
    file.record(&doubled, KEPT + 3).unwrap();
    drop(file);
    let read = Cosignatures::read(&path, verifier).unwrap().unwrap();
    assert_eq!(read.witnessed(), Some(both(last - 2)));

    // Started again with w1 only: w0's lines are dropped, w1's alone witness a checkpoint;
    // but not a line under w1's name that another key made.
    let file = Kept::open(&path).unwrap();
    let mut swapped = row_of(1);
    let impostor = Witness::from_signing_key("w.example/2", SigningKey::from_bytes(&[7; 32]));
    swapped.line = impostor.unwrap().cosign(&text(last), 100 + last);
    file.record(&swapped, KEPT + 1).unwrap();
    drop(file);
    let only = Cosignatures::kept(&path, &keys[1..], verifier).unwrap();
    let line = w1.cosign(&text(last - 2), 98 + last);
    assert_eq!(
        only.witnessed(),
        Some(format!("{}{line}", checkpoint(last - 2).note))
    );
    assert_eq!(
        Cosignatures::read(&path, verifier)
            .unwrap()
            .unwrap()
            .witnesses(),
        1
    );
}

/// `serve --witness`: the URL and the witness key, as text or as a file holding it; every
/// other spelling is refused with what was expected.
#[test]
fn a_witness_is_a_url_and_a_key_or_key_file() {
    use crate::log::cosignature::Witness;
    let key = Witness::generate("w.example/1").unwrap().public().to_text();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("witness.pub");
    std::fs::write(&file, format!("{key}\n")).unwrap();
    let garbage = dir.path().join("garbage");
    std::fs::write(&garbage, "not a key").unwrap();
    let from_text = Target::parse(&format!("https://w.example/ {key}")).unwrap();
    assert_eq!(
        (from_text.url.as_str(), from_text.key.to_text()),
        ("https://w.example", key.clone())
    );
    let from_file = Target::parse(&format!("http://w:8090 {}", file.display())).unwrap();
    assert_eq!(from_file.key.to_text(), key);
    for (given, says) in [
        (key.clone(), "a witness is given as"),
        (format!("ftp://w {key}"), "is not http:// or https://"),
        ("http://w nope".to_owned(), "or a file holding one"),
        (
            format!("http://w {}", garbage.display()),
            "witness key file",
        ),
    ] {
        let err = Target::parse(&given).expect_err(&given);
        assert!(err.contains(says), "{given}: {err}");
    }
}
