//! [`DeviceCodeAuthenticator`] and its builder.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth_core::{
    AuthError, ClientConfig, ClientConfigStore, ClientSecret, CredentialStore, EngineOptions,
    StaticClientConfigStore, TokenEngine, non_empty,
};
use auth_oauth2::{ClientAuthMethod, HttpClient, TransportOptions, check_endpoint};

use crate::flow::{DeviceSource, Overrides};
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

/// Why a [`DeviceCodeAuthenticatorBuilder`] could not build: a setting is missing or invalid.
/// The message says which and what to set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError {
    message: String,
}

impl BuildError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// What is wrong and what to do.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid device flow settings: {}", self.message)
    }
}

impl std::error::Error for BuildError {}

impl From<BuildError> for AuthError {
    fn from(e: BuildError) -> Self {
        AuthError::configuration(e.message)
    }
}

/// Configures a [`DeviceCodeAuthenticator`].
///
/// The identity provider is given either as static endpoints
/// ([`token_endpoint`](Self::token_endpoint) and
/// [`device_authorization_endpoint`](Self::device_authorization_endpoint) with a
/// [`client_id`](Self::client_id)), or as a [`ClientConfigStore`] (Flyte or issuer
/// discovery from `auth-oauth2`) whose values the static settings override.
#[derive(Default)]
pub struct DeviceCodeAuthenticatorBuilder {
    overrides: Overrides,
    config_store: Option<Arc<dyn ClientConfigStore>>,
    client_secret: Option<(ClientSecret, ClientAuthMethod)>,
    transport: Option<TransportOptions>,
    http: Option<HttpClient>,
    store: Option<(Arc<dyn CredentialStore>, String)>,
    presenter: Option<Arc<dyn DevicePresenter>>,
    time_limit: Option<Duration>,
    pkce: bool,
    max_backoff: Option<Duration>,
    default_interval: Option<Duration>,
    interactive: Option<bool>,
    engine: Option<EngineOptions>,
    allow_http: bool,
}

impl fmt::Debug for DeviceCodeAuthenticatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // By hand: no secret may ever be printed, whatever the fields become.
        f.debug_struct("DeviceCodeAuthenticatorBuilder")
            .field("overrides", &self.overrides)
            .field("config_store", &self.config_store)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|(_, m)| ("[redacted]", m)),
            )
            .field("time_limit", &self.time_limit)
            .field("default_interval", &self.default_interval)
            .field("pkce", &self.pkce)
            .field("allow_http", &self.allow_http)
            .finish_non_exhaustive()
    }
}

