//! The transparency-log endpoints and the case export: proofs from the API verify against the
//! signed checkpoint, bad parameters are problem+json 400s, and reads are role-checked.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use caseledger::bundle::Bundle;
use caseledger::log::merkle::{leaf_hash, Hash};
use caseledger::log::proof::{verify_consistency, verify_inclusion};
use caseledger::log::{Checkpoint, NoteVerifier};
use caseledger::verify::{verify_bundle, Kind, Options};
use serde_json::json;

use crate::helpers::{spawn_app, TestApp};

fn checkpoint(app: &TestApp) -> Checkpoint {
    let r = app.get("/v1/log/checkpoint", None);
    assert_eq!(r.status, 200);
    assert!(
        r.content_type.starts_with("text/plain"),
        "{}",
        r.content_type
    );
    let key = NoteVerifier::parse(&app.log_key).expect("log key");
    Checkpoint::open_signed(&r.text, &key).expect("checkpoint verifies under the log key")
}

fn hashes(v: &serde_json::Value) -> Vec<Hash> {
    v["hashes"]
        .as_array()
        .expect("hashes")
        .iter()
        .map(|h| {
            let bytes = B64.decode(h.as_str().expect("str")).expect("b64");
            bytes.try_into().expect("32 bytes")
        })
        .collect()
}

fn auditor(app: &TestApp) -> String {
    app.register_principal("olu", "operator", &["auditor"]).1
}

#[test]
fn the_log_key_endpoint_serves_the_key_init_printed() {
    let app = spawn_app();
    let r = app.get("/v1/log/key", None);
    // Exactly the key, no line break: a client compares it with what `init` printed (the
    // binary's own `init` output: tests/log_durability.rs).
    assert_eq!((r.status, r.text.as_str()), (200, app.log_key.as_str()));
    assert!(
        r.content_type.starts_with("text/plain"),
        "{}",
        r.content_type
    );
}

#[test]
fn inclusion_proofs_from_the_api_verify_against_the_checkpoint_root() {
    let app = spawn_app();
    let token = auditor(&app);
    for i in 0..5 {
        app.register_agency(&format!("a{i}"));
    }
    let cp = checkpoint(&app);
    assert_eq!(cp.size, app.log_size());
    let lines = app.get(&format!("/v1/log/entries?limit={}", cp.size), Some(&token));
    for (index, line) in lines.text.lines().enumerate() {
        let path = format!("/v1/log/proof/inclusion?index={index}&size={}", cp.size);
        let r = app.get(&path, Some(&token));
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            (r.json["index"].as_u64(), r.json["size"].as_u64()),
            (Some(index as u64), Some(cp.size))
        );
        let leaf = leaf_hash(line.as_bytes());
        verify_inclusion(&leaf, index as u64, cp.size, &hashes(&r.json), &cp.root)
            .unwrap_or_else(|e| panic!("entry {index}: {e}"));
    }
}

#[test]
fn after_a_burst_of_concurrent_appends_the_checkpoint_covers_the_whole_log() {
    // Under load the writer signs at most one checkpoint a second, but the group that
    // leaves its queue empty is always signed: once every append is answered, the latest
    // checkpoint commits to all of them.
    let app = spawn_app();
    std::thread::scope(|s| {
        for t in 0..8 {
            let app = &app;
            s.spawn(move || {
                for i in 0..8 {
                    app.register_agency(&format!("burst{t}x{i}"));
                }
            });
        }
    });
    let cp = checkpoint(&app);
    assert_eq!(cp.size, app.log_size());
    let token = auditor(&app);
    let lines = app.get(&format!("/v1/log/entries?limit={}", cp.size), Some(&token));
    let mut root = caseledger::log::merkle::RootBuilder::new();
    for line in lines.text.lines().take(cp.size as usize) {
        root.push(leaf_hash(line.as_bytes()));
    }
    assert_eq!(root.root(), cp.root);
}

#[test]
fn a_consistency_proof_links_two_checkpoints() {
    let app = spawn_app();
    app.register_agency("first");
    let old = checkpoint(&app);
    for i in 0..7 {
        app.register_agency(&format!("later{i}"));
    }
    let new = checkpoint(&app);
    assert!(new.size > old.size);
    let path = format!(
        "/v1/log/proof/consistency?from={}&to={}",
        old.size, new.size
    );
    let r = app.get(&path, None);
    assert_eq!(r.status, 200, "{}", r.text);
    let proof = hashes(&r.json);
    verify_consistency(old.size, new.size, &proof, &old.root, &new.root).expect("consistent");
    // The same proof does not link the old size to a forged root.
    let mut forged = new.root;
    forged[0] ^= 1;
    assert!(verify_consistency(old.size, new.size, &proof, &old.root, &forged).is_err());
}

