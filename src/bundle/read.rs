//! Streaming bundle reader: hands the header and chunks of entries to a sink while parsing,
//! so a multi-gigabyte full-log bundle is never held in memory. Members may come in any
//! order; when `entries` precedes the header the sink gets the header last.

use std::fmt;
use std::io::Read;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use super::{BundleEntry, BundleHeader};

/// What the reader hands over, in document order.
#[derive(Debug)]
pub enum Item {
    /// All four header members (sent as soon as they are all known).
    Header(BundleHeader),
    /// The next entries, in bundle order.
    Entries(Vec<BundleEntry>),
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

const FIELDS: &[&str] = &["format", "origin", "log_key", "checkpoint", "entries"];
const STOP: &str = "\u{0}caseledger-stop";

/// Parses a bundle from `reader`, calling `sink` with items; `sink` returns `false` to stop.
pub fn stream(
    reader: impl Read,
    chunk: usize,
    sink: &mut dyn FnMut(Item) -> bool,
) -> Result<(), ReadError> {
    let mut de =
        serde_json::Deserializer::from_reader(std::io::BufReader::with_capacity(1 << 20, reader));
    let seed = BundleSeed {
        sink,
        chunk: chunk.max(1),
    };
    let result = seed.deserialize(&mut de).and_then(|()| de.end());
    result.map_err(|e| {
        if e.to_string().starts_with(STOP) {
            ReadError::Stopped
        } else {
            ReadError::Invalid(e.to_string())
        }
    })
}

struct BundleSeed<'s> {
    sink: &'s mut dyn FnMut(Item) -> bool,
    chunk: usize,
}

impl<'de> DeserializeSeed<'de> for BundleSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

#[derive(Default)]
struct Parts {
    format: Option<String>,
    origin: Option<String>,
    log_key: Option<String>,
    checkpoint: Option<String>,
}

impl Parts {
    fn complete(&mut self) -> Option<BundleHeader> {
        Some(BundleHeader {
            format: self.format.clone()?,
            origin: self.origin.clone()?,
            log_key: self.log_key.clone()?,
            checkpoint: self.checkpoint.clone()?,
        })
    }

    fn set<E: de::Error>(
        slot: &mut Option<String>,
        name: &'static str,
        v: String,
    ) -> Result<(), E> {
        if slot.replace(v).is_some() {
            return Err(E::duplicate_field(name));
        }
        Ok(())
    }
}

impl<'de> Visitor<'de> for BundleSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a caseledger bundle object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut parts = Parts::default();
        let (mut sent, mut entries) = (false, false);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "format" => Parts::set(&mut parts.format, "format", map.next_value()?)?,
                "origin" => Parts::set(&mut parts.origin, "origin", map.next_value()?)?,
                "log_key" => Parts::set(&mut parts.log_key, "log_key", map.next_value()?)?,
                "checkpoint" => Parts::set(&mut parts.checkpoint, "checkpoint", map.next_value()?)?,
                "entries" if entries => return Err(de::Error::duplicate_field("entries")),
                "entries" => {
                    entries = true;
                    map.next_value_seed(EntriesSeed {
                        sink: &mut *self.sink,
                        chunk: self.chunk,
                    })?;
                }
                other => return Err(de::Error::unknown_field(other, FIELDS)),
            }
            if !sent {
                if let Some(h) = parts.complete() {
                    sent = true;
                    if !(self.sink)(Item::Header(h)) {
                        return Err(de::Error::custom(STOP));
                    }
                }
            }
        }
        if !sent {
            let missing = [
                ("format", &parts.format),
                ("origin", &parts.origin),
                ("log_key", &parts.log_key),
                ("checkpoint", &parts.checkpoint),
            ];
            let (name, _) = missing
                .iter()
                .find(|(_, v)| v.is_none())
                .expect("one missing");
            return Err(de::Error::missing_field(name));
        }
        if !entries {
            return Err(de::Error::missing_field("entries"));
        }
        Ok(())
    }
}

struct EntriesSeed<'s> {
    sink: &'s mut dyn FnMut(Item) -> bool,
    chunk: usize,
}

impl<'de> DeserializeSeed<'de> for EntriesSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for EntriesSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of bundle entries")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut buf = Vec::with_capacity(self.chunk);
        while let Some(e) = seq.next_element::<BundleEntry>()? {
            buf.push(e);
            if buf.len() == self.chunk {
                let full = std::mem::replace(&mut buf, Vec::with_capacity(self.chunk));
                if !(self.sink)(Item::Entries(full)) {
                    return Err(de::Error::custom(STOP));
                }
            }
        }
        if !buf.is_empty() && !(self.sink)(Item::Entries(buf)) {
            return Err(de::Error::custom(STOP));
        }
        Ok(())
    }
}
