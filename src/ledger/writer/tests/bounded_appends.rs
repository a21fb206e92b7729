//! A store that bounds its appends (EventStoreDB's `MaxAppendSize`): a request over the
//! bound is refused whole before anything is written, and every request's end is handed
//! to the store, which cuts a stream's run into appends only there.

use std::sync::Arc;

use chrono::Utc;
use serde_json::json;

use super::{register, setup, Request};
use crate::ledger::{Code, ExpectedRevision, Outcome, WriteError};
use crate::store::scripted::Scripted;

/// One request registering agency `name` and updating it, as a batch.
fn registered_and_updated(
    admin: &crate::envelope::KeyFile,
    name: &str,
) -> (Request, super::Answer) {
    agency_events(admin, name, &["agency.registered", "agency.updated"])
}

/// One request of the agency events `kinds` on agency `name`'s stream, as a batch.
fn agency_events(
    admin: &crate::envelope::KeyFile,
    name: &str,
    kinds: &[&str],
) -> (Request, super::Answer) {
    let stream = format!("agency-{name}");
    let data = json!({"name": name, "region": "r", "domains": ["legal"], "languages": [],
        "interpretation": false, "cultural_adaptations": [], "trafficking_experience": true,
        "eligibility": {"criteria": [], "notes": ""}});
    let events = kinds
        .iter()
        .map(|kind| {
            let wire = crate::client::signed_event(admin, kind, &stream, data.clone(), Utc::now());
            crate::client::self_verified(admin, &wire).expect("verified")
        })
        .collect();
    let (reply, answer) = tokio::sync::oneshot::channel();
    let request = Request {
        stream,
        events,
        expected: ExpectedRevision::Any,
        reply,
    };
    (request, answer)
}

#[test]
fn a_request_over_the_stores_append_limit_is_refused_whole_and_nothing_is_written() {
    let mut s = setup();
    let mut bounded = Scripted::new(s.store.clone(), |_| None);
    // Room for one of the batch's two entries (each about 1 KB), not for both.
    bounded.limit = Some(1500);
    let bounded = Arc::new(bounded);
    s.writer.store = bounded.clone();
    let size = s.store.size().expect("size");
    let (tx, rx) = crossbeam_channel::unbounded();
    let (batch, mut batch_answer) = registered_and_updated(&s.admin, "large");
    // The batch's first event alone fits: it is not taken for a repeat of the refused one.
    let (reply, mut alone_answer) = tokio::sync::oneshot::channel();
    let alone = Request {
        stream: batch.stream.clone(),
        events: batch.events[..1].to_vec(),
        expected: ExpectedRevision::NoStream,
        reply,
    };
    tx.send(batch).expect("queued");
    tx.send(alone).expect("queued");
    drop(tx);
    let read = s.writer.read.clone();
    s.writer.run(rx);
    match batch_answer.try_recv().expect("answered") {
        Err(WriteError::Rule(v)) => {
            assert_eq!(v.code, Code::PayloadTooLarge);
            assert!(
                v.message.contains("over the store's limit of 1500"),
                "{}",
                v.message
            );
        }
        other => panic!("expected payload_too_large, got {other:?}"),
    }
    let Ok(Outcome::Created(receipts)) = alone_answer.try_recv().expect("answered") else {
        panic!("the single event is written")
    };
    assert_eq!((receipts[0].index, receipts[0].revision), (size, 0));
    assert_eq!(
        s.store.size().expect("size"),
        size + 1,
        "only the single event"
    );
    let state = read.read().expect("state");
    assert_eq!(state.size, size + 1);
    assert_eq!(state.next_revision("agency-large"), 1);
}

#[test]
fn every_requests_end_is_handed_to_the_store() {
    let mut s = setup();
    let bounded = Arc::new(Scripted::new(s.store.clone(), |_| None));
    s.writer.store = bounded.clone();
    let (tx, rx) = crossbeam_channel::unbounded();
    let (a, _a) = register(&s.admin, "one", ExpectedRevision::Any);
    let (b, _b) = registered_and_updated(&s.admin, "two");
    let (refused, _r) = register(&s.admin, "one", ExpectedRevision::NoStream);
    let (c, _c) = register(&s.admin, "three", ExpectedRevision::Any);
    for r in [a, b, refused, c] {
        tx.send(r).expect("queued");
    }
    drop(tx);
    s.writer.run(rx);
    let ends = bounded.request_ends.lock().expect("ends").clone();
    // One group of four entries; the refused request holds none. Then, on its own, the
    // idle writer's checkpoint: no entries, no ends.
    assert_eq!(ends[0], vec![1, 3, 4], "{ends:?}");
    assert!(ends[1..].iter().all(Vec::is_empty), "{ends:?}");
}

