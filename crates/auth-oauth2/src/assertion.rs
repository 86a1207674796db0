//! Client authentication with a JWT assertion (RFC 7523 §2.2, OpenID Connect
//! `private_key_jwt`), signed here with a key file or read from a federated token file.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;
#[cfg(feature = "private-key-jwt")]
use std::time::{SystemTime, UNIX_EPOCH};

use auth_core::AuthError;
#[cfg(feature = "private-key-jwt")]
use jsonwebtoken::{Algorithm, EncodingKey, Header};
#[cfg(feature = "private-key-jwt")]
use serde::Serialize;
use zeroize::Zeroizing;

/// The `client_assertion_type` of a JWT assertion (RFC 7523 §2.2).
pub const JWT_BEARER_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The lifetime of an assertion signed here: short, as RFC 7523 §3 asks.
pub const ASSERTION_LIFETIME: Duration = Duration::from_secs(60);

/// A federated token file larger than this is refused.
const MAX_TOKEN_FILE_BYTES: u64 = 64 * 1024;

/// How long reading a federated token file may take.
const FILE_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The signature algorithm of a `private_key_jwt` assertion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AssertionAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256, from an RSA key.
    Rs256,
    /// ECDSA on P-256 with SHA-256, from an EC key.
    Es256,
}

impl AssertionAlgorithm {
    /// Reads `RS256` or `ES256`, in any case.
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_uppercase().as_str() {
            "RS256" => Some(Self::Rs256),
            "ES256" => Some(Self::Es256),
            _ => None,
        }
    }
}

/// How a client proves who it is with a JWT instead of a secret.
///
/// - [`ClientAssertion::private_key_jwt`]: a JWT signed for every request with a private
///   key from a PEM file (`iss` = `sub` = the client id, `aud` = the token endpoint, a fresh
///   random `jti`, `exp` one minute ahead).
/// - [`ClientAssertion::token_file`]: a JWT someone else issued, such as a Kubernetes
///   projected service-account token or `AZURE_FEDERATED_TOKEN_FILE`, sent as it is. The file
///   is read for every request, so a token the kubelet rotated is used on the next one.
///
/// `Debug` shows the algorithm, key id or path, never the key or a token.
#[derive(Clone)]
pub struct ClientAssertion {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    #[cfg(feature = "private-key-jwt")]
    PrivateKeyJwt {
        key: EncodingKey,
        algorithm: AssertionAlgorithm,
        kid: Option<String>,
        path: PathBuf,
    },
    TokenFile(PathBuf),
}

impl fmt::Debug for ClientAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            #[cfg(feature = "private-key-jwt")]
            Kind::PrivateKeyJwt {
                algorithm,
                kid,
                path,
                ..
            } => f
                .debug_struct("PrivateKeyJwt")
                .field("algorithm", algorithm)
                .field("kid", kid)
                .field("key_file", path)
                .finish_non_exhaustive(),
            Kind::TokenFile(path) => f.debug_tuple("TokenFile").field(path).finish(),
        }
    }
}

#[cfg(feature = "private-key-jwt")]
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    jti: String,
    iat: u64,
    exp: u64,
}

impl ClientAssertion {
    /// `private_key_jwt` with the private key in `path` (PEM: PKCS#8, or PKCS#1 for RSA, or
    /// SEC1 for EC) and `kid` in the header when given (providers with several keys need it).
    ///
    /// # Errors
    ///
    /// A configuration error naming the file when it cannot be read or holds no key for the
    /// algorithm. The message never contains the key.
    #[cfg(feature = "private-key-jwt")]
    #[cfg_attr(docsrs, doc(cfg(feature = "private-key-jwt")))]
    pub fn private_key_jwt(
        path: impl Into<PathBuf>,
        algorithm: AssertionAlgorithm,
        kid: Option<String>,
    ) -> Result<Self, AuthError> {
        let path = path.into();
        let pem = read_capped(&path).map_err(|e| {
            AuthError::configuration(format!(
                "cannot read the client assertion key file {}: {e}",
                path.display()
            ))
        })?;
        let key = match algorithm {
            AssertionAlgorithm::Rs256 => EncodingKey::from_rsa_pem(&pem),
            AssertionAlgorithm::Es256 => EncodingKey::from_ec_pem(&pem),
        }
        .map_err(|_| {
            AuthError::configuration(format!(
                "the client assertion key file {} holds no {} private key in PEM; \
                 use an RSA key for RS256 and a P-256 key for ES256",
                path.display(),
                match algorithm {
                    AssertionAlgorithm::Rs256 => "RSA",
                    AssertionAlgorithm::Es256 => "P-256 EC",
                }
            ))
        })?;
        Ok(Self {
            kind: Kind::PrivateKeyJwt {
                key,
                algorithm,
                kid: kid.filter(|k| !k.trim().is_empty()),
                path,
            },
        })
    }

