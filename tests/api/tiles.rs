//! The C2SP tile API: hash tiles and entry bundles read back into the tree the signed
//! checkpoint commits to, paths outside the tree or not spelled as the spec spells them are
//! refused, and an entry too long for a bundle is named.

use std::io::Read;

use caseledger::client;
use caseledger::envelope::{self, KeyFile, WireEnvelope};
use caseledger::http::Limits;
use caseledger::ledger::entry::{encode, format_time};
use caseledger::log::merkle::{leaf_hash, root, Hash, MemoryNodes, RootBuilder};
use caseledger::log::tiles::split_entry_bundle;
use caseledger::log::{Checkpoint, NoteVerifier};
use caseledger::reports::ReportConfig;
use chrono::Utc;
use serde_json::json;

use crate::helpers::{agency_data, commit_straight, spawn_app, spawn_app_after, TestApp};

/// A tile's status, headers that matter and raw body.
struct Got {
    status: u16,
    content_type: String,
    cache_control: String,
    encoding: String,
    body: Vec<u8>,
}

fn fetch(app: &TestApp, path: &str, token: &str, gzip: bool) -> Got {
    let mut req = ureq::get(&app.url(path)).set("Authorization", &format!("Bearer {token}"));
    if gzip {
        req = req.set("Accept-Encoding", "gzip");
    }
    let r = match req.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    let header = |name: &str| r.header(name).unwrap_or("").to_owned();
    let (status, content_type) = (r.status(), header("content-type"));
    let (cache_control, encoding) = (header("cache-control"), header("content-encoding"));
    let mut body = Vec::new();
    r.into_reader().read_to_end(&mut body).expect("body");
    Got {
        status,
        content_type,
        cache_control,
        encoding,
        body,
    }
}

/// A tile the test expects to be there: 200, octet-stream; a hash tile cacheable for good
/// (by the auditor's client only), an entry bundle not kept, as raw entries are not.
fn tile(app: &TestApp, path: &str, token: &str) -> Vec<u8> {
    let got = fetch(app, path, token, false);
    let text = String::from_utf8_lossy(&got.body);
    assert_eq!(got.status, 200, "{path}: {text}");
    assert_eq!(got.content_type, "application/octet-stream", "{path}");
    let cache = match path.contains("/entries/") {
        true => "no-store",
        false => "private, max-age=31536000, immutable",
    };
    assert_eq!(got.cache_control, cache, "{path}");
    got.body
}

fn checkpoint(app: &TestApp) -> Checkpoint {
    let text = app.get("/v1/log/checkpoint", None).text;
    let key = NoteVerifier::parse(&app.log_key).expect("log key");
    Checkpoint::open_signed(&text, &key).expect("signed checkpoint")
}

fn auditor(app: &TestApp) -> String {
    app.register_principal("olu", "operator", &["auditor"]).1
}

fn as_hashes(bytes: &[u8]) -> Vec<Hash> {
    assert_eq!(bytes.len() % 32, 0);
    bytes
        .chunks(32)
        .map(|h| h.try_into().expect("32 bytes"))
        .collect()
}

#[test]
fn tiles_read_back_into_the_tree_the_checkpoint_signs() {
    let app = spawn_app();
    let token = auditor(&app);
    while app.log_size() < 300 {
        app.register_agency(&format!("a{}", app.log_size()));
    }
    let cp = checkpoint(&app);
    let size = cp.size;
    assert!((257..512).contains(&size), "{size}");
    let partial = size - 256;
    let lines = app.get(&format!("/v1/log/entries?limit={size}"), Some(&token));
    let entries: Vec<&[u8]> = lines.text.lines().map(str::as_bytes).collect();
    assert_eq!(entries.len() as u64, size);

    // Level 0: the leaf hashes of the entries, a full tile and the partial one.
    let mut leaves = as_hashes(&tile(&app, "/v1/log/tile/0/000", &token));
    leaves.extend(as_hashes(&tile(
        &app,
        &format!("/v1/log/tile/0/001.p/{partial}"),
        &token,
    )));
    let want: Vec<Hash> = entries.iter().map(|e| leaf_hash(e)).collect();
    assert_eq!(leaves, want);
    // A client computes the root from the tiles alone: the one the log key signed.
    assert_eq!(
        root(&MemoryNodes::from_leaves(&leaves), size).unwrap(),
        cp.root
    );
    // Level 1: the tree hash of the full level-0 tile below it.
    let mut below = RootBuilder::new();
    leaves[..256].iter().for_each(|l| below.push(*l));
    assert_eq!(
        as_hashes(&tile(&app, "/v1/log/tile/1/000.p/1", &token)),
        vec![below.root()]
    );

    // Entry bundles: each entry's exact bytes, in order.
    let mut bundled = tile(&app, "/v1/log/tile/entries/000", &token);
    let full = split_entry_bundle(&bundled).expect("bundle splits").len();
    assert_eq!(full, 256);
    bundled.extend(tile(
        &app,
        &format!("/v1/log/tile/entries/001.p/{partial}"),
        &token,
    ));
    assert_eq!(split_entry_bundle(&bundled), Some(entries.clone()));

    // Compressed when the client accepts gzip, to the same bytes.
    let zipped = fetch(&app, "/v1/log/tile/entries/000", &token, true);
    assert_eq!((zipped.status, zipped.encoding.as_str()), (200, "gzip"));
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&zipped.body[..])
        .read_to_end(&mut unzipped)
        .expect("gzip");
    assert_eq!(
        split_entry_bundle(&unzipped).expect("splits"),
        &entries[..256]
    );

    // A tile never changes: the same bytes once the log has grown past it.
    let before = tile(&app, "/v1/log/tile/0/001.p/1", &token);
    app.register_agency("later");
    assert_eq!(tile(&app, "/v1/log/tile/0/001.p/1", &token), before);
}

