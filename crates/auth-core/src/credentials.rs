//! Credentials: an access token and what comes with it.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;

use crate::secret::{AccessToken, IdToken, RefreshToken};

/// Tokens obtained from an identity provider or a command, with an absolute expiry.
///
/// Cloning is one reference count: the tokens are shared, not copied, which keeps the warm
/// path of the token engine close to a bare atomic load. `Debug` shows no token.
#[derive(Clone, PartialEq)]
pub struct Credentials {
    inner: Arc<Inner>,
}

#[derive(Clone, Debug, PartialEq)]
struct Inner {
    access_token: AccessToken,
    refresh_token: Option<RefreshToken>,
    id_token: Option<IdToken>,
    token_type: Arc<str>,
    expires_at: Option<SystemTime>,
    issued_at: Option<SystemTime>,
    scopes: Arc<[String]>,
    endpoint: Option<Arc<str>>,
}

/// How close to its expiry a token stops being handed out, by default: 10 seconds, shrunk
/// for short-lived tokens (see [`Credentials::hard_deadline`]). The token engine, the
/// command's `status` and the keyring cache all use it.
pub const DEFAULT_HARD_SKEW: Duration = Duration::from_secs(10);

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let i = &self.inner;
        f.debug_struct("Credentials")
            .field("access_token", &i.access_token)
            .field("refresh_token", &i.refresh_token)
            .field("id_token", &i.id_token)
            .field("token_type", &i.token_type)
            .field("expires_at", &i.expires_at)
            .field("issued_at", &i.issued_at)
            .field("scopes", &i.scopes)
            .field("endpoint", &i.endpoint)
            .finish()
    }
}

impl Credentials {
    /// Credentials holding only an access token, of type `Bearer`, with unknown expiry.
    pub fn new(access_token: AccessToken) -> Self {
        Self {
            inner: Arc::new(Inner {
                access_token,
                refresh_token: None,
                id_token: None,
                token_type: Arc::from("Bearer"),
                expires_at: None,
                issued_at: None,
                scopes: Arc::from(Vec::new()),
                endpoint: None,
            }),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut Inner)) -> Self {
        f(Arc::make_mut(&mut self.inner));
        self
    }

    /// Sets the refresh token.
    pub fn with_refresh_token(self, token: Option<RefreshToken>) -> Self {
        self.edit(|i| i.refresh_token = token)
    }

    /// Sets the ID token.
    pub fn with_id_token(self, token: Option<IdToken>) -> Self {
        self.edit(|i| i.id_token = token)
    }

    /// Sets the token type (`Bearer` unless the server said otherwise). Compared
    /// case-insensitively: `bearer` is stored as `Bearer`.
    pub fn with_token_type(self, token_type: impl AsRef<str>) -> Self {
        let t = token_type.as_ref();
        let t: Arc<str> = if t.eq_ignore_ascii_case("bearer") {
            Arc::from("Bearer")
        } else {
            Arc::from(t)
        };
        self.edit(|i| i.token_type = t)
    }

    /// Sets the absolute expiry.
    pub fn with_expires_at(self, expires_at: Option<SystemTime>) -> Self {
        self.edit(|i| i.expires_at = expires_at)
    }

    /// Sets when the token was issued (or obtained, when the issuer does not say). With the
    /// expiry it gives the token's lifetime, which shrinks the hard skew for short-lived
    /// tokens.
    pub fn with_issued_at(self, issued_at: Option<SystemTime>) -> Self {
        self.edit(|i| i.issued_at = issued_at)
    }

    /// Sets the expiry the way DESIGN.md §2 says: from `expires_in` seconds after `now` when
    /// given, else from the access token's JWT `exp` claim (read without verification), else
    /// unknown. The issue time is `now` (or the JWT's `iat`, when the expiry came from it).
    pub fn with_expiry_from(self, expires_in: Option<u64>, now: SystemTime) -> Self {
        let (at, issued) = match expires_in {
            Some(secs) => (now.checked_add(Duration::from_secs(secs)), Some(now)),
            None => {
                let claims = jwt_claims(self.inner.access_token.secret());
                let claim = |name: &str| claims.as_ref().and_then(|c| claim_time(c.get(name)?));
                match claim("exp") {
                    Some(exp) => (
                        Some(exp),
                        claim("iat").filter(|iat| *iat <= exp).or(Some(now)),
                    ),
                    None => (None, None),
                }
            }
        };
        self.edit(|i| {
            i.expires_at = at;
            i.issued_at = issued;
        })
    }

