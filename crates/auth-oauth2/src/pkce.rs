//! PKCE (RFC 7636, S256 only): the verifier and challenge of one authorization.
//!
//! Shared by every flow that sends a challenge: the authorization code flow (`auth-pkce`) and
//! the device flow for providers that demand one (`auth-device`).
//!
//! ```
//! use auth_oauth2::pkce::{PkceChallenge, code_challenge_s256};
//!
//! let pkce = PkceChallenge::new_random()?;
//! assert_eq!(pkce.method(), "S256");
//! assert_eq!(pkce.challenge(), code_challenge_s256(pkce.verifier().secret()));
//! # Ok::<(), auth_core::AuthError>(())
//! ```

use auth_core::{AuthError, PkceCodeVerifier};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

/// Random bytes behind a verifier: 64 bytes give 86 base64url characters, within the 43 to 128
/// characters RFC 7636 §4.1 allows.
const VERIFIER_BYTES: usize = 64;

/// A PKCE code verifier with its S256 code challenge.
///
/// Made fresh for every authorization by [`PkceChallenge::new_random`]. The verifier is a
/// secret (`Debug` prints `[redacted]`); the challenge is public by design.
#[derive(Clone, Debug)]
pub struct PkceChallenge {
    verifier: PkceCodeVerifier,
    challenge: String,
}

impl PkceChallenge {
    /// A new verifier of 64 random bytes from the operating system's generator, base64url
    /// encoded without padding (86 characters), and its S256 challenge. Fails only when the
    /// operating system's generator does.
    pub fn new_random() -> Result<Self, AuthError> {
        let bytes = random_bytes::<VERIFIER_BYTES>()?;
        let verifier = Zeroizing::new(URL_SAFE_NO_PAD.encode(bytes.as_slice()));
        Ok(Self::from_verifier(PkceCodeVerifier::new(
            verifier.as_str(),
        )))
    }

    /// The challenge of a given verifier (tests and interoperability checks).
    pub fn from_verifier(verifier: PkceCodeVerifier) -> Self {
        let challenge = code_challenge_s256(verifier.secret());
        Self {
            verifier,
            challenge,
        }
    }

    /// The verifier, sent with the code exchange (or with each device token poll).
    pub fn verifier(&self) -> &PkceCodeVerifier {
        &self.verifier
    }

    /// The `code_challenge`, sent with the authorization request.
    pub fn challenge(&self) -> &str {
        &self.challenge
    }

    /// The `code_challenge_method`: always `S256` (RFC 7636 §4.2; `plain` is not offered).
    pub fn method(&self) -> &'static str {
        "S256"
    }
}

/// `BASE64URL-ENCODE(SHA256(ASCII(verifier)))`, the S256 code challenge of RFC 7636 §4.2.
pub fn code_challenge_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `N` bytes from the operating system's generator, zeroized on drop. For PKCE verifiers
/// and the `state` of a login attempt.
pub fn random_bytes<const N: usize>() -> Result<Zeroizing<[u8; N]>, AuthError> {
    crate::random::bytes::<N>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_vector() {
        // The verifier octets of RFC 7636 Appendix B, and their base64url form.
        let octets: [u8; 32] = [
            116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212,
            37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
        ];
        let verifier = URL_SAFE_NO_PAD.encode(octets);
        assert_eq!(verifier, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        let p = PkceChallenge::from_verifier(PkceCodeVerifier::new(verifier));
        assert_eq!(p.challenge(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert_eq!(p.method(), "S256");
    }

    #[test]
    fn flytekit_vector() {
        assert_eq!(
            code_challenge_s256("test_code_verifier"),
            "Qq1fGD0HhxwbmeMrqaebgn1qhvKeguQPXqLdpmixaM4"
        );
    }

    #[test]
    fn random_verifier_is_86_unreserved_characters_and_fresh() {
        let a = PkceChallenge::new_random().unwrap();
        let b = PkceChallenge::new_random().unwrap();
        let v = a.verifier().secret();
        assert_eq!(v.len(), 86);
        assert!(
            v.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'),
            "{v}"
        );
        assert_ne!(v, b.verifier().secret());
        assert_ne!(a.challenge(), b.challenge());
        assert_eq!(a.challenge(), code_challenge_s256(v));
        assert_eq!(a.challenge().len(), 43);
    }

    #[test]
    fn challenge_debug_hides_verifier() {
        let p = PkceChallenge::from_verifier(PkceCodeVerifier::new("very-secret-verifier"));
        assert!(!format!("{p:?}").contains("very-secret-verifier"));
    }
}
