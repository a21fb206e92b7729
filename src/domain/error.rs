//! `SchemaError`: why a payload does not fit the event catalogue, with the JSON path of the
//! offending value (`data.purposes[1]: unknown variant …`) recovered from serde_json's position.

use serde_json::error::Category;

/// Which kind of schema failure; decides the problem `code` (DESIGN §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SchemaErrorKind {
    /// Not UTF-8, not JSON, or not a JSON object.
    Malformed,
    /// A required field is absent.
    MissingField,
    /// `type` is not in the v1 catalogue.
    UnknownType,
    /// The stream's family does not match the type's (e.g. `consent.granted` in `agency-x`).
    StreamMismatch,
    /// Anything else: unknown field, bad enum code, out-of-bounds list or string, bad id,
    /// non-UTC timestamp, explicit `null`, duplicate item or key.
    Invalid,
}

impl SchemaErrorKind {
    /// The stable problem+json `code` for this kind.
    pub fn code(self) -> &'static str {
        match self {
            SchemaErrorKind::StreamMismatch => "stream_mismatch",
            _ => "schema_violation",
        }
    }
}

/// A payload that does not fit the catalogue. `message` is precise and safe to return to the
/// client: it names fields and rules, and echoes only codes, field names and ids.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SchemaError {
    /// What went wrong, broadly.
    pub kind: SchemaErrorKind,
    /// What went wrong, precisely, prefixed with the field path when there is one.
    pub message: String,
}

impl SchemaError {
    /// An error of `kind` with `message`.
    pub fn new(kind: SchemaErrorKind, message: impl Into<String>) -> Self {
        SchemaError {
            kind,
            message: message.into(),
        }
    }

    /// Maps a serde_json error raised while reading `text` to a `SchemaError` whose message is
    /// prefixed with the path of the failing value, itself under `prefix` (e.g. `data`).
    pub(crate) fn from_json(err: &serde_json::Error, text: &str, prefix: &str) -> Self {
        if matches!(
            err.classify(),
            Category::Syntax | Category::Eof | Category::Io
        ) {
            let what = if prefix.is_empty() { "payload" } else { prefix };
            return SchemaError::new(
                SchemaErrorKind::Malformed,
                format!("{what}: not valid JSON: {err}"),
            );
        }
        let full = err.to_string();
        let suffix = format!(" at line {} column {}", err.line(), err.column());
        let bare = full.strip_suffix(&suffix).unwrap_or(&full);
        let kind = if bare.starts_with("missing field") {
            SchemaErrorKind::MissingField
        } else {
            SchemaErrorKind::Invalid
        };
        let path = match byte_offset(text, err.line(), err.column()) {
            Some(offset) => join(prefix, &locate(text, offset)),
            None => prefix.to_owned(),
        };
        let message = if path.is_empty() {
            bare.to_owned()
        } else {
            format!("{path}: {bare}")
        };
        SchemaError::new(kind, message)
    }
}

fn join(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path.strip_prefix('.')) {
        (true, Some(rest)) => rest.to_owned(),
        _ => format!("{prefix}{path}"),
    }
}

/// serde_json reports 1-based lines and the number of bytes consumed on that line; line 0
/// means "no position".
fn byte_offset(text: &str, line: usize, column: usize) -> Option<usize> {
    let line_start = match line {
        0 => return None,
        1 => 0,
        n => text.match_indices('\n').nth(n - 2)?.0 + 1,
    };
    Some((line_start + column).min(text.len()))
}

/// One level of nesting while scanning towards the error position.
enum Frame {
    /// In an object; `key` is the key being read or whose value is being read, `colon` tells
    /// which (an error before the colon, e.g. "unknown field", is about the object itself).
    Object { key: Option<String>, colon: bool },
    /// In an array, at element `index`.
    Array { index: usize },
}

/// The path (`.a.b[2]`) of the value being read when `offset` bytes of valid JSON `text` had
/// been consumed. serde_json reports value errors just after the value and container errors
/// (missing field, list bounds) just after the closing bracket, so both resolve to the
/// member of the enclosing object that holds them.
fn locate(text: &str, offset: usize) -> String {
    let bytes = text.as_bytes();
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while i < offset {
        let byte = bytes[i];
        i += 1;
        match (byte, stack.last_mut()) {
            (b'{', _) => stack.push(Frame::Object {
                key: None,
                colon: false,
            }),
            (b'[', _) => stack.push(Frame::Array { index: 0 }),
            (b'}' | b']', _) => {
                stack.pop();
            }
            (b',', Some(Frame::Object { key, colon })) => (*key, *colon) = (None, false),
            (b',', Some(Frame::Array { index })) => *index += 1,
            (b':', Some(Frame::Object { colon, .. })) => *colon = true,
            (b'"', top) => {
                let end = string_end(bytes, i);
                if let Some(Frame::Object {
                    key: key @ None,
                    colon: false,
                }) = top
                {
                    *key = serde_json::from_str(&text[i - 1..end]).ok();
                }
                i = end;
            }
            _ => {}
        }
    }
    render(&stack)
}

/// Index just past the closing quote of the string whose contents start at `start`.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

fn render(stack: &[Frame]) -> String {
    let mut path = String::new();
    for frame in stack {
        match frame {
            Frame::Object {
                key: Some(key),
                colon: true,
            } => {
                path.push('.');
                path.push_str(key);
            }
            Frame::Object { .. } => {}
            Frame::Array { index } => path.push_str(&format!("[{index}]")),
        }
    }
    path
}
