//! Credentials: an access token and what comes with it.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;

use crate::secret::{AccessToken, IdToken, RefreshToken};

/// Tokens obtained from an identity provider or a command, with an absolute expiry.
///
/// Cloning is cheap: the tokens are shared, not copied. `Debug` shows no token.
#[derive(Clone, Debug, PartialEq)]
pub struct Credentials {
    access_token: AccessToken,
    refresh_token: Option<RefreshToken>,
    id_token: Option<IdToken>,
    token_type: Arc<str>,
    expires_at: Option<SystemTime>,
    scopes: Arc<[String]>,
    endpoint: Option<Arc<str>>,
}

impl Credentials {
    /// Credentials holding only an access token, of type `Bearer`, with unknown expiry.
    pub fn new(access_token: AccessToken) -> Self {
        Self {
            access_token,
            refresh_token: None,
            id_token: None,
            token_type: Arc::from("Bearer"),
            expires_at: None,
            scopes: Arc::from(Vec::new()),
            endpoint: None,
        }
    }

    /// Sets the refresh token.
    pub fn with_refresh_token(mut self, token: Option<RefreshToken>) -> Self {
        self.refresh_token = token;
        self
    }

    /// Sets the ID token.
    pub fn with_id_token(mut self, token: Option<IdToken>) -> Self {
        self.id_token = token;
        self
    }

    /// Sets the token type (`Bearer` unless the server said otherwise). Compared
    /// case-insensitively: `bearer` is stored as `Bearer`.
    pub fn with_token_type(mut self, token_type: impl AsRef<str>) -> Self {
        let t = token_type.as_ref();
        self.token_type = if t.eq_ignore_ascii_case("bearer") {
            Arc::from("Bearer")
        } else {
            Arc::from(t)
        };
        self
    }

    /// Sets the absolute expiry.
    pub fn with_expires_at(mut self, expires_at: Option<SystemTime>) -> Self {
        self.expires_at = expires_at;
        self
    }

    /// Sets the expiry the way DESIGN.md §2 says: from `expires_in` seconds after `now` when
    /// given, else from the access token's JWT `exp` claim (read without verification), else
    /// unknown.
    pub fn with_expiry_from(mut self, expires_in: Option<u64>, now: SystemTime) -> Self {
        self.expires_at = match expires_in {
            Some(secs) => now.checked_add(Duration::from_secs(secs)),
            None => jwt_expiry(self.access_token.secret()),
        };
        self
    }

    /// Sets the granted scopes.
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes
            .into_iter()
            .map(Into::into)
            .collect::<Vec<_>>()
            .into();
        self
    }

    /// Sets the endpoint these credentials are for (the Flyte endpoint or the issuer).
    pub fn with_endpoint(mut self, endpoint: Option<impl Into<String>>) -> Self {
        self.endpoint = endpoint.map(|e| Arc::from(e.into()));
        self
    }

    /// The access token.
    pub fn access_token(&self) -> &AccessToken {
        &self.access_token
    }

    /// The refresh token, if the provider issued one.
    pub fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }

    /// The ID token, if the provider issued one.
    pub fn id_token(&self) -> Option<&IdToken> {
        self.id_token.as_ref()
    }

    /// The token type, normally `Bearer`.
    pub fn token_type(&self) -> &str {
        &self.token_type
    }

    /// When the access token expires, if known.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// The granted scopes (empty when the server did not say).
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The endpoint these credentials are for.
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// Whether the access token is expired at `now`, allowing `skew` of clock difference.
    /// Credentials without a known expiry never count as expired.
    pub fn is_expired_at(&self, now: SystemTime, skew: Duration) -> bool {
        match self.expires_at {
            Some(at) => now + skew >= at,
            None => false,
        }
    }

    /// Merges a refresh response into the previous credentials: a response without a refresh
    /// token keeps the old one, and so for the ID token and the scopes.
    pub fn merged_onto(mut self, previous: &Credentials) -> Self {
        if self.refresh_token.is_none() {
            self.refresh_token = previous.refresh_token.clone();
        }
        if self.id_token.is_none() {
            self.id_token = previous.id_token.clone();
        }
        if self.scopes.is_empty() {
            self.scopes = previous.scopes.clone();
        }
        if self.endpoint.is_none() {
            self.endpoint = previous.endpoint.clone();
        }
        self
    }

    /// The same credentials without the refresh token (after the provider rejected it).
    pub fn without_refresh_token(mut self) -> Self {
        self.refresh_token = None;
        self
    }
}