#[test]
fn bad_proof_parameters_are_problem_json_400s() {
    let app = spawn_app();
    let token = auditor(&app);
    let size = app.log_size();
    let bad = [
        format!("/v1/log/proof/inclusion?index={size}&size={size}"),
        format!("/v1/log/proof/inclusion?index=0&size={}", size + 1),
        "/v1/log/proof/inclusion?index=0&size=0".to_owned(),
        "/v1/log/proof/inclusion?index=x&size=1".to_owned(),
        "/v1/log/proof/inclusion?index=0".to_owned(),
        "/v1/log/proof/inclusion?index=0&size=1&extra=1".to_owned(),
        "/v1/log/proof/consistency?from=0&to=1".to_owned(),
        "/v1/log/proof/consistency?from=2&to=1".to_owned(),
        format!("/v1/log/proof/consistency?from=1&to={}", size + 1),
        "/v1/log/proof/consistency?from=-1&to=1".to_owned(),
    ];
    for path in bad {
        let r = app.get(&path, Some(&token));
        assert_eq!(r.status, 400, "{path}: {}", r.text);
        assert_eq!(r.content_type, "application/problem+json", "{path}");
        assert_eq!(r.code(), "bad_request", "{path}");
    }
    // The detail names the parameter as the request spelled it.
    let r = app.get(
        &format!("/v1/log/proof/consistency?from=1&to={}", size + 1),
        None,
    );
    let detail = r.json["detail"].as_str().unwrap_or_default();
    assert!(detail.starts_with("to must be between 1 and"), "{detail}");
    // A page of nothing is refused, not quietly turned into a page of one.
    let stream = "/v1/streams/principal-admin?limit=0";
    for path in ["/v1/log/entries?limit=0", stream] {
        let r = app.get(path, Some(&app.admin_token));
        let r = if r.status == 403 {
            app.get(path, Some(&token))
        } else {
            r
        };
        assert_eq!(
            (r.status, r.code()),
            (400, "bad_request"),
            "{path}: {}",
            r.text
        );
        let detail = r.json["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains("limit must be a whole number from 1 to"),
            "{detail}"
        );
    }
}

#[test]
fn inclusion_proofs_are_for_auditors_only() {
    let app = spawn_app();
    let token = auditor(&app);
    let path = "/v1/log/proof/inclusion?index=0&size=1";
    assert_eq!(app.get(path, None).status, 401);
    let r = app.get(path, Some(&app.admin_token));
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    assert_eq!(app.get(path, Some(&token)).status, 200);
}

#[test]
fn a_case_export_verifies_offline_and_holds_only_that_case() {
    let app = spawn_app();
    let token = auditor(&app);
    app.register_agency("harbor-house");
    let (maria, maria_token) = app.register_principal("maria", "harbor-house", &["caseworker"]);
    let [case, other] = [
        "0196b7c2-4a55-7d3e-9f10-2b6c1d4e5f60",
        "0196b7c2-4a55-7d3e-9f10-000000000002",
    ];
    for c in [other, case] {
        let data = json!({"owner_agency": "harbor-house", "coordinator": "maria", "needs": ["legal"], "minor": false});
        app.write(
            &maria,
            &maria_token,
            "case.opened",
            &format!("case-{c}"),
            data,
        );
    }
    app.register_agency("after-the-case");
    let r = app.get(&format!("/v1/export?case={case}"), Some(&token));
    assert_eq!(r.status, 200, "{}", r.text);
    let bundle: Bundle = serde_json::from_str(&r.text).expect("bundle");
    let key = NoteVerifier::parse(&app.log_key).expect("key");
    let report = verify_bundle(&bundle, &key, Options::default());
    assert!(report.ok, "{:?}", report.failure);
    assert_eq!(report.kind, Some(Kind::Partial));
    assert_eq!(report.cases, vec![format!("case-{case}")]);
    let last = bundle.entries.last().expect("entries");
    assert!(
        last.entry.contains(&format!("case-{case}")),
        "the case entry is last"
    );
    assert!(!r.text.contains("after-the-case") && !r.text.contains(other));
}

