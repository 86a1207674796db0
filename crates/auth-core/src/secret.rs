//! Newtypes for every secret value: tokens, client secrets, codes and verifiers.
//!
//! Each type prints `Name([redacted])` in `Debug`, has no `Display`, zeroes its memory when the
//! last copy is dropped, and gives up its value only through [`secret()`](AccessToken::secret).
//! Clones share one allocation, so handing a token to many callers costs a reference count,
//! not a copy of the secret.

use std::fmt;
use std::sync::Arc;

use zeroize::Zeroizing;

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(Arc<Zeroizing<String>>);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(Arc::new(Zeroizing::new(value.into())))
            }

            /// The secret value. Every read of a secret goes through this method, so that a
            /// search for `.secret()` finds every place a secret leaves its wrapper.
            pub fn secret(&self) -> &str {
                self.0.as_str()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl PartialEq for $name {
            /// Compares in constant time with respect to the contents.
            fn eq(&self, other: &Self) -> bool {
                constant_time_eq(self.secret().as_bytes(), other.secret().as_bytes())
            }
        }

        impl Eq for $name {}

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self::new(value)
            }
        }
    };
}

secret_type!(
    /// An OAuth 2.0 client secret.
    ClientSecret
);
secret_type!(
    /// An access token, sent to the API in the authorization header.
    AccessToken
);
secret_type!(
    /// A refresh token, exchanged for new access tokens at the token endpoint.
    RefreshToken
);
secret_type!(
    /// An OpenID Connect ID token.
    IdToken
);
secret_type!(
    /// An authorization code from the redirect of the authorization code flow.
    AuthorizationCode
);
secret_type!(
    /// A PKCE code verifier (RFC 7636).
    PkceCodeVerifier
);
secret_type!(
    /// A device code from the device authorization response (RFC 8628).
    DeviceCode
);
secret_type!(
    /// A complete header value that carries a secret, such as `Bearer <token>`.
    HeaderValue
);

/// Compares two byte strings in time that depends only on their lengths.
///
/// Used for secrets and for the OAuth `state` parameter, which must not be compared with an
/// early-exit comparison.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // black_box keeps the optimiser from turning the fold back into an early exit.
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted_exactly() {
        assert_eq!(
            format!("{:?}", ClientSecret::new("s3cr3t")),
            "ClientSecret([redacted])"
        );
        assert_eq!(
            format!("{:?}", AccessToken::new("at")),
            "AccessToken([redacted])"
        );
        assert_eq!(
            format!("{:?}", RefreshToken::new("rt")),
            "RefreshToken([redacted])"
        );
        assert_eq!(format!("{:?}", IdToken::new("it")), "IdToken([redacted])");
        assert_eq!(
            format!("{:?}", AuthorizationCode::new("c")),
            "AuthorizationCode([redacted])"
        );
        assert_eq!(
            format!("{:?}", PkceCodeVerifier::new("v")),
            "PkceCodeVerifier([redacted])"
        );
        assert_eq!(
            format!("{:?}", DeviceCode::new("d")),
            "DeviceCode([redacted])"
        );
        assert_eq!(
            format!("{:?}", HeaderValue::new("Bearer x")),
            "HeaderValue([redacted])"
        );
        assert_eq!(
            format!("{:#?}", Some(AccessToken::new("at"))),
            "Some(\n    AccessToken([redacted]),\n)"
        );
    }

    #[test]
    fn secret_reads_value_and_clones_share_it() {
        let t = AccessToken::new("abc");
        let c = t.clone();
        assert_eq!(c.secret(), "abc");
        assert!(std::ptr::eq(t.secret(), c.secret()));
        assert_eq!(t, c);
        assert_ne!(t, AccessToken::new("abd"));
    }

    #[test]
    fn constant_time_eq_matches_eq() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"state", b"state"));
        assert!(!constant_time_eq(b"state", b"statE"));
        assert!(!constant_time_eq(b"state", b"state1"));
    }
}
