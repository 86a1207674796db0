//! Flyte 2 API keys: one string that carries the endpoint and client credentials.

use std::collections::HashMap;
use std::fmt;

use auth_core::ClientSecret;

use crate::error::{ConfigError, Origin};
use crate::mode::AuthMode;
use crate::parse::strip_dns;
use crate::settings::{SecretSource, Settings};
use crate::vars;

/// A Flyte 2 API key, decoded: the endpoint, a client id and secret for the client
/// credentials grant, and an organization.
///
/// The encoded form is what `flyte create api-key` prints and `flyte.init_from_api_key` reads
/// from `FLYTE_API_KEY`: base64 of `endpoint:client_id:client_secret:org`.
///
/// Decoding accepts every key Flyte 2 (2.12.1) accepts and gives the same fields, with these
/// differences, each where Flyte's own reading is wrong or refuses a usable key:
/// - The secret may contain `:`. Flyte splits on the first three colons, so such a secret
///   loses its tail to the organization; here the client id ends at the first colon after the
///   endpoint, the organization starts after the last one, and the secret is everything
///   between.
/// - The endpoint may carry a scheme (`dns:///`, `https://`, `http://`) and a port
///   (`host:8443`, recognised when at least three fields follow it); Flyte would split them.
/// - The URL-safe base64 alphabet (`-`, `_`) and missing `=` padding are accepted. Otherwise
///   the decoder is CPython's non-strict one, as Flyte uses it: characters outside the
///   alphabet (whitespace, newlines) are skipped and decoding stops at the first complete
///   padding.
/// - An empty endpoint, client id or secret is an error rather than a key that cannot work.
///
/// ```
/// use auth_config::ApiKey;
///
/// // base64("flyte.example.com:my-app:s3:cr:et:acme")
/// let key = ApiKey::decode("Zmx5dGUuZXhhbXBsZS5jb206bXktYXBwOnMzOmNyOmV0OmFjbWU=")?;
/// assert_eq!(key.endpoint(), "flyte.example.com");
/// assert_eq!(key.client_id(), "my-app");
/// assert_eq!(key.client_secret().secret(), "s3:cr:et");
/// assert_eq!(key.org(), Some("acme"));
/// # Ok::<(), auth_config::ApiKeyError>(())
/// ```
#[derive(Clone)]
pub struct ApiKey {
    endpoint: String,
    client_id: String,
    client_secret: ClientSecret,
    org: Option<String>,
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("org", &self.org)
            .finish()
    }
}

/// An API key that cannot be decoded. The message never contains the key or its secret.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeyError {
    /// Not base64.
    #[error(
        "the API key is not valid base64 ({reason}): copy the whole key as `flyte create api-key` printed it"
    )]
    NotBase64 {
        /// What is wrong.
        reason: &'static str,
    },
    /// The decoded key is not UTF-8 text.
    #[error("the API key does not decode to text: it is not a Flyte API key, or it was cut short")]
    NotUtf8,
    /// The decoded key does not have the four fields.
    #[error(
        "the API key has {parts} ':'-separated fields, it needs endpoint:client_id:client_secret:org; create a new key with `flyte create api-key`"
    )]
    Format {
        /// How many fields it has.
        parts: usize,
    },
    /// A field that must not be empty is.
    #[error("the API key's {field} is empty; create a new key with `flyte create api-key`")]
    EmptyField {
        /// `endpoint`, `client id` or `client secret`.
        field: &'static str,
    },
}

impl ApiKey {
    /// Decodes an API key (surrounding whitespace is ignored).
    ///
    /// # Errors
    ///
    /// [`ApiKeyError`] when the key is not base64, not text, or lacks a field.
    pub fn decode(encoded: &str) -> Result<Self, ApiKeyError> {
        let bytes = python_b64decode(encoded.trim())?;
        // Wrap at once, so that the decoded key is zeroed when dropped.
        let text = match String::from_utf8(bytes) {
            Ok(text) => ClientSecret::new(text),
            Err(err) => {
                wipe(err.into_bytes());
                return Err(ApiKeyError::NotUtf8);
            }
        };
        let (endpoint, client_id, secret, org) = split_fields(text.secret())?;
        if endpoint.is_empty() {
            return Err(ApiKeyError::EmptyField { field: "endpoint" });
        }
        if client_id.is_empty() {
            return Err(ApiKeyError::EmptyField { field: "client id" });
        }
        if secret.is_empty() {
            return Err(ApiKeyError::EmptyField {
                field: "client secret",
            });
        }
        Ok(Self {
            endpoint: normalise_endpoint(endpoint),
            client_id: client_id.to_owned(),
            client_secret: ClientSecret::new(secret),
            org: (!org.is_empty()).then(|| org.to_owned()),
        })
    }

