//! The offline verifier on bundles built by hand in the test (tests/common): its own keys,
//! entries, tree and checkpoint. Accepted when valid; each broken rule or forged part is
//! named at its entry.

mod common;

use caseledger::bundle::Bundle;
use caseledger::client;
use caseledger::envelope;
use caseledger::ledger::entry::{encode, format_time};
use caseledger::log::NoteSigner;
use caseledger::verify::{verify_bundle, verify_reader, Check, Kind, Options, Report};
use common::{agency, key, registered, world, HandLog};
use ed25519_dalek::Signer;
use serde_json::json;

fn check(log: &HandLog, bundle: &Bundle) -> Report {
    verify_bundle(bundle, &log.signer.verifier(), Options::default())
}

fn assert_fails_at(r: &Report, index: u64, check: Check) {
    let f = r
        .failure
        .as_ref()
        .unwrap_or_else(|| panic!("accepted: {r:?}"));
    assert!(!r.ok);
    assert_eq!((f.index, f.check), (Some(index), check), "{f}");
}

#[test]
fn a_valid_hand_built_log_is_accepted_as_a_full_log() {
    let w = world();
    let r = check(&w.log, &w.log.bundle());
    assert!(r.ok, "{:?}", r.failure);
    assert_eq!(r.kind, Some(Kind::Full));
    assert_eq!(
        (r.entries, r.signatures, r.checkpoint_size),
        (6, 6, Some(6))
    );
    let strict = Options {
        strict: true,
        require_full: true,
        require_heads: false,
    };
    assert!(verify_bundle(&w.log.bundle(), &w.log.signer.verifier(), strict).ok);
}

#[test]
fn an_agency_registered_by_a_non_admin_fails_at_that_entry() {
    let mut w = world();
    let bad = w.rogue_agency();
    w.log.append(
        &w.admin,
        "agency.registered",
        "agency-after",
        agency("after"),
    );
    let r = check(&w.log, &w.log.bundle());
    assert_fails_at(&r, bad, Check::Rule);
    let f = r.failure.expect("failure");
    assert_eq!(f.code, Some("forbidden"));
    assert_eq!(
        (f.stream.as_deref(), f.revision),
        (Some("agency-rogue"), Some(0))
    );
}

const CASE: &str = "case-0196b7c2-4a55-7d3e-9f10-2b6c1d4e5f60";

fn referral() -> serde_json::Value {
    json!({
        "referral_id": "r1", "agency": "bay-clinic", "consent_id": "c1",
        "domains": ["medical"], "data_shared": ["contact"]
    })
}

/// Opens another case than `CASE` (of a minor, for legal needs); its stream.
fn open_other_case(w: &mut common::World) -> String {
    let other = CASE.replace("2b6c1d4e5f60", "000000000002");
    let opened = json!({"owner_agency": "harbor-house", "coordinator": "maria", "needs": ["legal"], "minor": true});
    w.log.append(&w.worker, "case.opened", &other, opened);
    other
}

/// Opens `CASE`, grants `c1` ([`referral_consent`]) and withdraws it; their indexes.
fn case_consented_then_withdrawn(w: &mut common::World) -> (u64, u64) {
    open_case(w);
    let granted = w
        .log
        .append(&w.worker, "consent.granted", CASE, referral_consent());
    let withdrawn = json!({"consent_id": "c1", "method": "verbal"});
    let withdrawn = w
        .log
        .append(&w.worker, "consent.withdrawn", CASE, withdrawn);
    (granted, withdrawn)
}

/// Consent `c1` to refer the person to bay-clinic.
fn referral_consent() -> serde_json::Value {
    json!({
        "consent_id": "c1", "purposes": ["referral"], "recipients": ["bay-clinic"],
        "data_categories": ["contact", "health"], "valid_until": "2027-05-28T00:00:00Z",
        "method": "written", "language": "es", "interpreter": {"used": false},
        "notice_version": "v1"
    })
}

fn open_case(w: &mut common::World) {
    let opened = json!({
        "owner_agency": "harbor-house", "coordinator": "maria",
        "needs": ["medical"], "minor": false
    });
    w.log.append(&w.worker, "case.opened", CASE, opened);
}

#[test]
fn a_referral_without_consent_fails_at_the_referral_with_consent_required() {
    let mut w = world();
    open_case(&mut w);
    let referral = w.log.append(&w.worker, "referral.made", CASE, referral());
    let r = check(&w.log, &w.log.bundle());
    assert_fails_at(&r, referral, Check::Rule);
    let f = r.failure.expect("failure");
    assert_eq!(f.code, Some("consent_required"));
    assert_eq!((f.stream.as_deref(), f.revision), (Some(CASE), Some(1)));
}

#[test]
fn a_referral_under_a_consent_that_names_the_agency_is_accepted() {
    let mut w = world();
    open_other_case(&mut w);
    open_case(&mut w);
    w.log
        .append(&w.worker, "consent.granted", CASE, referral_consent());
    w.log.append(&w.worker, "referral.made", CASE, referral());
    let r = check(&w.log, &w.log.bundle());
    assert!(r.ok, "{:?}", r.failure);
    assert_eq!(r.cases.len(), 2);
    // The case bundle: the case stream plus the identity entries before its last entry,
    // without the other case (index 6).
    let r = check(&w.log, &w.log.bundle_of(&[0, 1, 2, 3, 4, 5, 7, 8, 9]));
    assert!(r.ok, "{:?}", r.failure);
    assert_eq!(
        (r.kind, r.cases.clone()),
        (Some(Kind::Partial), vec![CASE.to_owned()])
    );
}

#[test]
fn a_signature_by_another_key_fails_as_a_signature_at_that_entry() {
    let w = world();
    // Same keyid (the admin's), signature by the caseworker's key.
    let (wire, sig) = forged(&w, "agency-forged", 6);
    assert_signature_refused_next(w, "agency-forged", wire, &sig);
}

/// Puts `wire` with signature `sig` as the next entry (index 6 in a fresh world) on
/// `stream`, a lawful entry after it, and checks both verification modes refuse the
/// signature at that index.
fn assert_signature_refused_next(
    mut w: common::World,
    stream: &str,
    mut wire: envelope::WireEnvelope,
    sig: &[u8; 64],
) {
    let at = push_with_signature(&mut w, stream, &mut wire, sig);
    w.log.append(
        &w.admin,
        "agency.registered",
        "agency-after",
        agency("after"),
    );
    for strict in [false, true] {
        let opts = Options {
            strict,
            require_full: false,
            require_heads: false,
        };
        let r = verify_bundle(&w.log.bundle(), &w.log.signer.verifier(), opts);
        assert_fails_at(&r, at, Check::Signature);
    }
}

/// Puts `wire` with signature `sig` as the next entry, revision 0 of `stream`; its index.
fn push_with_signature(
    w: &mut common::World,
    stream: &str,
    wire: &mut envelope::WireEnvelope,
    sig: &[u8; 64],
) -> u64 {
    use base64::Engine;
    wire.signatures[0].sig = base64::engine::general_purpose::STANDARD.encode(sig);
    let at = w.log.entries.len() as u64;
    let entry = encode(stream, 0, &format_time(&w.log.time(at)), wire);
    w.log.entries.push(String::from_utf8(entry).expect("utf-8"));
    at
}

/// The JSON bytes of an `agency.registered` event on `stream` by `actor`, occurring when
/// entry `index` is recorded.
fn agency_event(w: &common::World, stream: &str, actor: &str, index: u64) -> Vec<u8> {
    let name = stream.trim_start_matches("agency-");
    let payload = client::payload(
        "agency.registered",
        stream,
        actor,
        agency(name),
        w.log.time(index),
    );
    serde_json::to_vec(&payload).expect("json")
}

/// An admin's `agency.registered` on `stream` at `index`, signed by the caseworker's key
/// under the admin's keyid.
fn forged(w: &common::World, stream: &str, index: u64) -> (envelope::WireEnvelope, [u8; 64]) {
    let bytes = agency_event(w, stream, "admin", index);
    let wire = envelope::sign(&bytes, &w.admin.key);
    let sig = w
        .worker
        .key
        .sign(&envelope::pae(envelope::PAYLOAD_TYPE, &bytes));
    (wire, sig.to_bytes())
}

