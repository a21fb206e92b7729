//! Where the zero-width joiner (U+200D) and non-joiner (U+200C) are part of a spelling:
//! RFC 5892's CONTEXTJ rules. After a virama they choose how a Brahmic conjunct renders; the
//! non-joiner also keeps two Arabic-script letters that would join apart, as Persian
//! spelling needs. Anywhere else they only hide or split text.

/// Viramas (canonical combining class 9): after one, a zero-width joiner or non-joiner
/// selects how Indic and other Brahmic scripts render a conjunct (RFC 5892, A.1 and A.2).
const VIRAMAS: &[char] = &[
    '\u{094D}',
    '\u{09CD}',
    '\u{0A4D}',
    '\u{0ACD}',
    '\u{0B4D}',
    '\u{0BCD}',
    '\u{0C4D}',
    '\u{0CCD}',
    '\u{0D3B}',
    '\u{0D3C}',
    '\u{0D4D}',
    '\u{0DCA}',
    '\u{0E3A}',
    '\u{0EBA}',
    '\u{0F84}',
    '\u{1039}',
    '\u{103A}',
    '\u{1714}',
    '\u{1715}',
    '\u{1734}',
    '\u{17D2}',
    '\u{1A60}',
    '\u{1B44}',
    '\u{1BAA}',
    '\u{1BAB}',
    '\u{1BF2}',
    '\u{1BF3}',
    '\u{2D7F}',
    '\u{A806}',
    '\u{A82C}',
    '\u{A8C4}',
    '\u{A953}',
    '\u{A9C0}',
    '\u{AAF6}',
    '\u{ABED}',
    '\u{10A3F}',
    '\u{11046}',
    '\u{11070}',
    '\u{1107F}',
    '\u{110B9}',
    '\u{11133}',
    '\u{11134}',
    '\u{111C0}',
    '\u{11235}',
    '\u{112EA}',
    '\u{1134D}',
    '\u{11442}',
    '\u{114C2}',
    '\u{115BF}',
    '\u{1163F}',
    '\u{116B6}',
    '\u{1172B}',
    '\u{11839}',
    '\u{1193D}',
    '\u{1193E}',
    '\u{119E0}',
    '\u{11A34}',
    '\u{11A47}',
    '\u{11A99}',
    '\u{11C3F}',
    '\u{11D44}',
    '\u{11D45}',
    '\u{11D97}',
];

/// Marks that joining skips over (Arabic vowel signs and other non-spacing marks).
fn transparent(c: char) -> bool {
    matches!(c,
        '\u{0610}'..='\u{061A}' | '\u{064B}'..='\u{065F}' | '\u{0670}' | '\u{06D6}'..='\u{06DC}'
        | '\u{06DF}'..='\u{06E4}' | '\u{06E7}'..='\u{06E8}' | '\u{06EA}'..='\u{06ED}'
        | '\u{0898}'..='\u{089F}' | '\u{08CA}'..='\u{08E1}' | '\u{08E3}'..='\u{08FF}')
}

/// Arabic-script letters that join to the letter before them (dual- and right-joining).
fn joins_before(c: char) -> bool {
    matches!(c,
        '\u{0620}' | '\u{0622}'..='\u{063F}' | '\u{0641}'..='\u{064A}' | '\u{066E}'..='\u{066F}'
        | '\u{0671}'..='\u{0673}' | '\u{0675}'..='\u{06D3}' | '\u{06D5}' | '\u{06EE}'..='\u{06EF}'
        | '\u{06FA}'..='\u{06FC}' | '\u{06FF}' | '\u{0750}'..='\u{077F}' | '\u{0870}'..='\u{0882}'
        | '\u{0886}' | '\u{0889}'..='\u{088E}' | '\u{08A0}'..='\u{08AC}' | '\u{08AE}'..='\u{08C8}')
}

/// Right-joining letters: they join to the letter before them, never to the one after
/// (alef, dal, thal, reh, zain, waw and their kin), so a non-joiner after one changes
/// nothing on screen.
fn right_joining(c: char) -> bool {
    matches!(c,
        '\u{0622}'..='\u{0625}' | '\u{0627}' | '\u{0629}' | '\u{062F}'..='\u{0632}' | '\u{0648}'
        | '\u{0671}'..='\u{0673}' | '\u{0675}'..='\u{0677}' | '\u{0688}'..='\u{0699}'
        | '\u{06C0}' | '\u{06C3}'..='\u{06CB}' | '\u{06CD}' | '\u{06CF}' | '\u{06D2}'..='\u{06D3}'
        | '\u{06D5}' | '\u{06EE}'..='\u{06EF}' | '\u{0759}'..='\u{075B}' | '\u{076B}'..='\u{076C}'
        | '\u{0771}' | '\u{0773}'..='\u{0774}' | '\u{0778}'..='\u{0779}' | '\u{08AA}'..='\u{08AC}'
        | '\u{08AE}' | '\u{08B1}'..='\u{08B2}' | '\u{08B9}' | '\u{0870}'..='\u{0882}' | '\u{088E}')
}

/// Whether the joiner or non-joiner at `chars[i]` is part of the spelling.
pub(super) fn needed(chars: &[char], i: usize) -> bool {
    let before = i.checked_sub(1).map(|j| chars[j]);
    let after_virama = before.is_some_and(|b| VIRAMAS.contains(&b));
    // A joiner may end a word (Malayalam chillus and Bengali khanda-ta are spelled so); a
    // non-joiner changes nothing there, so it must come before a letter.
    let letter_after = chars
        .get(i + 1)
        .is_some_and(|&c| c.is_alphabetic() && !super::invisible(c));
    match chars[i] {
        '\u{200D}' => after_virama,
        '\u{200C}' => (after_virama && letter_after) || between_joining_letters(chars, i),
        _ => false,
    }
}

/// A non-joiner between a letter that would join the next one (dual-joining) and a letter
/// that would join the one before (dual- or right-joining), vowel marks skipped: RFC 5892's
/// `(L|D) T* ZWNJ T* (R|D)`, for the Arabic script (which has no left-joining letters).
fn between_joining_letters(chars: &[char], i: usize) -> bool {
    let before = chars[..i].iter().rev().find(|&&c| !transparent(c));
    let after = chars[i + 1..].iter().find(|&&c| !transparent(c));
    before.is_some_and(|&b| joins_before(b) && !right_joining(b))
        && after.is_some_and(|&a| joins_before(a))
}