    /// The endpoint as `host[:port]`: Flyte's `sanitize_endpoint` turns `https://` and
    /// `http://` into `dns:///` (a TLS gRPC endpoint), and `dns:///` is left out here, as for
    /// `admin.endpoint`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The client secret.
    pub fn client_secret(&self) -> &ClientSecret {
        &self.client_secret
    }

    /// The organization, if the key names one.
    pub fn org(&self) -> Option<&str> {
        self.org.as_deref()
    }

    /// The variable holding an API key in `env`, and the key: `FLYTE_API_KEY` always;
    /// `_UNION_EAGER_API_KEY`, then `EAGER_API_KEY` (the key Flyte injects into task pods)
    /// only when `injected_allowed`. Empty variables count as not set.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidApiKey`] when the variable holds a key that cannot be decoded.
    pub fn from_env(
        env: &HashMap<String, String>,
        injected_allowed: bool,
    ) -> Result<Option<(&'static str, ApiKey)>, ConfigError> {
        let names: &[&'static str] = if injected_allowed {
            &[
                vars::API_KEY,
                vars::UNION_EAGER_API_KEY,
                vars::EAGER_API_KEY,
            ]
        } else {
            &[vars::API_KEY]
        };
        for &name in names {
            if let Some(value) = env.get(name).filter(|v| !v.trim().is_empty()) {
                let key = ApiKey::decode(value).map_err(|source| ConfigError::InvalidApiKey {
                    origin: Origin::Env {
                        var: name.to_owned(),
                    },
                    source,
                })?;
                return Ok(Some((name, key)));
            }
        }
        Ok(None)
    }
}

impl Settings {
    /// Uses an API key for the endpoint and client credentials: sets `endpoint`, `client_id`,
    /// `client_secret` (with `source` as its [`SecretSource::ApiKey`]) and selects
    /// [`AuthMode::ClientSecret`], as Flyte 2 does. Nothing else changes; in particular the
    /// process environment is not touched.
    pub fn apply_api_key(&mut self, key: ApiKey, source: impl Into<String>) {
        self.endpoint = Some(key.endpoint);
        self.client_id = Some(key.client_id);
        self.client_secret = Some(key.client_secret);
        self.client_secret_source = Some(SecretSource::ApiKey(source.into()));
        self.auth_mode = AuthMode::ClientSecret;
    }
}

/// Flyte's `sanitize_endpoint` (`https://` and `http://` become `dns:///`), then without
/// `dns:///`.
fn normalise_endpoint(endpoint: &str) -> String {
    let e = endpoint
        .strip_prefix("https://")
        .or_else(|| endpoint.strip_prefix("http://"))
        .unwrap_or(endpoint);
    strip_dns(e).to_owned()
}

const SCHEMES: [&str; 3] = ["dns:///", "https://", "http://"];

/// `endpoint:client_id:client_secret:org`, where the endpoint may have a scheme and a port
/// and the secret may contain `:`.
fn split_fields(s: &str) -> Result<(&str, &str, &str, &str), ApiKeyError> {
    let scheme_len = SCHEMES
        .iter()
        .find(|p| s.starts_with(*p))
        .map_or(0, |p| p.len());
    let rest = &s[scheme_len..];
    let segments: Vec<&str> = rest.split(':').collect();
    // Flyte's count (split on the first three colons), for the message.
    let flyte_parts = s.splitn(4, ':').count();
    let Some(host) = segments.first() else {
        return Err(ApiKeyError::Format { parts: flyte_parts });
    };
    let mut end = scheme_len + host.len();
    let mut first = 1;
    if segments.len() >= 5
        && !segments[1].is_empty()
        && segments[1].bytes().all(|b| b.is_ascii_digit())
    {
        end += 1 + segments[1].len();
        first = 2;
    }
    let fields = &segments[first..];
    if fields.len() < 3 {
        return Err(ApiKeyError::Format { parts: flyte_parts });
    }
    let endpoint = &s[..end];
    let client_id = fields[0];
    let org = fields[fields.len() - 1];
    // The secret: everything between the client id's colon and the last colon.
    let secret_start = end + 1 + client_id.len() + 1;
    let secret_end = s.len() - org.len() - 1;
    let secret = s.get(secret_start..secret_end).unwrap_or_default();
    Ok((endpoint, client_id, secret, org))
}

