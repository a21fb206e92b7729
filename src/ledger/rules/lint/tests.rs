use serde_json::{json, Value};

use super::*;
use crate::domain::fixtures::example_payload;

/// Writes a text into one field of a payload.
type Setter = fn(&mut Value, &str);

/// The example event of `type_name` with `edit` applied, through the lint.
fn lint(type_name: &str, edit: impl Fn(&mut Value)) -> Result<(), String> {
    let mut payload = example_payload(type_name).expect("a catalogue type");
    edit(&mut payload);
    let bytes = serde_json::to_vec(&payload).expect("json");
    let event = EventPayload::parse(&bytes).expect("the parser accepts it");
    new_event(&event).map_err(|v| {
        assert_eq!(v.code, Code::SchemaViolation);
        v.message
    })
}

#[test]
fn invisible_formatting_in_bounded_text_is_refused_and_named() {
    for type_name in ["agency.registered", "agency.updated", "consent.granted"] {
        assert_eq!(lint(type_name, |_| {}), Ok(()), "{type_name}");
    }
    let cases: [(&str, Setter, &str); 4] = [
        (
            "agency.registered",
            |p, t| p["data"]["name"] = json!(t),
            "data.name",
        ),
        (
            "agency.updated",
            |p, t| p["data"]["region"] = json!(t),
            "data.region",
        ),
        (
            "agency.registered",
            |p, t| p["data"]["eligibility"]["notes"] = json!(t),
            "data.eligibility.notes",
        ),
        (
            "consent.granted",
            |p, t| p["data"]["notice_version"] = json!(t),
            "data.notice_version",
        ),
    ];
    for (type_name, set, field) in cases {
        // A right-to-left override, a zero-width space, a word joiner, a tag character.
        for (c, named) in [
            ('\u{202E}', "U+202E"),
            ('\u{200B}', "U+200B"),
            ('\u{2060}', "U+2060"),
            ('\u{E0041}', "U+E0041"),
        ] {
            let text = format!("v1{c}x");
            let message = lint(type_name, |p| set(p, &text)).expect_err("refused");
            assert!(message.starts_with(field), "{message}");
            assert!(message.contains(named), "{message}");
        }
        // Letters of any script, accents and spaces are text, not formatting (and a
        // notice version is a code, below).
        if field != "data.notice_version" {
            assert_eq!(lint(type_name, |p| set(p, "Société d'aide – Øst")), Ok(()));
        }
    }
}

#[test]
fn the_nil_uuid_is_not_an_event_id() {
    let nil = "00000000-0000-0000-0000-000000000000";
    let message = lint("agency.updated", |p| p["event_id"] = json!(nil)).expect_err("nil");
    assert_eq!(message, "event_id: the nil UUID is not an event id");
    let one = "00000000-0000-0000-0000-000000000001";
    assert_eq!(
        lint("agency.updated", |p| p["event_id"] = json!(one)),
        Ok(())
    );
}

#[test]
fn a_notice_version_is_a_code_not_text() {
    let set = |v: &str| {
        lint("consent.granted", |p| {
            p["data"]["notice_version"] = json!(v)
        })
    };
    for ok in ["v1", "1", "2026-01", "EN_3.2", "V2.0-rc1"] {
        assert_eq!(set(ok), Ok(()), "{ok}");
    }
    for text in [
        "Maria Lopez 1990-02-03",
        "Марія Лопес",
        "v1 2",
        "-v1",
        ".1",
        "v1/2",
        "v1,2",
        "été",
    ] {
        let message = set(text).expect_err(text);
        assert!(
            message.starts_with("data.notice_version: a version code"),
            "{message}"
        );
    }
}

#[test]
fn every_listed_range_is_refused_at_both_ends_and_its_neighbours_are_not() {
    for &(lo, hi) in INVISIBLE {
        for c in [lo, hi] {
            let text = format!("ab{c}cd");
            assert!(visible("f", &text).is_err(), "U+{:04X}", c as u32);
        }
    }
    // Letters, marks and symbols next to the ranges are text.
    for c in [
        '\u{00AC}', '\u{00AE}', '\u{0606}', '\u{200A}', '\u{2027}', '\u{2030}', '\u{FE10}',
    ] {
        assert!(!invisible(c), "U+{:04X}", c as u32);
    }
}