#[test]
fn a_case_bundle_finds_identity_entries_past_the_state_it_was_made_from() {
    // The API reads the identity streams from the published state while the store may
    // already hold a checkpoint over entries not yet published (or, on a shared log, not
    // yet folded by this node): a case entry naming an agency registered in that gap goes
    // into the bundle with the agency's entry.
    let app = spawn_app();
    app.register_agency("harbor-house");
    let (maria, maria_token) = app.register_principal("maria", "harbor-house", &["caseworker"]);
    let case = "0196b7c2-4a55-7d3e-9f10-2b6c1d4e5f60";
    let stream = format!("case-{case}");
    let opened = json!({"owner_agency": "harbor-house", "coordinator": "maria", "needs": ["legal"], "minor": false});
    app.write(&maria, &maria_token, "case.opened", &stream, opened);
    let (identity, visible) = {
        let read = app.ledger.state();
        let names = caseledger::bundle::export::identity_streams(read.streams.keys());
        (names, read.size)
    };
    // After the identity list was taken: a new agency, and the case's consent naming it.
    app.register_agency("late-clinic");
    let consent = json!({"consent_id": "c1", "purposes": ["inquiry"], "recipients": ["late-clinic"],
        "data_categories": ["contact"], "valid_until": "2030-01-01T00:00:00Z", "method": "written",
        "language": "es", "interpreter": {"used": false}, "notice_version": "v1"});
    app.write(&maria, &maria_token, "consent.granted", &stream, consent);
    let inquiry = json!({"inquiry_id": "q1", "agency": "late-clinic", "consent_id": "c1",
        "asks": ["can_help"], "domains": ["legal"], "cultural_needs": []});
    app.write(&maria, &maria_token, "inquiry.sent", &stream, inquiry);
    let id = caseledger::bundle::export::LogIdentity::of(app.ledger.note_signer());
    let store = app.ledger.store().clone();
    let mut body = Vec::new();
    let summary = caseledger::bundle::export::write_case(
        store.as_ref(),
        &id,
        &stream,
        &identity,
        visible,
        &mut body,
    )
    .expect("bundle");
    let bundle: Bundle = serde_json::from_slice(&body).expect("bundle");
    let key = NoteVerifier::parse(&app.log_key).expect("key");
    let report = verify_bundle(&bundle, &key, Options::default());
    assert!(report.ok, "{:?}", report.failure);
    // The case's three entries are all there, the agency they name too.
    let in_stream = |s: &str| {
        let tag = format!("\"stream\":\"{s}\"");
        bundle
            .entries
            .iter()
            .filter(|e| e.entry.contains(&tag))
            .count()
    };
    assert_eq!(in_stream(&stream), 3);
    assert_eq!(in_stream("agency-late-clinic"), 1);
    assert_eq!(report.cases, vec![stream.clone()]);
    assert!(summary.entries > 0);
    // Signed identity heads cover every identity entry before the case's last one: no
    // signer's stream is left open.
    let last_case = bundle
        .entries
        .iter()
        .filter(|e| e.entry.contains(&format!("\"stream\":\"{stream}\"")))
        .map(|e| e.index)
        .max()
        .expect("case entries");
    assert!(bundle.identity_heads.is_some());
    assert_eq!(report.identity_heads_before, Some(last_case + 1));
    assert_eq!(report.identity_heads_case.as_ref(), Some(&stream));
    assert!(report.open_identity_streams.is_empty(), "{report:?}");
    // The heads attest the case's three entries: its last one left out fails.
    let mut cut = bundle.clone();
    cut.entries.retain(|e| e.index != last_case);
    let f = verify_bundle(&cut, &key, Options::default())
        .failure
        .expect("refused");
    assert_eq!(f.stream.as_ref(), Some(&stream));
    assert!(f.message.contains("attests 3 entries of"), "{f}");
}

