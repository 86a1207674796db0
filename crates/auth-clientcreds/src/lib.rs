#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::fmt;
use std::sync::{Arc, OnceLock};

use auth_core::{
    AuthError, ClientConfig, ClientConfigStore, ClientSecret, CredentialStore, Credentials,
    EngineOptions, FetchContext, TokenEngine, TokenSource, async_trait,
};
use auth_oauth2::{
    ClientAssertion, ClientAuthMethod, HttpClient, OAuth2Client, TransportOptions, check_endpoint,
};

/// A setting that [`ClientCredentialsBuilder::build`] refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A required value was not given.
    #[error("{name} is missing: {hint}")]
    Missing {
        /// Which value: `client id`, `client secret`, `token endpoint or client config store`.
        name: &'static str,
        /// How to give it.
        hint: &'static str,
    },
    /// A value is malformed, or the HTTP client could not be set up.
    #[error("{0}")]
    Invalid(#[source] AuthError),
}

impl From<BuildError> for AuthError {
    fn from(e: BuildError) -> Self {
        match e {
            BuildError::Invalid(inner) => inner,
            missing => AuthError::configuration(missing.to_string()),
        }
    }
}

/// Where the token endpoint comes from.
#[derive(Debug, Clone)]
enum Endpoint {
    Static(String),
    Store(Arc<dyn ClientConfigStore>),
}

/// Machine-to-machine credentials: the OAuth 2.0 client credentials grant
/// (RFC 6749 §4.4), cached, shared by concurrent callers and renewed ahead of expiry by the
/// `auth_core` token engine.
///
/// Built with [`ClientCredentialsAuthenticator::builder`]. Implements
/// [`Authenticator`](auth_core::Authenticator).
pub struct ClientCredentialsAuthenticator {
    engine: TokenEngine,
}

impl fmt::Debug for ClientCredentialsAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentialsAuthenticator")
            .field("engine", &self.engine)
            .finish()
    }
}

impl ClientCredentialsAuthenticator {
    /// A builder with no settings.
    pub fn builder() -> ClientCredentialsBuilder {
        ClientCredentialsBuilder::default()
    }
}

auth_core::forward_authenticator!(ClientCredentialsAuthenticator => engine);

/// Settings of a [`ClientCredentialsAuthenticator`].
///
/// Required: [`client_id`](Self::client_id), [`client_secret`](Self::client_secret), and
/// either [`token_endpoint`](Self::token_endpoint) or
/// [`config_store`](Self::config_store) (Flyte discovery, issuer discovery, static).
///
/// Precedence: scopes given here are used (an empty list sends no `scope`), the config
/// store's scopes (the server's public-client scopes) only otherwise; the same for the
/// audience; a header key given here beats the discovered one, which beats `authorization`.
#[derive(Default)]
pub struct ClientCredentialsBuilder {
    client_id: Option<String>,
    client_secret: Option<ClientSecret>,
    assertion: Option<ClientAssertion>,
    token_endpoint: Option<String>,
    config_store: Option<Arc<dyn ClientConfigStore>>,
    scopes: Option<Vec<String>>,
    audience: Option<String>,
    auth_method: Option<ClientAuthMethod>,
    header_key: Option<String>,
    transport: Option<TransportOptions>,
    http: Option<HttpClient>,
    store: Option<Arc<dyn CredentialStore>>,
    store_key: Option<String>,
    engine: Option<EngineOptions>,
    allow_http: bool,
}

impl fmt::Debug for ClientCredentialsBuilder {
    // Hand-written: the client secret is shown only as present or not.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentialsBuilder")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("token_endpoint", &self.token_endpoint)
            .field("config_store", &self.config_store)
            .field("scopes", &self.scopes)
            .field("audience", &self.audience)
            .field("assertion", &self.assertion)
            .field("auth_method", &self.auth_method)
            .field("header_key", &self.header_key)
            .field("transport", &self.transport)
            .field("store", &self.store.as_ref().map(|_| "[store]"))
            .field("store_key", &self.store_key)
            .field("allow_http", &self.allow_http)
            .finish_non_exhaustive()
    }
}

