//! What every HTTP flow's builder shares: the client and how it authenticates, where the
//! token endpoint comes from (static, or a config source such as discovery), scopes,
//! audience, header key, transport, and the store and engine settings; one precedence rule
//! (an explicit setting, then the discovered one, field by field); one [`BuildError`].
//!
//! A flow crate keeps a [`ClientSettings`] in its builder, generates the shared setters with
//! [`client_settings_setters!`](crate::client_settings_setters), adds its own, and in `build`
//! calls [`ClientSettings::build`] for the [`OAuth2Client`], the [`TokenEndpoint`] resolver
//! and the [`EngineOptions`].

use std::fmt;
use std::sync::{Arc, OnceLock};

use auth_core::{AuthError, ClientConfig, ClientConfigStore, CredentialStore, EngineOptions};

use crate::{
    ClientAssertion, ClientAuthMethod, HttpClient, OAuth2Client, TransportOptions, check_endpoint,
};
use auth_core::ClientSecret;

/// A setting that a flow builder's `build` refused: a required value missing, or a value
/// that is malformed (an endpoint that is not https, an HTTP client that could not be set up).
/// Converts into an [`AuthError`] of kind `Configuration` (or the underlying error's kind).
#[derive(Debug)]
pub struct BuildError {
    kind: BuildErrorKind,
    message: String,
    source: Option<AuthError>,
}

/// What kind of [`BuildError`] it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildErrorKind {
    /// A required value was not given.
    Missing,
    /// A value is malformed, or the HTTP client could not be set up.
    Invalid,
}

impl BuildError {
    /// `name` is missing; `hint` says how to give it.
    pub fn missing(name: &str, hint: &str) -> Self {
        Self {
            kind: BuildErrorKind::Missing,
            message: format!("{name} is missing: {hint}"),
            source: None,
        }
    }

    /// A value was refused for the reason `error` gives.
    pub fn invalid(error: AuthError) -> Self {
        Self {
            kind: BuildErrorKind::Invalid,
            message: error.to_string(),
            source: Some(error),
        }
    }

    /// What kind of error it is.
    pub fn kind(&self) -> BuildErrorKind {
        self.kind
    }

    /// The message (also what `Display` shows).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<BuildError> for AuthError {
    fn from(e: BuildError) -> Self {
        match e.source {
            Some(inner) => inner,
            None => AuthError::configuration(e.message),
        }
    }
}

/// The settings every HTTP flow's builder shares. Fill it through the setters that
/// [`client_settings_setters!`](crate::client_settings_setters) generates on the builder.
#[derive(Default)]
pub struct ClientSettings {
    /// The client id.
    pub client_id: Option<String>,
    /// The client secret.
    pub client_secret: Option<ClientSecret>,
    /// How the secret is sent; `None` negotiates (Basic unless only post is advertised, and
    /// post once when Basic is refused).
    pub auth_method: Option<ClientAuthMethod>,
    /// A client assertion (RFC 7523) instead of a secret.
    pub assertion: Option<ClientAssertion>,
    /// A static token endpoint.
    pub token_endpoint: Option<String>,
    /// Where what is not set here comes from (discovery or a static source).
    pub config_store: Option<Arc<dyn ClientConfigStore>>,
    /// The scopes; `Some(vec![])` sends no `scope`.
    pub scopes: Option<Vec<String>>,
    /// The `audience` parameter.
    pub audience: Option<String>,
    /// The header key that carries the token.
    pub header_key: Option<String>,
    /// Transport options for a client built here.
    pub transport: Option<TransportOptions>,
    /// An HTTP client to share; beats `transport`.
    pub http: Option<HttpClient>,
    /// Plain http to a host that is not loopback.
    pub allow_http: bool,
    /// Where credentials persist.
    pub store: Option<Arc<dyn CredentialStore>>,
    /// The key of the credentials in the store.
    pub store_key: Option<String>,
    /// Token engine settings.
    pub engine: Option<EngineOptions>,
}

