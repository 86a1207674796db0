//! The `state` parameter of one login attempt. The PKCE verifier and challenge are
//! `auth_oauth2::pkce`'s, shared with the device flow.

use std::fmt;

use auth_core::{AuthError, constant_time_eq};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

/// Random bytes behind a `state` value (256 bits).
const STATE_BYTES: usize = 32;

/// The OAuth `state` of one login attempt: 256 random bits, base64url encoded.
///
/// It binds the redirect to the attempt that started it (CSRF protection, RFC 6749 §10.12), so
/// it is compared in constant time and never logged: `Debug` prints `[redacted]`.
#[derive(Clone)]
pub(crate) struct State(Zeroizing<String>);

impl State {
    /// A new random state.
    pub(crate) fn new_random() -> Result<Self, AuthError> {
        let bytes = auth_oauth2::pkce::random_bytes::<STATE_BYTES>()?;
        Ok(Self(Zeroizing::new(
            URL_SAFE_NO_PAD.encode(bytes.as_slice()),
        )))
    }

    /// A fixed state (tests).
    #[cfg(test)]
    pub(crate) fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The value, for the authorization URL.
    pub(crate) fn secret(&self) -> &str {
        self.0.as_str()
    }

    /// Whether `other` (from a redirect) is this state, compared in constant time.
    pub(crate) fn matches(&self, other: &str) -> bool {
        constant_time_eq(self.0.as_bytes(), other.as_bytes())
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("State([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_pkce_api_is_auth_oauth2s() {
        // auth-pkce re-exports the shared implementation; the RFC 7636 Appendix B and
        // flytekit vectors are tested in auth_oauth2::pkce.
        let p = crate::PkceChallenge::from_verifier(auth_core::PkceCodeVerifier::new(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        ));
        assert_eq!(p.challenge(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert_eq!(
            crate::code_challenge_s256("test_code_verifier"),
            "Qq1fGD0HhxwbmeMrqaebgn1qhvKeguQPXqLdpmixaM4"
        );
        assert_eq!(
            crate::PkceChallenge::new_random()
                .unwrap()
                .verifier()
                .secret()
                .len(),
            86
        );
    }

    #[test]
    fn state_is_random_redacted_and_compared() {
        let s = State::new_random().unwrap();
        assert_eq!(s.secret().len(), 43);
        assert_ne!(s.secret(), State::new_random().unwrap().secret());
        assert_eq!(format!("{s:?}"), "State([redacted])");
        assert!(s.matches(s.secret()));
        assert!(!s.matches("nope"));
        assert!(!s.matches(""));
    }
}
