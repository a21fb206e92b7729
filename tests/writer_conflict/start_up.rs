//! Start-up over entries no checkpoint covers yet (a crash under load, or another node's
//! append): they get a checkpoint once their signatures, event ids, `recorded_at` order and
//! rules pass; one that fails is named and nothing is signed over it (on a shared store a
//! rule failure is only logged).

use super::*;

#[test]
fn entries_committed_past_the_latest_checkpoint_get_one_at_start_up() {
    // As after a crash between two paced checkpoints (or another node's append): the log
    // holds an entry no checkpoint covers yet.
    let f = fixture(&[]);
    f.store
        .sneak_in("late")
        .expect("appended without a checkpoint");
    let size = f.store.size().expect("size");
    let before = f.store.latest_checkpoint().expect("cp").expect("some");
    assert_eq!(before.size, size - 1);
    drop(f.ledger);
    let (reopened, _) = datadir::open(&f.dir, Arc::new(SystemClock)).expect("reopens");
    let cp = reopened
        .store()
        .latest_checkpoint()
        .expect("cp")
        .expect("some");
    let verifier = datadir::read_signer(&f.dir).expect("signer").verifier();
    let opened = caseledger::log::checkpoint::Checkpoint::open_signed(&cp.note, &verifier)
        .expect("signed by the log key");
    let mut leaves = merkle::RootBuilder::new();
    for e in reopened.store().read_all(0, usize::MAX).expect("entries") {
        leaves.push(e.leaf_hash);
    }
    assert_eq!((opened.size, opened.root), (size, leaves.root()));
}

#[test]
fn an_edited_entry_past_the_checkpoint_and_under_the_snapshot_is_named_not_signed() {
    // The snapshot covers an entry no checkpoint covers yet; its bytes are then edited.
    // Start-up must re-hash it before signing a checkpoint over it.
    let f = fixture(&[]);
    f.store
        .sneak_in("late")
        .expect("appended without a checkpoint");
    let edited = f.store.size().expect("size") - 1;
    let state = caseledger::ledger::load_state(f.store.as_ref()).expect("fold");
    let snap = f.dir.join(caseledger::ledger::snapshot::SNAPSHOT_FILE);
    caseledger::ledger::snapshot::save(&snap, &state, f.store.as_ref()).expect("snapshot");
    drop(f.ledger);
    let db = rusqlite::Connection::open(f.dir.join(datadir::DB_FILE)).expect("db");
    let bytes = |db: &rusqlite::Connection| -> Vec<u8> {
        db.query_row(
            "SELECT bytes FROM entries WHERE idx = ?1",
            [edited as i64],
            |r| r.get(0),
        )
        .expect("bytes")
    };
    let before = bytes(&db);
    db.execute(
        "UPDATE entries SET bytes = CAST(replace(CAST(bytes AS TEXT), '\"recorded_at\":\"2',
           '\"recorded_at\":\"1') AS BLOB) WHERE idx = ?1",
        [edited as i64],
    )
    .expect("edit");
    assert_ne!(bytes(&db), before, "the entry was edited");
    drop(db);
    match datadir::open(&f.dir, Arc::new(SystemClock)) {
        Err(e) => assert!(e.to_string().contains(&format!("entry {edited}")), "{e}"),
        Ok(_) => panic!("an edited entry was accepted and signed over"),
    }
}

#[test]
fn an_entry_past_the_checkpoint_that_breaks_a_rule_is_named_not_signed() {
    // Appended behind the server's back, as no writer would: the same agency registered
    // twice. Start-up is about to sign a checkpoint over it, so it re-checks the rules.
    let f = fixture(&[]);
    f.store.sneak_in("late").expect("first");
    f.store.sneak_in("late").expect("again, breaking rule 5");
    let bad = f.store.size().expect("size") - 1;
    let covered = f.store.latest_checkpoint().expect("cp").expect("some").size;
    drop(f.ledger);
    refused_at_start_up(&f.dir, bad, "invalid_transition");
    // Nothing was signed over it.
    let store = datadir::open_sqlite(&f.dir).expect("store");
    let cp = store.latest_checkpoint().expect("cp").expect("some");
    assert_eq!(cp.size, covered);
}