impl fmt::Debug for ClientSettings {
    // Hand-written: the client secret is shown only as present or not.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSettings")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("auth_method", &self.auth_method)
            .field("assertion", &self.assertion)
            .field("token_endpoint", &self.token_endpoint)
            .field("config_store", &self.config_store)
            .field("scopes", &self.scopes)
            .field("audience", &self.audience)
            .field("header_key", &self.header_key)
            .field("transport", &self.transport)
            .field("store", &self.store.as_ref().map(|_| "[store]"))
            .field("store_key", &self.store_key)
            .field("allow_http", &self.allow_http)
            .finish_non_exhaustive()
    }
}

/// What a flow requires of [`ClientSettings`] when it builds.
#[derive(Debug, Clone, Copy)]
pub struct FlowRules {
    /// How to set the client id, for the error when it is missing.
    pub client_id_hint: &'static str,
    /// Whether the client must authenticate (a secret or an assertion), and how to give one.
    pub client_auth_required: Option<&'static str>,
    /// How to give the token endpoint, for the error when neither it nor a config source is
    /// set.
    pub endpoint_hint: &'static str,
    /// The store key prefix when the endpoint comes from a config source
    /// (`<prefix>:<client id>`); with a static endpoint the key is the endpoint.
    pub store_key_prefix: &'static str,
}

/// What [`ClientSettings::build`] makes.
#[derive(Debug)]
pub struct BuiltClient {
    /// The client id.
    pub client_id: String,
    /// The OAuth client, authenticating as configured.
    pub client: OAuth2Client,
    /// Where the token endpoint, scopes and audience come from.
    pub endpoint: TokenEndpoint,
    /// The engine settings, with the store and header key set here.
    pub engine_options: EngineOptions,
}

impl ClientSettings {
    /// Checks the settings against `rules` and builds the client, the endpoint resolver and
    /// the engine options.
    ///
    /// # Errors
    ///
    /// [`BuildError`] naming a missing value and how to set it, or a malformed one.
    pub fn build(self, rules: FlowRules) -> Result<BuiltClient, BuildError> {
        let client_id = self
            .client_id
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| BuildError::missing("client id", rules.client_id_hint))?;
        let secret = self.client_secret.filter(|s| !s.secret().is_empty());
        if let Some(hint) = rules.client_auth_required
            && secret.is_none()
            && self.assertion.is_none()
        {
            return Err(BuildError::missing("client secret", hint));
        }
        let endpoint = match (
            self.token_endpoint.filter(|t| !t.trim().is_empty()),
            self.config_store,
        ) {
            (Some(url), _) => {
                check_endpoint("token endpoint", &url, self.allow_http)
                    .map_err(BuildError::invalid)?;
                Source::Static(url.trim().to_string())
            }
            (None, Some(store)) => Source::Config(store),
            (None, None) => {
                return Err(BuildError::missing(
                    "token endpoint or client config store",
                    rules.endpoint_hint,
                ));
            }
        };
        let http = match self.http {
            Some(http) => http,
            None => {
                HttpClient::new(&self.transport.unwrap_or_default()).map_err(BuildError::invalid)?
            }
        };
        let client = OAuth2Client::new(http, client_id.clone());
        // An assertion replaces the secret.
        let client = match (secret, self.assertion) {
            (_, Some(assertion)) => client.with_client_assertion(assertion),
            (Some(secret), None) => match self.auth_method {
                None => client.with_negotiated_client_secret(secret),
                Some(ClientAuthMethod::None) => {
                    client.with_client_secret(Some(secret), ClientAuthMethod::Basic)
                }
                Some(method) => client.with_client_secret(Some(secret), method),
            },
            (None, None) => client,
        };
        let store_key = self.store_key.unwrap_or_else(|| match &endpoint {
            Source::Static(url) => url.clone(),
            Source::Config(_) => format!("{}:{client_id}", rules.store_key_prefix),
        });
        let mut options = self.engine.unwrap_or_default();
        if self.store.is_some() || options.store.is_none() {
            options = options.with_store(self.store, store_key);
        }
        if self.header_key.is_some() {
            options = options.with_header_key(self.header_key.clone());
        }
        Ok(BuiltClient {
            client_id,
            client,
            endpoint: TokenEndpoint {
                source: endpoint,
                scopes: self.scopes,
                audience: self.audience,
                header_key: self.header_key,
                discovered_header_key: OnceLock::new(),
                allow_http: self.allow_http,
            },
            engine_options: options,
        })
    }
}

