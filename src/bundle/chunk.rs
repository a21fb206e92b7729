//! Raw bundle entries handed from the reader to the verifier, not yet parsed.
//!
//! The reader finds entries one of two ways. Exactly, by tracking strings and nesting byte
//! by byte. Or, when the bundle has the exporter's layout (one entry per line), by taking a
//! line that looks like an entry as a *candidate*, which costs one newline search instead of
//! a pass over every escaped quote. A raw newline cannot occur inside a JSON string, so a
//! candidate holds whole values: in a valid bundle, one entry or several on the same line.
//! The verifier's exact entry scan confirms each candidate; a chunk with a candidate it
//! cannot confirm is re-split exactly ([`RawChunk::resolve`]) before anything is judged.

use super::read::{split_values, ReadError};
use super::BundleEntry;

/// The raw JSON bytes of consecutive bundle entries, one span per entry.
#[derive(Debug, Default, Clone)]
pub struct RawChunk {
    bytes: Vec<u8>,
    spans: Vec<(usize, usize)>,
    /// Some spans are line candidates, not yet known to hold exactly one value.
    tentative: bool,
}

impl RawChunk {
    /// Serialises in-memory entries (tests, small bundles).
    pub fn from_entries(entries: &[BundleEntry]) -> Self {
        let mut c = Self::default();
        for e in entries {
            let start = c.bytes.len();
            serde_json::to_writer(&mut c.bytes, e).expect("entry serialises");
            c.spans.push((start, c.bytes.len()));
        }
        c
    }

    /// A chunk of the entries at `spans` in `bytes` (the buffer they were read into).
    pub(super) fn from_parts(bytes: Vec<u8>, spans: Vec<(usize, usize)>, tentative: bool) -> Self {
        Self {
            bytes,
            spans,
            tentative,
        }
    }

    /// The chunk's memory, to read into again: its buffer (bytes kept, so that they need
    /// not be zeroed again) and its emptied span list.
    pub(super) fn into_parts(self) -> (Vec<u8>, Vec<(usize, usize)>) {
        let mut spans = self.spans;
        spans.clear();
        (self.bytes, spans)
    }

    /// Adds one entry; `candidate` when it was cut at a line end rather than scanned exactly.
    pub(super) fn push(&mut self, raw: &[u8], candidate: bool) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(raw);
        self.spans.push((start, self.bytes.len()));
        self.tentative |= candidate;
    }

    /// Number of entries (of candidates, while [`Self::is_tentative`]).
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Bytes of entries held.
    pub fn bytes_held(&self) -> usize {
        self.spans.iter().map(|&(s, e)| e - s).sum()
    }

    /// Whether the chunk holds no entry.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Whether some spans are unconfirmed line candidates.
    pub fn is_tentative(&self) -> bool {
        self.tentative
    }

    /// The raw JSON of each entry, in order.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        self.spans.iter().map(|&(s, e)| &self.bytes[s..e])
    }

    /// The same entries split exactly, each candidate into the values it holds, handed to
    /// `piece` in order in chunks of at most `at_most` entries until it returns `false`:
    /// a hostile chunk of lines holding millions of small values is never prepared whole.
    /// (A candidate is at most a line of a megabyte, so its values' spans stay small.)
    /// On a spot that is not a value, the values before it are handed over before the
    /// error is returned: one of them may fail first.
    pub fn resolve(
        &self,
        at_most: usize,
        piece: &mut dyn FnMut(RawChunk) -> bool,
    ) -> Result<(), ReadError> {
        let at_most = at_most.max(1);
        let mut out = Self::default();
        let mut values = Vec::new();
        for &(s, e) in &self.spans {
            values.clear();
            let split = split_values(&self.bytes[s..e], &mut values);
            for &(a, b) in &values {
                out.push(&self.bytes[s + a..s + b], false);
                if out.len() == at_most && !piece(std::mem::take(&mut out)) {
                    return Ok(());
                }
            }
            if let Err(e) = split {
                if !out.is_empty() && !piece(out) {
                    return Ok(());
                }
                return Err(e);
            }
        }
        if !out.is_empty() {
            piece(out);
        }
        Ok(())
    }
}

/// JSON's whitespace: space, tab, line feed, carriage return (not form feed, unlike
/// `u8::is_ascii_whitespace`).
pub(super) fn is_json_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

pub(super) fn trim_json_space(mut text: &[u8]) -> &[u8] {
    while let [rest @ .., last] = text {
        if !is_json_space(*last) {
            break;
        }
        text = rest;
    }
    text
}