    /// Sets the granted scopes.
    pub fn with_scopes<I, S>(self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes: Arc<[String]> = scopes
            .into_iter()
            .map(Into::into)
            .collect::<Vec<_>>()
            .into();
        self.edit(|i| i.scopes = scopes)
    }

    /// Sets the endpoint these credentials are for (the Flyte endpoint or the issuer).
    pub fn with_endpoint(self, endpoint: Option<impl Into<String>>) -> Self {
        let endpoint: Option<Arc<str>> = endpoint.map(|e| Arc::from(e.into()));
        self.edit(|i| i.endpoint = endpoint)
    }

    /// The access token.
    pub fn access_token(&self) -> &AccessToken {
        &self.inner.access_token
    }

    /// The refresh token, if the provider issued one.
    pub fn refresh_token(&self) -> Option<&RefreshToken> {
        self.inner.refresh_token.as_ref()
    }

    /// The ID token, if the provider issued one.
    pub fn id_token(&self) -> Option<&IdToken> {
        self.inner.id_token.as_ref()
    }

    /// The token type, normally `Bearer`.
    pub fn token_type(&self) -> &str {
        &self.inner.token_type
    }

    /// When the access token expires, if known.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.inner.expires_at
    }

    /// The granted scopes (empty when the server did not say).
    pub fn scopes(&self) -> &[String] {
        &self.inner.scopes
    }

    /// The endpoint these credentials are for.
    pub fn endpoint(&self) -> Option<&str> {
        self.inner.endpoint.as_deref()
    }

    /// When the token was issued or obtained, if known.
    pub fn issued_at(&self) -> Option<SystemTime> {
        self.inner.issued_at
    }

    /// Whether the access token is expired at `now`, allowing `skew` of clock difference.
    /// Credentials without a known expiry never count as expired.
    pub fn is_expired_at(&self, now: SystemTime, skew: Duration) -> bool {
        match self.inner.expires_at {
            Some(at) => now + skew >= at,
            None => false,
        }
    }

    /// The time from which this token is no longer handed out: `skew` before its expiry,
    /// shrunk to a quarter of the token's lifetime when that is shorter (a 2-second token is
    /// usable for 1.5 s, not never). The lifetime is known from [`issued_at`](Self::issued_at);
    /// without it the whole `skew` applies. `None` when the expiry is unknown.
    ///
    /// The one validity rule: the token engine, the command's `status` and the stores use it.
    pub fn hard_deadline(&self, skew: Duration) -> Option<SystemTime> {
        let at = self.inner.expires_at?;
        let skew = match self.inner.issued_at.map(|i| at.duration_since(i)) {
            Some(Ok(life)) => skew.min(life / 4),
            _ => skew,
        };
        Some(at.checked_sub(skew).unwrap_or(at))
    }

    /// Whether the token may still be handed out at `now` (before its
    /// [`hard_deadline`](Self::hard_deadline)). Tokens of unknown expiry are usable.
    pub fn is_usable_at(&self, now: SystemTime, skew: Duration) -> bool {
        self.hard_deadline(skew).is_none_or(|d| now < d)
    }

    /// Merges a refresh response into the previous credentials: a response without a refresh
    /// token keeps the old one, and so for the ID token and the scopes.
    pub fn merged_onto(self, previous: &Credentials) -> Self {
        let p = &previous.inner;
        self.edit(|i| {
            if i.refresh_token.is_none() {
                i.refresh_token = p.refresh_token.clone();
            }
            if i.id_token.is_none() {
                i.id_token = p.id_token.clone();
            }
            if i.scopes.is_empty() {
                i.scopes = p.scopes.clone();
            }
            if i.endpoint.is_none() {
                i.endpoint = p.endpoint.clone();
            }
        })
    }

    /// The same credentials without the refresh token (after the provider rejected it).
    pub fn without_refresh_token(self) -> Self {
        self.edit(|i| i.refresh_token = None)
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
    claim_time(jwt_claims(token)?.get("exp")?)
}

/// A NumericDate claim (`exp`, `iat`) as an absolute time.
fn claim_time(value: &serde_json::Value) -> Option<SystemTime> {
    // Untrusted input: a huge or negative time means "unknown", never a panic.
    UNIX_EPOCH.checked_add(Duration::try_from_secs_f64(value.as_f64()?).ok()?)
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