#[test]
fn zero_width_joiners_are_allowed_only_where_a_script_needs_them() {
    for word in [
        // Persian "mikhaham": a non-joiner between two letters that would join.
        "\u{0645}\u{06CC}\u{200C}\u{062E}\u{0648}\u{0627}\u{0647}\u{0645}",
        // The same across a vowel mark.
        "\u{0645}\u{064E}\u{200C}\u{062E}",
        // Devanagari: a joiner and a non-joiner after the virama, inside a word; a
        // Malayalam chillu (virama and joiner ending a word).
        "\u{0915}\u{094D}\u{200D}\u{0937}",
        "\u{0915}\u{094D}\u{200C}\u{0937}",
        "\u{0D38}\u{0D30}\u{0D4D}\u{200D} \u{0D28}\u{0D4D}\u{200D}",
        // Before a right-joining letter, with a vowel mark after the non-joiner.
        "\u{0645}\u{200C}\u{064E}\u{0627}",
    ] {
        assert_eq!(
            visible("f", word).map_err(|v| v.message),
            Ok(()),
            "{word:?}"
        );
    }
    for text in [
        // Latin, and Cyrillic (a look-alike of the name without it).
        "ab\u{200C}cd",
        "\u{0418}\u{200C}\u{0432}\u{0430}\u{043D}",
        // At either end, doubled, beside a space.
        "\u{200D}\u{0645}",
        "\u{0645}\u{200C}",
        "\u{0645}\u{200C}\u{200C}\u{0645}",
        "\u{0645} \u{200C}\u{0645}",
        // A joiner between Arabic letters; a non-joiner after a right-joining dal (it
        // changes nothing on screen), after hamza, or between presentation forms.
        "\u{0645}\u{200D}\u{0645}",
        "\u{062F}\u{200C}\u{0627}\u{0648}\u{062F}",
        "\u{0621}\u{200C}\u{0645}",
        "\u{FEE3}\u{200C}\u{FEE4}",
        // A non-joiner ending a word after a virama (it changes nothing there).
        "\u{0915}\u{094D}\u{200C}",
        "\u{0915}\u{094D}\u{200C} x",
        // Beside a tatweel (join-causing, not a joining letter), or a low alef.
        "\u{0640}\u{200C}\u{0645}",
        "\u{0645}\u{200C}\u{08AD}",
    ] {
        assert!(visible("f", text).is_err(), "{text:?}");
    }
}

#[test]
fn every_language_field_takes_registered_tags_only() {
    let fields: [(&str, &[&str], bool); 5] = [
        ("agency.registered", &["languages"], true),
        ("consent.granted", &["language"], false),
        ("consent.granted", &["interpreter", "language"], false),
        ("inquiry.sent", &["language_needed"], false),
        ("inquiry.answered", &["interpretation_languages"], true),
    ];
    for (type_name, path, list) in fields {
        let set = |tag: &str| {
            let value = if list { json!([tag]) } else { json!(tag) };
            move |p: &mut Value| {
                let mut at = &mut p["data"];
                for key in path {
                    at = &mut at[*key];
                }
                *at = value.clone();
            }
        };
        let name = format!("data.{}", path.join("."));
        assert_eq!(lint(type_name, set("fr-CA")), Ok(()), "{name}");
        let message = lint(type_name, set("maria")).expect_err("a name as a tag");
        assert!(
            message.starts_with(&format!("{name}: `maria`")),
            "{message}"
        );
    }
}

#[test]
fn a_language_listed_twice_in_different_case_is_refused() {
    let message = lint("agency.registered", |p| {
        p["data"]["languages"] = json!(["es", "fr-CA", "FR-ca"])
    })
    .expect_err("refused");
    assert!(message.starts_with("data.languages:"), "{message}");
    assert!(message.contains("`fr-CA` and `FR-ca`"), "{message}");
    let message = lint("inquiry.answered", |p| {
        p["data"]["interpretation_languages"] = json!(["ES", "es"])
    })
    .expect_err("refused");
    assert!(
        message.starts_with("data.interpretation_languages:"),
        "{message}"
    );
    for ok in [json!(["es", "fr-CA", "fr"]), json!([])] {
        assert_eq!(
            lint("inquiry.answered", |p| p["data"]
                ["interpretation_languages"] =
                ok.clone()),
            Ok(())
        );
        assert_eq!(
            lint("agency.updated", |p| p["data"]["languages"] = ok.clone()),
            Ok(())
        );
    }
}

#[test]
fn a_new_key_must_spell_its_point_canonically() {
    use base64::Engine as _;
    // y = p + 2 (2^255 − 17): the decoder reads y = 2; the canonical spelling is another id.
    let mut y = [0xff; 32];
    y[31] = 0x7f;
    y[0] = 0xef;
    let key = base64::engine::general_purpose::STANDARD.encode(y);
    for type_name in ["principal.registered", "principal.key_added"] {
        let message = lint(type_name, |p| p["data"]["public_key"] = json!(key)).expect_err("y ≥ p");
        assert!(
            message.starts_with("data.public_key: not the canonical"),
            "{message}"
        );
        y[31] = 0xff; // the sign bit is not part of y
        let signed = base64::engine::general_purpose::STANDARD.encode(y);
        assert!(lint(type_name, |p| p["data"]["public_key"] = json!(signed)).is_err());
        y[31] = 0x7f;
        assert_eq!(lint(type_name, |_| {}), Ok(()));
    }
}