/// Whether `line` ends the way an entry's line does in a valid bundle: a string, then the
/// arrays and objects closed by `"]}` (its last proof hash), or an empty proof `[]}`. In a
/// valid bundle no other member ends that way (the header members are strings and the
/// entries are objects), so the candidate ends where an entry does; anything else is found
/// out by the verifier's exact scan or by the separators read after the candidate.
pub(super) fn ends_like_an_entry(line: &[u8]) -> bool {
    line.ends_with(br#""]}"#) || line.ends_with(br#","proof":[]}"#)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_candidate_holding_several_entries_resolves_into_each() {
        let mut c = RawChunk::default();
        c.push(br#"{"index":0,"entry":"a,}","proof":[]}"#, true);
        c.push(
            br#"{"index":1,"entry":"b","proof":[]} , {"index":2,"entry":"c\"}","proof":["x"]}"#,
            true,
        );
        assert!(c.is_tentative());
        let all = [
            &br#"{"index":0,"entry":"a,}","proof":[]}"#[..],
            br#"{"index":1,"entry":"b","proof":[]}"#,
            br#"{"index":2,"entry":"c\"}","proof":["x"]}"#,
        ];
        // In pieces of at most two, and stopping when asked to.
        for (stop_after, want) in [(9, &[&all[..2], &all[2..]][..]), (1, &[&all[..2]][..])] {
            let mut pieces: Vec<RawChunk> = Vec::new();
            c.resolve(2, &mut |piece| {
                pieces.push(piece);
                pieces.len() < stop_after
            })
            .expect("valid JSON");
            assert!(pieces.iter().all(|p| !p.is_tentative()));
            let got: Vec<Vec<&[u8]>> = pieces.iter().map(|p| p.entries().collect()).collect();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn many_small_values_come_in_bounded_pieces_until_asked_to_stop() {
        let mut c = RawChunk::default();
        let values = format!("{{}}{}", ",1".repeat(100_000));
        c.push(values.as_bytes(), true);
        let mut sizes = Vec::new();
        c.resolve(4096, &mut |piece| {
            sizes.push(piece.len());
            sizes.len() < 3
        })
        .expect("values");
        assert_eq!(sizes, vec![4096; 3]);
    }

    /// The chunks the reader hands over for `text` (header members omitted).
    fn chunks(text: &str) -> Vec<RawChunk> {
        chunks_of(text, 100)
    }

    /// The chunks of `size` entries the reader hands over for `text`.
    fn chunks_of(text: &str, size: usize) -> Vec<RawChunk> {
        let mut out = Vec::new();
        crate::bundle::read::stream(text.as_bytes(), size, &mut |item| {
            if let crate::bundle::read::Item::Entries(c) = item {
                out.push(c);
            }
            true
        })
        .expect_err("no header: the reader stops at the end");
        out
    }

    #[test]
    fn the_exporters_layout_is_cut_at_line_ends_and_other_lines_exactly() {
        let hash = format!("\"{}\"", "A".repeat(43) + "=");
        let e =
            |i: u32| format!(r#"{{"index":{i},"entry":"{{\"v\":1}}","proof":[{hash},{hash}]}}"#);
        let text = format!("{{\"entries\":[\n{},\n{}\n]}}\n", e(0), e(1));
        let c = chunks(&text);
        assert!(c[0].is_tentative(), "cut at line ends");
        let got: Vec<&[u8]> = c[0].entries().collect();
        assert_eq!(got, vec![e(0).as_bytes(), e(1).as_bytes()]);
        // The last entry on the line that closes the array is found exactly.
        let closed = format!("{{\"entries\":[\n{}]}}", e(0));
        assert!(!chunks(&closed)[0].is_tentative());
        let one_line = format!("{{\"entries\":[{},{}]}}", e(0), e(1));
        let c = chunks(&one_line);
        assert!(!c[0].is_tentative());
        assert_eq!(c[0].len(), 2);
    }

    #[test]
    fn each_chunk_holds_its_entries_and_errors_name_the_document_offset() {
        let e = |i: u32| format!(r#"{{"index":{i},"entry":"x","proof":[]}}"#);
        // Chunks of two entries, each handed over with the reader's buffer; the spaces
        // between entries (16 MB each, many fills) are forgotten as they are read, so no
        // buffer grows past a few fills (the run's first two, a line search, and the
        // vector's doubling): 4 MB, where keeping them took 32 MB.
        let gap = " ".repeat(16 << 20);
        let all: Vec<String> = (0..5).map(e).collect();
        let text = format!("{{\"entries\":[\n{}\n]}}", all.join(&format!(",{gap}")));
        let got = chunks_of(&text, 2);
        let entries: Vec<Vec<u8>> = got
            .iter()
            .flat_map(|c| c.entries().map(<[u8]>::to_vec))
            .collect();
        assert_eq!(
            entries,
            all.iter()
                .map(|e| e.clone().into_bytes())
                .collect::<Vec<_>>()
        );
        assert_eq!(got.len(), 3);
        assert!(
            got.iter().all(|c| c.bytes.capacity() <= 4 << 20),
            "a gap was buffered: {:?}",
            got.iter().map(|c| c.bytes.capacity()).collect::<Vec<_>>()
        );
        // Around the document, its members and the array alike.
        let spaced = format!(
            "{gap}{{{gap}\"entries\"{gap}:{gap}[{gap}{}{gap}]{gap}}}{gap}",
            e(0)
        );
        let got = chunks_of(&spaced, 2);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].entries().next(), Some(e(0).as_bytes()));
        assert!(
            got[0].bytes.capacity() <= 4 << 20,
            "{}",
            got[0].bytes.capacity()
        );
        // An error after hand-overs and a closed gap still names its byte in the document.
        let bad = format!("{{\"entries\":[\n{},{gap}{},{gap}{} x]}}", e(0), e(1), e(2));
        let at = bad.find(" x]").expect("x") + 1;
        let err =
            crate::bundle::read::stream(bad.as_bytes(), 1, &mut |_| true).expect_err("malformed");
        assert!(
            err.to_string()
                .contains(&format!("at byte {at}, found `x`")),
            "{err}"
        );
    }

    #[test]
    fn lines_of_many_entries_with_trailing_space_are_cut_at_their_entries() {
        // Lines of 300 entries, then a long run of spaces before the newline: the line's
        // end is found and trimmed once per line (it was trimmed again for every value on
        // it: 10 s for a 1 MB bundle), and kept across the hand-over of each chunk of 7
        // entries, whose bytes move in the buffer. With each line's last proof spelled
        // `" ]`, no line ends like an entry and every chunk is split exactly.
        let hash = format!("\"{}\"", "A".repeat(43) + "=");
        for (last, tentative) in [("]", true), (" ]", false)] {
            let all: Vec<String> = (0..900)
                .map(|i| {
                    let close = if i % 300 == 299 { last } else { "]" };
                    format!(r#"{{"index":{i},"entry":"x","proof":[{hash}{close}}}"#)
                })
                .collect();
            let lines: Vec<String> = all.chunks(300).map(|l| l.join(",")).collect();
            let text = format!(
                "{{\"entries\":[\n{}\n]}}",
                lines.join(&format!(",{}\n", " ".repeat(64 << 10)))
            );
            let got = chunks_of(&text, 7);
            assert!(got.iter().all(|c| c.is_tentative() == tentative), "{last}");
            // A line candidate holds the line; resolved, each of its entries.
            let mut entries: Vec<Vec<u8>> = Vec::new();
            for c in &got {
                c.resolve(1000, &mut |piece| {
                    entries.extend(piece.entries().map(<[u8]>::to_vec));
                    true
                })
                .expect("values");
            }
            let want: Vec<Vec<u8>> = all.iter().map(|e| e.clone().into_bytes()).collect();
            assert!(entries == want, "{last}: {} entries", entries.len());
        }
    }

    #[test]
    fn after_a_cut_for_size_chunks_end_at_multiples_of_the_chunk_again() {
        // 50 entries of 700 KiB (the 47th passes 32 MiB), then 300 small ones.
        let big = "x".repeat(700 << 10);
        let lines: Vec<String> = (0..350)
            .map(|i| {
                let entry = if i < 50 { big.as_str() } else { "e" };
                format!(r#"{{"index":{i},"entry":"{entry}","proof":["h"]}}"#)
            })
            .collect();
        let text = format!("{{\"entries\":[\n{}\n]}}", lines.join(",\n"));
        let lens: Vec<usize> = chunks_of(&text, 100).iter().map(RawChunk::len).collect();
        assert_eq!(lens, vec![47, 53, 100, 100, 50]);
    }

    #[test]
    fn a_candidate_that_is_not_json_values_is_refused() {
        for bad in [
            &br#"{"index":0,"entry":"a"} {"index":1}"#[..],
            br#"{"index":0,"entry":"a"},"#,
            br#"{"index":0,"entry":"a"}}"#,
            br#"{"index":0,"entry":"a}"#,
        ] {
            let mut c = RawChunk::default();
            c.push(bad, true);
            assert!(
                c.resolve(4096, &mut |_| true).is_err(),
                "{:?} accepted",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
