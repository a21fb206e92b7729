//! Declarative macros shared by the domain types, so every string-shaped value and every coded
//! enum gets the same serde, schema and display behaviour.

/// Serde and schema impls for a type that is a validated string on the wire.
///
/// The type must implement `FromStr<Err = ParseIdError>` and `Display`; serialization goes
/// through `Display` and deserialization through `FromStr`, so the wire form and the
/// validating parser can never disagree.
macro_rules! string_serde {
    ($ty:ty, $name:literal, $expecting:literal, $schema:tt) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_str($crate::domain::visit::StrVisitor {
                    expecting: $expecting,
                    parse: |text| text.parse(),
                })
            }
        }

        impl $ty {
            /// Parses the wire text; the same as `str::parse`.
            pub fn parse(text: &str) -> Result<Self, $crate::domain::ids::ParseIdError> {
                text.parse()
            }
        }

        impl TryFrom<&str> for $ty {
            type Error = $crate::domain::ids::ParseIdError;
            fn try_from(text: &str) -> Result<Self, Self::Error> {
                text.parse()
            }
        }

        impl TryFrom<String> for $ty {
            type Error = $crate::domain::ids::ParseIdError;
            fn try_from(text: String) -> Result<Self, Self::Error> {
                text.parse()
            }
        }

        impl schemars::JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                $name.into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!($schema)
            }
        }
    };
}

/// A closed, coded enum: snake_case wire codes, `ALL`, `as_str` and `Display`.
///
/// Codes are spelled out per variant (rather than `rename_all`) so the wire contract of
/// DESIGN §2.3 is visible, and greppable, right here.
macro_rules! code_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $code:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, schemars::JsonSchema,
        )]
        pub enum $name {
            $(#[serde(rename = $code)] $variant),+
        }

        // By hand: the derived reader also takes `{"code": null}`, a second spelling.
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Code;
                impl<'de> serde::de::Visitor<'de> for Code {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("a code string")
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        $name::ALL
                            .iter()
                            .copied()
                            .find(|c| c.as_str() == v)
                            .ok_or_else(|| E::unknown_variant(v, &[$($code),+]))
                    }
                }
                d.deserialize_str(Code)
            }
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire code of this variant.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $code),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