    /// A federated token file, sent as the assertion as it is (surrounding whitespace
    /// removed) and read again for every request.
    pub fn token_file(path: impl Into<PathBuf>) -> Self {
        Self {
            kind: Kind::TokenFile(path.into()),
        }
    }

    /// The assertion for one request to `audience` (the token endpoint URL).
    #[cfg_attr(not(feature = "private-key-jwt"), allow(unused_variables))]
    pub(crate) async fn assertion(
        &self,
        client_id: &str,
        audience: &str,
    ) -> Result<Zeroizing<String>, AuthError> {
        match &self.kind {
            #[cfg(feature = "private-key-jwt")]
            Kind::PrivateKeyJwt {
                key,
                algorithm,
                kid,
                ..
            } => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_err(|_| AuthError::configuration("the system clock is before 1970"))?
                    .as_secs();
                let jti = crate::random::bytes::<16>()?;
                let claims = Claims {
                    iss: client_id,
                    sub: client_id,
                    aud: audience,
                    jti: jti.iter().map(|b| format!("{b:02x}")).collect(),
                    iat: now,
                    exp: now + ASSERTION_LIFETIME.as_secs(),
                };
                let mut header = Header::new(match algorithm {
                    AssertionAlgorithm::Rs256 => Algorithm::RS256,
                    AssertionAlgorithm::Es256 => Algorithm::ES256,
                });
                header.kid = kid.clone();
                jsonwebtoken::encode(&header, &claims, key)
                    .map(Zeroizing::new)
                    .map_err(|_| AuthError::configuration("signing the client assertion failed"))
            }
            Kind::TokenFile(path) => read_token_file(path).await,
        }
    }
}

/// Reads a regular file of at most 64 KiB (a FIFO or device would block or never end).
fn read_capped(path: &Path) -> std::io::Result<Zeroizing<Vec<u8>>> {
    use std::io::Read;
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::other("it is not a regular file"));
    }
    let mut bytes = Zeroizing::new(Vec::new());
    std::fs::File::open(path)?
        .take(MAX_TOKEN_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_TOKEN_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "it is larger than {MAX_TOKEN_FILE_BYTES} bytes"
        )));
    }
    Ok(bytes)
}

async fn read_token_file(path: &Path) -> Result<Zeroizing<String>, AuthError> {
    let fail = |what: String| {
        AuthError::configuration(format!(
            "federated token file {}: {what}; check the path and the volume that provides it \
             (for Kubernetes, a projected serviceAccountToken volume)",
            path.display()
        ))
    };
    let owned = path.to_owned();
    let read = tokio::task::spawn_blocking(move || read_capped(&owned));
    let bytes = tokio::time::timeout(FILE_READ_TIMEOUT, read)
        .await
        .map_err(|_| fail(format!("reading it took longer than {FILE_READ_TIMEOUT:?}")))?
        .map_err(|_| fail("the read was cancelled".into()))?
        .map_err(|e| fail(format!("cannot read it ({e})")))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| fail("it is not UTF-8 text".into()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(fail("it is empty".into()));
    }
    Ok(Zeroizing::new(token.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithms_parse_in_any_case() {
        assert_eq!(
            AssertionAlgorithm::parse("rs256"),
            Some(AssertionAlgorithm::Rs256)
        );
        assert_eq!(
            AssertionAlgorithm::parse(" ES256 "),
            Some(AssertionAlgorithm::Es256)
        );
        assert_eq!(AssertionAlgorithm::parse("HS256"), None);
    }

    #[test]
    fn a_bad_key_file_is_named_without_its_contents() {
        let dir =
            std::env::temp_dir().join(format!("auth-oauth2-assertion-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("not-a-key.pem");
        std::fs::write(&path, "planted-not-a-key").expect("write");
        let e =
            ClientAssertion::private_key_jwt(&path, AssertionAlgorithm::Rs256, None).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("holds no RSA private key"), "{text}");
        assert!(!text.contains("planted"), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
