//! Checks the writer applies to new events only, after the parser has accepted them: stored
//! entries written before these checks existed must stay readable (the parser reads them, and
//! the offline verifier replays [`super::decide`], which does not run these), so they live
//! here rather than in the value types.

mod joiners;
mod languages;

use super::{Code, RuleViolation};
use crate::domain::{EventData, EventPayload};

/// Characters that render as nothing or reorder text: a name spelled with them can look
/// like another (U+202E reverses what follows), and they can hide text inside a field that
/// looks short and coded. The format characters (general category Cf), the line and
/// paragraph separators, and the other default-ignorable code points (Hangul fillers,
/// variation selectors, tags). The zero-width joiners U+200C and U+200D are in the list but
/// allowed where Indic and Persian spellings need them ([`joiners::needed`]).
const INVISIBLE: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{034F}', '\u{034F}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{115F}', '\u{1160}'),
    ('\u{17B4}', '\u{17B5}'),
    ('\u{180B}', '\u{180F}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{2028}', '\u{202E}'),
    ('\u{2060}', '\u{206F}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{FE00}', '\u{FE0F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFA0}', '\u{FFA0}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0000}', '\u{E0FFF}'),
];

fn invisible(c: char) -> bool {
    INVISIBLE.iter().any(|&(lo, hi)| (lo..=hi).contains(&c))
}

fn schema(message: String) -> RuleViolation {
    RuleViolation::new(Code::SchemaViolation, message)
}

/// Bounded text holds no invisible formatting characters.
fn visible(field: &str, text: &str) -> Result<(), RuleViolation> {
    let chars: Vec<char> = text.chars().collect();
    let hidden = chars
        .iter()
        .enumerate()
        .find(|&(i, &c)| invisible(c) && !joiners::needed(&chars, i));
    match hidden {
        Some((_, &c)) => Err(schema(format!(
            "{field}: invisible formatting characters are not allowed (found U+{:04X})",
            c as u32
        ))),
        None => Ok(()),
    }
}

/// A version code (`v1`, `2026-01`, `EN_3.2`): an ASCII letter or digit, then letters,
/// digits, `.`, `-` or `_`. DESIGN bounds `notice_version` only by its length, which leaves
/// 32 characters of free text in the case stream ("Maria Lopez 1990-02-03" fits).
fn version_code(field: &str, text: &str) -> Result<(), RuleViolation> {
    let mut chars = text.chars();
    let first = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if first && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')) {
        return Ok(());
    }
    Err(schema(format!(
        "{field}: a version code of ASCII letters and digits, then also `.` `-` `_` \
         (e.g. `v1` or `2026-01`), not text"
    )))
}

/// The write-time-only checks of a new `consent.granted` that need the registry: its
/// `witness` is a registered principal of the case's owner agency (staff present at the
/// conversation; and a coordinator learns nothing of other agencies' principals by trying
/// ids) and each listed recipient a registered agency. DESIGN types both as slugs only,
/// which would leave a witness of 63 characters, and 50 recipients of 63, as free text in
/// the case stream. Runs after the case rules, so the case exists.
pub(super) fn consent_names(
    state: &crate::ledger::LedgerState,
    event: &EventPayload,
    d: &crate::domain::ConsentGranted,
) -> Result<(), RuleViolation> {
    if let Some(w) = &d.witness {
        let owner = case_owner(state, event);
        let staff = (state.registry.principals.get(w))
            .filter(|p| p.active)
            .map(|p| &p.agency);
        if staff.is_none() || staff != owner {
            return Err(schema(format!(
                "data.witness: {w} is not an active registered principal of the case's owner \
                 agency"
            )));
        }
    }
    if let crate::domain::Recipients::Agencies(agencies) = &d.recipients {
        if let Some(a) = agencies
            .iter()
            .find(|a| !state.registry.agencies.contains_key(*a))
        {
            return Err(schema(format!(
                "data.recipients: {a} is not a registered agency"
            )));
        }
    }
    Ok(())
}

/// The write-time-only check of a new `inquiry.sent` or `referral.made`: it goes to another
/// agency than the case's owner. Asking one's own agency is not an inquiry or a referral;
/// allowed, it let any of the owner's staff write the addressed agency's steps in the case
/// (answers, acceptance, services) without being its coordinator, and counted the owner in
/// its own statistics as an agency asked or referred to. Runs after the case rules, so the
/// case exists.
pub(super) fn to_another_agency(
    state: &crate::ledger::LedgerState,
    event: &EventPayload,
    agency: &crate::domain::AgencyId,
) -> Result<(), RuleViolation> {
    match case_owner(state, event) {
        Some(owner) if owner == agency => Err(schema(format!(
            "data.agency: {agency} owns the case; inquiries and referrals go to other agencies"
        ))),
        _ => Ok(()),
    }
}

/// The owner agency of the case `event` is for, if it is for a case that exists.
fn case_owner<'s>(
    state: &'s crate::ledger::LedgerState,
    event: &EventPayload,
) -> Option<&'s crate::domain::AgencyId> {
    match &event.stream {
        crate::domain::StreamId::Case(id) => state.cases.owner(id),
        _ => None,
    }
}

/// The write-time-only schema checks of a new event.
pub(super) fn new_event(event: &EventPayload) -> Result<(), RuleViolation> {
    match &event.data {
        EventData::AgencyRegistered(d) | EventData::AgencyUpdated(d) => {
            visible("data.name", d.name.as_str())?;
            visible("data.region", d.region.as_str())?;
            visible("data.eligibility.notes", d.eligibility.notes.as_str())?;
            languages::list("data.languages", &d.languages)
        }
        EventData::ConsentGranted(d) => {
            visible("data.notice_version", d.notice_version.as_str())?;
            version_code("data.notice_version", d.notice_version.as_str())?;
            languages::registered("data.language", &d.language)?;
            match &d.interpreter.language {
                Some(l) => languages::registered("data.interpreter.language", l),
                None => Ok(()),
            }
        }
        EventData::InquirySent(d) => match &d.language_needed {
            Some(l) => languages::registered("data.language_needed", l),
            None => Ok(()),
        },
        EventData::InquiryAnswered(d) => {
            languages::list("data.interpretation_languages", &d.interpretation_languages)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
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
}
