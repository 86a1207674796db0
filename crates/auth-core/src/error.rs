//! The error type at the `Authenticator` boundary.
//!
//! [`AuthError`] is one opaque, cheaply cloned struct (the token engine hands the same error to
//! every waiter of a failed acquisition) with an [`ErrorKind`] to match on, the identity
//! provider's error response as data, and predicates such as [`AuthError::is_retryable`].
//! Messages never contain secrets: constructors take descriptions, never token values.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// What went wrong, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Settings are missing, contradictory or malformed.
    Configuration,
    /// The request did not get a usable HTTP answer: connect, reset, TLS, 5xx, 429.
    Transport,
    /// A time limit ran out (network call, child process, keyring call, or a wait for a person).
    Timeout,
    /// The identity provider answered with an OAuth error response.
    OAuth,
    /// The user or the provider denied the authorization (`access_denied`).
    AccessDenied,
    /// The device code or authorization expired before it was approved (`expired_token`).
    ExpiredToken,
    /// A person would have to act (browser or device login), but interaction is switched off.
    InteractionRequired,
    /// The server's answer could not be understood (malformed JSON, missing `access_token`).
    InvalidResponse,
    /// An external command could not be run, failed, or printed no token.
    CommandFailed,
    /// A credential store failed.
    Storage,
    /// The operation was cancelled, for example because its authenticator was dropped.
    Cancelled,
}

impl ErrorKind {
    fn describe(self) -> &'static str {
        match self {
            ErrorKind::Configuration => "configuration error",
            ErrorKind::Transport => "network error",
            ErrorKind::Timeout => "timed out",
            ErrorKind::OAuth => "the identity provider refused the request",
            ErrorKind::AccessDenied => "access denied",
            ErrorKind::ExpiredToken => "the authorization expired",
            ErrorKind::InteractionRequired => "interactive login required",
            ErrorKind::InvalidResponse => "invalid response",
            ErrorKind::CommandFailed => "command failed",
            ErrorKind::Storage => "credential storage error",
            ErrorKind::Cancelled => "cancelled",
        }
    }
}

/// An OAuth 2.0 error response (RFC 6749 §5.2, RFC 8628 §3.5), kept as data.
///
/// Besides the three members of RFC 6749, it keeps the one other member a client acts on:
/// `interval`, which some servers send with `slow_down` to say how long to wait between
/// polls from now on. Other members are not kept: an error body is the server's free-form
/// JSON, and keeping only named, typed members means nothing unexpected (request data echoed
/// back, large documents) ends up in errors that are logged and shown.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OAuthErrorResponse {
    /// The `error` code, such as `invalid_grant`. Open set: compare strings.
    pub error: String,
    /// The optional human-readable `error_description`.
    pub error_description: Option<String>,
    /// The optional `error_uri`.
    pub error_uri: Option<String>,
    /// The `interval` member (whole seconds on the wire), when the server sent one: the
    /// polling interval it asks for from now on, typically with `slow_down` (RFC 8628 §3.5).
    /// Not shown by `Display`.
    pub interval: Option<Duration>,
}

impl OAuthErrorResponse {
    /// An error response with only the `error` code.
    pub fn new(error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            error_description: None,
            error_uri: None,
            interval: None,
        }
    }

    /// Sets `error_description`.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.error_description = Some(description.into());
        self
    }

    /// Sets `error_uri`.
    pub fn with_uri(mut self, uri: impl Into<String>) -> Self {
        self.error_uri = Some(uri.into());
        self
    }

    /// Sets `interval`, the polling interval the server asks for.
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }
}

impl fmt::Display for OAuthErrorResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.error)?;
        if let Some(d) = &self.error_description {
            write!(f, ": {d}")?;
        }
        if let Some(u) = &self.error_uri {
            write!(f, " (see {u})")?;
        }
        Ok(())
    }
}

