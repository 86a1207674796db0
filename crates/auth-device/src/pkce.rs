//! PKCE (RFC 7636, S256 only) for providers that demand it on the device authorization
//! request. Kept here, small, because no flow crate depends on another (auth-pkce has its own).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

use auth_core::PkceCodeVerifier;

/// A fresh verifier and its S256 challenge.
pub(crate) struct Pkce {
    pub(crate) verifier: PkceCodeVerifier,
    pub(crate) challenge: String,
}

impl Pkce {
    /// 32 random bytes, base64url without padding: a 43-character verifier.
    pub(crate) fn generate() -> Self {
        let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(bytes.as_mut());
        Self::from_verifier(PkceCodeVerifier::new(
            URL_SAFE_NO_PAD.encode(bytes.as_ref()),
        ))
    }

    fn from_verifier(verifier: PkceCodeVerifier) -> Self {
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.secret().as_bytes()));
        Self {
            verifier,
            challenge,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_vector() {
        let p = Pkce::from_verifier(PkceCodeVerifier::new(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        ));
        assert_eq!(p.challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn fresh_verifiers_are_43_unreserved_characters_and_differ() {
        let a = Pkce::generate();
        let b = Pkce::generate();
        assert_eq!(a.verifier.secret().len(), 43);
        assert!(
            a.verifier
                .secret()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(a.verifier, b.verifier);
        assert_ne!(a.challenge, b.challenge);
    }
}
