//! Streaming bundle reader. A byte scanner finds the boundaries of the top-level members and
//! of each element of `entries` (tracking strings and nesting only), and hands the raw bytes
//! of each entry over in chunks; the entries themselves are parsed later, in parallel, by the
//! verifier. A multi-gigabyte full-log bundle is thus never held in memory, and parsing is
//! not a single-threaded bottleneck. Members may come in any order; when `entries` precedes
//! the header the sink gets the header last.

use std::io::Read;

use super::{BundleEntry, BundleHeader};

/// The raw JSON bytes of consecutive bundle entries, one span per entry.
#[derive(Debug, Default, Clone)]
pub struct RawChunk {
    bytes: Vec<u8>,
    spans: Vec<(usize, usize)>,
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

    fn push(&mut self, raw: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(raw);
        self.spans.push((start, self.bytes.len()));
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether the chunk holds no entry.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The raw JSON of each entry, in order.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        self.spans.iter().map(|&(s, e)| &self.bytes[s..e])
    }
}

/// What the reader hands over, in document order.
#[derive(Debug)]
pub enum Item {
    /// All four header members (sent as soon as they are all known).
    Header(BundleHeader),
    /// The next entries, in bundle order, not yet parsed.
    Entries(RawChunk),
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

/// Buffered bytes of the document; `pos` is the next unread byte.
struct Scanner<R> {
    reader: R,
    buf: Vec<u8>,
    pos: usize,
    offset: u64,
}

const FILL: usize = 1 << 20;

impl<R: Read> Scanner<R> {
    /// Reads more bytes; false at the end of input.
    fn fill(&mut self) -> Result<bool, ReadError> {
        // `read_to_end` through `take` appends into spare capacity without zeroing it first.
        self.buf.reserve(FILL);
        let n = (&mut self.reader)
            .take(FILL as u64)
            .read_to_end(&mut self.buf)
            .map_err(|e| invalid(format!("reading: {e}")))?;
        Ok(n > 0)
    }

    /// Drops the bytes before `pos`. Only between values: indexes into `buf` move.
    fn compact(&mut self) {
        if self.pos > 8 * FILL {
            self.buf.drain(..self.pos);
            self.offset += self.pos as u64;
            self.pos = 0;
        }
    }

    /// The byte at `i` (an index into `buf` at or after `pos`), reading on if needed.
    fn at(&mut self, i: usize) -> Result<Option<u8>, ReadError> {
        while i >= self.buf.len() {
            if !self.fill()? {
                return Ok(None);
            }
        }
        Ok(Some(self.buf[i]))
    }

    /// Skips whitespace; the next byte, not consumed.
    fn peek(&mut self) -> Result<Option<u8>, ReadError> {
        loop {
            match self.at(self.pos)? {
                Some(b) if b.is_ascii_whitespace() => self.pos += 1,
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
        match got {
            Some(b) => invalid(format!(
                "expected {want} at byte {at}, found `{}`",
                b as char
            )),
            None => invalid(format!("expected {want} at byte {at}, found the end")),
        }
    }

    /// The end (exclusive) of the string starting at `i`.
    fn string_end(&mut self, mut i: usize) -> Result<usize, ReadError> {
        i += 1;
        loop {
            let rest = &self.buf[i.min(self.buf.len())..];
            match memchr::memchr2(b'"', b'\\', rest) {
                Some(k) if rest[k] == b'"' => return Ok(i + k + 1),
                Some(k) => i += k + 2,
                None => i = self.buf.len(),
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
                    if matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace() {
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
    let mut s = Scanner {
        reader,
        buf: Vec::with_capacity(2 * FILL),
        pos: 0,
        offset: 0,
    };
    let mut header = Header::default();
    s.expect(b'{')?;
    let mut first = true;
    loop {
        if first && s.peek()? == Some(b'}') {
            s.pos += 1;
            break;
        }
        first = false;
        let key: String = s.value("member name")?;
        s.expect(b':')?;
        s.peek()?;
        if key == "entries" {
            if header.entries {
                return Err(invalid("duplicate member `entries`"));
            }
            header.entries = true;
            entries(&mut s, chunk.max(1), sink)?;
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
    match s.peek()? {
        None => Ok(()),
        other => Err(s.unexpected(other, "the end of the document")),
    }
}

fn entries<R: Read>(
    s: &mut Scanner<R>,
    chunk: usize,
    sink: &mut dyn FnMut(Item) -> bool,
) -> Result<(), ReadError> {
    s.expect(b'[')?;
    let mut raw = RawChunk::default();
    let mut sizes = (0, 0);
    if s.peek()? == Some(b']') {
        s.pos += 1;
    } else {
        loop {
            s.peek()?;
            let end = s.value_end()?;
            raw.push(&s.buf[s.pos..end]);
            s.pos = end;
            s.compact();
            if raw.len() == chunk {
                // The next chunk starts with room for as much as this one held.
                sizes = (sizes.0.max(raw.bytes.len()), chunk);
                let next = RawChunk {
                    bytes: Vec::with_capacity(sizes.0),
                    spans: Vec::with_capacity(sizes.1),
                };
                if !sink(Item::Entries(std::mem::replace(&mut raw, next))) {
                    return Err(ReadError::Stopped);
                }
            }
            match s.peek()? {
                Some(b',') => s.pos += 1,
                Some(b']') => {
                    s.pos += 1;
                    break;
                }
                other => return Err(s.unexpected(other, "`,` or `]` in entries")),
            }
        }
    }
    if !raw.is_empty() && !sink(Item::Entries(raw)) {
        return Err(ReadError::Stopped);
    }
    Ok(())
}

/// The header members seen so far.
#[derive(Default)]
struct Header {
    format: Option<String>,
    origin: Option<String>,
    log_key: Option<String>,
    checkpoint: Option<String>,
    entries: bool,
    sent: bool,
}

impl Header {
    fn slot(&mut self, key: &str) -> Result<&mut Option<String>, ReadError> {
        let slot = match key {
            "format" => &mut self.format,
            "origin" => &mut self.origin,
            "log_key" => &mut self.log_key,
            "checkpoint" => &mut self.checkpoint,
            other => return Err(invalid(format!("unknown member `{other}`"))),
        };
        if slot.is_some() {
            return Err(invalid(format!("duplicate member `{key}`")));
        }
        Ok(slot)
    }

    fn complete(&self) -> Option<BundleHeader> {
        Some(BundleHeader {
            format: self.format.clone()?,
            origin: self.origin.clone()?,
            log_key: self.log_key.clone()?,
            checkpoint: self.checkpoint.clone()?,
        })
    }

    fn check(&self) -> Result<(), ReadError> {
        let members = [
            ("format", self.format.is_some()),
            ("origin", self.origin.is_some()),
            ("log_key", self.log_key.is_some()),
            ("checkpoint", self.checkpoint.is_some()),
            ("entries", self.entries),
        ];
        match members.iter().find(|(_, present)| !present) {
            Some((name, _)) => Err(invalid(format!("missing member `{name}`"))),
            None => Ok(()),
        }
    }
}
