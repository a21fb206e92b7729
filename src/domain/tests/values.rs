//! Identifier and value types accept exactly their documented forms.

use super::super::bounded::{BoundedSet, BoundedString, BoundsError};
use super::super::consent::Recipients;
use super::super::ids::{CaseId, Language, Slug};
use super::super::keys::{KeyId, PublicKeyB64, Sha256Hex};
use super::super::stream::{StreamId, StreamKind};
use super::super::time::{new_stamps_fit, Timestamp};
use super::super::values::{ConsentPurpose, Domain, Role};
use super::super::SchemaErrorKind;
use serde_json::json;

#[test]
fn slugs_follow_the_pattern() {
    let longest = format!("a{}", "-".repeat(62));
    for ok in ["a", "0", "harbor-house", "a-", longest.as_str()] {
        assert!(ok.parse::<Slug>().is_ok(), "{ok}");
    }
    let too_long = format!("a{}", "b".repeat(63));
    for bad in ["", "-a", "Harbor", "a_b", "a b", "é", too_long.as_str()] {
        assert!(bad.parse::<Slug>().is_err(), "{bad}");
    }
}

#[test]
fn language_tags_are_simple_bcp47() {
    for ok in [
        "es",
        "fr-CA",
        "zh-Hant-TW",
        "sr-Latn-RS",
        "de-CH-1996",
        "ABCDEFGH",
    ] {
        assert!(ok.parse::<Language>().is_ok(), "{ok}");
    }
    let too_long = format!("en{}", "-abcdefgh".repeat(4)); // 38 characters
    for bad in [
        "",
        "e",
        "1a",
        "es_",
        "es-",
        "-es",
        "es--x",
        "abcdefghi",
        "es-abcdefghi",
        too_long.as_str(),
    ] {
        assert!(bad.parse::<Language>().is_err(), "{bad}");
    }
    let upper: Language = "FR-ca".parse().expect("valid");
    assert!(upper.matches(&"fr-CA".parse().expect("valid")));
}

#[test]
fn key_ids_are_the_sha256_of_the_key_in_lowercase_hex() {
    let key: PublicKeyB64 = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
        .parse()
        .expect("valid");
    let id = KeyId::of(key.as_bytes());
    assert_eq!(id, key.key_id());
    assert_eq!(id.to_string().parse::<KeyId>().as_ref(), Ok(&id));
    assert!(id.to_string().to_uppercase().parse::<KeyId>().is_err());
    assert_eq!(
        Sha256Hex::digest(b"test").to_string(),
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    );
}

#[test]
fn public_keys_are_exactly_32_bytes_of_padded_base64() {
    let key = PublicKeyB64::from_bytes([7; 32]);
    assert_eq!(key.to_string().parse::<PublicKeyB64>(), Ok(key));
    for bad in [
        "",
        "AAAA",
        "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
    ] {
        assert!(bad.parse::<PublicKeyB64>().is_err(), "{bad}");
    }
}

#[test]
fn stream_ids_parse_and_print_the_same_text() {
    for (text, kind) in [
        (
            "case-0196b7c2-4a55-7d3e-9f10-2b6c1d4e5f60",
            StreamKind::Case,
        ),
        ("agency-harbor-house", StreamKind::Agency),
        ("principal-admin", StreamKind::Principal),
        (
            &format!("principal-{}", "p".repeat(63)),
            StreamKind::Principal,
        ),
    ] {
        let stream: StreamId = text.parse().expect("valid");
        assert_eq!((stream.to_string().as_str(), stream.kind()), (text, kind));
        assert_eq!(stream.with_name(str::to_owned), text);
        assert!(stream.is(text), "{text}");
        for other in [
            &text.to_uppercase(),
            &format!("{text}0"),
            &text[1..],
            "agency-",
        ] {
            assert!(!stream.is(other), "{text} is not {other}");
        }
    }
    for bad in [
        "case-{0196b7c2-4a55-7d3e-9f10-2b6c1d4e5f60}",
        "case-0196b7c24a557d3e9f102b6c1d4e5f60",
        "team-x",
        "agency-X",
        "principal-",
    ] {
        assert!(bad.parse::<StreamId>().is_err(), "{bad}");
    }
    let case = CaseId::random();
    assert_eq!(
        format!("case-{case}").parse::<StreamId>(),
        Ok(StreamId::Case(case))
    );
}