/// The error returned by every `Authenticator`, credential store and configuration store.
#[derive(Clone)]
pub struct AuthError {
    inner: Arc<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: String,
    oauth: Option<OAuthErrorResponse>,
    status: Option<u16>,
    retry_after: Option<Duration>,
    retryable: Option<bool>,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl AuthError {
    /// A new error of `kind`. `message` says what happened and, where it can, what to do; it
    /// must never contain a secret.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                kind,
                message: message.into(),
                oauth: None,
                status: None,
                retry_after: None,
                retryable: None,
                source: None,
            }),
        }
    }

    /// A configuration error.
    pub fn configuration(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Configuration, message)
    }

    /// A network error.
    pub fn transport(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Transport, message)
    }

    /// A time limit ran out.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Timeout, message)
    }

    /// The server's answer could not be understood.
    pub fn invalid_response(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidResponse, message)
    }

    /// A person would have to act but interaction is off.
    pub fn interaction_required(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InteractionRequired, message)
    }

    /// An external command failed.
    pub fn command_failed(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::CommandFailed, message)
    }

    /// A credential store failed.
    pub fn storage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Storage, message)
    }

    /// The operation was cancelled.
    pub fn cancelled(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Cancelled, message)
    }

    /// An OAuth error response from the identity provider. `access_denied` and
    /// `expired_token` get their own kinds; every other code is [`ErrorKind::OAuth`].
    pub fn oauth(response: OAuthErrorResponse, status: Option<u16>) -> Self {
        let kind = match response.error.as_str() {
            "access_denied" => ErrorKind::AccessDenied,
            "expired_token" => ErrorKind::ExpiredToken,
            _ => ErrorKind::OAuth,
        };
        Self::new(kind, String::new()).edit(|i| {
            i.oauth = Some(response);
            i.status = status;
        })
    }

    fn edit(mut self, f: impl FnOnce(&mut Inner)) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => f(inner),
            None => {
                let old = &self.inner;
                let mut copy = Inner {
                    kind: old.kind,
                    message: old.message.clone(),
                    oauth: old.oauth.clone(),
                    status: old.status,
                    retry_after: old.retry_after,
                    retryable: old.retryable,
                    source: None,
                };
                f(&mut copy);
                if copy.source.is_none() && old.source.is_some() {
                    // A shared source cannot be moved out; keep the chain through a wrapper.
                    copy.source = Some(Box::new(SharedSource(self.clone())));
                }
                self.inner = Arc::new(copy);
            }
        }
        self
    }

    /// Attaches the underlying cause, reachable through [`std::error::Error::source`].
    pub fn with_source(self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.edit(|i| i.source = Some(Box::new(source)))
    }

    /// Records the HTTP status of the response that caused this error.
    pub fn with_status(self, status: u16) -> Self {
        self.edit(|i| i.status = Some(status))
    }

    /// Records how long the server asked us to wait (`Retry-After`).
    pub fn with_retry_after(self, after: Duration) -> Self {
        self.edit(|i| i.retry_after = Some(after))
    }

    /// Overrides [`is_retryable`](Self::is_retryable). Protocol code uses this to mark a
    /// failed request that may have spent a single-use grant as not retryable.
    pub fn with_retryable(self, retryable: bool) -> Self {
        self.edit(|i| i.retryable = Some(retryable))
    }

    /// Prepends context to the message, e.g. which endpoint was being called.
    pub fn context(self, context: impl fmt::Display) -> Self {
        self.edit(|i| {
            i.message = if i.message.is_empty() {
                context.to_string()
            } else {
                format!("{context}: {}", i.message)
            }
        })
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The message, without the kind and without the OAuth error response.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The identity provider's error response, if it sent one.
    pub fn oauth_error(&self) -> Option<&OAuthErrorResponse> {
        self.inner.oauth.as_ref()
    }

    /// The OAuth `error` code, if any.
    pub fn oauth_error_code(&self) -> Option<&str> {
        self.inner.oauth.as_ref().map(|o| o.error.as_str())
    }

    /// The HTTP status of the response that caused this error, if any.
    pub fn status(&self) -> Option<u16> {
        self.inner.status
    }

    /// How long the server asked us to wait before trying again.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// Whether trying the same thing again later may succeed: network errors, time-outs,
    /// 5xx and 429 answers, and the OAuth codes `server_error` and `temporarily_unavailable`.
    pub fn is_retryable(&self) -> bool {
        if let Some(r) = self.inner.retryable {
            return r;
        }
        match self.inner.kind {
            ErrorKind::Transport | ErrorKind::Timeout => true,
            ErrorKind::OAuth => {
                matches!(
                    self.oauth_error_code(),
                    Some("server_error" | "temporarily_unavailable")
                ) || matches!(self.inner.status, Some(429 | 500..=599))
            }
            _ => false,
        }
    }

    /// Whether the provider definitively rejected the grant (`invalid_grant`): a refresh
    /// token in this state is useless and is discarded.
    pub fn is_invalid_grant(&self) -> bool {
        self.oauth_error_code() == Some("invalid_grant")
    }

    /// Whether the identity provider definitively refused a grant, so that the refresh token
    /// it carried is useless and is discarded: `invalid_grant`, or any other 4xx answer but
    /// 408 and 429, with or without an OAuth error body (many providers answer an expired,
    /// revoked or reused refresh token with a bare 400 or 401). Network errors, time-outs,
    /// 408, 429, 5xx, and a wrong URL (404, 405, 410: a configuration error) are not.
    pub fn is_grant_rejected(&self) -> bool {
        if self.is_invalid_grant() {
            return true;
        }
        let definitive_4xx = matches!(self.inner.status, Some(400..=499))
            && !matches!(self.inner.status, Some(408 | 429));
        definitive_4xx
            && !matches!(
                self.inner.kind,
                ErrorKind::Configuration
                    | ErrorKind::Transport
                    | ErrorKind::Timeout
                    | ErrorKind::Cancelled
            )
            && !matches!(
                self.oauth_error_code(),
                Some("server_error" | "temporarily_unavailable")
            )
    }

    /// Whether the identity provider refused (an OAuth error, access denied, expired code).
    pub fn is_refused(&self) -> bool {
        matches!(
            self.inner.kind,
            ErrorKind::OAuth | ErrorKind::AccessDenied | ErrorKind::ExpiredToken
        )
    }

    /// Whether a person would have to log in.
    pub fn is_interaction_required(&self) -> bool {
        self.inner.kind == ErrorKind::InteractionRequired
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.write_str(i.kind.describe())?;
        if !i.message.is_empty() {
            write!(f, ": {}", i.message)?;
        }
        if let Some(o) = &i.oauth {
            write!(f, ": {o}")?;
        }
        if let Some(s) = i.status {
            write!(f, " (HTTP {s})")?;
        }
        Ok(())
    }
}