impl ClientCredentialsBuilder {
    /// The client id (required).
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// The client secret (required unless a [`client_assertion`](Self::client_assertion)
    /// is given).
    pub fn client_secret(mut self, secret: ClientSecret) -> Self {
        self.client_secret = Some(secret);
        self
    }

    /// Authenticates with a JWT instead of a secret (RFC 7523): `private_key_jwt` signed with
    /// a key file, or a federated token file (a Kubernetes projected service-account token)
    /// re-read for every request. Replaces the client secret.
    pub fn client_assertion(mut self, assertion: ClientAssertion) -> Self {
        self.assertion = Some(assertion);
        self
    }

    /// A static token endpoint: no discovery. Beats [`config_store`](Self::config_store).
    pub fn token_endpoint(mut self, url: impl Into<String>) -> Self {
        self.token_endpoint = Some(url.into());
        self
    }

    /// Where the token endpoint, scopes, audience and header key come from:
    /// `auth_oauth2::FlyteDiscovery`, `auth_oauth2::IssuerDiscovery` or a static store.
    /// Only its `token_endpoint`, `scopes`, `audience` and `header_key` are used; the client
    /// id is always this builder's.
    pub fn config_store(mut self, store: Arc<dyn ClientConfigStore>) -> Self {
        self.config_store = Some(store);
        self
    }