/// Streamed over several chunks, with its signatures checked in batches on their own
/// pool: whichever comes first in the log is named, a forged signature or a broken rule.
#[test]
fn across_chunks_the_first_failure_in_log_order_is_named() {
    let entries = 2 * caseledger::verify::CHUNK + 100;
    let text = |w: &common::World| serde_json::to_vec(&w.log.bundle()).expect("json");
    let run = |w: &common::World| {
        verify_reader(&text(w)[..], &w.log.signer.verifier(), Options::default())
    };
    // A forged signature in the first chunk, a broken rule in the third.
    let mut w = world();
    let (mut wire, sig) = forged(&w, "agency-forged", 6);
    let first = push_with_signature(&mut w, "agency-forged", &mut wire, &sig);
    w.grow_to(entries);
    w.rogue_agency();
    assert_fails_at(&run(&w), first, Check::Signature);
    // A broken rule in the first chunk, a forged signature in the third.
    let mut w = world();
    let first = w.rogue_agency();
    w.grow_to(entries);
    let at = w.log.entries.len() as u64;
    let (mut wire, sig) = forged(&w, "agency-forged", at);
    push_with_signature(&mut w, "agency-forged", &mut wire, &sig);
    assert_fails_at(&run(&w), first, Check::Rule);
    // The forged signature alone, in the last chunk: found after every batch before it.
    let mut w = world();
    w.grow_to(entries);
    let at = w.log.entries.len() as u64;
    let (mut wire, sig) = forged(&w, "agency-forged", at);
    push_with_signature(&mut w, "agency-forged", &mut wire, &sig);
    let r = run(&w);
    assert_fails_at(&r, at, Check::Signature);
    assert_eq!((r.kind, r.entries), (Some(Kind::Partial), at));
}

#[test]
fn a_revoked_key_cannot_sign_after_its_revocation() {
    let mut w = world();
    let admin2 = key("admin2");
    w.log.append(
        &w.admin,
        "principal.registered",
        "principal-admin2",
        registered("operator", &["admin"], &admin2),
    );
    w.log
        .append(&admin2, "agency.registered", "agency-ok", agency("ok"));
    let keyid = caseledger::domain::KeyId::of(admin2.key.verifying_key().as_bytes()).to_string();
    w.log.append(
        &w.admin,
        "principal.key_revoked",
        "principal-admin2",
        json!({"keyid": keyid, "reason": "compromised"}),
    );
    let late = w
        .log
        .append(&admin2, "agency.registered", "agency-late", agency("late"));
    let r = check(&w.log, &w.log.bundle());
    assert_fails_at(&r, late, Check::Rule);
    assert_eq!(r.failure.expect("f").code, Some("key_revoked"));
}

#[test]
fn a_subset_from_genesis_with_whole_streams_verifies_as_partial() {
    let w = world();
    let r = check(&w.log, &w.log.bundle_of(&[0, 1, 3, 4]));
    assert!(r.ok, "{:?}", r.failure);
    assert_eq!(r.kind, Some(Kind::Partial));
    let full = Options {
        strict: false,
        require_full: true,
        require_heads: false,
    };
    let r = verify_bundle(
        &w.log.bundle_of(&[0, 1, 3, 4]),
        &w.log.signer.verifier(),
        full,
    );
    assert_eq!(r.failure.expect("incomplete").check, Check::Completeness);
}

#[test]
fn a_subset_missing_genesis_or_a_stream_revision_is_rejected() {
    let w = world();
    let r = check(&w.log, &w.log.bundle_of(&[1, 3]));
    assert_fails_at(&r, 1, Check::Order);
    // A misplaced entry that could be read is named by its stream and revision too.
    let f = r.failure.expect("failure");
    assert!(f.stream.is_some() && f.revision.is_some(), "{f}");
    // agency-bay-clinic revision 1 without its revision 0 (index 2).
    assert_fails_at(
        &check(&w.log, &w.log.bundle_of(&[0, 1, 5])),
        5,
        Check::Revision,
    );
}

#[test]
fn the_log_key_given_is_the_only_one_trusted() {
    let w = world();
    let other = NoteSigner::generate(common::ORIGIN).expect("key");
    let r = verify_bundle(&w.log.bundle(), &other.verifier(), Options::default());
    assert_eq!(r.failure.expect("f").check, Check::LogKey);
    let mut b = w.log.bundle();
    b.log_key = other.verifier().to_text();
    let r = verify_bundle(&b, &other.verifier(), Options::default());
    assert_eq!(r.failure.expect("f").check, Check::Checkpoint);
}

#[test]
fn a_streamed_bundle_may_list_entries_before_the_header() {
    let w = world();
    let b = w.log.bundle();
    let text = serde_json::to_string(&json!({
        "entries": b.entries, "checkpoint": b.checkpoint, "log_key": b.log_key,
        "origin": b.origin, "format": b.format,
    }))
    .expect("json");
    let r = verify_reader(
        text.as_bytes(),
        &w.log.signer.verifier(),
        Options::default(),
    );
    assert!(r.ok, "{:?}", r.failure);
    let r = verify_reader(
        &b"{\"format\": 1}"[..],
        &w.log.signer.verifier(),
        Options::default(),
    );
    assert_eq!(r.failure.expect("f").check, Check::Format);
}

#[test]
fn the_cli_exits_zero_only_when_everything_holds() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut w = world();
    let path = dir.path().join("b.json");
    let run = |log: &HandLog| {
        std::fs::write(&path, serde_json::to_vec(&log.bundle()).expect("json")).expect("write");
        std::process::Command::new(env!("CARGO_BIN_EXE_caseledger"))
            .args(["verify", "--json", "--log-key", &log.log_key()])
            .arg(&path)
            .output()
            .expect("run verify")
    };
    let ok = run(&w.log);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&ok.stdout).expect("json report");
    assert_eq!(report["ok"], true);
    let bad = w.rogue_agency();
    let out = run(&w.log);
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    assert_eq!(report["failure"]["index"], bad);
    assert_eq!(report["failure"]["check"], "rule");
    assert_eq!(report["failure"]["stream"], "agency-rogue");
}

#[test]
fn a_failure_quoting_the_bundle_cannot_rewrite_the_terminal() {
    // A member name that would clear the FAILED line and print an OK in its place.
    let dir = tempfile::tempdir().expect("tmp");
    let w = world();
    let mut bundle = serde_json::to_value(w.log.bundle()).expect("json");
    let forged =
        "\r\u{1b}[2K\u{1b}[0mOK: full-log bundle verified\u{202e}\u{1b}[8m\u{9b}2K\nOK: forged";
    bundle[forged] = serde_json::json!(1);
    let path = dir.path().join("b.json");
    std::fs::write(&path, serde_json::to_vec(&bundle).expect("json")).expect("write");
    let run = |json: bool| {
        let mut verify = std::process::Command::new(env!("CARGO_BIN_EXE_caseledger"));
        verify.args(["verify", "--log-key", &w.log.log_key()]);
        if json {
            verify.arg("--json");
        }
        verify.arg(&path).output().expect("run verify")
    };
    let raw = ['\u{1b}', '\r', '\u{202e}', '\u{9b}'];
    // --json: the same report, every such character escaped as JSON spells it.
    let out = run(true);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(!said.contains(raw), "raw in the JSON report: {said:?}");
    let report: serde_json::Value = serde_json::from_str(&said).expect("a JSON report");
    let message = report["failure"]["message"].as_str().expect("message");
    assert!(message.contains(forged), "{message:?}");
    let out = run(false);
    assert!(!out.status.success());
    for said in [&out.stdout, &out.stderr] {
        let said = String::from_utf8_lossy(said);
        assert!(said.contains("unknown member"), "{said}");
        assert!(
            said.contains("\\u{1b}[2K") && said.contains("\\u{202e}"),
            "{said}"
        );
        assert!(
            !said.contains(raw),
            "raw control characters reach the terminal: {said:?}"
        );
        assert!(
            !said.lines().any(|l| l.starts_with("OK")),
            "a forged line: {said:?}"
        );
    }
}

