//! serde visitors that validate *inside* `visit_str`/`visit_seq`. serde_json stamps an error
//! with its position only when it comes out of a visitor; an error raised after
//! `String::deserialize` returns gets the position of the enclosing object instead, and
//! `SchemaError` would then name the wrong field.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, SeqAccess, Visitor};

use super::bounded::BoundsError;

/// Parses a JSON string with `parse`; `expecting` completes "invalid type: …, expected …".
pub(crate) struct StrVisitor<T, E> {
    pub(crate) expecting: &'static str,
    pub(crate) parse: fn(&str) -> Result<T, E>,
}

impl<T, E: fmt::Display> Visitor<'_> for StrVisitor<T, E> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<Error: de::Error>(self, text: &str) -> Result<T, Error> {
        (self.parse)(text).map_err(Error::custom)
    }
}

/// Reads a JSON array of `T` and checks it with `build`.
pub(crate) struct SeqVisitor<T, R> {
    pub(crate) min: usize,
    pub(crate) max: usize,
    pub(crate) build: fn(Vec<T>) -> Result<R, BoundsError>,
    pub(crate) item: PhantomData<T>,
}

impl<'de, T: de::Deserialize<'de>, R> Visitor<'de> for SeqVisitor<T, R> {
    type Value = R;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a list of {} to {} items", self.min, self.max)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<R, A::Error> {
        // Payload size is capped at the HTTP edge, so reading the whole list first is bounded.
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        (self.build)(items).map_err(de::Error::custom)
    }
}