    /// The scopes to request. Given, they are used as they are (an empty list sends no
    /// `scope`); not given, the config store's scopes are used.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// The `audience` parameter (Auth0 and others). Beats the config store's.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into()).filter(|a| !a.trim().is_empty());
        self
    }

    /// How the secret is sent, always: [`ClientAuthMethod::Basic`] or
    /// [`ClientAuthMethod::Post`]. Not set, the client negotiates: Basic unless the
    /// provider's metadata advertises only `client_secret_post`, and post once when Basic is
    /// refused (see [`OAuth2Client::with_negotiated_client_secret`]); the method that worked
    /// is kept for the life of the authenticator.
    pub fn auth_method(mut self, method: ClientAuthMethod) -> Self {
        self.auth_method = Some(method);
        self
    }

    /// The header key that carries the token. Beats the discovered one.
    pub fn header_key(mut self, key: impl Into<String>) -> Self {
        self.header_key = Some(key.into()).filter(|k| !k.trim().is_empty());
        self
    }

    /// Transport settings (CA bundle, proxy, timeouts) for a client built here.
    pub fn transport(mut self, options: TransportOptions) -> Self {
        self.transport = Some(options);
        self
    }

    /// An HTTP client to share (with the config store, for example). Beats
    /// [`transport`](Self::transport).
    pub fn http_client(mut self, http: HttpClient) -> Self {
        self.http = Some(http);
        self
    }

    /// Persists the credentials in `store`. None by default: a service should not write to a
    /// user's keyring unless asked.
    pub fn credential_store(mut self, store: Arc<dyn CredentialStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The key of the credentials in the store. Default: the token endpoint, or
    /// `client-credentials:<client id>` with a config store.
    pub fn store_key(mut self, key: impl Into<String>) -> Self {
        self.store_key = Some(key.into());
        self
    }

    /// Token engine settings (refresh window, skew, retries). The credential store and
    /// header key set here take precedence.
    pub fn engine_options(mut self, options: EngineOptions) -> Self {
        self.engine = Some(options);
        self
    }

    /// Allows a token endpoint over plain http on a host that is not loopback, static or
    /// discovered (the client secret then crosses the network unencrypted). Off by default:
    /// an http endpoint is refused unless its host is loopback.
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// Checks the settings and builds the authenticator. Must be called inside a tokio
    /// runtime only when credentials are requested, not here.
    pub fn build(self) -> Result<ClientCredentialsAuthenticator, BuildError> {
        let client_id = self.client_id.filter(|c| !c.trim().is_empty()).ok_or(BuildError::Missing {
            name: "client id",
            hint: "set it with .client_id(..) (Flyte config: clientId, FLYTE_CREDENTIALS_CLIENT_ID)",
        })?;
        // A client assertion replaces the secret.
        let secret = match self.assertion {
            Some(_) => None,
            None => Some(
                self.client_secret
                    .filter(|s| !s.secret().is_empty())
                    .ok_or(BuildError::Missing {
                        name: "client secret",
                        hint: "set it with .client_secret(..) (Flyte config: clientSecretLocation, \
                   clientSecretEnvVar or FLYTE_CREDENTIALS_CLIENT_SECRET), or use \
                   .client_assertion(..)",
                    })?,
            ),
        };
        let endpoint = match (
            self.token_endpoint.filter(|t| !t.trim().is_empty()),
            self.config_store,
        ) {
            (Some(url), _) => {
                check_endpoint("token endpoint", &url, self.allow_http)
                    .map_err(BuildError::Invalid)?;
                Endpoint::Static(url.trim().to_string())
            }
            (None, Some(store)) => Endpoint::Store(store),
            (None, None) => {
                return Err(BuildError::Missing {
                    name: "token endpoint or client config store",
                    hint: "set .token_endpoint(..) (Flyte config: tokenUrl) or \
                           .config_store(..) (for example auth_oauth2::FlyteDiscovery)",
                });
            }
        };
        let http = match self.http {
            Some(http) => http,
            None => {
                HttpClient::new(&self.transport.unwrap_or_default()).map_err(BuildError::Invalid)?
            }
        };
        let client = OAuth2Client::new(http, client_id.clone());
        let client = match (secret, self.assertion) {
            (_, Some(assertion)) => client.with_client_assertion(assertion),
            (Some(secret), None) => match self.auth_method {
                None => client.with_negotiated_client_secret(secret),
                Some(ClientAuthMethod::None) => {
                    client.with_client_secret(Some(secret), ClientAuthMethod::Basic)
                }
                Some(method) => client.with_client_secret(Some(secret), method),
            },
            // Not reached: without an assertion the secret is required above.
            (None, None) => client,
        };
        let store_key = self.store_key.unwrap_or_else(|| match &endpoint {
            Endpoint::Static(url) => url.clone(),
            Endpoint::Store(_) => format!("client-credentials:{client_id}"),
        });
        let mut options = self.engine.unwrap_or_default();
        if self.store.is_some() || options.store.is_none() {
            options = options.with_store(self.store, store_key);
        }
        if self.header_key.is_some() {
            options = options.with_header_key(self.header_key.clone());
        }
        let source = ClientCredentialsSource {
            client,
            endpoint,
            scopes: self.scopes,
            audience: self.audience,
            header_key: self.header_key,
            discovered_header_key: OnceLock::new(),
            allow_http: self.allow_http,
        };
        Ok(ClientCredentialsAuthenticator {
            engine: TokenEngine::new(Arc::new(source), options),
        })
    }
}

/// The acquisition: one client credentials grant.
struct ClientCredentialsSource {
    client: OAuth2Client,
    endpoint: Endpoint,
    scopes: Option<Vec<String>>,
    audience: Option<String>,
    header_key: Option<String>,
    discovered_header_key: OnceLock<String>,
    allow_http: bool,
}

impl fmt::Debug for ClientCredentialsSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentialsSource")
            .field("client", &self.client)
            .field("endpoint", &self.endpoint)
            .field("scopes", &self.scopes)
            .field("audience", &self.audience)
            .field("header_key", &self.header_key)
            .finish_non_exhaustive()
    }
}