/// CPython's `base64.b64decode(s.encode("utf-8"))` (non-strict `binascii.a2b_base64`, which
/// skips every byte outside the alphabet, non-ASCII ones included), which Flyte uses, with
/// two additions: the URL-safe alphabet when the input uses `-` or `_` and neither `+` nor `/`,
/// and input that ends without its `=` padding.
fn python_b64decode(s: &str) -> Result<Vec<u8>, ApiKeyError> {
    let url_safe = s.contains(['-', '_']) && !s.contains(['+', '/']);
    let value = |c: u8| -> Option<u8> {
        match c {
            b'A'..=b'Z' => Some(c - b'A'),
            b'a'..=b'z' => Some(c - b'a' + 26),
            b'0'..=b'9' => Some(c - b'0' + 52),
            b'+' if !url_safe => Some(62),
            b'/' if !url_safe => Some(63),
            b'-' if url_safe => Some(62),
            b'_' if url_safe => Some(63),
            _ => None,
        }
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut quad_pos = 0u8;
    let mut left = 0u8;
    let mut pads = 0u8;
    for c in s.bytes() {
        if c == b'=' {
            if quad_pos >= 2 {
                pads += 1;
                if quad_pos + pads >= 4 {
                    // A complete padding ends the data; anything after it is ignored.
                    return Ok(out);
                }
            }
            continue;
        }
        let Some(v) = value(c) else {
            // Skipped, as CPython skips characters outside the alphabet.
            continue;
        };
        pads = 0;
        match quad_pos {
            0 => {
                left = v;
                quad_pos = 1;
            }
            1 => {
                out.push((left << 2) | (v >> 4));
                left = v & 0x0f;
                quad_pos = 2;
            }
            2 => {
                out.push((left << 4) | (v >> 2));
                left = v & 0x03;
                quad_pos = 3;
            }
            _ => {
                out.push((left << 6) | v);
                left = 0;
                quad_pos = 0;
            }
        }
    }
    if quad_pos == 1 {
        wipe(out);
        return Err(ApiKeyError::NotBase64 {
            reason: "its length is one more than a multiple of four",
        });
    }
    // quad_pos 2 or 3: CPython says "Incorrect padding"; the bytes are complete, so accept.
    Ok(out)
}

/// Overwrites bytes that held a secret before they are freed (best effort, without unsafe).
fn wipe(mut bytes: Vec<u8>) {
    bytes.iter_mut().for_each(|b| *b = 0);
    std::hint::black_box(&bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_colons_in_the_secret() {
        assert_eq!(split_fields("h:c:s:o").expect("ok"), ("h", "c", "s", "o"));
        assert_eq!(
            split_fields("h:c:s:e:c:o").expect("ok"),
            ("h", "c", "s:e:c", "o")
        );
        assert_eq!(
            split_fields("dns:///h:8443:c:s:o").expect("ok"),
            ("dns:///h:8443", "c", "s", "o")
        );
        assert_eq!(
            split_fields("h:123:s:o").expect("ok"),
            ("h", "123", "s", "o")
        );
        assert_eq!(
            split_fields("h:c:o").unwrap_err(),
            ApiKeyError::Format { parts: 3 }
        );
    }

    #[test]
    fn debug_redacts_the_secret() {
        // base64("h:c:hunter2:o")
        let key = ApiKey::decode("aDpjOmh1bnRlcjI6bw==").expect("decodes");
        let text = format!("{key:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("[redacted]"), "{text}");
    }
}
