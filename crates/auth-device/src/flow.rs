//! The device flow as a [`TokenSource`]: `fetch` runs RFC 8628 (authorization request,
//! prompt, polling), `refresh` runs the refresh grant. Caching, single flight, persistence,
//! "refresh token first" and the interaction policy are the token engine's.
//!
//! Every HTTP call runs inside a `device_request` span (DEBUG), which ends when the call
//! returns or is dropped.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use auth_core::{
    AuthError, Credentials, ErrorKind, FetchContext, RefreshToken, TokenSource, async_trait,
    non_empty,
};
use auth_oauth2::{
    ConfigResolver, DeviceAuthorization, MAX_DEVICE_CODE_LIFETIME, OAuth2Client, check_endpoint,
    pkce::PkceChallenge,
};
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::presenter::{DevicePresenter, DevicePrompt};
use crate::schedule::{Answer, PollSchedule};

/// The device flow's [`TokenSource`].
pub(crate) struct DeviceSource {
    /// Client id, token endpoint, scopes, audience, header key and client authentication, by
    /// the HTTP flows' one precedence rule.
    pub(crate) config: ConfigResolver,
    /// The device authorization endpoint set on the builder (beats the discovered one).
    pub(crate) device_authorization_endpoint: Option<String>,
    pub(crate) presenter: Arc<dyn DevicePresenter>,
    pub(crate) time_limit: Option<Duration>,
    pub(crate) pkce: bool,
    pub(crate) max_backoff: Duration,
    /// The interval when the provider names none (`None`: RFC 8628's 5 s).
    pub(crate) default_interval: Option<Duration>,
}

impl fmt::Debug for DeviceSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceSource")
            .field("config", &self.config)
            .field(
                "device_authorization_endpoint",
                &self.device_authorization_endpoint,
            )
            .field("presenter", &self.presenter)
            .field("time_limit", &self.time_limit)
            .field("pkce", &self.pkce)
            .field("max_backoff", &self.max_backoff)
            .field("default_interval", &self.default_interval)
            .finish_non_exhaustive()
    }
}

/// The configuration of one acquisition.
struct Resolved<'a> {
    client: &'a OAuth2Client,
    token_endpoint: String,
    device_authorization_endpoint: Option<String>,
    scopes: Vec<String>,
    audience: Option<String>,
}

/// How one poll was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PollError {
    Pending,
    SlowDown,
    Transient,
    Fatal,
}

/// Sorts a failed poll (RFC 8628 §3.5). Transient means the request may not have been
/// answered by the authorization server at all: polling again with the same device code is
/// safe, because a device code is only spent once the user approved.
pub(crate) fn classify(error: &AuthError) -> PollError {
    match error.oauth_error_code() {
        Some("authorization_pending") => PollError::Pending,
        Some("slow_down") => PollError::SlowDown,
        Some("server_error" | "temporarily_unavailable") => PollError::Transient,
        _ if matches!(error.kind(), ErrorKind::Transport | ErrorKind::Timeout) => {
            PollError::Transient
        }
        _ if matches!(error.status(), Some(429 | 500..=599)) => PollError::Transient,
        _ => PollError::Fatal,
    }
}

fn request_span(request: &'static str) -> tracing::Span {
    tracing::debug_span!("device_request", request)
}

