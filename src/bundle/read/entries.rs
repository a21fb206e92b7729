//! The `entries` array: each entry's span in the reader's buffer, handed over in chunks
//! together with the buffer; and the exact re-split of a line that held several values.

use std::io::Read;

use crossbeam_channel::Receiver;

use super::{Item, RawChunk, ReadError, Scanner, FILL};

/// The most bytes of entries in one chunk, whatever their number: a chunk of the
/// exporter's entries holds about 8 MB, one of hostile ones (long line candidates, long
/// entries) no more than this and one value.
const CHUNK_BYTES: usize = 32 << 20;

/// Reads the `entries` array at `pos`, sending its entries to `sink` in chunks that end at
/// multiples of `chunk` entries (so that a full log's chunks line up with its tree), or
/// earlier when they hold [`CHUNK_BYTES`]; the chunk after such a cut ends at the next
/// multiple.
pub(super) fn entries<R: Read>(
    s: &mut Scanner<R>,
    (chunk, spare): (usize, Option<&Receiver<RawChunk>>),
    sink: &mut dyn FnMut(Item) -> bool,
) -> Result<(), ReadError> {
    s.expect(b'[')?;
    // Spans into the scanner's buffer, which goes with them when a chunk is full.
    let mut spans = Vec::with_capacity(chunk);
    let (mut tentative, mut held, mut sent) = (false, 0, 0usize);
    let mut send = |s: &mut Scanner<R>, spans: &mut Vec<(usize, usize)>, tentative: bool| {
        let (next, next_spans) = spare.and_then(|r| r.try_recv().ok()).map_or_else(
            || (Vec::new(), Vec::with_capacity(chunk)),
            RawChunk::into_parts,
        );
        let bytes = s.hand_over(next);
        let spans = std::mem::replace(spans, next_spans);
        sink(Item::Entries(RawChunk::from_parts(bytes, spans, tentative)))
    };
    if s.peek()? == Some(b']') {
        s.pos += 1;
        return Ok(());
    }
    // On a spot it cannot read, the entries before it are handed over first: one of them
    // may fail a check, and the first failure in log order is the one to name.
    let read = (|| -> Result<(), ReadError> {
        loop {
            s.peek()?;
            // What lies between entries (the header, separators, whitespace) stays in the
            // buffer until it is handed over, unless it outgrows the entries and a fill.
            if s.pos - held > held.max(FILL) {
                s.pack(&mut spans);
            }
            let (end, candidate) = match s.line_candidate()? {
                Some(end) => (end, true),
                None => (s.value_end()?, false),
            };
            spans.push((s.pos, end));
            held += end - s.pos;
            tentative |= candidate;
            s.pos = end;
            if (sent + spans.len()).is_multiple_of(chunk) || held >= CHUNK_BYTES {
                sent += spans.len();
                if !send(s, &mut spans, tentative) {
                    return Err(ReadError::Stopped);
                }
                (tentative, held) = (false, 0);
            }
            match s.peek()? {
                Some(b',') => s.pos += 1,
                Some(b']') => {
                    s.pos += 1;
                    return Ok(());
                }
                other => return Err(s.unexpected(other, "`,` or `]` in entries")),
            }
        }
    })();
    let stopped = !spans.is_empty() && !send(s, &mut spans, tentative);
    match read {
        Err(e) => Err(e),
        Ok(()) if stopped => Err(ReadError::Stopped),
        Ok(()) => Ok(()),
    }
}

/// The spans of the comma-separated JSON values in `raw` (see [`RawChunk::resolve`]),
/// pushed to `found`; on a spot that is not one, those before it stay in `found`.
pub(in crate::bundle) fn split_values(
    raw: &[u8],
    found: &mut Vec<(usize, usize)>,
) -> Result<(), ReadError> {
    let mut s = Scanner::new(raw);
    // Read in one go: a chunk re-split holds thousands of spans, each too short for a
    // megabyte buffer to be zeroed for it.
    s.fill = raw.len().max(1);
    loop {
        s.peek()?;
        let end = s.value_end()?;
        found.push((s.pos, end));
        s.pos = end;
        match s.peek()? {
            None => return Ok(()),
            Some(b',') => s.pos += 1,
            other => return Err(s.unexpected(other, "`,` between entries")),
        }
    }
}