/// Reads a claim set from a JWT's payload without verifying anything. Returns `None` for
/// anything that is not a three-part JWT with a JSON object payload.
pub fn jwt_claims(token: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let mut parts = token.split('.');
    let (_header, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        serde_json::Value::Object(map) => Some(map),
        _ => None,
    }
}

/// The `exp` claim of a JWT as an absolute time, read without verification.
pub fn jwt_expiry(token: &str) -> Option<SystemTime> {
    let exp = jwt_claims(token)?.get("exp")?.as_f64()?;
    // Untrusted input: a huge or negative `exp` means "unknown", never a panic.
    UNIX_EPOCH.checked_add(Duration::try_from_secs_f64(exp).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        let enc = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.sig",
            enc.encode(r#"{"alg":"none"}"#),
            enc.encode(payload)
        )
    }

    #[test]
    fn expiry_from_expires_in_wins_over_jwt() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let c = Credentials::new(AccessToken::new(jwt(r#"{"exp":5000}"#)))
            .with_expiry_from(Some(60), now);
        assert_eq!(
            c.expires_at(),
            Some(UNIX_EPOCH + Duration::from_secs(1_060))
        );
    }

    #[test]
    fn expiry_from_jwt_exp_when_no_expires_in() {
        let now = UNIX_EPOCH;
        let c = Credentials::new(AccessToken::new(jwt(r#"{"exp":5000,"sub":"a"}"#)))
            .with_expiry_from(None, now);
        assert_eq!(
            c.expires_at(),
            Some(UNIX_EPOCH + Duration::from_secs(5_000))
        );
    }

    #[test]
    fn expiry_unknown_for_opaque_or_bad_tokens() {
        for t in [
            "opaque",
            "a.b.c",
            &jwt(r#"{"exp":"soon"}"#),
            &jwt("[1]"),
            "a.b.c.d",
        ] {
            let c = Credentials::new(AccessToken::new(t)).with_expiry_from(None, UNIX_EPOCH);
            assert_eq!(c.expires_at(), None, "{t}");
            assert!(!c.is_expired_at(SystemTime::now(), Duration::ZERO));
        }
    }

    #[test]
    fn merge_keeps_old_refresh_token() {
        let old = Credentials::new(AccessToken::new("a1"))
            .with_refresh_token(Some(RefreshToken::new("r1")))
            .with_scopes(["all"]);
        let new = Credentials::new(AccessToken::new("a2")).merged_onto(&old);
        assert_eq!(new.refresh_token().map(|r| r.secret()), Some("r1"));
        assert_eq!(new.scopes(), ["all".to_string()]);
        let rotated = Credentials::new(AccessToken::new("a3"))
            .with_refresh_token(Some(RefreshToken::new("r2")))
            .merged_onto(&old);
        assert_eq!(rotated.refresh_token().map(|r| r.secret()), Some("r2"));
    }

    #[test]
    fn token_type_is_case_insensitive() {
        let c = Credentials::new(AccessToken::new("a")).with_token_type("bearer");
        assert_eq!(c.token_type(), "Bearer");
    }

    #[test]
    fn debug_shows_no_token() {
        let c = Credentials::new(AccessToken::new("super-secret-at"))
            .with_refresh_token(Some(RefreshToken::new("super-secret-rt")));
        let d = format!("{c:?}");
        assert!(!d.contains("super-secret"), "{d}");
    }
}
