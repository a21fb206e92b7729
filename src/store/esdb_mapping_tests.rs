//! Unit tests of the EventStoreDB mapping: no server involved.

use super::*;
use crate::client;
use crate::domain::PrincipalId;
use crate::envelope::KeyFile;
use serde_json::json;

/// A real entry (signed `agency.registered` on `agency-<id>`) at `revision`.
pub(crate) fn entry(agency: &str, revision: u64, index: u64) -> StoredEntry {
    let key = KeyFile::generate(PrincipalId::parse("admin").expect("slug"));
    let stream = format!("agency-{agency}");
    let data = json!({
        "name": "A", "region": "North", "domains": ["social"], "languages": ["en"],
        "interpretation": false, "cultural_adaptations": [], "trafficking_experience": false,
        "eligibility": {"criteria": [], "notes": ""}
    });
    let kind = if revision == 0 {
        "agency.registered"
    } else {
        "agency.updated"
    };
    let wire = client::signed_event(&key, kind, &stream, data, chrono::Utc::now());
    let v = client::self_verified(&key, &wire).expect("verified");
    let bytes = entry::encode(&stream, revision, "2026-01-01T00:00:00.000000Z", &wire);
    StoredEntry {
        index,
        stream,
        revision,
        event_id: v.event.event_id,
        recorded_at: "2026-01-01T00:00:00.000000Z".into(),
        leaf_hash: merkle::leaf_hash(&bytes),
        bytes,
    }
}

#[test]
fn url_keeps_crate_parameters_and_takes_our_prefix() {
    let c = EsdbConfig::parse(
        "esdb://db1:2113,db2:2113?tls=false&prefix=ledger1-&nodePreference=leader",
    )
    .expect("parses");
    assert_eq!(c.prefix, "ledger1-");
    assert_eq!(
        c.connection,
        "esdb://db1:2113,db2:2113?tls=false&nodePreference=leader"
    );
    assert_eq!(c.address(), "db1:2113,db2:2113");
    assert_eq!(c.max_append, DEFAULT_MAX_APPEND);
}

#[test]
fn url_takes_the_servers_max_append_size() {
    let c = EsdbConfig::parse("esdb://h:2113?max_append_bytes=4194304&tls=false").expect("ok");
    assert_eq!(
        (c.max_append, c.connection.as_str()),
        (4 << 20, "esdb://h:2113?tls=false")
    );
    for bad in ["0", "-1", "1MiB", ""] {
        let url = format!("esdb://h:2113?max_append_bytes={bad}");
        let e = EsdbConfig::parse(&url).expect_err(bad);
        assert!(e.contains("max_append_bytes"), "{e}");
    }
}

#[test]
fn url_defaults_prefix_and_strips_credentials_from_the_address() {
    let c = EsdbConfig::parse("esdb://admin:changeit@localhost:2113").expect("parses");
    assert_eq!(c.prefix, DEFAULT_PREFIX);
    assert_eq!(c.connection, "esdb://admin:changeit@localhost:2113");
    assert_eq!(c.address(), "localhost:2113");
}

#[test]
fn url_refuses_other_schemes_and_system_prefixes() {
    assert!(EsdbConfig::parse("sqlite").is_err());
    assert!(EsdbConfig::parse("http://localhost:2113").is_err());
    assert!(EsdbConfig::parse("esdb://h:2113?prefix=$x").is_err());
    assert!(EsdbConfig::parse("esdb://h:2113?prefix=").is_err());
    assert!(is_esdb_url("esdb+discover://cluster.local:2113"));
}

#[test]
fn stream_names_round_trip_and_checkpoints_are_recognised() {
    let c = EsdbConfig::parse("esdb://h:2113?tls=false").expect("parses");
    let name = c.stream_name("case-0190a3c2-7b1e-7000-8000-000000000001");
    assert_eq!(name, "caseledger-case-0190a3c2-7b1e-7000-8000-000000000001");
    assert_eq!(
        c.classify(&name),
        StreamKind::Ledger("case-0190a3c2-7b1e-7000-8000-000000000001")
    );
    assert_eq!(c.checkpoint_stream(), "caseledger-$checkpoints");
    assert_eq!(
        c.classify("caseledger-$checkpoints"),
        StreamKind::Checkpoints
    );
    assert_eq!(c.classify("$stats-127.0.0.1:2113"), StreamKind::Foreign);
    assert_eq!(c.classify("orders-1"), StreamKind::Foreign);
    assert_eq!(c.classify("caseledger-"), StreamKind::Foreign);
}

