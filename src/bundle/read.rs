//! Streaming bundle reader. A byte scanner finds the boundaries of the top-level members and
//! of each element of `entries` (tracking strings and nesting only), and hands the raw bytes
//! of each entry over in chunks; the entries themselves are parsed later, in parallel, by the
//! verifier. A multi-gigabyte full-log bundle is thus never held in memory, and parsing is
//! not a single-threaded bottleneck. Members may come in any order; when `entries` precedes
//! the header the sink gets the header last.

use std::io::Read;

use crossbeam_channel::Receiver;

mod entries;

use super::members::Header;
use super::BundleHeader;
use entries::entries;
pub(super) use entries::split_values;

pub use super::chunk::RawChunk;
use super::chunk::{ends_like_an_entry, is_json_space, trim_json_space};

/// What the reader hands over, in document order.
#[derive(Debug)]
pub enum Item {
    /// All four header members (sent as soon as they are all known).
    Header(BundleHeader),
    /// The next entries, in bundle order, not yet parsed.
    Entries(RawChunk),
    /// The signed identity heads of a case bundle, if it has them (after everything else).
    IdentityHeads(String),
}

/// Why reading stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The document is not a bundle (bad JSON, unknown or missing member, wrong types).
    #[error("not a valid bundle: {0}")]
    Invalid(String),
    /// The sink asked to stop (it has found what it was looking for).
    #[error("reading stopped by the consumer")]
    Stopped,
}

fn invalid(m: impl Into<String>) -> ReadError {
    ReadError::Invalid(m.into())
}

/// Buffered bytes of the document: `buf[..end]`; `pos` is the next unread byte.
struct Scanner<R> {
    reader: R,
    /// Zeroed once as it grows and read into again after that: readers outside std (the
    /// progress bar's) make `read_to_end` zero every fill, 0.5% of a verification.
    buf: Vec<u8>,
    end: usize,
    pos: usize,
    offset: u64,
    /// No newline occurs before this index into `buf` (a one-line bundle is searched once).
    no_newline_before: usize,
    /// The newline the last search found and where its line's content ends (trailing space
    /// cut; indexes into `buf`): a line of many entries is searched and trimmed once.
    newline_at: Option<(usize, usize)>,
    /// Bytes asked of the reader at a time.
    fill: usize,
    /// Whether a long run of whitespace between values is forgotten as it is read (a
    /// streaming read; not a re-split, whose spans index the bytes it was given).
    forget_space: bool,
}

/// How far past a value's start a line end is looked for.
const LINE_SEARCH: usize = 1 << 20;

const FILL: usize = 1 << 20;

/// The longest value the reader holds (a header member, an entry, a line of entries): four
/// times the largest entry a server writes (an event of at most 16 MiB, see `serve
/// --max-event-bytes`), so that a hostile bundle cannot make the verifier buffer without
/// end.
pub const MAX_VALUE: usize = 64 << 20;

impl<R: Read> Scanner<R> {
    fn new(reader: R) -> Self {
        Self {
            reader,
            buf: Vec::new(),
            end: 0,
            pos: 0,
            offset: 0,
            no_newline_before: 0,
            newline_at: None,
            fill: FILL,
            forget_space: false,
        }
    }

