//! What every HTTP flow's builder shares: the client and how it authenticates, where the
//! token endpoint comes from (static, or a config source such as discovery), scopes,
//! audience, header key, transport, and the store and engine settings; one precedence rule
//! (an explicit setting, then the discovered one, field by field); one [`BuildError`].
//!
//! A flow crate keeps a [`ClientSettings`] in its builder, generates the shared setters with
//! [`client_settings_setters!`](crate::client_settings_setters), adds its own, and in `build`
//! calls [`ClientSettings::build`] for the [`ConfigResolver`] (the configuration by one
//! precedence rule, and the flow's one [`OAuth2Client`]) and the [`EngineOptions`].

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
    /// How to set the client id, for the error when it is missing (and no config source
    /// could discover it).
    pub client_id_hint: &'static str,
    /// Whether the client must authenticate (a secret or an assertion), and how to give one.
    pub client_auth_required: Option<&'static str>,
    /// How to give the token endpoint, for the error when neither it nor a config source is
    /// set.
    pub endpoint_hint: &'static str,
    /// The store key prefix when the endpoint comes from a config source
    /// (`<prefix>:<client id>`, or `<prefix>` alone when the client id is discovered too);
    /// with a static endpoint the key is the endpoint.
    pub store_key_prefix: &'static str,
}

/// What [`ClientSettings::build`] makes.
#[derive(Debug)]
#[non_exhaustive]
pub struct BuiltClient {
    /// Resolves the configuration (explicit settings, else the config source's) and holds
    /// the one OAuth client of the flow.
    pub resolver: ConfigResolver,
    /// The engine settings, with the store and header key set here.
    pub engine_options: EngineOptions,
}

impl ClientSettings {
    /// Checks the settings against `rules` and builds the resolver and the engine options.
    /// Static endpoints are checked here; discovered ones when they are resolved.
    ///
    /// # Errors
    ///
    /// [`BuildError`] naming a missing value and how to set it, or a malformed one.
    pub fn build(self, rules: FlowRules) -> Result<BuiltClient, BuildError> {
        let client_id = self.client_id.filter(|c| !c.trim().is_empty());
        if client_id.is_none() && self.config_store.is_none() {
            return Err(BuildError::missing("client id", rules.client_id_hint));
        }
        let secret = self.client_secret.filter(|s| !s.secret().is_empty());
        if let Some(hint) = rules.client_auth_required
            && secret.is_none()
            && self.assertion.is_none()
        {
            return Err(BuildError::missing("client secret", hint));
        }
        let token_endpoint = self
            .token_endpoint
            .filter(|t| !t.trim().is_empty())
            .map(|t| t.trim().to_string());
        match (&token_endpoint, &self.config_store) {
            (Some(url), _) => {
                check_endpoint("token endpoint", url, self.allow_http)
                    .map_err(BuildError::invalid)?;
            }
            (None, Some(_)) => {}
            (None, None) => {
                return Err(BuildError::missing(
                    "token endpoint or client config store",
                    rules.endpoint_hint,
                ));
            }
        }
        let http = match self.http {
            Some(http) => http,
            None => {
                HttpClient::new(&self.transport.unwrap_or_default()).map_err(BuildError::invalid)?
            }
        };
        let store_key = self.store_key.unwrap_or_else(|| {
            match (&token_endpoint, &self.config_store, &client_id) {
                (Some(url), None, _) => url.clone(),
                (_, _, Some(id)) => format!("{}:{id}", rules.store_key_prefix),
                _ => rules.store_key_prefix.to_string(),
            }
        });
        let mut options = self.engine.unwrap_or_default();
        if self.store.is_some() || options.store.is_none() {
            options = options.with_store(self.store, store_key);
        }
        if self.header_key.is_some() {
            options = options.with_header_key(self.header_key.clone());
        }
        Ok(BuiltClient {
            resolver: ConfigResolver {
                source: self.config_store,
                client_id,
                token_endpoint,
                scopes: self.scopes,
                audience: self.audience,
                header_key: self.header_key,
                secret,
                auth_method: self.auth_method,
                assertion: self.assertion,
                http,
                allow_http: self.allow_http,
                client: OnceLock::new(),
                discovered_header_key: OnceLock::new(),
            },
            engine_options: options,
        })
    }
}