impl DeviceCodeAuthenticatorBuilder {
    /// The client id (overrides a discovered one).
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.overrides.client_id = non_empty(client_id.into());
        self
    }

    /// A client secret, for providers whose device clients are confidential (Google). Most
    /// device clients are public and have none.
    pub fn client_secret(mut self, secret: ClientSecret, method: ClientAuthMethod) -> Self {
        self.client_secret = Some((secret, method));
        self
    }

    /// Where the client configuration comes from (discovery), when the endpoints are not
    /// given statically.
    pub fn config_store(mut self, store: Arc<dyn ClientConfigStore>) -> Self {
        self.config_store = Some(store);
        self
    }

    /// The token endpoint. An empty string means none.
    pub fn token_endpoint(mut self, url: impl Into<String>) -> Self {
        self.overrides.token_endpoint = non_empty(url.into());
        self
    }

    /// The device authorization endpoint. An empty string means none.
    pub fn device_authorization_endpoint(mut self, url: impl Into<String>) -> Self {
        self.overrides.device_authorization_endpoint = non_empty(url.into());
        self
    }

    /// The scopes to request (overrides discovered ones).
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.overrides.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// The `audience` parameter (Auth0 and others). An empty string means none.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.overrides.audience = non_empty(audience.into());
        self
    }

    /// The header key that carries the token (overrides a discovered one).
    pub fn header_key(mut self, key: impl Into<String>) -> Self {
        self.overrides.header_key = non_empty(key.into());
        self
    }

    /// HTTP settings (CA bundle, proxy, timeouts). Ignored when
    /// [`http_client`](Self::http_client) is given.
    pub fn transport(mut self, options: TransportOptions) -> Self {
        self.transport = Some(options);
        self
    }

    /// An HTTP client to share with other authenticators.
    pub fn http_client(mut self, http: HttpClient) -> Self {
        self.http = Some(http);
        self
    }

    /// Persists credentials in `store` under `key` (the endpoint): loaded on first use, saved
    /// after every login or refresh.
    pub fn credential_store(
        mut self,
        store: Arc<dyn CredentialStore>,
        key: impl Into<String>,
    ) -> Self {
        self.store = Some((store, key.into()));
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

    /// Allows endpoints over plain http on a host that is not loopback (Flyte's `insecure`
    /// sandbox), static or discovered. Off by default: an http endpoint is refused unless its
    /// host is loopback.
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// Token engine settings (refresh window, skew, retries, clock). The credential store and
    /// the interaction switch set on this builder win over the ones in `options`.
    pub fn engine_options(mut self, options: EngineOptions) -> Self {
        self.engine = Some(options);
        self
    }

    /// Checks the settings and builds the authenticator. Performs no I/O: with a
    /// [`config_store`](Self::config_store), a missing device authorization endpoint is
    /// reported by the first login instead.
    pub fn build(self) -> Result<DeviceCodeAuthenticator, BuildError> {
        let o = &self.overrides;
        let config: Arc<dyn ClientConfigStore> = match (&self.config_store, o.is_static()) {
            (_, true) | (None, false) => {
                let device = o.device_authorization_endpoint.as_deref().ok_or_else(|| {
                    BuildError::new(
                        "no device authorization endpoint: set device_authorization_endpoint \
                         (deviceAuthorizationEndpoint in config.yaml) or give a config store that \
                         discovers it",
                    )
                })?;
                let token = o.token_endpoint.as_deref().ok_or_else(|| {
                    BuildError::new(
                        "no token endpoint: set token_endpoint (tokenUrl in config.yaml) or give a \
                         config store that discovers it",
                    )
                })?;
                let client_id = o.client_id.as_deref().ok_or_else(|| {
                    BuildError::new("no client id: set client_id (clientId in config.yaml)")
                })?;
                Arc::new(StaticClientConfigStore::new(
                    ClientConfig::new(token, client_id).with_device_authorization_endpoint(device),
                ))
            }
            (Some(store), false) => Arc::clone(store),
        };
        for (what, url) in [
            (
                "device authorization endpoint",
                &o.device_authorization_endpoint,
            ),
            ("token endpoint", &o.token_endpoint),
        ] {
            if let Some(url) = url {
                check_endpoint(what, url, self.allow_http)
                    .map_err(|e| BuildError::new(e.message()))?;
            }
        }
        if self.default_interval.is_some_and(|i| i.is_zero()) {
            return Err(BuildError::new(
                "the default poll interval must be more than zero",
            ));
        }
        if self.time_limit.is_some_and(|l| l.is_zero()) {
            return Err(BuildError::new(
                "the device flow time limit must be more than zero",
            ));
        }
        let http = match self.http {
            Some(http) => http,
            None => HttpClient::new(&self.transport.unwrap_or_default())
                .map_err(|e| BuildError::new(e.to_string()))?,
        };
        let source = DeviceSource {
            http,
            config,
            overrides: self.overrides,
            client_secret: self.client_secret,
            presenter: self
                .presenter
                .unwrap_or_else(|| Arc::new(TextPresenter::new())),
            time_limit: self.time_limit,
            pkce: self.pkce,
            max_backoff: self.max_backoff.unwrap_or(DEFAULT_MAX_BACKOFF),
            default_interval: self.default_interval,
            allow_http: self.allow_http,
            header_key: Mutex::new(None),
        };
        let mut options = self.engine.unwrap_or_default();
        if let Some((store, key)) = self.store {
            options = options.with_store(Some(store), key);
        }
        if let Some(interactive) = self.interactive {
            options = options.with_interactive(interactive);
        }
        if let Some(key) = &source.overrides.header_key {
            options = options.with_header_key(Some(key.clone()));
        }
        let source = Arc::new(source);
        let engine = TokenEngine::new(source.clone(), options);
        Ok(DeviceCodeAuthenticator { engine, source })
    }
}

impl Overrides {
    /// Whether the static settings alone are enough (discovery is skipped).
    fn is_static(&self) -> bool {
        self.client_id.is_some()
            && self.token_endpoint.is_some()
            && self.device_authorization_endpoint.is_some()
    }
}