impl DeviceSource {
    async fn resolve(&self) -> Result<Resolved<'_>, AuthError> {
        let resolved = self
            .config
            .resolve()
            .instrument(request_span("client_config"))
            .await?;
        let config = resolved.config;
        let device_authorization_endpoint = match &self.device_authorization_endpoint {
            // Checked by the builder.
            Some(url) => Some(url.clone()),
            None => {
                let discovered = config.device_authorization_endpoint.and_then(non_empty);
                // A discovered one is checked before anything is sent to it.
                if let Some(url) = &discovered {
                    check_endpoint(
                        "device authorization endpoint",
                        url,
                        self.config.allow_http(),
                    )?;
                }
                discovered
            }
        };
        Ok(Resolved {
            client: resolved.client,
            token_endpoint: config.token_endpoint,
            device_authorization_endpoint,
            scopes: config.scopes,
            audience: config.audience.and_then(non_empty),
        })
    }

    /// Resolves the configuration and checks that a device login could start.
    pub(crate) async fn check(&self) -> Result<(), AuthError> {
        let config = self.resolve().await?;
        device_endpoint(&config).map(|_| ())
    }

    async fn run(&self) -> Result<Credentials, AuthError> {
        let config = self.resolve().await?;
        let endpoint = device_endpoint(&config)?;
        let pkce = if self.pkce {
            Some(PkceChallenge::new_random()?)
        } else {
            None
        };
        let mut extra: Vec<(&str, &str)> = Vec::new();
        if let Some(p) = &pkce {
            extra.push(("code_challenge", p.challenge()));
            extra.push(("code_challenge_method", p.method()));
        }
        let authorization = config
            .client
            .device_authorization(endpoint, &config.scopes, config.audience.as_deref(), &extra)
            .instrument(request_span("device_authorization"))
            .await?;
        let mut poll_extra: Vec<(&str, &str)> = Vec::new();
        if let Some(p) = &pkce {
            poll_extra.push(("code_verifier", p.verifier().secret()));
        }
        self.poll(&config, authorization, &poll_extra).await
    }

    async fn poll(
        &self,
        config: &Resolved<'_>,
        authorization: DeviceAuthorization,
        extra: &[(&str, &str)],
    ) -> Result<Credentials, AuthError> {
        let started = Instant::now();
        // auth-oauth2 caps the lifetime already; capped again here because the deadline below
        // must never overflow whatever a `DeviceAuthorization` holds.
        let code_life = authorization.expires_in.min(MAX_DEVICE_CODE_LIFETIME);
        let (limit, by_code_expiry) = match self.time_limit {
            Some(limit) if limit < code_life => (limit, false),
            _ => (code_life, true),
        };
        let Some(deadline) = started.checked_add(limit) else {
            return Err(AuthError::invalid_response(format!(
                "the device code lifetime of {} s cannot be represented by this system's clock",
                limit.as_secs()
            )));
        };
        let mut schedule = PollSchedule::new(
            authorization.interval.or(self.default_interval),
            self.max_backoff,
        );
        tracing::debug!(
            expires_in_secs = code_life.as_secs(),
            interval_secs = schedule.interval().as_secs(),
            limit_secs = limit.as_secs(),
            "device authorization started; waiting for the user"
        );
        self.presenter.device_authorization(&DevicePrompt::new(
            authorization.verification_uri.clone(),
            authorization.verification_uri_complete.clone(),
            authorization.user_code.clone(),
            code_life,
        ));

        let mut wait = schedule.interval();
        let mut polls: u32 = 0;
        let mut last = false;
        loop {
            let now = Instant::now();
            let remaining = deadline.saturating_duration_since(now);
            self.presenter.waiting(remaining);
            // A wait past what the clock can represent is past the deadline too.
            if now.checked_add(wait).is_none_or(|at| at >= deadline) {
                // The next poll would come too late. At the code's expiry the provider has the
                // last word (`expired_token`, or an approval given since the previous poll):
                // ask it once more. The configured time limit is ours and exact: give up then.
                match schedule.last_wait(remaining).filter(|_| by_code_expiry) {
                    Some(last_wait) => {
                        wait = last_wait;
                        last = true;
                    }
                    None => {
                        tokio::time::sleep_until(deadline).await;
                        return Err(deadline_error(limit, by_code_expiry));
                    }
                }
            }
            tokio::time::sleep(wait).await;
            polls += 1;
            let answer = config
                .client
                .poll_device_token(&config.token_endpoint, &authorization.device_code, extra)
                .instrument(request_span("device_token"))
                .await;
            let error = match answer {
                Ok(credentials) => {
                    tracing::debug!(polls, "the device authorization was approved");
                    return Ok(credentials);
                }
                Err(error) => error,
            };
            let next = match classify(&error) {
                PollError::Pending => Answer::Pending,
                // RFC 8628 §3.5: +5 s for this and every later poll, or the server's own
                // `interval` from the error body when it asks for more.
                PollError::SlowDown => Answer::SlowDown {
                    server_interval: error.oauth_error().and_then(|o| o.interval),
                },
                PollError::Transient => Answer::Transient {
                    retry_after: error.retry_after(),
                },
                PollError::Fatal => return Err(fatal(error)),
            };
            if last {
                tracing::debug!(polls, answer = ?next, "the code expired by our clock and the provider did not end the authorization; giving up");
                return Err(deadline_error(limit, by_code_expiry));
            }
            wait = schedule.next(next);
            tracing::debug!(polls, answer = ?next, wait_ms = wait.as_millis() as u64, "polling again");
        }
    }
}

fn device_endpoint<'a>(config: &'a Resolved<'_>) -> Result<&'a str, AuthError> {
    config
        .device_authorization_endpoint
        .as_deref()
        .ok_or_else(|| {
            AuthError::configuration(
                "the identity provider has no device authorization endpoint (none configured, none \
             discovered): configure deviceAuthorizationEndpoint, or use another auth mode such \
             as Pkce",
            )
        })
}