#[test]
fn an_entry_past_the_checkpoint_recorded_before_the_one_ahead_is_named_not_signed() {
    // The verifier refuses a log whose recorded_at goes backwards; start-up must not sign
    // a checkpoint over one. On a store shared with other nodes too: only rule failures
    // are left to the nodes' race.
    for shared in [false, true] {
        let f = fixture(&[]);
        f.store.sneak_in("late").expect("first");
        let earlier = Utc::now() - chrono::Duration::hours(1);
        f.store
            .sneak_in_at("earlier", earlier)
            .expect("recorded an hour back");
        let bad = f.store.size().expect("size") - 1;
        drop(f.ledger);
        if shared {
            refused(open_shared(&f.dir).map(drop), bad, "recorded_at");
        } else {
            refused_at_start_up(&f.dir, bad, "recorded_at");
        }
    }
}

/// Files the genuine latest note again as covering the whole log, which takes no key.
fn file_latest_note_as_covering(dir: &std::path::Path, size: u64) {
    let store = datadir::open_sqlite(dir).expect("store");
    let genuine = store.latest_checkpoint().expect("cp").expect("some");
    assert!(genuine.size < size);
    drop(store);
    let db = rusqlite::Connection::open(dir.join(datadir::DB_FILE)).expect("db");
    db.execute(
        "INSERT INTO checkpoints (size, note) VALUES (?1, ?2)",
        rusqlite::params![size as i64, genuine.note],
    )
    .expect("row");
}

#[test]
fn a_checkpoint_row_claiming_more_than_its_note_does_not_skip_the_tail_check() {
    let f = fixture(&[]);
    f.store.sneak_in("late").expect("first");
    f.store.sneak_in("late").expect("again, breaking rule 5");
    let size = f.store.size().expect("size");
    drop(f.ledger);
    file_latest_note_as_covering(&f.dir, size);
    refused_at_start_up(&f.dir, size - 1, "invalid_transition");
}

#[test]
fn a_checkpoint_row_that_differs_from_its_note_is_refused() {
    let f = fixture(&[]);
    f.store
        .sneak_in("late")
        .expect("a valid entry past the checkpoint");
    let size = f.store.size().expect("size");
    drop(f.ledger);
    file_latest_note_as_covering(&f.dir, size);
    refused_at_start_up(&f.dir, size - 1, "its signed note states");
}

/// Opening `dir` fails with an integrity error naming entry `index`, for a reason that
/// mentions `why`.
fn refused_at_start_up(dir: &std::path::Path, index: u64, why: &str) {
    let opened = datadir::open(dir, Arc::new(SystemClock)).map_err(|e| match e {
        datadir::DataDirError::Open(e) => e,
        other => panic!("unexpected error: {other}"),
    });
    refused(opened.map(drop), index, why);
}

/// `opened` is an integrity error naming entry `index`, for a reason that mentions `why`.
fn refused(opened: Result<(), caseledger::ledger::OpenError>, index: u64, why: &str) {
    match opened {
        Err(caseledger::ledger::OpenError::Integrity {
            index: named,
            reason,
        }) => {
            assert_eq!(named, index, "{reason}");
            assert!(reason.contains(why), "{reason}");
        }
        Err(e) => panic!("unexpected error: {e}"),
        Ok(()) => panic!("opened and signed over entry {index} ({why})"),
    }
}

/// Opens the ledger of `dir` on the store as a node sharing it with others would.
fn open_shared(dir: &std::path::Path) -> Result<Ledger, caseledger::ledger::OpenError> {
    let store = Arc::new(Interloper {
        inner: SqliteStore::open(&dir.join(datadir::DB_FILE)).expect("store"),
        admin: KeyFile::read(&dir.join("admin.key.json")).expect("admin key"),
        pending: Mutex::new(Vec::new()),
        shared: true,
    });
    Ledger::open(
        store,
        datadir::read_signer(dir).expect("signer"),
        Arc::new(SystemClock),
        Arc::new(Metrics::new()),
    )
}

#[test]
fn on_a_shared_store_a_rule_broken_past_the_checkpoint_is_logged_not_refused() {
    // Two writing nodes can race past each other's rule checks; refusing to start would
    // stop every node of the cluster, so the start-up only warns and folds the entry.
    let f = fixture(&[]);
    f.store.sneak_in("late").expect("first");
    f.store.sneak_in("late").expect("again, breaking rule 5");
    let size = f.store.size().expect("size");
    drop(f.ledger);
    let ledger = open_shared(&f.dir).expect("a shared store opens");
    assert_eq!(ledger.state().size, size);
    assert_eq!(ledger.state().next_revision("agency-late"), 2);
    let cp = ledger
        .store()
        .latest_checkpoint()
        .expect("cp")
        .expect("some");
    assert_eq!(cp.size, size, "the start-up checkpoint covers the entry");
}