#[test]
fn foreign_streams_under_the_prefix_are_not_ledger_streams() {
    let c = EsdbConfig::parse("esdb://localhost:2113").expect("parse");
    // Another application's stream that merely shares the prefix.
    assert_eq!(c.classify("caseledger-foo"), StreamKind::Foreign);
    assert_eq!(
        c.classify("caseledger-case-not-a-uuid"),
        StreamKind::Foreign
    );
    assert_eq!(
        c.classify("caseledger-agency-Bad_Slug"),
        StreamKind::Foreign
    );
    // A second ledger under the nested prefix `caseledger-eu-`.
    assert_eq!(
        c.classify("caseledger-eu-case-0190a3c2-7b1e-7000-8000-000000000001"),
        StreamKind::Foreign
    );
    assert_eq!(
        c.classify("caseledger-eu-$checkpoints"),
        StreamKind::Foreign
    );
    // Our own streams of every family still classify as ledger streams.
    assert_eq!(
        c.classify("caseledger-agency-north"),
        StreamKind::Ledger("agency-north")
    );
    assert_eq!(
        c.classify("caseledger-principal-admin"),
        StreamKind::Ledger("principal-admin")
    );
}

#[test]
fn expected_revision_follows_the_ledger_revision() {
    assert_eq!(expected_for(0), Expected::NoStream);
    assert_eq!(expected_for(1), Expected::Exact(0));
    assert_eq!(expected_for(42), Expected::Exact(41));
    assert_eq!(expected_checkpoint(0), Expected::NoStream);
    assert_eq!(expected_checkpoint(3), Expected::Exact(2));
}

#[test]
fn bogus_subscription_checkpoints_never_move_the_seen_position_past_the_head() {
    let p = |commit, prepare| AllPosition { commit, prepare };
    let head = Some(p(500, 500));
    // The sentinel some servers send, and half-sentinels, are ignored.
    assert_eq!(checkpoint_position(p(u64::MAX, u64::MAX), head), None);
    assert_eq!(checkpoint_position(p(u64::MAX, u64::MAX), None), None);
    assert_eq!(checkpoint_position(p(u64::MAX, 3), head), None);
    assert_eq!(checkpoint_position(p(3, u64::MAX), head), None);
    // A position past the known head is capped at it; one at or before it is kept.
    assert_eq!(checkpoint_position(p(900, 900), head), head);
    assert_eq!(checkpoint_position(p(500, 500), head), head);
    assert_eq!(checkpoint_position(p(200, 190), head), Some(p(200, 190)));
    // With no known head, a plausible position is taken as sent.
    assert_eq!(checkpoint_position(p(900, 900), None), Some(p(900, 900)));
}

#[test]
fn positions_order_by_commit_then_prepare() {
    let p = |commit, prepare| AllPosition { commit, prepare };
    assert!(p(10, 5) < p(11, 0));
    assert!(p(10, 5) < p(10, 6));
    assert_eq!(p(3, 3).max(p(3, 2)), p(3, 3));
}

#[test]
fn entry_event_carries_type_metadata_and_exact_bytes_back() {
    let e = entry("north", 0, 7);
    assert_eq!(
        entry_event_type(&e.bytes).expect("type"),
        "agency.registered"
    );
    let meta = entry_metadata(&e);
    assert_eq!(meta.format, ENTRY_FORMAT);
    assert_eq!(meta.leaf_hash, hex::encode(e.leaf_hash));
    let back = decode_entry(
        &RecordedEntry {
            ledger_stream: "agency-north",
            revision: 0,
            event_id: e.event_id,
            data: &e.bytes,
        },
        7,
    )
    .expect("decodes");
    assert_eq!(back, e);
}

