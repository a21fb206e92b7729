//! Scanning JSON in the exact spelling our own writers produce (log entries, bundle
//! entries): fixed member order, no whitespace. A scan either reads the same values a JSON
//! parser would, or declines (returns `None`) so the caller falls back to `serde_json`. It is
//! the fast path of folds and verification, which read millions of such documents.

use std::borrow::Cow;

/// A cursor over bytes in our writers' spelling.
pub struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// What is left to read.
    #[cfg(test)]
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }

    /// Whether everything has been read.
    pub fn at_end(&self) -> bool {
        self.rest.is_empty()
    }

    /// Consumes `expected` exactly.
    pub fn lit(&mut self, expected: &str) -> Option<()> {
        self.rest = self.rest.strip_prefix(expected.as_bytes())?;
        Some(())
    }

    /// Consumes `expected` if it comes next.
    pub fn eat(&mut self, expected: u8) -> bool {
        match self.rest.split_first() {
            Some((&b, rest)) if b == expected => {
                self.rest = rest;
                true
            }
            _ => false,
        }
    }

    /// A string's contents up to its closing quote (the opening one already consumed):
    /// UTF-8 without control characters or backslashes, so it means exactly its bytes.
    pub fn string(&mut self) -> Option<Cow<'a, str>> {
        let end = memchr::memchr(b'"', self.rest)?;
        let (text, rest) = self.rest.split_at(end);
        // One pass without early exit, so the check runs over whole vectors.
        let odd = text
            .iter()
            .fold(false, |seen, &b| seen | (b < 0x20) | (b == b'\\'));
        if odd {
            return None;
        }
        self.rest = &rest[1..];
        std::str::from_utf8(text).ok().map(Cow::Borrowed)
    }

    /// A string's contents, unescaped, when its only escapes are `\"` and `\\` (how our
    /// writers spell one JSON document inside another). Declines anything else.
    pub fn escaped_string(&mut self) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(self.rest.len().min(4096));
        let mut rest = self.rest;
        // Bytes seen or-ed together: UTF-8 needs checking only if one has its top bit set.
        let mut high = 0u8;
        loop {
            let stop = memchr::memchr2(b'"', b'\\', rest)?;
            let (plain, tail) = rest.split_at(stop);
            // One pass without early exit, so that it runs over whole vectors.
            let (control, bits) = plain
                .iter()
                .fold((false, 0u8), |(c, h), &b| (c | (b < 0x20), h | b));
            if control {
                return None;
            }
            high |= bits;
            out.extend_from_slice(plain);
            match tail {
                [b'"', after @ ..] => {
                    self.rest = after;
                    if high >= 0x80 {
                        std::str::from_utf8(&out).ok()?;
                    }
                    return Some(out);
                }
                [b'\\', c @ (b'"' | b'\\'), after @ ..] => {
                    out.push(*c);
                    rest = after;
                }
                _ => return None,
            }
        }
    }

    /// The rest of an array (its `[` already consumed) whose items are strings of exactly
    /// `width` bytes that each satisfy `valid` (which must exclude `\\`, control characters
    /// and non-ASCII bytes; quotes, commas and brackets inside an item are declined here),
    /// separated by single commas: the text between the brackets, the closing `]` consumed.
    pub fn fixed_strings(&mut self, width: usize, valid: impl Fn(u8) -> bool) -> Option<&'a [u8]> {
        let rest = self.rest;
        // No item byte may be `]`, so the first one closes the array.
        let close = memchr::memchr(b']', rest)?;
        let text = &rest[..close];
        let stride = width + 3;
        let items = (text.len() + 1) / stride;
        if !text.is_empty() && (items == 0 || items * stride != text.len() + 1) {
            return None;
        }
        // Simple passes over the whole text without early exit, so that each runs over whole
        // vectors: every byte is an item byte, a quote or a comma, and there are exactly as
        // many quotes and commas as the layout places.
        let ok = text
            .iter()
            .fold(true, |ok, &b| ok & (valid(b) | (b == b'"') | (b == b',')));
        let quotes = memchr::memchr_iter(b'"', text).count();
        let commas = memchr::memchr_iter(b',', text).count();
        let placed = (0..items).all(|i| {
            let at = i * stride;
            text[at] == b'"'
                && text[at + width + 1] == b'"'
                && (i + 1 == items || text[at + width + 2] == b',')
        });
        let counted = quotes == 2 * items && commas == items.saturating_sub(1);
        if !(ok && placed && counted) {
            return None;
        }
        self.rest = &rest[close + 1..];
        Some(text)
    }

    /// The text of the object or array that comes next, found by tracking strings and
    /// nesting only: whoever parses the text checks the rest (a text that is not JSON fails
    /// there, or leaves this cursor before what the caller expects next).
    pub fn nested(&mut self) -> Option<&'a [u8]> {
        let bytes = self.rest;
        if !matches!(bytes.first(), Some(b'{' | b'[')) {
            return None;
        }
        let (mut i, mut depth) = (0, 0usize);
        while let Some(&b) = bytes.get(i) {
            match b {
                b'"' => loop {
                    i += 1;
                    i += memchr::memchr2(b'"', b'\\', bytes.get(i..)?)?;
                    if bytes[i] == b'"' {
                        break;
                    }
                    i += 1;
                },
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        self.rest = &bytes[i + 1..];
                        return Some(&bytes[..=i]);
                    }
                }
                _ => {}
            }
            i += 1;
        }
        None
    }

    /// An unsigned integer in JSON's spelling (no leading zero), within `u64`.
    pub fn number(&mut self) -> Option<u64> {
        let len = self.rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let (digits, rest) = self.rest.split_at(len);
        if digits.is_empty() || (digits.len() > 1 && digits[0] == b'0') {
            return None;
        }
        let n = digits.iter().try_fold(0u64, |n, d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })?;
        self.rest = rest;
        Some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn numbers_and_strings_in_json_spelling() {
        let mut c = Cursor::new(br#"120,"ab","x\"y\\z""#);
        assert_eq!(c.number(), Some(120));
        assert!(c.eat(b','));
        assert!(c.eat(b'"'));
        assert_eq!(c.string().as_deref(), Some("ab"));
        assert!(c.eat(b','));
        assert!(c.eat(b'"'));
        assert_eq!(c.escaped_string(), Some(br#"x"y\z"#.to_vec()));
        assert!(c.at_end());
        assert_eq!(Cursor::new(b"007").number(), None);
        assert_eq!(Cursor::new(b"18446744073709551616").number(), None);
        assert_eq!(
            Cursor::new(b"18446744073709551615,").number(),
            Some(u64::MAX)
        );
        // Bytes that are not UTF-8, before or after an escape, are declined.
        assert_eq!(Cursor::new(b"a\xffb\"").string(), None);
        assert_eq!(Cursor::new(b"a\xffb\"").escaped_string(), None);
        assert_eq!(Cursor::new(b"a\\\"\xc3\"").escaped_string(), None);
        assert_eq!(
            Cursor::new("a\\\"\u{e9}\"".as_bytes()).escaped_string(),
            Some("a\"\u{e9}".as_bytes().to_vec())
        );
        assert_eq!(Cursor::new(br#"a\"b""#).string(), None);
        assert_eq!(Cursor::new(br#"a\nb""#).escaped_string(), None);
        assert_eq!(Cursor::new(b"a\tb\"").string(), None);
    }

    #[test]
    fn nested_values_end_where_their_nesting_closes() {
        let mut c = Cursor::new(br#"{"a":["}",{"b":"\"]"}],"c":1},"next""#);
        assert_eq!(c.nested(), Some(&br#"{"a":["}",{"b":"\"]"}],"c":1}"#[..]));
        assert!(c.lit(r#","next""#).is_some() && c.at_end());
        assert_eq!(Cursor::new(b"[[]]x").nested(), Some(&b"[[]]"[..]));
        for bad in [&b"{"[..], br#"{"a":"}"#, b"1", br#"{"a\"}"#] {
            assert_eq!(Cursor::new(bad).nested(), None, "{bad:?}");
        }
    }

    #[test]
    fn fixed_width_string_lists() {
        let alnum = |b: u8| b.is_ascii_alphanumeric();
        let mut c = Cursor::new(br#""ab","cd"]}"#);
        assert_eq!(c.fixed_strings(2, alnum), Some(&br#""ab","cd""#[..]));
        assert!(c.eat(b'}') && c.at_end());
        assert_eq!(Cursor::new(b"]").fixed_strings(2, alnum), Some(&b""[..]));
        for bad in [
            &br#""ab","c"]"#[..],
            br#""ab",]"#,
            br#""a!"]"#,
            br#""ab""#,
            br#""ab" ]"#,
            br#""a"",""b"]"#,
            br#""a,","b"]"#,
            br#""a\","b"]"#,
            br#""ab""cd"]"#,
            br#""ab","cd",]"#,
            br#","ab","c"]"#,
        ] {
            assert_eq!(Cursor::new(bad).fixed_strings(2, alnum), None, "{bad:?}");
        }
    }

    proptest! {
        /// A list of the exact layout is read; with any byte changed to one that matters to
        /// JSON, whatever the scan still accepts, serde_json reads as the same list.
        #[test]
        fn fixed_width_lists_agree_with_serde_json(
            items in proptest::collection::vec("[ab]{2}", 0..4),
            flip in 0usize..24,
            byte in proptest::sample::select(b"\",]\\ a}".to_vec()),
        ) {
            let alnum = |b: u8| b.is_ascii_alphanumeric();
            let quoted: Vec<String> = items.iter().map(|i| format!("\"{i}\"")).collect();
            let text = format!("{}]}}", quoted.join(","));
            let mut flipped = text.clone().into_bytes();
            if let Some(b) = flipped.get_mut(flip) { *b = byte; }
            prop_assert_eq!(
                Cursor::new(text.as_bytes()).fixed_strings(2, alnum),
                Some(&text.as_bytes()[..text.len() - 2])
            );
            let mut c = Cursor::new(&flipped);
            if let Some(inner) = c.fixed_strings(2, alnum) {
                let json = format!("[{}]", std::str::from_utf8(inner).expect("utf-8"));
                let read: Vec<String> = serde_json::from_str(&json).expect("serde reads it");
                prop_assert!(read.iter().all(|i| i.len() == 2 && i.bytes().all(alnum)));
                prop_assert_eq!(read.len(), (inner.len() + 1) / 5);
                prop_assert_eq!(flipped.len() - c.rest.len(), inner.len() + 1);
            }
        }

        /// Whatever an escaped string scan accepts, serde_json reads to the same text.
        #[test]
        fn escaped_strings_agree_with_serde_json(text in "[ -~é\t\n]{0,40}", cut in 0usize..60) {
            let json = serde_json::to_string(&text).expect("string");
            for candidate in [json.as_bytes(), &json.as_bytes()[..cut.min(json.len())]] {
                let mut c = Cursor::new(&candidate[1.min(candidate.len())..]);
                if let Some(out) = c.escaped_string() {
                    let parsed: String = serde_json::from_slice(candidate).expect("serde reads it");
                    prop_assert_eq!(out, parsed.into_bytes());
                }
            }
        }
    }
}
