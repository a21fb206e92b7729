//! Opening over a shared log: whose checkpoints the node may sign over, which checkpoint
//! judges its start-up fold, and the checkpoint start-up could not publish.

use std::sync::Arc;

use super::{behind_its_back, register, setup, stored, stored_by, Setup};
use crate::datadir;
use crate::envelope::KeyFile;
use crate::ledger::{ExpectedRevision, SystemClock};
use crate::metrics::Metrics;
use crate::store::scripted::Scripted;
use crate::store::EventStore;

#[test]
fn a_node_signs_nothing_over_a_shared_log_whose_checkpoints_are_all_anothers() {
    // A fresh mirror keeps only checkpoints that verify under this node's key: a wrong
    // log.key (or a prefix naming another ledger) leaves it none, and the log looks
    // unsigned. Start-up must not sign it with this key.
    let s = setup();
    let signed_before = s.store.checkpoints().expect("checkpoints").len();
    let open = |foreign: u64| {
        let mut shared = Scripted::new(s.store.clone(), |_| None);
        shared.foreign_checkpoints = foreign;
        let signer = datadir::read_signer(s._dir.path()).expect("signer");
        let metrics = Arc::new(Metrics::new());
        crate::ledger::Ledger::open(Arc::new(shared), signer, Arc::new(SystemClock), metrics)
    };
    match open(2) {
        Err(e @ crate::ledger::OpenError::ForeignCheckpoints { published: 2 }) => {
            assert!(e.to_string().contains("log.key"), "{e}")
        }
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(_) => panic!("opened over another key's log"),
    }
    assert_eq!(
        s.store.checkpoints().expect("checkpoints").len(),
        signed_before,
        "nothing signed"
    );
    // The same log with its own checkpoints opens.
    open(0).expect("opens");
}

#[test]
fn a_checkpoint_start_up_could_not_publish_is_signed_by_the_idle_writer() {
    // Entries committed past the latest checkpoint (its publication dropped, as a shared
    // store may), then a start-up whose own checkpoint is dropped too: the running writer
    // owes it and signs it without waiting for a write.
    let mut s = setup();
    let mut dropping = Scripted::new(s.store.clone(), |_| None);
    dropping.drops_checkpoints = true;
    s.writer.store = Arc::new(dropping);
    let (req, _answer) = register(&s.admin, "uncovered", ExpectedRevision::Any);
    s.writer.process(vec![req]);
    let size = s.store.size().expect("size");
    let covered = |store: &Arc<dyn EventStore>| {
        store
            .latest_checkpoint()
            .expect("read")
            .map_or(0, |c| c.size)
    };
    assert!(covered(&s.store) < size);
    let shared = Scripted::new(s.store.clone(), |_| None);
    shared
        .drops_next_checkpoints
        .store(1, std::sync::atomic::Ordering::Relaxed);
    let signer = datadir::read_signer(s._dir.path()).expect("signer");
    let metrics = Arc::new(Metrics::new());
    let _ledger =
        crate::ledger::Ledger::open(Arc::new(shared), signer, Arc::new(SystemClock), metrics)
            .expect("open");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while covered(&s.store) < size && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(
        covered(&s.store),
        size,
        "the idle writer signed what start-up could not"
    );
}

/// Opens the log of `s` as a node of a shared store whose fold sees `view` entries.
fn open_shared_at(s: &Setup, view: u64) -> Result<crate::ledger::Ledger, crate::ledger::OpenError> {
    let mut shared = Scripted::new(s.store.clone(), |_| None);
    shared.shared = true;
    shared.view = Some(std::sync::Mutex::new(view));
    let signer = datadir::read_signer(s._dir.path()).expect("signer");
    let metrics = Arc::new(Metrics::new());
    crate::ledger::Ledger::open(Arc::new(shared), signer, Arc::new(SystemClock), metrics)
}

/// Files a checkpoint row of `size`, its note stating that size (its signature is never
/// checked: start-up judges a fold by a checkpoint it reaches), as another node's
/// checkpoint past a fold would be.
fn checkpoint_past(s: &Setup, size: u64) {
    let note = s
        .store
        .latest_checkpoint()
        .expect("read")
        .expect("one")
        .note;
    let mut lines: Vec<String> = note.lines().map(str::to_owned).collect();
    lines[1] = size.to_string();
    let note = lines.join("\n") + "\n";
    let group = crate::store::CommitGroup {
        checkpoint: Some(crate::store::StoredCheckpoint { size, note }),
        ..Default::default()
    };
    s.store.commit(group).expect("committed");
}

#[test]
fn a_node_starting_while_the_shared_log_grows_judges_its_fold_by_a_checkpoint_it_reached() {
    // The fold reads the log as it was; meanwhile another node wrote and published a
    // checkpoint past it. That is no integrity failure: the fold is judged by the newest
    // checkpoint it reaches.
    let mut s = setup();
    let before = s.store.size().expect("size");
    let (req, _answer) = register(&s.admin, "grown", ExpectedRevision::Any);
    s.writer.process(vec![req]);
    let latest = s.store.latest_checkpoint().expect("read").map(|c| c.size);
    assert_eq!(latest, Some(before + 1));
    open_shared_at(&s, before).expect("opens, judged by the checkpoint at the folded size");
    // No checkpoint at or below the fold (its first ones came later): every entry is checked
    // as an uncovered tail, and the node opens.
    open_shared_at(&s, 2).expect("opens, its fold checked entry by entry");
}

#[test]
fn entries_between_the_checkpoint_reached_and_the_folds_end_are_checked_in_full() {
    // Checkpoint R covers the log up to `r`; another node's entry at `r` carries a signature
    // no registered key made; a checkpoint past the fold arrived meanwhile. Judged by R, the
    // entry past it is checked like any uncovered tail, and refused.
    let mut s = setup();
    let (req, _answer) = register(&s.admin, "signed", ExpectedRevision::Any);
    s.writer.process(vec![req]);
    let r = s.store.latest_checkpoint().expect("read").expect("R").size;
    let stranger = KeyFile::generate(s.admin.principal.clone());
    behind_its_back(
        &s,
        vec![
            stored_by(&stranger, "forged", 0, true),
            stored(&s, "later", 0, true),
        ],
    );
    checkpoint_past(&s, r + 2);
    match open_shared_at(&s, r + 1) {
        Err(crate::ledger::OpenError::Integrity { index, reason }) => {
            assert_eq!(index, r, "{reason}");
            assert!(reason.contains("signature"), "{reason}");
        }
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(_) => panic!("a forged entry past the checkpoint went unchecked"),
    }
}