#[test]
fn tiles_outside_the_tree_or_spelled_otherwise_are_refused() {
    let app = spawn_app();
    let token = auditor(&app);
    let size = app.log_size();
    let cases = [
        // Not (yet) in the tree: 404.
        ("/v1/log/tile/0/000".to_owned(), 404, "not_found"),
        (
            format!("/v1/log/tile/0/000.p/{}", size + 1),
            404,
            "not_found",
        ),
        ("/v1/log/tile/0/001.p/1".into(), 404, "not_found"),
        ("/v1/log/tile/1/000.p/1".into(), 404, "not_found"),
        ("/v1/log/tile/63/000.p/1".into(), 404, "not_found"),
        ("/v1/log/tile/entries/000".into(), 404, "not_found"),
        (
            format!("/v1/log/tile/entries/000.p/{}", size + 1),
            404,
            "not_found",
        ),
        // Not a tile path: 400, saying what is wrong.
        ("/v1/log/tile/0/0".into(), 400, "bad_request"),
        ("/v1/log/tile/0/x000/001".into(), 400, "bad_request"),
        ("/v1/log/tile/00/000".into(), 400, "bad_request"),
        ("/v1/log/tile/64/000".into(), 400, "bad_request"),
        ("/v1/log/tile/0/000.p/0".into(), 400, "bad_request"),
        ("/v1/log/tile/0/000.p/256".into(), 400, "bad_request"),
        ("/v1/log/tile/entries/000.p/01".into(), 400, "bad_request"),
        ("/v1/log/tile/entries".into(), 400, "bad_request"),
        ("/v1/log/tile/".into(), 400, "bad_request"),
        ("/v1/log/tile/0/000?x=1".into(), 400, "bad_request"),
        ("/v1/log/tile/0/x/000001".into(), 400, "bad_request"),
        ("/v1/log/tile/0/x000000/x/001".into(), 400, "bad_request"),
        // One address per tile: escapes are not decoded into separators or digits.
        ("/v1/log/tile/entries%2F000.p/1".into(), 400, "bad_request"),
        ("/v1/log/tile/0%2F000.p/1".into(), 400, "bad_request"),
        ("/v1/log/tile/0/%30%30%30.p/1".into(), 400, "bad_request"),
    ];
    for (path, status, code) in cases {
        let r = app.get(&path, Some(&token));
        assert_eq!((r.status, r.code()), (status, code), "{path}: {}", r.text);
        assert!(r.content_type.starts_with("application/problem+json"));
    }
    let r = app.get("/v1/log/tile/0/000.p/256", Some(&token));
    assert!(
        r.json["detail"].as_str().unwrap().contains("1 to 255"),
        "{}",
        r.text
    );
    let r = app.get("/v1/log/tile/0/000", Some(&token));
    let detail = r.json["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("log of {size} entries")),
        "{detail}"
    );
    // Within the tree: served, to HEAD as to GET; other methods are 405.
    tile(&app, &format!("/v1/log/tile/0/000.p/{size}"), &token);
    for path in ["/v1/log/tile/0/000.p/1", "/v1/log/tile/entries/000.p/1"] {
        let head = ureq::request("HEAD", &app.url(path))
            .set("Authorization", &format!("Bearer {token}"))
            .call()
            .expect("HEAD");
        assert_eq!(head.status(), 200, "{path}");
        let r = app.post_raw(path, Some(&token), b"");
        assert_eq!((r.status, r.code()), (405, "method_not_allowed"), "{path}");
    }
}