impl fmt::Debug for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        let mut d = f.debug_struct("AuthError");
        d.field("kind", &i.kind).field("message", &i.message);
        if let Some(o) = &i.oauth {
            d.field("oauth", o);
        }
        if let Some(s) = i.status {
            d.field("status", &s);
        }
        if let Some(s) = &i.source {
            d.field("source", s);
        }
        d.finish()
    }
}

impl StdError for AuthError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_ref()
            .map(|s| s.as_ref() as &(dyn StdError + 'static))
    }
}

/// Keeps the source chain of a shared error alive after an edit.
struct SharedSource(AuthError);

impl fmt::Debug for SharedSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0.source(), f)
    }
}

impl fmt::Display for SharedSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.source() {
            Some(s) => fmt::Display::fmt(s, f),
            None => Ok(()),
        }
    }
}

impl StdError for SharedSource {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0.source().and_then(|s| s.source())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth_codes_map_to_kinds() {
        let denied = AuthError::oauth(OAuthErrorResponse::new("access_denied"), Some(400));
        assert_eq!(denied.kind(), ErrorKind::AccessDenied);
        let expired = AuthError::oauth(OAuthErrorResponse::new("expired_token"), Some(400));
        assert_eq!(expired.kind(), ErrorKind::ExpiredToken);
        let grant = AuthError::oauth(OAuthErrorResponse::new("invalid_grant"), Some(400));
        assert_eq!(grant.kind(), ErrorKind::OAuth);
        assert!(grant.is_invalid_grant() && grant.is_refused() && !grant.is_retryable());
    }

    #[test]
    fn retryable_predicate() {
        assert!(AuthError::transport("reset").is_retryable());
        assert!(AuthError::timeout("slow").is_retryable());
        assert!(!AuthError::configuration("x").is_retryable());
        let busy = AuthError::oauth(OAuthErrorResponse::new("temporarily_unavailable"), None);
        assert!(busy.is_retryable());
        let s503 = AuthError::oauth(OAuthErrorResponse::new("whatever"), Some(503));
        assert!(s503.is_retryable());
        assert!(
            !AuthError::transport("maybe spent")
                .with_retryable(false)
                .is_retryable()
        );
    }

    #[test]
    fn display_includes_provider_answer() {
        let e = AuthError::oauth(
            OAuthErrorResponse::new("invalid_client")
                .with_description("client authentication failed"),
            Some(401),
        )
        .context("token request to https://idp/token");
        assert_eq!(
            e.to_string(),
            "the identity provider refused the request: token request to https://idp/token: \
             invalid_client: client authentication failed (HTTP 401)"
        );
    }

    #[test]
    fn interval_is_data_not_display() {
        let slow = OAuthErrorResponse::new("slow_down").with_interval(Duration::from_secs(30));
        assert_eq!(slow.interval, Some(Duration::from_secs(30)));
        assert_eq!(OAuthErrorResponse::new("slow_down").interval, None);
        assert_ne!(slow, OAuthErrorResponse::new("slow_down"));
        assert_eq!(slow.to_string(), "slow_down");
        let e = AuthError::oauth(slow, Some(400));
        assert_eq!(
            e.oauth_error().and_then(|o| o.interval),
            Some(Duration::from_secs(30))
        );
    }

    #[test]
    fn edits_on_shared_errors_keep_source() {
        let e = AuthError::transport("connect").with_source(std::io::Error::other("refused"));
        let shared = e.clone();
        let edited = shared.context("calling idp");
        assert_eq!(
            edited.source().map(|s| s.to_string()).as_deref(),
            Some("refused")
        );
        assert_eq!(e.message(), "connect");
        assert_eq!(edited.message(), "calling idp: connect");
    }
}
