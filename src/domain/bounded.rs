//! Length-bounded lists and strings whose bounds are checked when they are built or
//! deserialized, and published as `minItems`/`maxItems` (`minLength`/`maxLength`) in the schemas.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::visit::{SeqVisitor, StrVisitor};

/// Why a list or string does not fit its bounds.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BoundsError {
    /// Fewer items than allowed.
    #[error("expected at least {min} item(s), got {len}")]
    TooFew {
        /// The minimum.
        min: usize,
        /// The actual length.
        len: usize,
    },
    /// More items than allowed.
    #[error("expected at most {max} items, got {len}")]
    TooMany {
        /// The maximum.
        max: usize,
        /// The actual length.
        len: usize,
    },
    /// A set-like list repeats an item.
    #[error("duplicate item at index {index}")]
    Duplicate {
        /// Index of the second occurrence.
        index: usize,
    },
    /// A string's character count is out of bounds.
    #[error("expected {min} to {max} characters, got {len}")]
    Length {
        /// The minimum.
        min: usize,
        /// The maximum.
        max: usize,
        /// The actual character count.
        len: usize,
    },
    /// A string holds control characters (newlines, tabs, …), which coded fields never need.
    #[error("control characters are not allowed")]
    ControlCharacter,
}

/// A list of `MIN..=MAX` items, in the order given.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct BoundedVec<T, const MIN: usize, const MAX: usize>(Vec<T>);

impl<T, const MIN: usize, const MAX: usize> BoundedVec<T, MIN, MAX> {
    /// Checks the length of `items`.
    pub fn new(items: Vec<T>) -> Result<Self, BoundsError> {
        const { assert!(MIN <= MAX, "BoundedVec: MIN must not exceed MAX") };
        match items.len() {
            len if len < MIN => Err(BoundsError::TooFew { min: MIN, len }),
            len if len > MAX => Err(BoundsError::TooMany { max: MAX, len }),
            _ => Ok(BoundedVec(items)),
        }
    }

    /// The items.
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }

    /// Gives the items back.
    pub fn into_vec(self) -> Vec<T> {
        self.0
    }
}

impl<T, const MIN: usize, const MAX: usize> Deref for BoundedVec<T, MIN, MAX> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<'a, T, const MIN: usize, const MAX: usize> IntoIterator for &'a BoundedVec<T, MIN, MAX> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<'de, T: Deserialize<'de>, const MIN: usize, const MAX: usize> Deserialize<'de>
    for BoundedVec<T, MIN, MAX>
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(SeqVisitor {
            min: MIN,
            max: MAX,
            build: BoundedVec::new,
            item: PhantomData,
        })
    }
}

fn array_schema<T: JsonSchema>(gen: &mut SchemaGenerator, min: usize, max: usize) -> Schema {
    json_schema!({
        "type": "array",
        "items": gen.subschema_for::<T>(),
        "minItems": min,
        "maxItems": max,
    })
}

impl<T: JsonSchema, const MIN: usize, const MAX: usize> JsonSchema for BoundedVec<T, MIN, MAX> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        format!("BoundedVec_{}_{MIN}_{MAX}", T::schema_name()).into()
    }

    fn json_schema(gen: &mut SchemaGenerator) -> Schema {
        array_schema::<T>(gen, MIN, MAX)
    }
}

/// A set-like list of `MIN..=MAX` distinct items, in the order given.
///
/// Every list in the v1 catalogue (roles, domains, needs, purposes, recipients, data
/// categories, asks, languages, criteria, adaptations) is a set, so a repeated item is a
/// schema violation rather than silently merged: the signed bytes then say exactly what the
/// ledger means.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct BoundedSet<T, const MIN: usize, const MAX: usize>(BoundedVec<T, MIN, MAX>);

/// A set of up to 50 items, the catalogue's default list bound ("at most 50 unless said").
pub type List<T> = BoundedSet<T, 0, 50>;