#[derive(Debug, Clone)]
enum Source {
    Static(String),
    Config(Arc<dyn ClientConfigStore>),
}

/// The token endpoint, scopes and audience of a flow, resolved by one rule: each explicit
/// setting, else the config source's value (discovery runs on the first resolve, and the
/// source caches it).
#[derive(Debug)]
pub struct TokenEndpoint {
    source: Source,
    scopes: Option<Vec<String>>,
    audience: Option<String>,
    header_key: Option<String>,
    discovered_header_key: OnceLock<String>,
    allow_http: bool,
}

/// What [`TokenEndpoint::resolve`] gives.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResolvedEndpoint {
    /// The token endpoint URL.
    pub token_endpoint: String,
    /// The scopes to request.
    pub scopes: Vec<String>,
    /// The audience to send, if any.
    pub audience: Option<String>,
}

impl TokenEndpoint {
    /// The token endpoint, scopes and audience to use now. A discovered endpoint is checked
    /// (https unless loopback or allowed) before any secret is sent to it, and the client
    /// learns the authentication methods the provider advertises.
    ///
    /// # Errors
    ///
    /// The config source's error, or a configuration error for a discovered endpoint that
    /// is not allowed.
    pub async fn resolve(&self, client: &OAuth2Client) -> Result<ResolvedEndpoint, AuthError> {
        match &self.source {
            Source::Static(url) => Ok(ResolvedEndpoint {
                token_endpoint: url.clone(),
                scopes: self.scopes.clone().unwrap_or_default(),
                audience: self.audience.clone(),
            }),
            Source::Config(store) => {
                let ClientConfig {
                    token_endpoint,
                    scopes,
                    audience,
                    header_key,
                    token_endpoint_auth_methods_supported,
                    ..
                } = store.client_config().await?;
                let _ = self.discovered_header_key.set(header_key);
                client.use_advertised_methods(&token_endpoint_auth_methods_supported);
                check_endpoint(
                    "discovered token endpoint",
                    &token_endpoint,
                    self.allow_http,
                )?;
                Ok(ResolvedEndpoint {
                    token_endpoint,
                    scopes: self.scopes.clone().unwrap_or(scopes),
                    audience: self.audience.clone().or(audience),
                })
            }
        }
    }

    /// The header key: the one set on the builder, else the discovered one once a resolve
    /// ran, else `None`.
    pub fn header_key(&self) -> Option<String> {
        self.header_key
            .clone()
            .or_else(|| self.discovered_header_key.get().cloned())
    }
}