#[test]
fn an_entry_not_in_the_writers_spelling_fails_at_that_entry() {
    /// The same fields, respelled: whitespace, member order, and stamps of the same instant
    /// written otherwise.
    fn respell(entry: &str, stamp: &str, how: usize) -> String {
        match how {
            0 => entry.replacen(r#"{"v":1,"#, r#"{"v": 1,"#, 1),
            1 => entry
                .replacen(r#"{"v":1,"stream":"#, r#"{"stream":"#, 1)
                .replacen(r#","revision":"#, r#","v":1,"revision":"#, 1),
            2 => entry.replacen(stamp, &stamp.replace('Z', "+00:00"), 1),
            3 => entry.replacen(stamp, &stamp.replace('T', "t"), 1),
            4 => entry.replacen(stamp, &stamp.replace(".000000Z", "Z"), 1),
            _ => entry.replacen(stamp, &stamp.replace('Z', "000Z"), 1),
        }
    }
    for how in 0..6 {
        let mut w = world();
        let last = w.log.entries.len() - 1;
        let stamp = format_time(&w.log.time(last as u64));
        let variant = respell(&w.log.entries[last], &stamp, how);
        assert_ne!(variant, w.log.entries[last], "{how}");
        w.log.entries[last] = variant.clone();
        for strict in [false, true] {
            let opts = Options {
                strict,
                require_full: true,
                require_heads: false,
            };
            let r = verify_bundle(&w.log.bundle(), &w.log.signer.verifier(), opts);
            assert_fails_at(&r, last as u64, Check::Entry);
            let f = r.failure.as_ref().expect("failure");
            assert!(
                f.message.contains("exact spelling") || f.message.contains("server stamp"),
                "{variant}: {}",
                f.message
            );
            // Named by its stream and revision wherever its layout reads (a stamp's spelling).
            let placed = (how >= 2).then_some(("agency-bay-clinic", 1));
            assert_eq!(f.stream.as_deref().zip(f.revision), placed, "{variant}");
        }
    }
}

/// A signature whose `R` is the identity, made by the key's holder (`s = k·a`): the batch
/// equation holds, `verify_strict` (and so the server) refuses it for its small-order `R`.
/// Given as its canonical encoding or as a non-canonical one (y = p + 1).
fn identity_r_signature(
    key: &ed25519_dalek::SigningKey,
    message: &[u8],
    canonical: bool,
) -> [u8; 64] {
    use curve25519_dalek::scalar::{clamp_integer, Scalar};
    use sha2::{Digest, Sha512};
    let mut r = [0u8; 32];
    if canonical {
        r[0] = 1;
    } else {
        r = [0xff; 32];
        r[0] = 0xee;
        r[31] = 0x7f;
    }
    let h = Sha512::digest(key.to_bytes());
    let a = Scalar::from_bytes_mod_order(clamp_integer(h[..32].try_into().expect("32 bytes")));
    let k = Scalar::from_hash(
        Sha512::new()
            .chain_update(r)
            .chain_update(key.verifying_key().as_bytes())
            .chain_update(message),
    );
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&r);
    sig[32..].copy_from_slice((k * a).as_bytes());
    sig
}

#[test]
fn a_signature_only_batch_verification_accepts_fails_as_a_signature() {
    for canonical in [true, false] {
        let w = world();
        let stream = "agency-small-order-r";
        let bytes = agency_event(&w, stream, "admin", 6);
        let message = envelope::pae(envelope::PAYLOAD_TYPE, &bytes);
        let sig = ed25519_dalek::Signature::from_bytes(&identity_r_signature(
            &w.admin.key,
            &message,
            canonical,
        ));
        // The gap this closes: the batch equation holds, the strict check refuses.
        let vk = w.admin.key.verifying_key();
        assert!(ed25519_dalek::verify_batch(&[message.as_slice()], &[sig], &[vk]).is_ok());
        assert!(caseledger::verify::batch_holds(
            &[message.as_slice()],
            &[sig],
            &[vk]
        ));
        assert!(vk.verify_strict(&message, &sig).is_err());
        let wire = envelope::sign(&bytes, &w.admin.key);
        assert_signature_refused_next(w, stream, wire, &sig.to_bytes());
    }
}

/// A key with a small-order component: the holder's scalar `a` and the key `a·B + T`, T of
/// order 8. Not weak (not small-order), so the rules let it be registered.
fn key_with_torsion() -> (curve25519_dalek::Scalar, [u8; 32]) {
    use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT as B, EIGHT_TORSION};
    use curve25519_dalek::scalar::{clamp_integer, Scalar};
    let a = Scalar::from_bytes_mod_order(clamp_integer([0x5a; 32]));
    (a, (a * B + EIGHT_TORSION[1]).compress().to_bytes())
}

#[test]
fn a_signature_under_a_key_with_a_small_order_component_is_checked_strictly() {
    use base64::engine::general_purpose::STANDARD as B64;
    use base64::Engine;
    use curve25519_dalek::constants::ED25519_BASEPOINT_POINT as B;
    use curve25519_dalek::Scalar;
    use sha2::{Digest, Sha512};
    let mut w = world();
    let (a, public) = key_with_torsion();
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&public).expect("a point");
    assert!(!vk.is_weak());
    w.log.append(
        &w.admin,
        "principal.registered",
        "principal-admin-t",
        json!({"agency": "operator", "roles": ["admin"], "public_key": B64.encode(public)}),
    );
    let at = w.log.entries.len() as u64;
    let stream = "agency-by-t";
    // The holder signs as Ed25519 does (R = r·B, s = r + k·a); `verify_strict` refuses the
    // signature unless k·T happens to vanish (one time in eight): take one it refuses.
    let (bytes, sig) = (0u8..)
        .find_map(|n| {
            let bytes = agency_event(&w, stream, "admin-t", at);
            let message = envelope::pae(envelope::PAYLOAD_TYPE, &bytes);
            let r = Scalar::from_hash(Sha512::new().chain_update([n]).chain_update(&message));
            let big_r = (r * B).compress();
            let k = Scalar::from_hash(
                Sha512::new()
                    .chain_update(big_r.as_bytes())
                    .chain_update(public)
                    .chain_update(&message),
            );
            let mut sig = [0u8; 64];
            sig[..32].copy_from_slice(big_r.as_bytes());
            sig[32..].copy_from_slice((r + k * a).as_bytes());
            let strict = vk.verify_strict(&message, &ed25519_dalek::Signature::from_bytes(&sig));
            strict.is_err().then_some((bytes, sig))
        })
        .expect("a signature verify_strict refuses");
    let wire = envelope::WireEnvelope {
        payload_type: envelope::PAYLOAD_TYPE.to_owned(),
        payload: B64.encode(&bytes),
        signatures: vec![envelope::WireSignature {
            keyid: caseledger::domain::KeyId::of(&public).to_string(),
            sig: String::new(),
        }],
    };
    assert_signature_refused_next(w, stream, wire, &sig);
}

#[test]
fn a_failure_at_the_last_entry_leaves_the_entries_before_it_partial() {
    let mut w = world();
    let bad = w.rogue_agency();
    let r = check(&w.log, &w.log.bundle());
    assert_fails_at(&r, bad, Check::Rule);
    assert_eq!((r.kind, r.entries), (Some(Kind::Partial), bad));
}

#[test]
fn a_key_used_before_it_is_added_fails_at_that_entry() {
    let add = |w: &mut common::World, key: &envelope::KeyFile| {
        w.log.append(
            &w.admin.clone(),
            "principal.key_added",
            "principal-admin",
            json!({"public_key": key.public_key_b64()}),
        )
    };
    let next = key("admin");
    let mut w = world();
    let early = w
        .log
        .append(&next, "agency.registered", "agency-early", agency("early"));
    add(&mut w, &next);
    let r = check(&w.log, &w.log.bundle());
    assert_fails_at(&r, early, Check::Rule);
    assert_eq!(r.failure.expect("f").code, Some("unknown_key"));
    // Once added, the same key signs lawfully.
    let mut w = world();
    add(&mut w, &next);
    w.log
        .append(&next, "agency.registered", "agency-later", agency("later"));
    let r = check(&w.log, &w.log.bundle());
    assert!(r.ok, "{:?}", r.failure);
}

/// An entry whose `recorded_at` is earlier than the one before it, and an event id written
/// twice, each fail at their entry (the hand-built log stamps entries a second apart).
#[test]
fn time_going_backwards_and_a_repeated_event_id_fail_at_their_entry() {
    let mut w = world();
    let last = w.log.entries.len() - 1;
    let (stamp, earlier) = (
        format_time(&w.log.time(last as u64)),
        format_time(&w.log.time(last as u64 - 2)),
    );
    w.log.entries[last] = w.log.entries[last].replacen(&stamp, &earlier, 1);
    let r = check(&w.log, &w.log.bundle());
    assert_fails_at(&r, last as u64, Check::RecordedAt);

    let mut w = world();
    let first: serde_json::Value = serde_json::from_str(&w.log.entries[1]).expect("entry");
    let signed = first["envelope"]["payload"].as_str().expect("payload");
    let signed: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::STANDARD, signed)
            .expect("base64"),
    )
    .expect("payload json");
    let at = w.log.entries.len() as u64;
    let mut payload = client::payload(
        "agency.registered",
        "agency-again",
        "admin",
        agency("again"),
        w.log.time(at),
    );
    payload["event_id"] = signed["event_id"].clone();
    let wire = envelope::sign(&serde_json::to_vec(&payload).expect("json"), &w.admin.key);
    let entry = encode("agency-again", 0, &format_time(&w.log.time(at)), &wire);
    w.log.entries.push(String::from_utf8(entry).expect("utf-8"));
    let r = check(&w.log, &w.log.bundle());
    assert_fails_at(&r, at, Check::DuplicateEvent);
}