/// The configuration of a flow, resolved by one rule, field by field: each value set on the
/// builder, else the config source's (discovery runs on the first resolve and the source
/// caches it); without a source, the builder's values alone. It also holds the flow's one
/// [`OAuth2Client`], made on the first resolve, so that what the client learns (the client
/// authentication method that worked) lasts for the life of the authenticator.
pub struct ConfigResolver {
    source: Option<Arc<dyn ClientConfigStore>>,
    client_id: Option<String>,
    token_endpoint: Option<String>,
    scopes: Option<Vec<String>>,
    audience: Option<String>,
    header_key: Option<String>,
    secret: Option<ClientSecret>,
    auth_method: Option<ClientAuthMethod>,
    assertion: Option<ClientAssertion>,
    http: HttpClient,
    allow_http: bool,
    client: OnceLock<OAuth2Client>,
    discovered_header_key: OnceLock<String>,
}

impl fmt::Debug for ConfigResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigResolver")
            .field("source", &self.source)
            .field("client_id", &self.client_id)
            .field("token_endpoint", &self.token_endpoint)
            .field("scopes", &self.scopes)
            .field("audience", &self.audience)
            .field("header_key", &self.header_key)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("auth_method", &self.auth_method)
            .field("assertion", &self.assertion)
            .field("allow_http", &self.allow_http)
            .finish_non_exhaustive()
    }
}

/// What [`ConfigResolver::resolve`] gives: the configuration with every explicit setting
/// applied, and the flow's client.
#[derive(Debug)]
#[non_exhaustive]
pub struct Resolved<'a> {
    /// The client configuration to use now (the token endpoint checked).
    pub config: ClientConfig,
    /// The flow's OAuth client.
    pub client: &'a OAuth2Client,
}

impl ConfigResolver {
    /// The configuration to use now and the flow's client. A discovered token endpoint is
    /// checked (https unless loopback or allowed) before any secret is sent to it, and the
    /// client learns the authentication methods the provider advertises.
    ///
    /// # Errors
    ///
    /// The config source's error, or a configuration error for a missing client id or an
    /// endpoint that is not allowed.
    pub async fn resolve(&self) -> Result<Resolved<'_>, AuthError> {
        let mut config = match &self.source {
            Some(source) => source.client_config().await?,
            None => ClientConfig::new(
                self.token_endpoint.clone().unwrap_or_default(),
                self.client_id.clone().unwrap_or_default(),
            ),
        };
        if self.source.is_some() {
            let _ = self.discovered_header_key.set(config.header_key.clone());
        }
        if let Some(id) = &self.client_id {
            config.client_id = id.clone();
        }
        if let Some(url) = &self.token_endpoint {
            config.token_endpoint = url.clone();
        }
        if let Some(scopes) = &self.scopes {
            config.scopes = scopes.clone();
        }
        if let Some(audience) = &self.audience {
            config.audience = Some(audience.clone());
        }
        if let Some(key) = &self.header_key {
            config.header_key = key.clone();
        }
        config.audience = config.audience.filter(|a| !a.trim().is_empty());
        if config.client_id.trim().is_empty() {
            return Err(AuthError::configuration(
                "no client id: configure one (clientId in config.yaml) or use an endpoint whose \
                 discovery names a public client",
            ));
        }
        if config.token_endpoint.trim().is_empty() {
            return Err(AuthError::configuration(
                "no token endpoint: configure tokenUrl, or use discovery",
            ));
        }
        if self.token_endpoint.is_none() {
            check_endpoint(
                "discovered token endpoint",
                &config.token_endpoint,
                self.allow_http,
            )?;
        }
        let client = self
            .client
            .get_or_init(|| self.make_client(&config.client_id));
        if self.source.is_some() {
            client.use_advertised_methods(&config.token_endpoint_auth_methods_supported);
        }
        Ok(Resolved { config, client })
    }

    fn make_client(&self, client_id: &str) -> OAuth2Client {
        let client = OAuth2Client::new(self.http.clone(), client_id);
        // An assertion replaces the secret.
        match (&self.secret, &self.assertion) {
            (_, Some(assertion)) => client.with_client_assertion(assertion.clone()),
            (Some(secret), None) => match self.auth_method {
                None => client.with_negotiated_client_secret(secret.clone()),
                Some(ClientAuthMethod::None) => {
                    client.with_client_secret(Some(secret.clone()), ClientAuthMethod::Basic)
                }
                Some(method) => client.with_client_secret(Some(secret.clone()), method),
            },
            (None, None) => client,
        }
    }

    /// Whether endpoints may use plain http on a host that is not loopback.
    pub fn allow_http(&self) -> bool {
        self.allow_http
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
