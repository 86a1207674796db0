//! [`DeviceCodeAuthenticator`] and its builder.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use auth_core::{AuthError, TokenEngine, non_empty};
/// Why a [`DeviceCodeAuthenticatorBuilder`] could not build (the one `BuildError` of the
/// HTTP flows): a setting is missing or invalid; the message says which and what to set.
pub use auth_oauth2::BuildError;
use auth_oauth2::{ClientSettings, FlowRules, check_endpoint};

use crate::flow::DeviceSource;
use crate::presenter::{DevicePresenter, TextPresenter};
use crate::schedule::DEFAULT_MAX_BACKOFF;

/// An [`Authenticator`](auth_core::Authenticator) that logs in with the device authorization grant (RFC 8628).
///
/// Credentials come from the cache, else the credential store, else the refresh grant with a
/// stored refresh token, and only when there is none or the provider rejected it from a new
/// device login: the user is shown a URL and a code (through the [`DevicePresenter`]) and the
/// token endpoint is polled until they approve. Concurrent callers share one login.
///
/// Dropping the future of [`credentials`](auth_core::Authenticator::credentials) while a login waits
/// (every caller gone) stops the polling at once.
pub struct DeviceCodeAuthenticator {
    engine: TokenEngine,
    source: Arc<DeviceSource>,
}

impl fmt::Debug for DeviceCodeAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceCodeAuthenticator")
            .field("engine", &self.engine)
            .finish()
    }
}

impl DeviceCodeAuthenticator {
    /// A builder.
    pub fn builder() -> DeviceCodeAuthenticatorBuilder {
        DeviceCodeAuthenticatorBuilder::default()
    }

    /// Resolves the client configuration (runs discovery when a config store was given) and
    /// checks that it names a client id, a token endpoint and a device authorization
    /// endpoint, without starting a login. Fails with the configuration error a login would
    /// fail with.
    pub async fn check_configuration(&self) -> Result<(), AuthError> {
        self.source.check().await
    }

    /// The token engine underneath (cache, single flight, store).
    pub fn engine(&self) -> &TokenEngine {
        &self.engine
    }
}

auth_core::forward_authenticator!(DeviceCodeAuthenticator => engine);

/// Configures a [`DeviceCodeAuthenticator`].
///
/// The identity provider is given either as static endpoints
/// ([`token_endpoint`](Self::token_endpoint) and
/// [`device_authorization_endpoint`](Self::device_authorization_endpoint) with a
/// [`client_id`](Self::client_id)), or as a [`ClientConfigStore`](auth_core::ClientConfigStore) (Flyte or issuer
/// discovery from `auth-oauth2`) whose values the static settings override.
#[derive(Debug, Default)]
pub struct DeviceCodeAuthenticatorBuilder {
    settings: ClientSettings,
    device_authorization_endpoint: Option<String>,
    presenter: Option<Arc<dyn DevicePresenter>>,
    time_limit: Option<Duration>,
    pkce: bool,
    max_backoff: Option<Duration>,
    default_interval: Option<Duration>,
    interactive: Option<bool>,
}

/// What the device flow requires of the shared settings: a public client needs no secret
/// (Google's device clients have one: set it with `client_secret`).
const RULES: FlowRules = FlowRules {
    client_id_hint: "set it with .client_id(..) (clientId in config.yaml), or give a config \
                     store that discovers it",
    client_auth_required: None,
    endpoint_hint: "set .token_endpoint(..) (tokenUrl in config.yaml) or give a config store \
                    that discovers it",
    store_key_prefix: "device",
};

impl DeviceCodeAuthenticatorBuilder {
    auth_oauth2::client_settings_setters!(settings);

    /// The device authorization endpoint (beats a discovered one). An empty string means
    /// none.
    pub fn device_authorization_endpoint(mut self, url: impl Into<String>) -> Self {
        self.device_authorization_endpoint = non_empty(url.into());
        self
    }

    /// How the URL and code are shown. Default: [`TextPresenter`] on stderr.
    pub fn presenter(mut self, presenter: Arc<dyn DevicePresenter>) -> Self {
        self.presenter = Some(presenter);
        self
    }

    /// The longest a login waits for approval. The code's own `expires_in` applies when it is
    /// shorter. Default: the code's `expires_in` alone.
    pub fn time_limit(mut self, limit: Duration) -> Self {
        self.time_limit = Some(limit);
        self
    }

    /// Sends a PKCE (S256) challenge with the device authorization request and the verifier
    /// with each poll, for providers that demand one. Default: off.
    pub fn pkce(mut self, pkce: bool) -> Self {
        self.pkce = pkce;
        self
    }

    /// The polling interval when the provider's device authorization response names none
    /// (Flyte config: `deviceFlowConfig.pollInterval`). Default: 5 s, as RFC 8628 §3.2 says.
    /// An `interval` sent by the provider always wins.
    pub fn default_interval(mut self, interval: Duration) -> Self {
        self.default_interval = Some(interval);
        self
    }

    /// The cap on the back-off between polls after transient failures (network errors, 5xx).
    /// Default: 60 s.
    pub fn max_poll_backoff(mut self, cap: Duration) -> Self {
        self.max_backoff = Some(cap);
        self
    }

    /// Whether a login may prompt the user. When off, a needed login returns
    /// [`ErrorKind::InteractionRequired`](auth_core::ErrorKind::InteractionRequired). Default:
    /// on.
    pub fn interactive(mut self, interactive: bool) -> Self {
        self.interactive = Some(interactive);
        self
    }

    /// Checks the settings and builds the authenticator. Performs no I/O: with a
    /// [`config_store`](Self::config_store), a missing device authorization endpoint is
    /// reported by the first login instead.
    pub fn build(self) -> Result<DeviceCodeAuthenticator, BuildError> {
        if self.settings.config_store.is_none() && self.device_authorization_endpoint.is_none() {
            return Err(BuildError::missing(
                "device authorization endpoint",
                "set .device_authorization_endpoint(..) (deviceAuthorizationEndpoint in \
                 config.yaml) or give a config store that discovers it",
            ));
        }
        if let Some(url) = &self.device_authorization_endpoint {
            check_endpoint(
                "device authorization endpoint",
                url,
                self.settings.allow_http,
            )
            .map_err(BuildError::invalid)?;
        }
        if self.default_interval.is_some_and(|i| i.is_zero()) {
            return Err(BuildError::invalid(AuthError::configuration(
                "the default poll interval must be more than zero",
            )));
        }
        if self.time_limit.is_some_and(|l| l.is_zero()) {
            return Err(BuildError::invalid(AuthError::configuration(
                "the device flow time limit must be more than zero",
            )));
        }
        let built = self.settings.build(RULES)?;
        let source = DeviceSource {
            config: built.resolver,
            device_authorization_endpoint: self.device_authorization_endpoint,
            presenter: self
                .presenter
                .unwrap_or_else(|| Arc::new(TextPresenter::new())),
            time_limit: self.time_limit,
            pkce: self.pkce,
            max_backoff: self.max_backoff.unwrap_or(DEFAULT_MAX_BACKOFF),
            default_interval: self.default_interval,
        };
        let mut options = built.engine_options;
        if let Some(interactive) = self.interactive {
            options = options.with_interactive(interactive);
        }
        let source = Arc::new(source);
        let engine = TokenEngine::new(source.clone(), options);
        Ok(DeviceCodeAuthenticator { engine, source })
    }
}
