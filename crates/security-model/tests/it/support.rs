//! Helpers shared by the test modules.

use std::fmt::Debug;

use prost::Message;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// What every message type in the crate implements.
pub(crate) trait ProtoJson:
    Message + Default + Clone + PartialEq + Debug + Serialize + DeserializeOwned
{
}

impl<T> ProtoJson for T where
    T: Message + Default + Clone + PartialEq + Debug + Serialize + DeserializeOwned
{
}

/// Lowercase hex to bytes.
pub(crate) fn from_hex(hex: &str) -> Vec<u8> {
    assert!(hex.len().is_multiple_of(2), "odd-length hex {hex:?}");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// Bytes to lowercase hex.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses protobuf JSON into `T`, panicking with the input on failure.
pub(crate) fn parse<T: ProtoJson>(json: &Value) -> T {
    serde_json::from_value(json.clone())
        .unwrap_or_else(|e| panic!("cannot parse {json} as {}: {e}", std::any::type_name::<T>()))
}

/// Rewrites every object key from lowerCamelCase to snake_case (`k8sServiceAccount` becomes
/// `k8s_service_account`), the way protoc derives JSON names in reverse.
pub(crate) fn snake_case_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let mut snake = String::new();
                    for c in k.chars() {
                        if c.is_ascii_uppercase() {
                            snake.push('_');
                            snake.push(c.to_ascii_lowercase());
                        } else {
                            snake.push(c);
                        }
                    }
                    (snake, snake_case_keys(v))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(snake_case_keys).collect()),
        other => other.clone(),
    }
}