    /// Reads more bytes; false at the end of input.
    fn fill(&mut self) -> Result<bool, ReadError> {
        // Reading on from `pos`, the start of the value being scanned (or of the space
        // before it, which `peek` forgets as it goes).
        if self.end - self.pos > MAX_VALUE {
            return Err(invalid(format!(
                "a value of more than {} MiB at byte {}: no bundle member or entry is that long",
                MAX_VALUE >> 20,
                self.offset + self.pos as u64
            )));
        }
        let fill = self.fill;
        if self.buf.len() < self.end + fill {
            self.buf.resize(self.end + fill, 0);
        }
        loop {
            match self.reader.read(&mut self.buf[self.end..self.end + fill]) {
                Ok(n) => {
                    self.end += n;
                    return Ok(n > 0);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(invalid(format!("reading: {e}"))),
            }
        }
    }

    /// Hands the buffer over, read bytes and all, and goes on in `next` (a spare buffer, or
    /// an empty one) holding only the bytes after `pos`. A chunk of entries keeps the buffer
    /// its bytes were read into, instead of a copy of them. Only between values.
    fn hand_over(&mut self, mut next: Vec<u8>) -> Vec<u8> {
        let rest = self.end - self.pos;
        if next.len() < rest + self.fill {
            next.resize(rest + self.fill, 0);
        }
        next[..rest].copy_from_slice(&self.buf[self.pos..self.end]);
        let full = std::mem::replace(&mut self.buf, next);
        self.dropped(0);
        full
    }

    /// Moves the entries at `spans` together at the start of the buffer, and the unread
    /// bytes after them, dropping whatever lay around them (the header, separators,
    /// whitespace). Only between values.
    fn pack(&mut self, spans: &mut [(usize, usize)]) {
        let mut to = 0;
        for span in spans.iter_mut() {
            let len = span.1 - span.0;
            self.buf.copy_within(span.0..span.1, to);
            *span = (to, to + len);
            to += len;
        }
        self.buf.copy_within(self.pos..self.end, to);
        self.dropped(to);
    }

    /// The bytes read from `from` on (all of them already consumed) are gone; reading goes
    /// on at `from`. Indexes before it stay; no error names their offsets any more.
    fn forget_read_from(&mut self, from: usize) {
        self.offset += (self.end - from) as u64;
        self.end = from;
        self.pos = from;
        self.newline_at = self.newline_at.filter(|&(n, _)| n < from);
        self.no_newline_before = self.no_newline_before.min(from);
    }

    /// The bytes from `keep` to `pos` are gone: indexes after them move down.
    fn dropped(&mut self, keep: usize) {
        let by = self.pos - keep;
        let after = |i: usize| i.checked_sub(self.pos).map(|d| keep + d);
        self.no_newline_before = after(self.no_newline_before).unwrap_or(keep);
        // Only a line read past loses its content end here (no value starts after it).
        self.newline_at = self
            .newline_at
            .and_then(|(n, content)| Some((after(n)?, after(content)?)));
        self.end -= by;
        self.offset += by as u64;
        self.pos = keep;
    }

    /// The exporter's layout, one entry per line: when the value at `pos` starts like an
    /// entry and its line ends (before an optional `,`) like one, the end of that line
    /// candidate. The verifier confirms or re-splits it (see [`RawChunk`]).
    fn line_candidate(&mut self) -> Result<Option<usize>, ReadError> {
        const START: &[u8] = br#"{"index":"#;
        if self.pos < self.no_newline_before || self.at(self.pos + START.len())?.is_none() {
            return Ok(None);
        }
        if !self.buf[self.pos..self.end].starts_with(START) {
            return Ok(None);
        }
        let content_end = match self.newline_at.filter(|&(n, _)| n >= self.pos) {
            Some((_, known)) => known,
            None => match self.line_content_end()? {
                Some(found) => found,
                None => return Ok(None),
            },
        };
        let line = &self.buf[self.pos..content_end.max(self.pos)];
        let line = line.strip_suffix(b",").unwrap_or(line);
        Ok(ends_like_an_entry(line).then(|| self.pos + line.len()))
    }

    /// Where the content of the line at `pos` ends (newline within [`LINE_SEARCH`] bytes).
    fn line_content_end(&mut self) -> Result<Option<usize>, ReadError> {
        let limit = self.pos + LINE_SEARCH;
        let mut from = self.pos;
        let line_end = loop {
            let end = self.end.min(limit);
            if let Some(k) = memchr::memchr(b'\n', &self.buf[from..end]) {
                break from + k;
            }
            // Only a newline ends a candidate: the last line may close the document.
            if end == limit || !self.fill()? {
                self.no_newline_before = end;
                return Ok(None);
            }
            from = end;
        };
        let content_end = self.pos + trim_json_space(&self.buf[self.pos..line_end]).len();
        self.newline_at = Some((line_end, content_end));
        Ok(Some(content_end))
    }

    /// The byte at `i` (an index into `buf` at or after `pos`), reading on if needed.
    fn at(&mut self, i: usize) -> Result<Option<u8>, ReadError> {
        while i >= self.end {
            if !self.fill()? {
                return Ok(None);
            }
        }
        Ok(Some(self.buf[i]))
    }

    /// Skips whitespace; the next byte, not consumed. Whitespace is forgotten as it is read
    /// once a run of it outgrows a fill, so however long the run, it needs no more buffer.
    fn peek(&mut self) -> Result<Option<u8>, ReadError> {
        let run = self.pos;
        loop {
            if self.forget_space && self.pos == self.end && self.pos - run >= FILL {
                self.forget_read_from(run);
            }
            match self.at(self.pos)? {
                Some(b) if is_json_space(b) => self.pos += 1,
                other => return Ok(other),
            }
        }
    }

    fn expect(&mut self, want: u8) -> Result<(), ReadError> {
        match self.peek()? {
            Some(b) if b == want => {
                self.pos += 1;
                Ok(())
            }
            other => Err(self.unexpected(other, &format!("`{}`", want as char))),
        }
    }

    fn unexpected(&self, got: Option<u8>, want: &str) -> ReadError {
        let at = self.offset + self.pos as u64;
        // Other bytes in hex: a BOM's 0xEF `as char` would show as `ï`.
        let found = match got {
            Some(b) if b.is_ascii_graphic() => format!("`{}`", b as char),
            Some(0xEF) if at == 0 => "byte 0xEF (a UTF-8 byte order mark?)".to_owned(),
            Some(b) => format!("byte 0x{b:02X}"),
            None => "the end".to_owned(),
        };
        invalid(format!("expected {want} at byte {at}, found {found}"))
    }

    /// The end (exclusive) of the string starting at `i`.
    fn string_end(&mut self, mut i: usize) -> Result<usize, ReadError> {
        i += 1;
        loop {
            let rest = &self.buf[i.min(self.end)..self.end];
            match memchr::memchr2(b'"', b'\\', rest) {
                Some(k) if rest[k] == b'"' => return Ok(i + k + 1),
                Some(k) => i += k + 2,
                None => i = self.end,
            }
            if self.at(i)?.is_none() {
                return Err(invalid("unterminated string"));
            }
        }
    }

    /// The end (exclusive) of the JSON value at `pos`. Only strings and nesting are tracked;
    /// the value's own parser checks the rest.
    fn value_end(&mut self) -> Result<usize, ReadError> {
        let start = self.pos;
        match self.at(start)? {
            Some(b'"') => self.string_end(start),
            Some(b'{' | b'[') => {
                let (mut i, mut depth) = (start, 0usize);
                loop {
                    match self.at(i)? {
                        Some(b'"') => {
                            i = self.string_end(i)?;
                            continue;
                        }
                        Some(b'{' | b'[') => depth += 1,
                        Some(b'}' | b']') => {
                            depth -= 1;
                            if depth == 0 {
                                return Ok(i + 1);
                            }
                        }
                        Some(_) => {}
                        None => return Err(invalid("unterminated object or array")),
                    }
                    i += 1;
                }
            }
            Some(_) => {
                let mut i = start;
                while let Some(b) = self.at(i)? {
                    if matches!(b, b',' | b'}' | b']') || is_json_space(b) {
                        break;
                    }
                    i += 1;
                }
                Ok(i)
            }
            None => Err(self.unexpected(None, "a value")),
        }
    }

    /// Parses the value at `pos` as `T` and moves past it.
    fn value<T: serde::de::DeserializeOwned>(&mut self, what: &str) -> Result<T, ReadError> {
        let end = self.value_end()?;
        let v = serde_json::from_slice(&self.buf[self.pos..end])
            .map_err(|e| invalid(format!("{what}: {e}")))?;
        self.pos = end;
        Ok(v)
    }
}

/// Parses a bundle from `reader`, calling `sink` with items; `sink` returns `false` to stop.
pub fn stream(
    reader: impl Read,
    chunk: usize,
    sink: &mut dyn FnMut(Item) -> bool,
) -> Result<(), ReadError> {
    stream_reusing(reader, chunk, None, sink)
}

/// [`stream`], filling the chunks the consumer sends back on `spare` when there are any:
/// a multi-gigabyte bundle then runs through a few buffers instead of fresh memory (whose
/// pages the kernel must zero) for every chunk.
pub fn stream_reusing(
    reader: impl Read,
    chunk: usize,
    spare: Option<&Receiver<RawChunk>>,
    sink: &mut dyn FnMut(Item) -> bool,
) -> Result<(), ReadError> {
    let mut s = Scanner::new(reader);
    s.forget_space = true;
    let mut header = Header::default();
    s.expect(b'{')?;
    let mut first = true;
    loop {
        if first && s.peek()? == Some(b'}') {
            s.pos += 1;
            break;
        }
        first = false;
        s.peek()?;
        let key: String = s.value("member name")?;
        s.expect(b':')?;
        s.peek()?;
        if key == "entries" {
            if header.entries {
                return Err(invalid("duplicate member `entries`"));
            }
            header.entries = true;
            entries(&mut s, (chunk.max(1), spare), sink)?;
        } else {
            let slot = header.slot(&key)?;
            *slot = Some(s.value(&key)?);
        }
        if !header.sent {
            if let Some(h) = header.complete() {
                header.sent = true;
                if !sink(Item::Header(h)) {
                    return Err(ReadError::Stopped);
                }
            }
        }
        match s.peek()? {
            Some(b',') => s.pos += 1,
            Some(b'}') => {
                s.pos += 1;
                break;
            }
            other => return Err(s.unexpected(other, "`,` or `}`")),
        }
    }
    header.check()?;
    if let Some(peek) = s.peek()? {
        return Err(s.unexpected(Some(peek), "the end of the document"));
    }
    let heads = header.identity_heads.take();
    let sent = heads.is_none_or(|h| sink(Item::IdentityHeads(h)));
    sent.then_some(()).ok_or(ReadError::Stopped)
}