/// An envelope of `agency.registered` by the admin whose payload JSON is padded with
/// whitespace to more than 65,535 bytes (JSON allows it between tokens).
fn padded_registration(app_admin: &KeyFile, agency: &str, pad: usize) -> WireEnvelope {
    let p = client::payload(
        "agency.registered",
        &format!("agency-{agency}"),
        app_admin.principal.as_str(),
        agency_data(agency),
        Utc::now(),
    );
    let compact = serde_json::to_string(&p).unwrap();
    let padded = format!("{{{}{}", " ".repeat(pad), &compact[1..]);
    envelope::sign(padded.as_bytes(), &app_admin.key)
}

/// The widest an entry of `wire` on `stream` can be: its revision at 20 digits.
fn widest_entry(stream: &str, wire: &WireEnvelope) -> usize {
    encode(stream, u64::MAX, &format_time(&Utc::now()), wire).len()
}

#[test]
fn an_entry_too_long_for_a_bundle_is_refused_at_write_time_and_nothing_is_written() {
    let app = spawn_app();
    let size = app.log_size();
    // The entry wraps the envelope in 148-180 bytes: the default --max-event-bytes (65,536)
    // takes envelopes whose entry would be too long for a bundle. Find the smallest.
    let body = |w: &WireEnvelope| serde_json::to_vec(w).unwrap().len();
    let (mut pad, mut wire) = (48_000, None);
    while wire.is_none() {
        let w = padded_registration(&app.admin, "wide", pad);
        if widest_entry("agency-wide", &w) > 65_535 {
            wire = Some(w);
        } else {
            pad += 1;
        }
    }
    let wire = wire.unwrap();
    assert!(
        body(&wire) <= Limits::default().max_event_bytes,
        "{}",
        body(&wire)
    );
    let r = app.post_event(&app.admin_token, &wire);
    assert_eq!(
        (r.status, r.code()),
        (413, "payload_too_large"),
        "{}",
        r.text
    );
    let detail = r.json["detail"].as_str().unwrap();
    assert!(
        detail.contains("over its limit of 65535 per entry"),
        "{detail}"
    );
    let batch = json!({"events": [
        client::signed_event(
            &app.admin, "agency.registered", "agency-wid2", agency_data("wid2"), Utc::now()
        ),
        padded_registration(&app.admin, "wid2", pad),
    ]});
    let r = app.post_json("/v1/events/batch", Some(&app.admin_token), &batch);
    assert_eq!(
        (r.status, r.code()),
        (413, "payload_too_large"),
        "{}",
        r.text
    );
    assert!(r.text.contains("(event 1 of the batch)"), "{}", r.text);
    assert_eq!(app.log_size(), size, "nothing written");
    // One base64 quantum shorter is written, and its bundle served.
    let r = app.post_event(
        &app.admin_token,
        &padded_registration(&app.admin, "fits", pad - 3),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let token = auditor(&app);
    let size = app.log_size();
    tile(&app, &format!("/v1/log/tile/entries/000.p/{size}"), &token);
}

/// An entry over 65,535 bytes that an earlier version wrote: its bundle is refused by name,
/// the bundles before it and the hash tiles over it are served.
#[test]
fn an_entry_an_earlier_version_wrote_too_long_for_a_bundle_is_named() {
    let mut wide = None;
    let app = spawn_app_after(Limits::default(), ReportConfig::default(), |dir, admin| {
        let wire = padded_registration(admin, "wide", 70_000);
        wide = Some(commit_straight(
            dir,
            admin,
            &[("agency-wide".into(), 0, wire)],
        ));
    });
    let index = wide.expect("written");
    let token = auditor(&app);
    let size = app.log_size();
    let r = app.get(&format!("/v1/log/tile/entries/000.p/{size}"), Some(&token));
    assert_eq!((r.status, r.code()), (501, "entry_too_large"), "{}", r.text);
    let detail = r.json["detail"].as_str().unwrap();
    let start = format!("entry {index} is ");
    assert!(
        detail.starts_with(&start) && detail.contains("65535"),
        "{detail}"
    );
    tile(&app, &format!("/v1/log/tile/entries/000.p/{index}"), &token);
    let hashes = tile(&app, &format!("/v1/log/tile/0/000.p/{size}"), &token);
    assert_eq!(hashes.len() as u64, 32 * size);
}
