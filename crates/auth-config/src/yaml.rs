//! Reading the `admin:` section of a config.yaml.
//!
//! The YAML crate only parses; this module decides what each key may hold, so that every error
//! names its key. Each known key is read with the shape it needs: strings as the text that was
//! written (so `clientId: 0123` stays `0123`), booleans and lists as whatever YAML makes of
//! them. Keys are matched without regard to case, as flytectl (viper) does. Everything outside
//! `admin:` and every unknown key is skipped without being looked at.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// What YAML gave for one key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Raw {
    /// `key:`, `key: ~` or `key: null`.
    Null,
    /// A scalar read as text, exactly as written.
    Text(String),
    /// A YAML boolean (`true`, also `yes`/`on` in YAML 1.1 style).
    Bool(bool),
    /// A YAML integer.
    Int(i128),
    /// A YAML float.
    Float(f64),
    /// A sequence of scalars, each as written; null items are dropped.
    List(Vec<String>),
}

/// How a key is read.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// A scalar kept as text.
    Text,
    /// Whatever YAML makes of a scalar: booleans.
    Scalar,
    /// A sequence of strings, or a single scalar.
    List,
    /// A nested mapping with its own keys.
    Section(&'static [(&'static str, Shape)]),
}

const PKCE_KEYS: &[(&str, Shape)] = &[("timeout", Shape::Text)];
const DEVICE_FLOW_KEYS: &[(&str, Shape)] =
    &[("timeout", Shape::Text), ("pollInterval", Shape::Text)];

/// The keys under `admin:` that this crate reads, in flytectl's spelling.
const ADMIN_KEYS: &[(&str, Shape)] = &[
    ("endpoint", Shape::Text),
    ("insecure", Shape::Scalar),
    ("insecureSkipVerify", Shape::Scalar),
    ("caCertFilePath", Shape::Text),
    ("httpProxyURL", Shape::Text),
    ("authType", Shape::Text),
    ("clientId", Shape::Text),
    ("clientSecretLocation", Shape::Text),
    ("clientSecretEnvVar", Shape::Text),
    ("scopes", Shape::List),
    ("audience", Shape::Text),
    ("clientAuthMethod", Shape::Text),
    ("clientAssertionKeyFile", Shape::Text),
    ("clientAssertionAlgorithm", Shape::Text),
    ("clientAssertionKeyId", Shape::Text),
    ("federatedTokenFile", Shape::Text),
    ("issuer", Shape::Text),
    ("command", Shape::List),
    ("proxyCommand", Shape::List),
    ("tokenUrl", Shape::Text),
    ("authorizationEndpoint", Shape::Text),
    ("deviceAuthorizationEndpoint", Shape::Text),
    ("authorizationHeader", Shape::Text),
    ("redirectUri", Shape::Text),
    ("tokenRefreshWindow", Shape::Text),
    ("disableKeyring", Shape::Scalar),
    ("keyringLayout", Shape::Text),
    ("discovery", Shape::Text),
    ("pkceConfig", Shape::Section(PKCE_KEYS)),
    ("deviceFlowConfig", Shape::Section(DEVICE_FLOW_KEYS)),
];

/// The values found under `admin:`, keyed by their full dotted name in flytectl's spelling
/// (`admin.pkceConfig.timeout`).
#[derive(Debug, Default)]
pub(crate) struct AdminValues {
    pub(crate) values: Vec<(String, Raw)>,
}

impl AdminValues {
    /// The value of `key` (full dotted name), if the file had it.
    pub(crate) fn get(&self, key: &str) -> Option<&Raw> {
        self.values.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// A YAML document that could not be read: the message, and the key being read if any.
#[derive(Debug)]
pub(crate) struct YamlError {
    pub(crate) key: Option<String>,
    pub(crate) message: String,
}

/// Reads the `admin:` section of a YAML document.
pub(crate) fn read_admin(text: &str) -> Result<AdminValues, YamlError> {
    let state = State::default();
    let options = serde_saphyr::options! {
        // Errors go into our own messages; the source snippet could show lines the user did
        // not ask to see.
        with_snippet: false,
    };
    let result = serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
        DocumentSeed { state: &state }.deserialize(de)
    });
    match result {
        Ok(()) => Ok(AdminValues {
            values: state.values.into_inner(),
        }),
        Err(err) => Err(YamlError {
            key: state.current.into_inner(),
            message: err.to_string(),
        }),
    }
}