/// `verify` on the command line for each kind of failure: exit non-zero, the JSON report and
/// the text agree on the check, and a megabyte-long header member is not echoed whole.
#[test]
fn the_cli_reports_each_kind_of_failure_alike_in_json_and_text() {
    let dir = tempfile::tempdir().expect("tmp");
    let w = world();
    let run = |bundle: &serde_json::Value, key: &str, json: bool| {
        let path = dir.path().join("b.json");
        std::fs::write(&path, serde_json::to_vec(bundle).expect("json")).expect("write");
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_caseledger"));
        cmd.args(["verify", "--log-key", key]).arg(&path);
        if json {
            cmd.arg("--json");
        }
        cmd.output().expect("run verify")
    };
    let good = serde_json::to_value(w.log.bundle()).expect("bundle");
    let mut long_format = good.clone();
    long_format["format"] = json!("x".repeat(1 << 20));
    let mut checkpoint = good.clone();
    let note = checkpoint["checkpoint"].as_str().expect("note").to_owned();
    checkpoint["checkpoint"] = json!(note.replacen("\n6\n", "\n5\n", 1));
    let mut malformed = good.clone();
    let entry = malformed["entries"][3]["entry"]
        .as_str()
        .expect("entry")
        .to_owned();
    malformed["entries"][3]["entry"] = json!(entry.replacen("\"sig\":\"", "\"sig\":\"A", 1));
    let mut moved = good.clone();
    moved["entries"][3]["entry"] = json!(entry.replacen(".000000Z", ".000001Z", 1));
    // A forged signature in the tree the checkpoint signs.
    let mut with_forgery = world();
    let (mut wire, sig) = forged(&with_forgery, "agency-f", 6);
    push_with_signature(&mut with_forgery, "agency-f", &mut wire, &sig);
    let forged_bundle = serde_json::to_value(with_forgery.log.bundle()).expect("bundle");
    for (bundle, check, key) in [
        (&long_format, "format", w.log.log_key()),
        (&checkpoint, "checkpoint", w.log.log_key()),
        (&malformed, "entry", w.log.log_key()),
        (&moved, "inclusion_proof", w.log.log_key()),
        (&forged_bundle, "signature", with_forgery.log.log_key()),
    ] {
        let out = run(bundle, &key, true);
        assert!(!out.status.success(), "{check}");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("report");
        assert_eq!(
            (report["ok"].clone(), report["failure"]["check"].clone()),
            (json!(false), json!(check))
        );
        let text = run(bundle, &key, false);
        assert!(!text.status.success(), "{check}");
        let text = String::from_utf8_lossy(&text.stdout);
        assert!(text.starts_with("FAILED: "), "{text}");
        let message = report["failure"]["message"].as_str().expect("message");
        assert!(text.contains(message), "{check}: {text} / {message}");
        assert!(text.len() < 2000, "{check}: {} bytes", text.len());
    }
}

/// `--progress` when standard error is not a terminal (a log, a CI job): plain lines, not a
/// bar redrawn in place; without it, nothing.
#[test]
fn progress_goes_to_a_log_as_plain_lines_when_asked_for() {
    let dir = tempfile::tempdir().expect("tmp");
    let w = world();
    let path = dir.path().join("b.json");
    std::fs::write(&path, serde_json::to_vec(&w.log.bundle()).expect("json")).expect("write");
    let run = |extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_caseledger"))
            .args(["verify", "--log-key", &w.log.log_key()])
            .arg(&path)
            .args(extra)
            .output()
            .expect("run verify");
        assert!(out.status.success());
        String::from_utf8(out.stderr).expect("utf-8")
    };
    let shown = run(&["--progress"]);
    assert!(shown.starts_with("progress: "), "{shown:?}");
    assert!(
        shown.lines().all(|l| l.starts_with("progress: ")),
        "{shown:?}"
    );
    assert!(
        !shown.contains('\r') && !shown.contains('\x1b'),
        "{shown:?}"
    );
    assert_eq!(run(&[]), "");
}

/// `--since`: the bundle's checkpoint must extend the checkpoints an auditor kept. A full
/// bundle shows it from its entries; a case bundle needs the server's consistency proof.
#[test]
fn a_bundle_is_checked_against_earlier_checkpoints() {
    use caseledger::log::Checkpoint;
    use caseledger::verify::{verify_reader_since, ConsistencyProof, Since};
    let mut w = world();
    let kept = [3u64, 6].map(|n| w.log.checkpoint_at(n));
    w.grow_to(9);
    let key = w.log.signer.verifier();
    let earlier = |notes: &[&String]| -> Vec<Checkpoint> {
        notes
            .iter()
            .map(|n| Checkpoint::open_signed(n, &key).expect("kept checkpoint"))
            .collect()
    };
    let proof = |from: u64| -> ConsistencyProof {
        serde_json::from_value(w.log.consistency(from)).expect("proof")
    };
    let run = |bundle: &caseledger::bundle::Bundle, since: Since| {
        let text = serde_json::to_vec(bundle).expect("json");
        verify_reader_since(&text[..], &key, Options::default(), since)
    };
    // The full log: both from its entries.
    let r = run(
        &w.log.bundle(),
        Since::new(earlier(&[&kept[0], &kept[1]]), vec![]),
    );
    assert!(r.ok, "{:?}", r.failure);
    assert_eq!(r.consistent_with, vec![3, 6]);
    // A part from genesis holding the first 6 entries but not 3..: the second needs a proof.
    let part = w.log.bundle_of(&[0, 1, 2, 3, 4, 5, 6]);
    let r = run(&part, Since::new(earlier(&[&kept[1]]), vec![]));
    assert!(r.ok, "{:?}", r.failure);
    let case = w.log.bundle_of(&[0, 1, 2, 4]);
    let r = run(&case, Since::new(earlier(&[&kept[1]]), vec![]));
    let f = r.failure.expect("needs a proof");
    assert_eq!(f.check, Check::Consistency);
    assert!(f.message.contains("from=6&to=9"), "{f}");
    let r = run(&case, Since::new(earlier(&[&kept[1]]), vec![proof(6)]));
    assert!(r.ok, "{:?}", r.failure);
    assert_eq!(r.consistent_with, vec![6]);
    // A proof between other sizes does not stand in for the right one; a stale proof from
    // the same size (to an older checkpoint) is passed over for the right one.
    let r = run(&case, Since::new(earlier(&[&kept[1]]), vec![proof(3)]));
    assert_eq!(
        r.failure.expect("no proof from 6").check,
        Check::Consistency
    );
    let stale: ConsistencyProof =
        serde_json::from_value(w.fork(8).log.consistency(6)).expect("proof");
    let r = run(&case, Since::new(earlier(&[&kept[1]]), vec![stale.clone()]));
    let f = r.failure.expect("stale proof");
    assert!(f.message.contains("(it is to 8)"), "{f}");
    // Judged at the header: the report still names the bundle's checkpoint.
    assert_eq!(r.checkpoint_size, Some(9));
    let r = run(
        &case,
        Since::new(earlier(&[&kept[1]]), vec![stale, proof(6)]),
    );
    assert!(r.ok, "{:?}", r.failure);

    // A fork: the log rewritten from entry 4 on, under the same keys.
    let mut fork = w.fork(4);
    for n in 0..5 {
        let name = format!("fork-{n}");
        fork.log.append(
            &w.admin,
            "agency.registered",
            &format!("agency-{name}"),
            agency(&name),
        );
    }
    let r = run(&fork.log.bundle(), Since::new(earlier(&[&kept[0]]), vec![]));
    assert!(r.ok, "the first 3 entries are the same: {:?}", r.failure);
    let r = run(&fork.log.bundle(), Since::new(earlier(&[&kept[1]]), vec![]));
    let f = r.failure.expect("forked");
    assert_eq!((f.check, f.index), (Check::Consistency, Some(5)));
    // At the same size no proof is needed: the roots must be equal.
    let same_size = w.log.checkpoint_at(9);
    let r = run(&w.log.bundle(), Since::new(earlier(&[&same_size]), vec![]));
    assert_eq!((r.ok, r.consistent_with), (true, vec![9]));
    let r = run(
        &fork.log.bundle(),
        Since::new(earlier(&[&same_size]), vec![]),
    );
    let f = r.failure.expect("forked at the same size");
    assert_eq!((f.check, f.index), (Check::Consistency, None));
    // With a proof made for the real log, the case bundle of the fork fails too.
    let forked_case = fork.log.bundle_of(&[0, 1, 2, 4]);
    let r = run(
        &forked_case,
        Since::new(earlier(&[&kept[1]]), vec![proof(6)]),
    );
    assert_eq!(r.failure.expect("forked").check, Check::Consistency);
    // A bundle older than a kept checkpoint: rolled back, or not the latest.
    let mut longer = w.fork(9);
    longer.grow_to(12);
    let later = longer.log.checkpoint_at(12);
    let r = run(&w.log.bundle(), Since::new(earlier(&[&later]), vec![]));
    let f = r.failure.expect("older");
    assert_eq!(f.check, Check::Consistency);
    assert!(
        f.message
            .contains("older than the earlier checkpoint (size"),
        "{f}"
    );
}

