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

/// A new key spells its point canonically: the same point under another spelling would be
/// another key id, so one key could be registered twice (harmless for signing, as only
/// points with y < 19 have such spellings, but not what a registry of keys should hold).
fn canonical_key(key: &crate::domain::PublicKeyB64) -> Result<(), RuleViolation> {
    match crate::domain::keys::canonical_y(key.as_bytes()) {
        true => Ok(()),
        false => Err(schema(
            "data.public_key: not the canonical encoding of an Ed25519 point (y ≥ 2^255 − 19)"
                .into(),
        )),
    }
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
    // EventStoreDB refuses an empty event id (its writer would retry it until it gave up).
    if event.event_id.is_nil() {
        return Err(schema("event_id: the nil UUID is not an event id".into()));
    }
    match &event.data {
        EventData::PrincipalRegistered(d) => canonical_key(&d.public_key),
        EventData::PrincipalKeyAdded(d) => canonical_key(&d.public_key),
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
mod tests;