impl ClientCredentialsSource {
    /// The token endpoint, scopes and audience to use, by precedence.
    async fn resolve(&self) -> Result<(String, Vec<String>, Option<String>), AuthError> {
        match &self.endpoint {
            Endpoint::Static(url) => Ok((
                url.clone(),
                self.scopes.clone().unwrap_or_default(),
                self.audience.clone(),
            )),
            Endpoint::Store(store) => {
                let ClientConfig {
                    token_endpoint,
                    scopes,
                    audience,
                    header_key,
                    token_endpoint_auth_methods_supported,
                    ..
                } = store.client_config().await?;
                let _ = self.discovered_header_key.set(header_key);
                self.client
                    .use_advertised_methods(&token_endpoint_auth_methods_supported);
                // A static endpoint was checked by the builder; a discovered one is checked
                // here, before the client secret is sent to it.
                check_endpoint(
                    "discovered token endpoint",
                    &token_endpoint,
                    self.allow_http,
                )?;
                Ok((
                    token_endpoint,
                    self.scopes.clone().unwrap_or(scopes),
                    self.audience.clone().or(audience),
                ))
            }
        }
    }
}

#[async_trait]
impl TokenSource for ClientCredentialsSource {
    async fn fetch(&self, _context: &FetchContext<'_>) -> Result<Credentials, AuthError> {
        let (token_endpoint, scopes, audience) = self.resolve().await?;
        tracing::debug!(token_endpoint = %token_endpoint, "requesting a token with the client credentials grant");
        self.client
            .client_credentials(&token_endpoint, &scopes, audience.as_deref())
            .await
    }

    fn header_key(&self) -> Option<String> {
        self.header_key
            .clone()
            .or_else(|| self.discovered_header_key.get().cloned())
    }

    async fn prepare(&self) -> Result<(), AuthError> {
        self.resolve().await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_values_are_named() {
        let e = ClientCredentialsAuthenticator::builder()
            .build()
            .unwrap_err();
        assert!(e.to_string().starts_with("client id is missing"), "{e}");
        let e = ClientCredentialsAuthenticator::builder()
            .client_id("c")
            .build()
            .unwrap_err();
        assert!(e.to_string().starts_with("client secret is missing"), "{e}");
        let e = ClientCredentialsAuthenticator::builder()
            .client_id("c")
            .client_secret(ClientSecret::new(""))
            .build()
            .unwrap_err();
        assert!(e.to_string().starts_with("client secret is missing"), "{e}");
        let e = ClientCredentialsAuthenticator::builder()
            .client_id("c")
            .client_secret(ClientSecret::new("s"))
            .build()
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("token endpoint or client config store is missing"),
            "{e}"
        );
        let as_auth: AuthError = e.into();
        assert_eq!(as_auth.kind(), auth_core::ErrorKind::Configuration);
    }

    #[test]
    fn a_static_plain_http_endpoint_needs_loopback_or_allow_http() {
        let b = |url: &str| {
            ClientCredentialsAuthenticator::builder()
                .client_id("c")
                .client_secret(ClientSecret::new("s"))
                .token_endpoint(url)
        };
        assert!(b("http://127.0.0.1:8080/token").build().is_ok());
        assert!(
            b("http://idp.example.com/token")
                .allow_http(true)
                .build()
                .is_ok()
        );
        let e = b("http://idp.example.com/token").build().unwrap_err();
        assert!(matches!(e, BuildError::Invalid(_)), "{e}");
        assert!(e.to_string().contains("allow_http"), "{e}");
        assert!(b("ftp://idp/token").build().is_err());
    }

    #[test]
    fn builder_debug_hides_the_secret() {
        let b = ClientCredentialsAuthenticator::builder()
            .client_id("c")
            .client_secret(ClientSecret::new("hunter2-planted"));
        let d = format!("{b:?} {b:#?}");
        assert!(!d.contains("hunter2-planted"), "{d}");
        assert!(d.contains("[redacted]"), "{d}");
    }
}