#[test]
fn timestamps_must_be_utc() {
    for ok in [
        "2026-11-28T10:15:00Z",
        "2026-11-28T10:15:00.123456Z",
        "2026-11-28T10:15:00.123456789Z",
        "2026-11-28T10:15:00.123456789+00:00",
        "2026-11-28T10:15:00+00:00",
    ] {
        assert!(ok.parse::<Timestamp>().is_ok(), "{ok}");
    }
    // Past nanoseconds the digits are free text, not time: refused in new events, read in
    // stored ones.
    for long in [
        "2026-11-28T10:15:00.1234567890Z".to_owned(),
        format!("2026-11-28T10:15:00.{}Z", "5".repeat(200)),
        "2026-11-28T10:15:00.0000000001+00:00".to_owned(),
    ] {
        assert!(long.parse::<Timestamp>().is_ok(), "{long}");
        for field in ["occurred_at", "valid_until", "expires_at"] {
            let payload = match field {
                "occurred_at" => json!({"occurred_at": long, "data": {}}),
                f => json!({"occurred_at": "2026-11-28T10:15:00Z", "data": {f: long}}),
            };
            let bytes = serde_json::to_vec(&payload).expect("json");
            let err = new_stamps_fit(&bytes).expect_err("too many digits");
            assert!(
                err.contains(field) && err.contains("at most 9 digits"),
                "{err}"
            );
        }
    }
    // Second 60: chrono reads it as a leap second in any minute; refused in new events.
    for leap in ["2026-11-30T23:59:60Z", "2026-11-28T10:15:60.5Z"] {
        assert!(leap.parse::<Timestamp>().is_ok(), "{leap}");
        for field in ["occurred_at", "valid_until", "expires_at"] {
            let payload = match field {
                "occurred_at" => json!({"occurred_at": leap, "data": {}}),
                f => json!({"occurred_at": "2026-11-28T10:15:00Z", "data": {f: leap}}),
            };
            let err = new_stamps_fit(&serde_json::to_vec(&payload).expect("json"))
                .expect_err("leap second");
            assert!(err.contains(field) && err.contains("second 60"), "{err}");
        }
    }
    let nine = json!({"occurred_at": "2026-11-28T10:15:00.123456789Z",
        "data": {"valid_until": "2026-11-28T10:15:00Z"}});
    assert_eq!(
        new_stamps_fit(&serde_json::to_vec(&nine).expect("json")),
        Ok(())
    );
    for bad in [
        "2026-11-28T10:15:00",
        "2026-11-28T10:15:00z",
        "2026-11-28t10:15:00Z",
        "2026-11-28 10:15:00Z",
        "2026-11-28T10:15:00-00:00",
        "2026-11-28T11:15:00+01:00",
        "2026-13-28T10:15:00Z",
        "tomorrow",
    ] {
        assert!(bad.parse::<Timestamp>().is_err(), "{bad}");
    }
}

#[test]
fn bounded_collections_check_length_duplicates_and_characters() {
    assert_eq!(
        BoundedSet::<Role, 1, 6>::new(vec![]),
        Err(BoundsError::TooFew { min: 1, len: 0 })
    );
    assert_eq!(
        BoundedSet::<Role, 1, 6>::new(vec![Role::Admin, Role::Auditor, Role::Admin]),
        Err(BoundsError::Duplicate { index: 2 })
    );
    assert_eq!(
        BoundedSet::<Domain, 0, 1>::new(vec![Domain::Legal, Domain::Medical]),
        Err(BoundsError::TooMany { max: 1, len: 2 })
    );
    assert!(
        BoundedString::<1, 3>::new("äöü").is_ok(),
        "bounds count characters, not bytes"
    );
    assert_eq!(
        BoundedString::<1, 3>::new("abcd"),
        Err(BoundsError::Length {
            min: 1,
            max: 3,
            len: 4
        })
    );
    assert_eq!(
        BoundedString::<0, 9>::new("a\tb"),
        Err(BoundsError::ControlCharacter)
    );
}

#[test]
fn recipients_distinguish_any_from_explicit_naming() {
    let clinic: Slug = "bay-clinic".parse().expect("slug");
    let other: Slug = "other".parse().expect("slug");
    let named = Recipients::Agencies(BoundedSet::new(vec![clinic.clone()]).expect("set"));
    assert!(Recipients::Any.covers(&clinic) && !Recipients::Any.names_explicitly(&clinic));
    assert!(named.covers(&clinic) && named.names_explicitly(&clinic));
    assert!(!named.covers(&other));
}

#[test]
fn enum_codes_match_their_serde_names() {
    for purpose in ConsentPurpose::ALL {
        assert_eq!(
            serde_json::to_value(purpose).expect("json"),
            purpose.as_str()
        );
    }
    for domain in Domain::ALL {
        assert_eq!(
            serde_json::to_value(domain).expect("json"),
            domain.to_string()
        );
    }
    assert_eq!(Domain::ALL.len(), 7);
}

#[test]
fn error_kinds_map_to_problem_codes() {
    assert_eq!(SchemaErrorKind::StreamMismatch.code(), "stream_mismatch");
    assert_eq!(SchemaErrorKind::UnknownType.code(), "schema_violation");
}

#[test]
fn language_tags_match_without_case_and_count_in_conventional_case() {
    let tag = |t: &str| t.parse::<Language>().expect("tag");
    assert!(tag("es").matches(&tag("ES")));
    assert!(tag("fr-CA").matches(&tag("FR-ca")));
    for (written, canonical) in [
        ("es", "es"),
        ("EN-us", "en-US"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("DE-ch-1901", "de-CH-1901"),
        ("es-419", "es-419"),
        ("en-x-ab-CDEF", "en-x-ab-cdef"),
    ] {
        assert_eq!(tag(written).canonical(), canonical, "{written}");
        // Kept as written: it is part of signed bytes.
        assert_eq!(tag(written).as_str(), written);
    }
}