/// Shared by the visitors: the values found, and the key being read (for error messages).
#[derive(Default)]
struct State {
    values: RefCell<Vec<(String, Raw)>>,
    current: RefCell<Option<String>>,
}

/// A mapping key: only string keys can be ours; anything else (a number, a sequence) is kept
/// as `None` and its value skipped.
struct AnyKey(Option<String>);

impl<'de> de::Deserialize<'de> for AnyKey {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = AnyKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<AnyKey, E> {
                Ok(AnyKey(Some(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<AnyKey, E> {
                Ok(AnyKey(Some(v)))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<AnyKey, E> {
                Ok(AnyKey(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<AnyKey, E> {
                Ok(AnyKey(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<AnyKey, E> {
                Ok(AnyKey(None))
            }
            fn visit_i128<E: de::Error>(self, _: i128) -> Result<AnyKey, E> {
                Ok(AnyKey(None))
            }
            fn visit_u128<E: de::Error>(self, _: u128) -> Result<AnyKey, E> {
                Ok(AnyKey(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<AnyKey, E> {
                Ok(AnyKey(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<AnyKey, E> {
                Ok(AnyKey(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<AnyKey, E> {
                Ok(AnyKey(None))
            }
            fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<AnyKey, E> {
                Ok(AnyKey(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AnyKey, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(AnyKey(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AnyKey, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(AnyKey(None))
            }
        }
        de.deserialize_any(KeyVisitor)
    }
}

/// Implements the scalar `visit_*` methods of a visitor that wants a mapping, so that the
/// error names the kind of value but never echoes it: a config path given by mistake to a
/// secret file must not print the secret.
macro_rules! refuse_scalars {
    () => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
            Err(E::custom(format!(
                "expected {}, found a boolean",
                Expecting(&self)
            )))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
            Err(E::custom(format!(
                "expected {}, found a number",
                Expecting(&self)
            )))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
            Err(E::custom(format!(
                "expected {}, found a number",
                Expecting(&self)
            )))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
            Err(E::custom(format!(
                "expected {}, found a number",
                Expecting(&self)
            )))
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
            Err(E::custom(format!(
                "expected {}, found a string",
                Expecting(&self)
            )))
        }
        fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<(), E> {
            Err(E::custom(format!(
                "expected {}, found binary data",
                Expecting(&self)
            )))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
            Err(de::Error::custom(format!(
                "expected {}, found a list",
                Expecting(&self)
            )))
        }
    };
}

/// A visitor's `expecting` text, for [`refuse_scalars`].
struct Expecting<'a, V>(&'a V);

impl<'de, V: Visitor<'de>> fmt::Display for Expecting<'_, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }
}

/// The whole document: only `admin:` is read.
struct DocumentSeed<'a> {
    state: &'a State,
}

impl<'de> DeserializeSeed<'de> for DocumentSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DocumentSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping of sections such as `admin:` at the top of the file")
    }

    refuse_scalars!();

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(()) // An empty file.
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen_admin = false;
        while let Some(AnyKey(key)) = map.next_key()? {
            if key
                .as_deref()
                .is_some_and(|k| k.eq_ignore_ascii_case("admin"))
            {
                if seen_admin {
                    return Err(de::Error::custom(
                        "`admin` is given twice (keys are case-insensitive); merge the two sections",
                    ));
                }
                seen_admin = true;
                map.next_value_seed(SectionSeed {
                    state: self.state,
                    prefix: "admin".to_owned(),
                    keys: ADMIN_KEYS,
                })?;
                *self.state.current.borrow_mut() = None;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// A mapping with known keys: `admin:` or one of its nested sections.
struct SectionSeed<'a> {
    state: &'a State,
    prefix: String,
    keys: &'static [(&'static str, Shape)],
}

impl<'de> DeserializeSeed<'de> for SectionSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for SectionSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a mapping under `{}`", self.prefix)
    }

    refuse_scalars!();

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(()) // `admin:` with nothing under it.
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen: Vec<&'static str> = Vec::new();
        while let Some(AnyKey(key)) = map.next_key()? {
            let known = key.as_deref().and_then(|k| {
                self.keys
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(k))
                    .copied()
            });
            let Some((name, shape)) = known else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let full = format!("{}.{name}", self.prefix);
            *self.state.current.borrow_mut() = Some(full.clone());
            if seen.contains(&name) {
                return Err(de::Error::custom(format!(
                    "`{name}` is given twice (keys are case-insensitive); keep one"
                )));
            }
            seen.push(name);
            match shape {
                Shape::Section(keys) => {
                    map.next_value_seed(SectionSeed {
                        state: self.state,
                        prefix: full,
                        keys,
                    })?;
                }
                shape => {
                    let raw = map.next_value_seed(ValueSeed { shape })?;
                    self.state.values.borrow_mut().push((full, raw));
                }
            }
            *self.state.current.borrow_mut() = None;
        }
        Ok(())
    }
}

/// One value of a known key, read with its shape.
struct ValueSeed {
    shape: Shape,
}

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Raw;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Raw, D::Error> {
        match self.shape {
            Shape::Text => de.deserialize_option(TextVisitor),
            _ => de.deserialize_any(AnyVisitor { shape: self.shape }),
        }
    }
}

/// A scalar as text; null as [`Raw::Null`].
struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_none<E: de::Error>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<Raw, D::Error> {
        de.deserialize_string(self)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Text(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Text(v))
    }
}

/// A list item as text; null items give `None`.
struct ItemSeed;

impl<'de> DeserializeSeed<'de> for ItemSeed {
    type Value = Option<String>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Option<String>, D::Error> {
        match de.deserialize_option(TextVisitor)? {
            Raw::Text(s) => Ok(Some(s)),
            _ => Ok(None),
        }
    }
}

/// Whatever YAML makes of the value; sequences only where a list belongs.
struct AnyVisitor {
    shape: Shape,
}

impl<'de> Visitor<'de> for AnyVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.shape {
            Shape::List => f.write_str("a list of strings"),
            _ => f.write_str("true or false"),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<Raw, D::Error> {
        de.deserialize_any(self)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Int(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw::Int(v.into()))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Raw, E> {
        Ok(Raw::Int(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Text(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Text(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        if !matches!(self.shape, Shape::List) {
            return Err(de::Error::invalid_type(de::Unexpected::Seq, &self));
        }
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(ItemSeed)? {
            items.extend(item);
        }
        Ok(Raw::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, _map: A) -> Result<Raw, A::Error> {
        Err(de::Error::invalid_type(de::Unexpected::Map, &self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin(text: &str) -> Vec<(String, Raw)> {
        read_admin(text)
            .map(|v| v.values)
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn text(s: &str) -> Raw {
        Raw::Text(s.to_owned())
    }

    #[test]
    fn empty_documents() {
        assert!(admin("").is_empty());
        assert!(admin("# just a comment\n").is_empty());
        assert!(admin("admin:\n").is_empty());
        assert!(admin("storage:\n  type: minio\n").is_empty());
    }

    #[test]
    fn strings_keep_their_text() {
        let v = admin(
            "admin:\n  clientId: 0123\n  audience: yes\n  endpoint: dns:///x:443\n  tokenUrl:\n",
        );
        assert_eq!(
            v,
            [
                ("admin.clientId".to_owned(), text("0123")),
                ("admin.audience".to_owned(), text("yes")),
                ("admin.endpoint".to_owned(), text("dns:///x:443")),
                ("admin.tokenUrl".to_owned(), Raw::Null),
            ]
        );
    }

    #[test]
    fn keys_are_case_insensitive_and_unknown_keys_skipped() {
        let v = admin(
            "Admin:\n  CLIENTID: x\n  maxRetries: 4\n  useAuth: true\n  1: one\n  n: no\n  pkceconfig: {Timeout: 2m, refreshTime: 5m}\n",
        );
        assert_eq!(
            v,
            [
                ("admin.clientId".to_owned(), text("x")),
                ("admin.pkceConfig.timeout".to_owned(), text("2m")),
            ]
        );
    }

    #[test]
    fn scalars_and_lists() {
        let v = admin(
            "admin:\n  insecure: yes\n  insecureSkipVerify: 'false'\n  scopes: [openid, ~, all]\n  command:\n    - gcloud\n    - 8080\n  proxyCommand: one-string\n",
        );
        assert_eq!(
            v,
            [
                ("admin.insecure".to_owned(), Raw::Bool(true)),
                ("admin.insecureSkipVerify".to_owned(), text("false")),
                (
                    "admin.scopes".to_owned(),
                    Raw::List(vec!["openid".into(), "all".into()])
                ),
                (
                    "admin.command".to_owned(),
                    Raw::List(vec!["gcloud".into(), "8080".into()])
                ),
                ("admin.proxyCommand".to_owned(), text("one-string")),
            ]
        );
    }

    #[test]
    fn other_sections_may_hold_anything() {
        let v = admin(
            "storage:\n  ? [complex, key]\n  : value\n  1: 2\nlogger:\n  level: &lvl 4\n  other: *lvl\nadmin:\n  endpoint: e\n",
        );
        assert_eq!(v, [("admin.endpoint".to_owned(), text("e"))]);
    }

    #[test]
    fn wrong_shapes_name_the_key() {
        let err = read_admin("admin:\n  endpoint:\n    host: x\n").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("admin.endpoint"));
        assert!(err.message.contains("line"), "{}", err.message);

        let err = read_admin("admin:\n  insecure: {a: 1}\n").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("admin.insecure"));

        let err = read_admin("admin:\n  insecure: [true]\n").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("admin.insecure"));

        let err = read_admin("admin:\n  deviceFlowConfig:\n    pollInterval: [1s]\n").unwrap_err();
        assert_eq!(
            err.key.as_deref(),
            Some("admin.deviceFlowConfig.pollInterval")
        );

        let err = read_admin("admin: [1, 2]\n").unwrap_err();
        assert_eq!(err.key, None);
        assert!(err.message.contains("admin"), "{}", err.message);
    }

    #[test]
    fn scalars_where_a_mapping_belongs_are_not_echoed() {
        // A secret file given as the config file by mistake.
        let err = read_admin("hunter2-secret\n").unwrap_err();
        assert!(!err.message.contains("hunter2"), "{}", err.message);
        assert!(err.message.contains("found a string"), "{}", err.message);

        let err = read_admin("admin: hunter2-secret\n").unwrap_err();
        assert!(!err.message.contains("hunter2"), "{}", err.message);
        let err = read_admin("admin:\n  pkceConfig: hunter2-secret\n").unwrap_err();
        assert!(!err.message.contains("hunter2"), "{}", err.message);
        assert_eq!(err.key.as_deref(), Some("admin.pkceConfig"));
        for doc in ["true", "42", "1.5", "[a]"] {
            assert!(read_admin(doc).is_err(), "{doc}");
        }
    }

    #[test]
    fn duplicates_are_errors() {
        let err = read_admin("admin:\n  clientId: a\n  clientid: b\n").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("admin.clientId"));
        assert!(err.message.contains("twice"), "{}", err.message);

        let err = read_admin("admin:\n  clientId: a\nAdmin:\n  clientId: b\n").unwrap_err();
        assert!(err.message.contains("twice"), "{}", err.message);
    }

    #[test]
    fn syntax_errors_have_a_location() {
        let err = read_admin("admin:\n  endpoint: [\n").unwrap_err();
        assert!(err.message.contains("line"), "{}", err.message);
        let err = read_admin("- just\n- a list\n").unwrap_err();
        assert_eq!(err.key, None);
    }
}