/// The error when the deadline passes without an approval.
fn deadline_error(limit: Duration, by_code_expiry: bool) -> AuthError {
    let secs = limit.as_secs();
    if by_code_expiry {
        AuthError::new(
            ErrorKind::ExpiredToken,
            format!(
                "the device code expired after {secs} s before the sign-in was approved; log in \
                 again and approve the new code in time"
            ),
        )
    } else {
        AuthError::timeout(format!(
            "the sign-in was not approved within the device flow time limit of {secs} s; log in \
             again, or raise the limit (deviceFlowConfig.timeout)"
        ))
    }
}

/// Adds what to do to a poll error that ends the flow.
fn fatal(error: AuthError) -> AuthError {
    match error.kind() {
        ErrorKind::AccessDenied => {
            error.context("the sign-in was denied on the verification page; log in again to retry")
        }
        ErrorKind::ExpiredToken => error.context(
            "the device code expired before the sign-in was approved; log in again and approve \
             the new code in time",
        ),
        _ => error.context("the device login failed while waiting for approval"),
    }
}

#[async_trait]
impl TokenSource for DeviceSource {
    async fn fetch(&self, _context: &FetchContext<'_>) -> Result<Credentials, AuthError> {
        let result = self.run().await;
        match &result {
            Ok(_) => self.presenter.approved(),
            Err(e) => self.presenter.failed(e),
        }
        result
    }

    async fn refresh(
        &self,
        refresh_token: &RefreshToken,
        _previous: &Credentials,
    ) -> Result<Option<Credentials>, AuthError> {
        let config = self.resolve().await?;
        // No scope parameter: the refreshed grant keeps the scopes originally granted.
        config
            .client
            .refresh(&config.token_endpoint, refresh_token, &[])
            .instrument(request_span("refresh"))
            .await
            .map(Some)
    }

    fn is_interactive(&self) -> bool {
        true
    }

    fn header_key(&self) -> Option<String> {
        self.config.header_key()
    }

    async fn prepare(&self) -> Result<(), AuthError> {
        self.check().await
    }
}

#[cfg(test)]
mod tests {
    use auth_core::OAuthErrorResponse;

    use super::*;

    fn oauth(code: &str, status: u16) -> AuthError {
        AuthError::oauth(OAuthErrorResponse::new(code), Some(status))
    }

    #[test]
    fn classifies_poll_answers() {
        assert_eq!(
            classify(&oauth("authorization_pending", 400)),
            PollError::Pending
        );
        assert_eq!(classify(&oauth("slow_down", 400)), PollError::SlowDown);
        assert_eq!(classify(&oauth("access_denied", 400)), PollError::Fatal);
        assert_eq!(classify(&oauth("expired_token", 400)), PollError::Fatal);
        assert_eq!(classify(&oauth("invalid_grant", 400)), PollError::Fatal);
        assert_eq!(classify(&oauth("invalid_client", 401)), PollError::Fatal);
        assert_eq!(
            classify(&oauth("temporarily_unavailable", 400)),
            PollError::Transient
        );
        assert_eq!(classify(&oauth("whatever", 503)), PollError::Transient);
        assert_eq!(classify(&oauth("whatever", 429)), PollError::Transient);
        // Single-use protection from the transport does not matter here: polling again with
        // the same device code is what the protocol asks for.
        assert_eq!(
            classify(&AuthError::transport("reset").with_retryable(false)),
            PollError::Transient
        );
        assert_eq!(
            classify(&AuthError::timeout("30 s").with_retryable(false)),
            PollError::Transient
        );
        assert_eq!(
            classify(&AuthError::invalid_response("not JSON").with_status(502)),
            PollError::Transient
        );
        assert_eq!(
            classify(&AuthError::invalid_response("not JSON").with_status(200)),
            PollError::Fatal
        );
        assert_eq!(
            classify(&AuthError::configuration("redirect")),
            PollError::Fatal
        );
    }

    #[test]
    fn deadline_errors_say_which_deadline() {
        let e = deadline_error(Duration::from_secs(600), true);
        assert_eq!(e.kind(), ErrorKind::ExpiredToken);
        assert!(e.to_string().contains("expired after 600 s"), "{e}");
        let e = deadline_error(Duration::from_secs(60), false);
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert!(e.to_string().contains("time limit of 60 s"), "{e}");
    }

    #[test]
    fn fatal_errors_keep_their_kind_and_say_what_to_do() {
        let denied = fatal(oauth("access_denied", 400));
        assert_eq!(denied.kind(), ErrorKind::AccessDenied);
        assert_eq!(denied.oauth_error_code(), Some("access_denied"));
        assert!(denied.to_string().contains("log in again"), "{denied}");
        let expired = fatal(oauth("expired_token", 400));
        assert_eq!(expired.kind(), ErrorKind::ExpiredToken);
    }
}
