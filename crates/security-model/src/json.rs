//! Helpers for the protobuf-JSON mapping, used through `#[serde(...)]` attributes on the messages.
//!
//! The rules follow <https://protobuf.dev/programming-guides/json/> and Python's
//! `google.protobuf.json_format`, which produced the test vectors:
//!
//! * Writing leaves default values out: the attributes use `skip_serializing_if` with
//!   `String::is_empty`, `Vec::is_empty`, `Option::is_none` and [`is_zero`].
//! * Reading treats `null` as the default value ([`null_as_default`]).
//! * Enums are written as their name, or as a number when the value has no name, and read from a
//!   name, a number or a string holding a number ([`ProtoEnum`], [`serialize_enum`] and
//!   [`deserialize_enum`]).
//!   A number with no name is kept, because proto3 enums are open.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::Serializer;

/// A proto3 enum with the names protobuf-JSON uses for its values.
pub(crate) trait ProtoEnum: Copy + TryFrom<i32> + Into<i32> {
    /// The enum's protobuf name, for error messages (`Secret.MountType`).
    const PROTO_NAME: &'static str;

    /// The value's name as written in the `.proto` file (`ENV_VAR`).
    fn proto_name(self) -> &'static str;

    /// The value with this `.proto` name, if there is one.
    fn from_proto_name(name: &str) -> Option<Self>;
}

/// Implements [`ProtoEnum`] and the `as_str_name`/`from_str_name` methods that prost-build would
/// generate, from one list of `Variant = "PROTO_NAME"` pairs.
macro_rules! proto_enum {
    ($ty:ty, $proto:literal { $($variant:ident = $name:literal),+ $(,)? }) => {
        impl $ty {
            /// The value's name as written in the `.proto` file, which is also its protobuf-JSON
            /// form.
            pub const fn as_str_name(&self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)+
                }
            }

            /// The value with the given `.proto` name, or `None` if no value has that name.
            pub fn from_str_name(name: &str) -> ::core::option::Option<Self> {
                match name {
                    $($name => ::core::option::Option::Some(Self::$variant),)+
                    _ => ::core::option::Option::None,
                }
            }
        }

        impl $crate::json::ProtoEnum for $ty {
            const PROTO_NAME: &'static str = $proto;

            fn proto_name(self) -> &'static str {
                self.as_str_name()
            }

            fn from_proto_name(name: &str) -> ::core::option::Option<Self> {
                Self::from_str_name(name)
            }
        }
    };
}
pub(crate) use proto_enum;

/// `skip_serializing_if` for enum fields: proto3 leaves the zero value out.
#[allow(clippy::trivially_copy_pass_by_ref)] // serde passes every field by reference.
pub(crate) fn is_zero(value: &i32) -> bool {
    *value == 0
}

/// `deserialize_with` for scalar and repeated fields: a JSON `null` reads as the default value.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// `serialize_with` for an enum field stored as `i32`: its name, or the number if it has none.
#[allow(clippy::trivially_copy_pass_by_ref)] // serde passes every field by reference.
pub(crate) fn serialize_enum<E, S>(value: &i32, serializer: S) -> Result<S::Ok, S::Error>
where
    E: ProtoEnum,
    S: Serializer,
{
    match E::try_from(*value) {
        Ok(known) => serializer.serialize_str(known.proto_name()),
        Err(_) => serializer.serialize_i32(*value),
    }
}

/// `deserialize_with` for an enum field stored as `i32`: a name, a number, a string holding a
/// number, or `null` (the zero value).
pub(crate) fn deserialize_enum<'de, E, D>(deserializer: D) -> Result<i32, D::Error>
where
    E: ProtoEnum,
    D: Deserializer<'de>,
{
    deserializer.deserialize_any(EnumVisitor::<E>(PhantomData))
}

struct EnumVisitor<E>(PhantomData<E>);

impl<E: ProtoEnum> Visitor<'_> for EnumVisitor<E> {
    type Value = i32;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {} name or number", E::PROTO_NAME)
    }

    fn visit_str<Err: de::Error>(self, v: &str) -> Result<i32, Err> {
        if let Some(known) = E::from_proto_name(v) {
            return Ok(known.into());
        }
        // Python's json_format also takes a number written as a string.
        v.parse::<i32>()
            .map_err(|_| Err::invalid_value(de::Unexpected::Str(v), &self))
    }

    fn visit_i64<Err: de::Error>(self, v: i64) -> Result<i32, Err> {
        i32::try_from(v).map_err(|_| Err::invalid_value(de::Unexpected::Signed(v), &self))
    }

    fn visit_u64<Err: de::Error>(self, v: u64) -> Result<i32, Err> {
        i32::try_from(v).map_err(|_| Err::invalid_value(de::Unexpected::Unsigned(v), &self))
    }

    fn visit_f64<Err: de::Error>(self, v: f64) -> Result<i32, Err> {
        // ProtoJSON allows an integer written with a zero fraction, such as `1.0`.
        let in_range = v.fract() == 0.0 && v >= f64::from(i32::MIN) && v <= f64::from(i32::MAX);
        if in_range {
            #[allow(clippy::cast_possible_truncation)] // Checked just above.
            Ok(v as i32)
        } else {
            Err(Err::invalid_value(de::Unexpected::Float(v), &self))
        }
    }

    fn visit_unit<Err: de::Error>(self) -> Result<i32, Err> {
        Ok(0)
    }

    fn visit_none<Err: de::Error>(self) -> Result<i32, Err> {
        Ok(0)
    }
}