#[test]
fn an_entry_held_at_another_place_is_refused() {
    let e = entry("north", 0, 0);
    let moved = |stream, revision, event_id| {
        decode_entry(
            &RecordedEntry {
                ledger_stream: stream,
                revision,
                event_id,
                data: &e.bytes,
            },
            0,
        )
    };
    assert!(matches!(
        moved("agency-south", 0, e.event_id),
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(
        moved("agency-north", 1, e.event_id),
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(
        moved("agency-north", 0, Uuid::nil()),
        Err(StoreError::Corrupt(_))
    ));
}

#[test]
fn checkpoint_events_round_trip() {
    let cp = StoredCheckpoint {
        size: 12,
        note: "origin\n12\nAAAA\n\n— origin sig\n".into(),
    };
    assert_eq!(
        decode_checkpoint(&checkpoint_data(&cp)).expect("decodes"),
        cp
    );
    assert!(decode_checkpoint(b"{}").is_err());
}

#[test]
fn runs_split_a_group_by_stream_in_order() {
    let g = vec![
        entry("a", 0, 0),
        entry("a", 1, 1),
        entry("b", 0, 2),
        entry("a", 2, 3),
    ];
    let runs = stream_runs(&g);
    let shape: Vec<(String, usize)> = runs
        .iter()
        .map(|r| (r[0].stream.clone(), r.len()))
        .collect();
    assert_eq!(
        shape,
        vec![
            ("agency-a".into(), 2),
            ("agency-b".into(), 1),
            ("agency-a".into(), 1)
        ]
    );
}

/// The lengths of the appends of `entries` with requests ending at `ends`.
fn pieces(entries: &[StoredEntry], ends: &[usize], limit: usize) -> Vec<usize> {
    let out = appends(entries, ends, limit);
    // Every entry once, in group order.
    let flat: Vec<u64> = out.iter().flat_map(|p| p.iter().map(|e| e.index)).collect();
    assert_eq!(flat, entries.iter().map(|e| e.index).collect::<Vec<_>>());
    out.iter().map(|p| p.len()).collect()
}

#[test]
fn a_run_over_the_append_limit_is_cut_at_request_ends_only() {
    let run: Vec<StoredEntry> = (0..5).map(|r| entry("a", r, r)).collect();
    let size: Vec<usize> = run.iter().map(|e| append_size(&e.bytes)).collect();
    assert!(size.iter().all(|&s| s > run[0].bytes.len()), "counted high");
    let metadata = serde_json::to_vec(&entry_metadata(&run[0]))
        .expect("json")
        .len();
    assert_eq!(size[0], run[0].bytes.len() + metadata + EVENT_OVERHEAD);
    // Requests [0, 1], [2], [3, 4].
    let ends = [2, 3, 5];
    assert_eq!(pieces(&run, &ends, usize::MAX), [5]);
    // Room for the first two requests, not the third.
    let two = size[..3].iter().sum();
    assert_eq!(pieces(&run, &ends, two), [3, 2]);
    assert_eq!(pieces(&run, &ends, two - 1), [2, 3]);
    assert_eq!(pieces(&run, &ends, size[0] + size[1]), [2, 1, 2]);
    // A request alone over the limit (refused by the writer) is still never split.
    assert_eq!(pieces(&run, &ends, 1), [2, 1, 2]);
    // Without request ends nothing is cut.
    assert_eq!(pieces(&run, &[], 1), [5]);
}

#[test]
fn streams_are_appended_apart_and_cut_each_on_its_own() {
    let g = vec![
        entry("a", 0, 0),
        entry("b", 0, 1),
        entry("b", 1, 2),
        entry("b", 2, 3),
        entry("a", 1, 4),
    ];
    // Requests: [a0], [b0, b1], [b2], [a1].
    let ends = [1, 3, 4, 5];
    assert_eq!(pieces(&g, &ends, usize::MAX), [1, 3, 1]);
    let b01 = append_size(&g[1].bytes) + append_size(&g[2].bytes);
    assert_eq!(pieces(&g, &ends, b01), [1, 2, 1, 1]);
}