#[test]
fn a_request_too_large_is_told_so_even_when_its_group_fails() {
    let mut s = setup();
    let mut store = Scripted::new(s.store.clone(), |_| {
        Some(crate::store::StoreError::Unavailable("disk full".into()))
    });
    store.limit = Some(1500);
    s.writer.store = Arc::new(store);
    let (tx, rx) = crossbeam_channel::unbounded();
    let (small, mut small_answer) = register(&s.admin, "small", ExpectedRevision::Any);
    let (large, mut large_answer) = registered_and_updated(&s.admin, "large");
    tx.send(small).expect("queued");
    tx.send(large).expect("queued");
    drop(tx);
    s.writer.run(rx);
    let small = small_answer.try_recv().expect("answered");
    assert!(matches!(small, Err(WriteError::Store(_))), "{small:?}");
    // Decided on the request alone: a retry would be refused the same way.
    let large = large_answer.try_recv().expect("answered");
    assert!(
        matches!(&large, Err(WriteError::Rule(v)) if v.code == Code::PayloadTooLarge),
        "{large:?}"
    );
}

#[test]
fn too_large_is_answered_before_the_expected_revision_is_compared() {
    // A writer who may not read a stream must get the same refusal whether its expected
    // revision is right or wrong: the size, which does not depend on the guess, comes first.
    let mut s = setup();
    let mut bounded = Scripted::new(s.store.clone(), |_| None);
    bounded.limit = Some(1500);
    s.writer.store = Arc::new(bounded);
    let (tx, rx) = crossbeam_channel::unbounded();
    let mut answers = Vec::new();
    for expected in [ExpectedRevision::NoStream, ExpectedRevision::Exact(7)] {
        let (mut batch, answer) = registered_and_updated(&s.admin, "large");
        batch.expected = expected;
        tx.send(batch).expect("queued");
        answers.push(answer);
    }
    drop(tx);
    s.writer.run(rx);
    for mut answer in answers {
        match answer.try_recv().expect("answered") {
            Err(WriteError::Rule(v)) => assert_eq!(v.code, Code::PayloadTooLarge, "{v:?}"),
            other => panic!("expected payload_too_large, got {other:?}"),
        }
    }
}

#[test]
fn the_size_refused_does_not_depend_on_the_streams_revision() {
    // agency-x at revision 10 (11 entries) and agency-y not there: two updates to each, of
    // the same bytes but for the name, are measured alike (a revision's digits would tell
    // a writer who may not read a stream how long it is).
    let s = setup();
    let (tx, rx) = crossbeam_channel::unbounded();
    let mut kinds = vec!["agency.registered"];
    kinds.extend(["agency.updated"; 10]);
    let (first, mut created) = agency_events(&s.admin, "x", &kinds);
    tx.send(first).expect("queued");
    drop(tx);
    s.writer.run(rx);
    assert!(matches!(created.try_recv(), Ok(Ok(Outcome::Created(_)))));
    let mut bounded = Scripted::new(s.store.clone(), |_| None);
    bounded.limit = Some(1500);
    let writer = super::writer_over(s._dir.path(), Arc::new(bounded));
    let (tx, rx) = crossbeam_channel::unbounded();
    let mut answers = Vec::new();
    for name in ["x", "y"] {
        let (request, answer) = agency_events(&s.admin, name, &["agency.updated"; 2]);
        tx.send(request).expect("queued");
        answers.push(answer);
    }
    drop(tx);
    writer.run(rx);
    let sizes: Vec<String> = answers
        .iter_mut()
        .map(|a| match a.try_recv().expect("answered") {
            Err(WriteError::Rule(v)) if v.code == Code::PayloadTooLarge => v.message,
            other => panic!("expected payload_too_large, got {other:?}"),
        })
        .collect();
    assert_eq!(sizes[0], sizes[1]);
}