#[test]
fn the_export_is_for_auditors_and_names_bad_or_unknown_cases() {
    let app = spawn_app();
    let token = auditor(&app);
    let unknown = "/v1/export?case=0196b7c2-4a55-7d3e-9f10-2b6c1d4e5f60";
    assert_eq!(app.get(unknown, None).status, 401);
    assert_eq!(app.get(unknown, Some(&app.admin_token)).code(), "forbidden");
    let r = app.get(unknown, Some(&token));
    assert_eq!((r.status, r.code()), (404, "not_found"));
    assert_eq!(r.content_type, "application/problem+json");
    assert_eq!(app.get("/v1/export", None).status, 401);
    assert_eq!(
        app.get("/v1/export", Some(&app.admin_token)).code(),
        "forbidden"
    );
    for bad in [
        "/v1/export?case=nope",
        "/v1/export?case=",
        "/v1/export?kase=0196b7c2-4a55-7d3e-9f10-2b6c1d4e5f60",
        "/v1/export?case=0196B7C2-4A55-7D3E-9F10-2B6C1D4E5F60",
        "/v1/export?witnessed=yes",
    ] {
        let r = app.get(bad, Some(&token));
        assert_eq!((r.status, r.code()), (400, "bad_request"), "{bad}");
    }
    // A bundle at the witnessed checkpoint, from a server without witnesses.
    let r = app.get("/v1/export?witnessed=true", Some(&token));
    assert_eq!((r.status, r.code()), (400, "bad_request"), "{}", r.text);
    assert!(r.text.contains("no witness"), "{}", r.text);
    assert_eq!(
        app.get("/v1/export?witnessed=false", Some(&token)).status,
        200
    );
}

#[test]
fn a_full_log_export_through_the_api_verifies_as_the_whole_log() {
    let app = spawn_app();
    let token = auditor(&app);
    // Enough entries that the streamed body comes in several pieces.
    for i in 0..120 {
        app.register_agency(&format!("agency-{i}"));
    }
    let r = app.get("/v1/export", Some(&token));
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.len() > 2 * 64 * 1024, "{} bytes", r.text.len());
    let bundle: Bundle = serde_json::from_str(&r.text).expect("bundle");
    let key = NoteVerifier::parse(&app.log_key).expect("key");
    let full = Options {
        require_full: true,
        require_heads: false,
        ..Options::default()
    };
    let report = verify_bundle(&bundle, &key, full);
    assert!(report.ok, "{:?}", report.failure);
    assert_eq!(report.kind, Some(Kind::Full));
    // Everything committed before the request is in it.
    assert_eq!(report.entries, app.log_size());
}

/// An auditor's routine against the real server: keep the checkpoint of one export; after
/// more writes, a new full export and a case export (with the consistency proof the API
/// serves) both verify as extending it.
#[test]
fn a_later_export_verifies_as_extending_a_kept_checkpoint() {
    use caseledger::verify::{verify_reader_since, ConsistencyProof, Since};
    let app = spawn_app();
    let token = auditor(&app);
    let key = NoteVerifier::parse(&app.log_key).expect("key");
    app.register_agency("harbor-house");
    let first: Bundle =
        serde_json::from_str(&app.get("/v1/export", Some(&token)).text).expect("bundle");
    let kept = Checkpoint::open_signed(&first.checkpoint, &key).expect("kept checkpoint");
    let (maria, maria_token) = app.register_principal("maria", "harbor-house", &["caseworker"]);
    let case = "0196b7c2-4a55-7d3e-9f10-2b6c1d4e5f60";
    let data = json!({"owner_agency": "harbor-house", "coordinator": "maria", "needs": ["legal"], "minor": false});
    for c in [case, "0196b7c2-4a55-7d3e-9f10-000000000002"] {
        let stream = format!("case-{c}");
        app.write(&maria, &maria_token, "case.opened", &stream, data.clone());
    }
    let check = |text: &str, proofs: Vec<ConsistencyProof>| {
        let since = Since::new(vec![kept.clone()], proofs);
        verify_reader_since(text.as_bytes(), &key, Options::default(), since)
    };
    let full = app.get("/v1/export", Some(&token)).text;
    let r = check(&full, vec![]);
    assert!(r.ok, "{:?}", r.failure);
    assert_eq!(r.consistent_with, vec![kept.size]);
    let case_bundle = app
        .get(&format!("/v1/export?case={case}"), Some(&token))
        .text;
    let size = r.checkpoint_size.expect("size");
    assert!(size > kept.size);
    let served = app.get(
        &format!("/v1/log/proof/consistency?from={}&to={size}", kept.size),
        None,
    );
    assert_eq!(served.status, 200, "{}", served.text);
    let proof: ConsistencyProof = serde_json::from_str(&served.text).expect("proof json");
    let r = check(&case_bundle, vec![proof]);
    assert!(r.ok, "{:?}", r.failure);
    assert_eq!(
        (r.kind, r.consistent_with),
        (Some(Kind::Partial), vec![kept.size])
    );
}