/// The setters every HTTP flow builder shares, generated on `$builder` for its
/// [`ClientSettings`] field `$settings`: `client_id`, `client_secret`, `client_assertion`,
/// `auth_method`, `token_endpoint`, `config_store`, `scopes`, `audience`, `header_key`,
/// `transport`, `http_client`, `credential_store`, `store_key`, `engine_options`,
/// `allow_http`.
#[macro_export]
macro_rules! client_settings_setters {
    ($settings:ident) => {
        /// The client id (required).
        pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
            self.$settings.client_id = Some(client_id.into());
            self
        }

        /// The client secret (a confidential client).
        pub fn client_secret(mut self, secret: $crate::__private::ClientSecret) -> Self {
            self.$settings.client_secret = Some(secret);
            self
        }

        /// Authenticates with a JWT instead of a secret (RFC 7523): `private_key_jwt` signed
        /// with a key file, or a federated token file (a Kubernetes projected service-account
        /// token) re-read for every request. Replaces the client secret.
        pub fn client_assertion(mut self, assertion: $crate::ClientAssertion) -> Self {
            self.$settings.assertion = Some(assertion);
            self
        }

        /// How the secret is sent, always: [`ClientAuthMethod::Basic`]($crate::ClientAuthMethod::Basic)
        /// or [`ClientAuthMethod::Post`]($crate::ClientAuthMethod::Post). Not set, the client
        /// negotiates: Basic unless the provider's metadata advertises only
        /// `client_secret_post`, and post once when Basic is refused; the method that worked
        /// is kept for the life of the authenticator.
        pub fn auth_method(mut self, method: $crate::ClientAuthMethod) -> Self {
            self.$settings.auth_method = Some(method);
            self
        }

        /// A static token endpoint: no discovery of it. Beats the config store's.
        pub fn token_endpoint(mut self, url: impl Into<String>) -> Self {
            self.$settings.token_endpoint = Some(url.into());
            self
        }

        /// Where what is not set here comes from: `auth_oauth2::FlyteDiscovery`,
        /// `auth_oauth2::IssuerDiscovery` or a static source. The client id is always the
        /// builder's; every other value set on the builder beats the source's.
        pub fn config_store(
            mut self,
            store: ::std::sync::Arc<dyn $crate::__private::ClientConfigStore>,
        ) -> Self {
            self.$settings.config_store = Some(store);
            self
        }

        /// The scopes to request. Given, they are used as they are (an empty list sends no
        /// `scope`); not given, the config store's scopes are used.
        pub fn scopes<I, S>(mut self, scopes: I) -> Self
        where
            I: IntoIterator<Item = S>,
            S: Into<String>,
        {
            self.$settings.scopes = Some(scopes.into_iter().map(Into::into).collect());
            self
        }

        /// The `audience` parameter (Auth0 and others). Beats the config store's.
        pub fn audience(mut self, audience: impl Into<String>) -> Self {
            self.$settings.audience = Some(audience.into()).filter(|a| !a.trim().is_empty());
            self
        }

        /// The header key that carries the token. Beats the discovered one.
        pub fn header_key(mut self, key: impl Into<String>) -> Self {
            self.$settings.header_key = Some(key.into()).filter(|k| !k.trim().is_empty());
            self
        }

        /// Transport settings (CA bundle, proxy, timeouts) for a client built here.
        pub fn transport(mut self, options: $crate::TransportOptions) -> Self {
            self.$settings.transport = Some(options);
            self
        }

        /// An HTTP client to share (with the config store, for example). Beats
        /// `transport`.
        pub fn http_client(mut self, http: $crate::HttpClient) -> Self {
            self.$settings.http = Some(http);
            self
        }

        /// Persists the credentials in `store`.
        pub fn credential_store(
            mut self,
            store: ::std::sync::Arc<dyn $crate::__private::CredentialStore>,
        ) -> Self {
            self.$settings.store = Some(store);
            self
        }

        /// The key of the credentials in the store. Default: the static token endpoint,
        /// else `<flow>:<client id>`.
        pub fn store_key(mut self, key: impl Into<String>) -> Self {
            self.$settings.store_key = Some(key.into());
            self
        }

        /// Token engine settings (refresh window, skew, retries). The credential store and
        /// header key set here take precedence.
        pub fn engine_options(mut self, options: $crate::__private::EngineOptions) -> Self {
            self.$settings.engine = Some(options);
            self
        }

        /// Allows a token endpoint over plain http on a host that is not loopback, static or
        /// discovered (the client secret then crosses the network unencrypted). Off by
        /// default: an http endpoint is refused unless its host is loopback.
        pub fn allow_http(mut self, allow: bool) -> Self {
            self.$settings.allow_http = allow;
            self
        }
    };
}