impl<T: PartialEq, const MIN: usize, const MAX: usize> BoundedSet<T, MIN, MAX> {
    /// Checks the length of `items` and that no item repeats.
    pub fn new(items: Vec<T>) -> Result<Self, BoundsError> {
        let items = BoundedVec::new(items)?;
        // Lists are at most a few dozen items, so the quadratic scan is cheaper than hashing.
        match (1..items.len()).find(|&i| items[..i].contains(&items[i])) {
            Some(index) => Err(BoundsError::Duplicate { index }),
            None => Ok(BoundedSet(items)),
        }
    }
}

impl<T, const MIN: usize, const MAX: usize> BoundedSet<T, MIN, MAX> {
    /// The items, in the order given.
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }

    /// Gives the items back.
    pub fn into_vec(self) -> Vec<T> {
        self.0.into_vec()
    }
}

impl<T, const MIN: usize, const MAX: usize> Deref for BoundedSet<T, MIN, MAX> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<'a, T, const MIN: usize, const MAX: usize> IntoIterator for &'a BoundedSet<T, MIN, MAX> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<'de, T: Deserialize<'de> + PartialEq, const MIN: usize, const MAX: usize> Deserialize<'de>
    for BoundedSet<T, MIN, MAX>
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(SeqVisitor {
            min: MIN,
            max: MAX,
            build: BoundedSet::new,
            item: PhantomData,
        })
    }
}

impl<T: JsonSchema, const MIN: usize, const MAX: usize> JsonSchema for BoundedSet<T, MIN, MAX> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        format!("BoundedSet_{}_{MIN}_{MAX}", T::schema_name()).into()
    }

    fn json_schema(gen: &mut SchemaGenerator) -> Schema {
        let mut schema = array_schema::<T>(gen, MIN, MAX);
        schema.insert("uniqueItems".into(), true.into());
        schema
    }
}

/// A string of `MIN..=MAX` characters (Unicode scalar values) without control characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BoundedString<const MIN: usize, const MAX: usize>(String);

impl<const MIN: usize, const MAX: usize> BoundedString<MIN, MAX> {
    /// Checks the character count and refuses control characters.
    pub fn new(text: impl Into<String>) -> Result<Self, BoundsError> {
        let text = text.into();
        let len = text.chars().count();
        if !(MIN..=MAX).contains(&len) {
            return Err(BoundsError::Length {
                min: MIN,
                max: MAX,
                len,
            });
        }
        if text.chars().any(char::is_control) {
            return Err(BoundsError::ControlCharacter);
        }
        Ok(BoundedString(text))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<const MIN: usize, const MAX: usize> fmt::Display for BoundedString<MIN, MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<const MIN: usize, const MAX: usize> Serialize for BoundedString<MIN, MAX> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de, const MIN: usize, const MAX: usize> Deserialize<'de> for BoundedString<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(StrVisitor {
            expecting: "a string",
            parse: |text| BoundedString::new(text),
        })
    }
}

impl<const MIN: usize, const MAX: usize> JsonSchema for BoundedString<MIN, MAX> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        format!("BoundedString_{MIN}_{MAX}").into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "minLength": MIN,
            "maxLength": MAX,
            // Cc, the category `char::is_control` tests.
            "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$",
        })
    }
}

/// Deserializes an optional field that, when present, must hold a value: explicit `null` is
/// refused (absent is the only way to say "none"), so each payload has one spelling.
/// Use with `#[serde(default, deserialize_with = "...")]`.
pub(crate) fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// Reads a struct field that must be spelled as a JSON object. serde_json also reads a
/// struct from an array of its fields in order (`[true, "es"]`): a second spelling of the
/// same signed content, which other JSON tools and our published schemas refuse.
pub fn object_only<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    struct ObjectOnly<T>(std::marker::PhantomData<T>);
    impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for ObjectOnly<T> {
        type Value = T;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
        }
    }
    deserializer.deserialize_map(ObjectOnly(std::marker::PhantomData))
}