#[test]
fn the_cli_takes_earlier_checkpoints_and_consistency_proofs_from_files() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut w = world();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path
    };
    // Saved with an extra newline, as `jq -r` writes it.
    let kept = file("kept.txt", &format!("{}\n", w.log.checkpoint_at(6)));
    w.grow_to(9);
    let proof = file("proof.json", &w.log.consistency(6).to_string());
    let full = file(
        "full.json",
        &serde_json::to_string(&w.log.bundle()).expect("json"),
    );
    let case = file(
        "case.json",
        &serde_json::to_string(&w.log.bundle_of(&[0, 1, 2, 4])).expect("json"),
    );
    let run = |args: &[&std::path::Path]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_caseledger"))
            .args(["verify", "--log-key", &w.log.log_key()])
            .args(args)
            .output()
            .expect("run verify")
    };
    let since = std::path::Path::new("--since");
    let consistency = std::path::Path::new("--consistency");
    let out = run(&[&full, since, &kept]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("extends the earlier checkpoint(s) of size 6"),
        "{text}"
    );
    let out = run(&[&case, since, &kept]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("consistency check failed"));
    let out = run(&[&case, since, &kept, consistency, &proof]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A proof no --since uses is refused, not ignored.
    let out = run(&[&case, consistency, &proof]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no --since checkpoint (or --heads tree) has that size"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A checkpoint another key signed is refused before anything is verified.
    let stranger = file("stranger.txt", &world().log.checkpoint_at(6));
    let out = run(&[&full, since, &stranger]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a checkpoint signed by the log key"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A world whose case is opened, then the caseworker's key revoked (the last entry of
/// principal-maria); the revocation's index.
fn case_then_revoked_worker_key() -> (common::World, u64) {
    let mut w = world();
    open_case(&mut w);
    let keyid = caseledger::domain::KeyId::of(w.worker.key.verifying_key().as_bytes());
    let revoked = w.log.append(
        &w.admin,
        "principal.key_revoked",
        "principal-maria",
        json!({"keyid": keyid.to_string(), "reason": "compromised"}),
    );
    (w, revoked)
}

#[test]
fn a_case_bundle_names_the_identity_streams_that_end_before_its_last_case_entry() {
    // A server that hides the revocation of the caseworker's key from a case bundle: the
    // revocation is the last entry of principal-maria, so its revisions stay contiguous,
    // and the case steps signed after it replay as valid. The bundle cannot show the
    // omission; the report must say that principal-maria ends before the case does.
    let (mut w, revoked) = case_then_revoked_worker_key();
    let consent = json!({
        "consent_id": "c1", "purposes": ["referral"], "recipients": ["bay-clinic"],
        "data_categories": ["contact"], "valid_until": "2027-05-28T00:00:00Z",
        "method": "written", "language": "es", "interpreter": {"used": false},
        "notice_version": "v1"
    });
    let late = w.log.append(&w.worker, "consent.granted", CASE, consent);
    // The whole log fails where the revoked key signs.
    let r = check(&w.log, &w.log.bundle());
    assert_fails_at(&r, late, Check::Rule);
    assert!(r.open_identity_streams.is_empty() && r.last_case_index.is_none());
    // Without the revocation the case bundle verifies, and says where maria's stream ends.
    let hidden: Vec<u64> = (0..w.log.entries.len() as u64)
        .filter(|&i| i != revoked)
        .collect();
    let r = check(&w.log, &w.log.bundle_of(&hidden));
    assert!(r.ok, "{:?}", r.failure);
    assert_eq!(r.last_case_index, Some(late));
    let open: Vec<(&str, u64, u64)> = r
        .open_identity_streams
        .iter()
        .map(|e| (e.stream.as_str(), e.revision, e.index))
        .collect();
    assert!(open.contains(&("principal-maria", 0, 3)), "{open:?}");
    // With the revocation in it, the same case fails: an honest bundle shows it.
    let r = check(&w.log, &w.log.bundle_of(&(0..=late).collect::<Vec<_>>()));
    assert_fails_at(&r, late, Check::Rule);

    // A stream that goes on past the last case entry is complete up to it: not named.
    let mut w = world();
    open_case(&mut w);
    let case_end = w.log.entries.len() as u64 - 1;
    w.log.append(
        &w.admin,
        "principal.deactivated",
        "principal-olu",
        json!({"reason": "left_agency"}),
    );
    w.grow_to(w.log.entries.len() + 1);
    let r = check(&w.log, &w.log.bundle());
    assert!(r.open_identity_streams.is_empty(), "a full log: {r:?}");
    let r = check(
        &w.log,
        &w.log.bundle_of(&(0..=case_end + 1).collect::<Vec<_>>()),
    );
    assert!(r.ok, "{:?}", r.failure);
    let streams: Vec<&str> = r
        .open_identity_streams
        .iter()
        .map(|e| e.stream.as_str())
        .collect();
    assert!(!streams.contains(&"principal-olu"), "{streams:?}");
    assert!(streams.contains(&"principal-maria"), "{streams:?}");
}

#[test]
fn a_case_bundle_names_the_stream_of_whoever_registered_its_caseworker_when_it_ends_early() {
    // A second administrator is deactivated, then (a log the rules refuse) registers the
    // caseworker who opens the case. A case bundle that leaves the deactivation out replays
    // as valid; what it relies on for the caseworker's registration, admin2's stream, ends
    // before that registration, and the report must name it (it only followed case entries'
    // signers and coordinators, and said that nothing was left out).
    let mut w = world();
    let admin2 = common::key("admin2");
    let (worker2, at) = (common::key("ana"), w.log.entries.len() as u64);
    w.log.append(
        &w.admin,
        "principal.registered",
        "principal-admin2",
        common::registered("operator", &["admin"], &admin2),
    );
    let deactivated = w.log.append(
        &w.admin,
        "principal.deactivated",
        "principal-admin2",
        json!({"reason": "left_agency"}),
    );
    let registration = w.log.append(
        &admin2,
        "principal.registered",
        "principal-ana",
        common::registered("harbor-house", &["caseworker"], &worker2),
    );
    let opened = json!({
        "owner_agency": "harbor-house", "coordinator": "ana",
        "needs": ["medical"], "minor": false
    });
    let case = w.log.append(&worker2, "case.opened", CASE, opened);
    assert_fails_at(&check(&w.log, &w.log.bundle()), registration, Check::Rule);
    let mut kept: Vec<u64> = (0..at).collect();
    kept.extend([at, registration, case]);
    let r = check(&w.log, &w.log.bundle_of(&kept));
    assert!(r.ok, "{:?}", r.failure);
    let open: Vec<(&str, u64, u64, u64)> = r
        .open_identity_streams
        .iter()
        .map(|e| (e.stream.as_str(), e.revision, e.index, e.needed_until))
        .collect();
    // Also listed: the genesis admin's stream (relied on by admin2's registration) and
    // ana's (the case's signer), which end early too.
    assert!(
        open.contains(&("principal-admin2", 0, at, registration)),
        "{open:?}"
    );
    // With the deactivation in it, the bundle fails where the rules refuse.
    kept.push(deactivated);
    kept.sort_unstable();
    assert_fails_at(
        &check(&w.log, &w.log.bundle_of(&kept)),
        registration,
        Check::Rule,
    );
}

#[test]
fn events_written_before_the_write_time_checks_still_verify() {
    // The server now refuses these in new consents (a witness who is not the owner
    // agency's staff, an unregistered recipient, a notice version that is text); a log
    // written before that must replay as it was accepted.
    let mut w = world();
    open_case(&mut w);
    let consent = json!({
        "consent_id": "c1", "purposes": ["inquiry"], "recipients": ["nowhere-registered"],
        "data_categories": ["contact"], "valid_until": "2027-05-28T00:00:00Z",
        "method": "written", "language": "es", "interpreter": {"used": false},
        "witness": "someone-else", "notice_version": "Maria Lopez 1990"
    });
    w.log.append(&w.worker, "consent.granted", CASE, consent);
    // Nor, since, an inquiry or a referral to the case's own agency.
    let mut to_owner = referral_consent();
    to_owner["consent_id"] = json!("c2");
    to_owner["recipients"] = json!(["harbor-house"]);
    w.log.append(&w.worker, "consent.granted", CASE, to_owner);
    let mut own = referral();
    own["agency"] = json!("harbor-house");
    own["consent_id"] = json!("c2");
    w.log.append(&w.worker, "referral.made", CASE, own);
    let r = check(&w.log, &w.log.bundle());
    assert!(r.ok, "{:?}", r.failure);
}

/// Identity heads for `CASE`'s entries at `indexes` and the other entries of `log` there
/// below `before`, as counted there (an exporter's claim: true when `indexes` holds every
/// entry of the case, the last at `before − 1`, and every identity entry below `before`).
fn heads_of(log: &HandLog, indexes: &[u64], before: u64) -> String {
    counted_heads(log, indexes, before)
        .sign(&log.signer)
        .expect("signed")
}

/// The heads [`heads_of`] signs.
fn counted_heads(
    log: &HandLog,
    indexes: &[u64],
    before: u64,
) -> caseledger::bundle::heads::IdentityHeads {
    use caseledger::bundle::heads::IdentityHeads;
    use caseledger::domain::StreamId;
    let bundle = log.bundle_of(indexes);
    let cp = caseledger::log::Checkpoint::open_signed(&bundle.checkpoint, &log.signer.verifier())
        .expect("checkpoint");
    let mut counts = std::collections::BTreeMap::new();
    let mut case_entries = 0;
    for &i in indexes {
        let e: serde_json::Value = serde_json::from_str(&log.entries[i as usize]).expect("entry");
        let stream = e["stream"].as_str().expect("stream").to_owned();
        if stream == CASE {
            case_entries += 1;
        } else if i < before && (stream.starts_with("principal-") || stream.starts_with("agency-"))
        {
            *counts.entry(stream).or_insert(0) += 1;
        }
    }
    let Ok(StreamId::Case(case)) = CASE.parse() else {
        panic!("a case stream")
    };
    IdentityHeads {
        origin: cp.origin,
        size: cp.size,
        root: cp.root,
        before,
        case,
        case_entries,
        counts,
    }
}

#[test]
fn identity_heads_turn_a_left_out_revocation_into_a_failure_or_a_signed_lie() {
    let (mut w, revoked) = case_then_revoked_worker_key();
    let needs = json!({"needs": ["legal"]});
    let late = w.log.append(&w.worker, "case.needs_assessed", CASE, needs);
    w.grow_to(w.log.entries.len() + 2);
    let all: Vec<u64> = (0..=late).collect();
    let hidden: Vec<u64> = all.iter().copied().filter(|&i| i != revoked).collect();
    let with_heads = |indexes: &[u64], heads: String| {
        let mut b = w.log.bundle_of(indexes);
        b.identity_heads = Some(heads);
        check(&w.log, &b)
    };
    // Honest heads count the revocation: the bundle without it fails, naming the stream.
    let r = with_heads(&hidden, heads_of(&w.log, &all, late + 1));
    let f = r.failure.expect("refused");
    assert_eq!(
        (f.check, f.stream.as_deref()),
        (Check::IdentityHeads, Some("principal-maria"))
    );
    assert!(f.message.contains("an entry was left out"), "{}", f.message);
    // The same bundle with the revocation fails where the revoked key signs.
    let r = with_heads(&all, heads_of(&w.log, &all, late + 1));
    assert_fails_at(&r, late, Check::Rule);
    // Heads that lie (counted without the revocation) are accepted: the log key has signed
    // a false count, which the full log refutes (it fails at the same step).
    let r = with_heads(&hidden, heads_of(&w.log, &hidden, late + 1));
    assert!(r.ok, "{:?}", r.failure);
    assert_eq!(r.identity_heads_before, Some(late + 1));
    assert!(r.open_identity_streams.is_empty());
    assert_fails_at(&check(&w.log, &w.log.bundle()), late, Check::Rule);
}

#[test]
fn identity_heads_must_be_the_logs_for_this_checkpoint_and_cover_the_case() {
    let mut w = world();
    open_case(&mut w);
    let case_end = w.log.entries.len() as u64 - 1;
    w.grow_to(w.log.entries.len() + 2);
    let part: Vec<u64> = (0..=case_end).collect();
    let honest = heads_of(&w.log, &part, case_end + 1);
    let mut b = w.log.bundle_of(&part);
    b.identity_heads = Some(honest.clone());
    let r = check(&w.log, &b);
    assert!(r.ok, "{:?}", r.failure);
    assert_eq!(r.identity_heads_before, Some(case_end + 1));
    // Signed by another key; for an older tree; not covering the case; naming a stream
    // the bundle lacks.
    let other = common::HandLog::new();
    let forged = w.log.fork(w.log.entries.len()).with_key_of(&other);
    let older = w.log.fork(case_end as usize + 1);
    let mut lacking = w.log.bundle_of(&part);
    lacking
        .entries
        .retain(|e| !e.entry.contains("\"stream\":\"principal-olu\""));
    for (what, bundle, heads) in [
        (
            "another key",
            w.log.bundle_of(&part),
            heads_of(&forged, &part, case_end + 1),
        ),
        (
            "an older tree",
            w.log.bundle_of(&part),
            heads_of(&older, &part, case_end + 1),
        ),
        (
            "short of the case",
            w.log.bundle_of(&part),
            heads_of(&w.log, &part, case_end),
        ),
        ("a stream it lacks", lacking, honest.clone()),
    ] {
        let mut bundle = bundle;
        bundle.identity_heads = Some(heads);
        let r = check(&w.log, &bundle);
        let f = r.failure.unwrap_or_else(|| panic!("{what}: accepted"));
        assert_eq!(f.check, Check::IdentityHeads, "{what}: {f}");
    }
}

#[test]
fn a_full_log_refutes_false_identity_heads_and_a_dropped_case_tail_fails() {
    let mut w = world();
    let update = w.log.entries.len() as u64 - 1; // agency-bay-clinic's update, index 5
    open_case(&mut w);
    let needs = json!({"needs": ["legal"]});
    let case_end = w.log.append(&w.worker, "case.needs_assessed", CASE, needs);
    w.grow_to(w.log.entries.len() + 2);
    let all: Vec<u64> = (0..w.log.entries.len() as u64).collect();
    let case_bundle: Vec<u64> = (0..=case_end).collect();
    let hidden: Vec<u64> = case_bundle
        .iter()
        .copied()
        .filter(|&i| i != update)
        .collect();
    let with = |indexes: &[u64], heads: &str| {
        let mut b = w.log.bundle_of(indexes);
        b.identity_heads = Some(heads.to_owned());
        check(&w.log, &b)
    };
    // A lying exporter: the update left out, the heads counted without it. The case
    // bundle verifies; the full log (same checkpoint) refutes the signed count.
    let lie = heads_of(&w.log, &hidden, case_end + 1);
    assert!(with(&hidden, &lie).ok);
    let r = with(&all, &lie);
    let f = r.failure.expect("refuted");
    assert_eq!(
        (f.check, f.stream.as_deref()),
        (Check::IdentityHeads, Some("agency-bay-clinic"))
    );
    // Honest heads hold for the full log too.
    let honest = heads_of(&w.log, &case_bundle, case_end + 1);
    let r = with(&all, &honest);
    assert!(r.ok, "{:?}", r.failure);
    assert_eq!(r.identity_heads_before, Some(case_end + 1));
    // The case's last entry dropped from a bundle whose heads were signed with it.
    let r = with(&case_bundle[..case_bundle.len() - 1], &honest);
    let f = r.failure.expect("refused");
    assert_eq!(
        (f.check, f.stream.as_deref()),
        (Check::IdentityHeads, Some(CASE))
    );
    assert!(f.message.contains("an entry was left out"), "{}", f.message);
}

#[test]
fn identity_heads_turn_a_left_out_consent_withdrawal_into_a_failure_or_a_signed_lie() {
    let mut w = world();
    let (granted, withdrawn) = case_consented_then_withdrawn(&mut w);
    w.grow_to(w.log.entries.len() + 2);
    let all: Vec<u64> = (0..w.log.entries.len() as u64).collect();
    let case_bundle: Vec<u64> = (0..=withdrawn).collect();
    let hidden: Vec<u64> = (0..=granted).collect();
    let with = |indexes: &[u64], heads: &str| {
        let mut b = w.log.bundle_of(indexes);
        b.identity_heads = Some(heads.to_owned());
        check(&w.log, &b)
    };
    // Without heads, the bundle that ends at the grant verifies (the case reads as
    // consented): nothing in it shows the withdrawal.
    assert!(check(&w.log, &w.log.bundle_of(&hidden)).ok);
    // With honest heads it fails, naming the case; with the withdrawal it verifies.
    let honest = heads_of(&w.log, &case_bundle, withdrawn + 1);
    let f = with(&hidden, &honest).failure.expect("refused");
    assert_eq!(
        (f.check, f.stream.as_deref(), f.revision),
        (Check::IdentityHeads, Some(CASE), Some(1))
    );
    assert!(
        f.message.contains(&format!(
            "attests 3 entries of {CASE} in the tree of size {}; the bundle holds 2 (an entry \
             was left out)",
            all.len()
        )),
        "{}",
        f.message
    );
    let r = with(&case_bundle, &honest);
    assert!(r.ok, "{:?}", r.failure);
    assert_eq!(r.identity_heads_case.as_deref(), Some(CASE));
    assert_eq!(r.identity_heads_before, Some(withdrawn + 1));
    // Heads that lie (the case ending at the grant) are accepted by the case bundle; the
    // full log of the same checkpoint refutes them, naming the case.
    let lie = heads_of(&w.log, &hidden, granted + 1);
    assert!(with(&hidden, &lie).ok);
    let f = with(&all, &lie).failure.expect("refuted");
    assert_eq!(
        (f.check, f.stream.as_deref()),
        (Check::IdentityHeads, Some(CASE))
    );
    assert!(f.message.contains("the bundle holds 3"), "{}", f.message);
    // A count that matches with `before` short of the case's end is refuted by both.
    let short = heads_of(&w.log, &case_bundle, granted + 1);
    for indexes in [&case_bundle, &all] {
        let f = with(indexes, &short).failure.expect("refused");
        assert!(
            f.message.contains(&format!(
                "signed for {CASE} ending at index {granted}; its last entry is at index \
                 {withdrawn}"
            )),
            "{}",
            f.message
        );
    }
}

#[test]
fn identity_heads_for_one_case_refuse_a_bundle_holding_another() {
    let mut w = world();
    let other = open_other_case(&mut w);
    open_case(&mut w);
    let case_end = w.log.entries.len() as u64 - 1;
    w.grow_to(w.log.entries.len() + 2);
    let all: Vec<u64> = (0..w.log.entries.len() as u64).collect();
    let heads = heads_of(&w.log, &all, case_end + 1);
    let with = |indexes: &[u64]| {
        let mut b = w.log.bundle_of(indexes);
        b.identity_heads = Some(heads.clone());
        check(&w.log, &b)
    };
    // A full log holds every case; the heads hold for it.
    assert!(with(&all).ok);
    // The other case's bundle with these heads: named as heads of another case.
    let other_bundle: Vec<u64> = (0..=case_end).filter(|&i| i != case_end).collect();
    let f = with(&other_bundle).failure.expect("refused");
    assert!(
        f.message.contains(&format!(
            "a case the bundle does not hold (it holds {other}): heads of another case?"
        )),
        "{f}"
    );
    // A partial bundle with both cases: the other one is not attested.
    let f = with(&all[..=case_end as usize]).failure.expect("refused");
    assert_eq!(f.check, Check::IdentityHeads);
    assert!(
        f.message
            .contains(&format!("attest {CASE}; the bundle holds {other} too")),
        "{}",
        f.message
    );
}

#[test]
fn the_cli_checks_heads_kept_from_a_case_bundle_against_a_later_full_log() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path
    };
    let mut w = world();
    let (granted, withdrawn) = case_consented_then_withdrawn(&mut w);
    w.grow_to(w.log.entries.len() + 1);
    let kept_size = w.log.entries.len();
    // The case bundle an auditor kept, with honest heads; a lying note (the withdrawal
    // left out); a note of a fork of the log at the same size, signed by the same key.
    let case: Vec<u64> = (0..=withdrawn).collect();
    let mut kept = w.log.bundle_of(&case);
    kept.identity_heads = Some(heads_of(&w.log, &case, withdrawn + 1));
    let kept = file("kept.json", &serde_json::to_string(&kept).expect("json"));
    let lie = heads_of(&w.log, &(0..=granted).collect::<Vec<_>>(), granted + 1);
    let lie = file("lie.txt", &format!("{lie}\n"));
    let mut fork = w.fork(kept_size - 1);
    fork.log.append(
        &w.admin,
        "agency.updated",
        "agency-harbor-house",
        common::agency("harbor-house"),
    );
    let forked = file("forked.txt", &heads_of(&fork.log, &case, withdrawn + 1));
    // Later: the case goes on, the log grows.
    let needs = json!({"needs": ["legal"]});
    let later_case = w.log.append(&w.worker, "case.needs_assessed", CASE, needs);
    w.grow_to(w.log.entries.len() + 2);
    let full = file(
        "full.json",
        &serde_json::to_string(&w.log.bundle()).expect("json"),
    );
    let mut later: Vec<u64> = case.clone();
    later.push(later_case);
    let partial = file(
        "partial.json",
        &serde_json::to_string(&w.log.bundle_of(&later)).expect("json"),
    );
    let plain = file(
        "plain.json",
        &serde_json::to_string(&w.log.bundle_of(&case)).expect("json"),
    );
    let checkpoint = file("checkpoint.txt", &w.log.checkpoint_at(3));
    let proof = file(
        "proof.json",
        &w.log.consistency(kept_size as u64).to_string(),
    );
    let run_with =
        |bundle: &std::path::Path, heads: &std::path::Path, more: &[&std::path::Path]| {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_caseledger"))
                .args(["verify", "--log-key", &w.log.log_key()])
                .arg(bundle)
                .arg("--heads")
                .arg(heads)
                .args(more)
                .output()
                .expect("run verify");
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            (
                out.status.success(),
                text + &String::from_utf8_lossy(&out.stderr),
            )
        };
    let run = |bundle: &std::path::Path, heads: &std::path::Path| run_with(bundle, heads, &[]);
    // The later full log holds what the kept heads attest: confirmed. Their tree is not
    // called an earlier checkpoint: none was given.
    let (ok, text) = run(&full, &kept);
    assert!(ok, "{text}");
    assert!(!text.contains("earlier checkpoint"), "{text}");
    assert!(
        text.contains(&format!(
            "Identity heads for {CASE} hold: the log holds exactly the entries the log key \
             attested (the case's in the tree of size {kept_size}"
        )),
        "{text}"
    );
    // The lie is refuted, naming the case; the fork's note fails as a fork.
    let (ok, text) = run(&full, &lie);
    assert!(!ok);
    assert!(
        text.contains(&format!(
            "(stream {CASE}, revision 2): identity_heads check failed"
        )),
        "{text}"
    );
    assert!(text.contains("the bundle holds 3"), "{text}");
    let (ok, text) = run(&full, &forked);
    assert!(!ok);
    assert!(
        text.contains(&format!(
            "consistency check failed: the first {kept_size} entries hash to"
        )) && text.contains("the tree of the identity heads given with --heads"),
        "{text}"
    );
    // A later case bundle cannot be checked against them, and says so, proof or not.
    let consistency = std::path::Path::new("--consistency");
    for more in [&[][..], &[consistency, &proof]] {
        let (ok, text) = run_with(&partial, &kept, more);
        assert!(!ok);
        assert!(
            text.contains("identity_heads check failed")
                && text.contains("only a bundle of the whole log"),
            "{text}"
        );
    }
    // Several kept bundles at once, one saved with a byte order mark and CRLF line ends;
    // the report lists each.
    let note = heads_of(&w.log.fork(kept_size), &case, withdrawn + 1);
    let crlf = file(
        "crlf.txt",
        &format!("\u{feff}{}", note.replace('\n', "\r\n")),
    );
    let heads = std::path::Path::new("--heads");
    let json = std::path::Path::new("--json");
    let (ok, text) = run_with(&full, &kept, &[heads, &crlf, json]);
    assert!(ok, "{text}");
    let report: serde_json::Value = serde_json::from_str(&text).expect("report");
    assert_eq!(
        report["heads_held"].as_array().map(Vec::len),
        Some(2),
        "{text}"
    );
    assert_eq!(report["heads_held"][1]["tree_size"], kept_size);
    assert_eq!(report["consistent_with"], json!([]));
    // A kept bundle after more white space than one read holds is still read as a bundle.
    let spaced = file(
        "spaced.json",
        &format!(
            "{}{}",
            " ".repeat(20_000),
            std::fs::read_to_string(&kept).expect("kept")
        ),
    );
    let (ok, text) = run(&full, &spaced);
    assert!(ok, "{text}");
    // Files that hold no heads are refused before anything is verified; an endless one
    // is not read whole.
    #[cfg(unix)]
    {
        let zero = std::path::Path::new("/dev/zero");
        let (ok, text) = run(&full, zero);
        assert!(
            !ok && text.contains("more than 64 MiB: not a note"),
            "{text}"
        );
        let since = std::path::Path::new("--since");
        let (ok, text) = run_with(&full, &kept, &[since, zero]);
        assert!(!ok && text.contains("holds more than 1024 KiB"), "{text}");
        // With --json a refused input is still a report.
        let json = std::path::Path::new("--json");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_caseledger"))
            .args(["verify", "--log-key", &w.log.log_key()])
            .args([&full, since, zero, json])
            .output()
            .expect("run verify");
        assert!(!out.status.success());
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a report");
        assert_eq!(
            (report["ok"].clone(), report["failure"]["check"].clone()),
            (json!(false), json!("input"))
        );
        let message = report["failure"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("/dev/zero"), "{message}");
        // A directory given as the bundle is an input that cannot be used, not a bundle.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_caseledger"))
            .args(["verify", "--log-key", &w.log.log_key(), "/tmp", "--json"])
            .output()
            .expect("run verify");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a report");
        assert_eq!(report["failure"]["check"], json!("input"), "{report}");
        assert_eq!(
            report["failure"]["message"],
            json!("/tmp is a directory, not a bundle")
        );
    }
    for (bad, says) in [
        (&plain, "the bundle has no identity_heads"),
        (
            &checkpoint,
            "the identity heads are malformed: the first line is not",
        ),
    ] {
        let (ok, text) = run(&full, bad);
        assert!(!ok);
        assert!(text.contains(says), "{text}");
    }
}

#[test]
fn of_several_false_identity_counts_the_first_stream_in_byte_order_is_named() {
    let mut w = world();
    open_case(&mut w);
    let case: Vec<u64> = (0..w.log.entries.len() as u64).collect();
    let before = case.len() as u64;
    let mut heads = counted_heads(&w.log, &case, before);
    for stream in ["principal-maria", "agency-bay-clinic", "principal-olu"] {
        *heads.counts.get_mut(stream).expect("counted") += 1;
    }
    let note = heads.sign(&w.log.signer).expect("signed");
    // The streams sit in a hash map: a fresh order each time.
    for _ in 0..16 {
        let mut b = w.log.bundle_of(&case);
        b.identity_heads = Some(note.clone());
        let f = check(&w.log, &b).failure.expect("refused");
        assert_eq!(f.stream.as_deref(), Some("agency-bay-clinic"), "{f}");
        // Named at its last entry below `before`, after which one is missing.
        assert_eq!(f.revision, Some(1), "{f}");
    }
}

#[test]
fn require_heads_refuses_a_partial_bundle_without_them_only() {
    let mut w = world();
    let (_, withdrawn) = case_consented_then_withdrawn(&mut w);
    w.grow_to(w.log.entries.len() + 1);
    let case: Vec<u64> = (0..=withdrawn).collect();
    let opts = Options {
        require_heads: true,
        ..Options::default()
    };
    let key = w.log.signer.verifier();
    let f = verify_bundle(&w.log.bundle_of(&case), &key, opts)
        .failure
        .expect("refused");
    assert_eq!(f.check, Check::IdentityHeads);
    assert!(f.message.contains("carries no identity heads"), "{f}");
    let mut with = w.log.bundle_of(&case);
    with.identity_heads = Some(heads_of(&w.log, &case, withdrawn + 1));
    assert!(verify_bundle(&with, &key, opts).ok);
    // A full log is complete without them.
    assert!(verify_bundle(&w.log.bundle(), &key, opts).ok);
}

#[test]
fn verify_checkpoint_checks_a_checkpoint_against_kept_ones_without_a_bundle() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path.to_str().expect("utf8").to_owned()
    };
    let mut w = world();
    let kept = file("kept.txt", &w.log.checkpoint_at(6));
    let mut fork = w.fork(6);
    w.grow_to(9);
    let now = file("now.txt", &w.log.checkpoint_at(9));
    let proof = file("proof.json", &w.log.consistency(6).to_string());
    fork.log.append(
        &w.admin,
        "agency.updated",
        "agency-harbor-house",
        agency("harbor-house"),
    );
    fork.grow_to(9);
    let forked = file("forked.txt", &fork.log.checkpoint_at(9));
    let forked_proof = file("forked_proof.json", &fork.log.consistency(6).to_string());
    let stranger = file("stranger.txt", &world().log.checkpoint_at(6));
    let key = w.log.log_key();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_caseledger"))
            .args(["verify-checkpoint", "--log-key", &key])
            .args(args)
            .output()
            .expect("run verify-checkpoint");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.success(), text)
    };
    // Extends the kept one, shown by the server's proof.
    let (ok, text) = run(&[&now, "--since", &kept, "--consistency", &proof]);
    assert!(ok, "{text}");
    assert!(
        text.contains("extends the earlier checkpoint(s) of size 6"),
        "{text}"
    );
    // Without the proof: which one to fetch.
    let (ok, text) = run(&[&now, "--since", &kept]);
    assert!(!ok);
    assert!(
        text.contains("GET /v1/log/proof/consistency?from=6&to=9 and pass it with --consistency"),
        "{text}"
    );
    // The same size needs no proof; a fork of that size fails; so does a rollback.
    assert!(run(&[&now, "--since", &now]).0);
    let (ok, text) = run(&[&now, "--since", &forked]);
    assert!(!ok, "{text}");
    assert!(
        text.starts_with(
            "FAILED: consistency check failed: the checkpoint verified and the earlier \
             checkpoint (size 9) are of the same size with different roots"
        ),
        "{text}"
    );
    let (ok, text) = run(&[&kept, "--since", &now]);
    assert!(
        !ok && text.contains("is older than the earlier checkpoint (size 9)"),
        "{text}"
    );
    // A proof made for the fork does not show the real log extending the kept checkpoint
    // (the fork's first 6 entries are the real log's, so it does for the fork).
    let (ok, text) = run(&[&now, "--since", &kept, "--consistency", &forked_proof]);
    assert!(!ok && text.contains("does not extend"), "{text}");
    assert!(run(&[&forked, "--since", &kept, "--consistency", &forked_proof]).0);
    // Another log's checkpoint; the JSON report.
    let (ok, text) = run(&[&stranger]);
    assert!(!ok && text.contains("checkpoint check failed"), "{text}");
    let (ok, text) = run(&[&now, "--since", "/nonexistent/kept.txt", "--json"]);
    assert!(!ok);
    let report: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(report["failure"]["check"], json!("input"), "{text}");
    let (ok, text) = run(&[&now, "--since", &kept, "--json"]);
    assert!(!ok);
    let report: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(
        (
            report["ok"].clone(),
            report["checkpoint_size"].clone(),
            report["failure"]["check"].clone()
        ),
        (json!(false), json!(9), json!("consistency"))
    );
}
