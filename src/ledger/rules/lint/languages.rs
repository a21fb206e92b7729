//! Language tags in new events: registered, without free-text parts, each language once.
//!
//! The value type checks BCP 47's shape only, and stored entries must stay readable, so the
//! registry is consulted here, for new writes. The shape alone lets a name through: `maria`
//! fits a 5–8 letter primary subtag (none has ever been registered), `es-garcia` a variant,
//! `es-x-maria-garcia` private use and `es-u-…` an extension, whose subtags are free
//! alphanumerics. A language needs none of these to be named.

use language_tags::LanguageTag;

use super::schema;
use crate::domain::Language;
use crate::ledger::rules::RuleViolation;

/// A tag of registered subtags (IANA Language Subtag Registry, as the `language-tags` crate
/// carries it): a 2–3 letter language, then optionally an extended language, a script, a
/// region and registered variants; no extension, private-use or grandfathered tag.
pub(super) fn registered(field: &str, tag: &Language) -> Result<(), RuleViolation> {
    let refused = |why: &str| {
        Err(schema(format!(
            "{field}: `{tag}` {why}; use a registered tag such as `es`, `fr-CA` or `zh-Hant`"
        )))
    };
    let Ok(parsed) = LanguageTag::parse(tag.as_str()) else {
        return refused("is not a well-formed BCP 47 tag");
    };
    if parsed.extension().is_some() || parsed.private_use().is_some() {
        return refused("has extension or private-use subtags, which are free text");
    }
    if !(2..=3).contains(&parsed.primary_language().len()) {
        return refused("does not start with a 2 or 3 letter language subtag");
    }
    if let Err(e) = parsed.validate() {
        return refused(&format!("is not in the IANA registry ({e})"));
    }
    if private_use_range(&parsed) {
        return refused("uses a private-use range of the registry, whose codes mean anything");
    }
    Ok(())
}

/// Whether a subtag falls in one of the registry's private-use ranges, which `validate`
/// accepts as registered: languages `qaa`–`qtz`, scripts `Qaaa`–`Qabx`, regions `AA`,
/// `QM`–`QZ`, `XA`–`XZ` and `ZZ`. Also the two-letter `q?` languages other than `qu`
/// (Quechua), which the crate's range comparison lets through.
fn private_use_range(tag: &LanguageTag) -> bool {
    let lower = |s: &str| s.to_ascii_lowercase();
    let language = lower(tag.primary_language());
    let language = match language.len() {
        2 => language.starts_with('q') && language != "qu",
        _ => ("qaa"..="qtz").contains(&language.as_str()),
    };
    let script = tag
        .script()
        .is_some_and(|s| ("qaaa"..="qabx").contains(&lower(s).as_str()));
    let region = tag.region().is_some_and(|r| {
        let r = lower(r);
        r == "aa" || r == "zz" || ("qm"..="qz").contains(&r.as_str()) || r.starts_with('x')
    });
    language || script || region
}

/// A list of language tags names each language once: BCP 47 tags are case-insensitive.
pub(super) fn distinct(field: &str, tags: &[Language]) -> Result<(), RuleViolation> {
    for (i, tag) in tags.iter().enumerate() {
        if let Some(earlier) = tags[..i].iter().find(|t| t.matches(tag)) {
            return Err(schema(format!(
                "{field}: `{earlier}` and `{tag}` name the same language (tags are \
                 case-insensitive); list it once"
            )));
        }
    }
    Ok(())
}

/// Every tag of a list registered, and each language once.
pub(super) fn list(field: &str, tags: &[Language]) -> Result<(), RuleViolation> {
    for tag in tags {
        registered(field, tag)?;
    }
    distinct(field, tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(tag: &str) -> Result<(), String> {
        let tag: Language = tag.parse().expect("shape");
        registered("data.language", &tag).map_err(|e| e.message)
    }

    #[test]
    fn registered_tags_pass_and_free_text_shapes_do_not() {
        for ok in [
            "es",
            "fr-CA",
            "zh-Hant-TW",
            "es-419",
            "ase",
            "ar",
            "prs",
            "sr-Latn",
            "ca-valencia",
            "ES",
            "fr-ca",
            "qu",
            "es-QA",
            "es-MX",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("maria", "2 or 3 letter"),
            ("english", "2 or 3 letter"),
            ("es-garcia", "IANA registry"),
            ("es-x-maria", "free text"),
            ("es-u-maria-lopez", "free text"),
            ("zz", "IANA registry"),
            ("es-Mari", "IANA registry"),
            ("es-QQ1", "well-formed"),
            ("qjd", "private-use"),
            ("qb", "private-use"),
            ("es-Qaab", "private-use"),
            ("es-XZ", "private-use"),
            ("es-zz", "private-use"),
            ("es-QM", "private-use"),
            ("es-AA", "private-use"),
        ] {
            let err = check(bad).expect_err(bad);
            assert!(err.starts_with("data.language: `"), "{err}");
            assert!(err.contains(why), "{bad}: {err}");
        }
        // Private-use and grandfathered tags that start with a singleton fail the shape.
        for bad in ["x-klingon", "i-klingon"] {
            assert!(bad.parse::<Language>().is_err(), "{bad}");
        }
    }
}
