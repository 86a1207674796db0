#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use auth_core::{
    AccessToken, AuthError, Authenticator, ClientConfig, ClientConfigStore, ClientSecret,
    CredentialStore, Credentials, EngineOptions, FetchContext, TokenEngine, TokenSource,
    async_trait,
};
use auth_oauth2::{
    ClientAuthMethod, HttpClient, OAuth2Client, TOKEN_EXCHANGE_GRANT, TransportOptions,
    check_endpoint,
};
use zeroize::Zeroizing;

/// Token type URIs of RFC 8693 §3.
pub mod token_type {
    /// An OAuth 2.0 access token.
    pub const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
    /// A JWT, such as a Kubernetes service-account token or a CI provider's OIDC token.
    pub const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
    /// An OpenID Connect ID token.
    pub const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
}

/// A subject token file larger than this is refused: a service-account token is a few
/// kilobytes.
pub const MAX_SUBJECT_TOKEN_BYTES: u64 = 64 * 1024;

/// How long reading the subject token file may take.
const FILE_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// A setting that [`TokenExchangeBuilder::build`] refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A required value was not given.
    #[error("{name} is missing: {hint}")]
    Missing {
        /// Which value.
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

/// Where the subject token comes from.
#[derive(Clone)]
enum Subject {
    /// Read for every exchange: the kubelet and CI runners rotate these files.
    File(PathBuf),
    /// The current access token of another authenticator.
    Authenticator(Arc<dyn Authenticator>),
}

impl fmt::Debug for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::File(path) => f.debug_tuple("File").field(path).finish(),
            Subject::Authenticator(a) => f.debug_tuple("Authenticator").field(a).finish(),
        }
    }
}

/// Where the token endpoint comes from.
#[derive(Debug, Clone)]
enum Endpoint {
    Static(String),
    Store(Arc<dyn ClientConfigStore>),
}

/// OAuth 2.0 token exchange (RFC 8693): a token the workload already has (a Kubernetes
/// service-account token, a CI job's OIDC token, another authenticator's access token) is
/// exchanged at the token endpoint for an access token with the Flyte audience. The result is
/// cached, shared by concurrent callers and renewed ahead of expiry by the `auth_core` token
/// engine; every renewal exchanges the subject token again (re-reading its file).
///
/// Built with [`TokenExchangeAuthenticator::builder`]. Implements
/// [`Authenticator`].
pub struct TokenExchangeAuthenticator {
    engine: TokenEngine,
}

impl fmt::Debug for TokenExchangeAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenExchangeAuthenticator")
            .field("engine", &self.engine)
            .finish()
    }
}

impl TokenExchangeAuthenticator {
    /// A builder with no settings.
    pub fn builder() -> TokenExchangeBuilder {
        TokenExchangeBuilder::default()
    }
}

auth_core::forward_authenticator!(TokenExchangeAuthenticator => engine);

/// Settings of a [`TokenExchangeAuthenticator`].
///
/// Required: a subject ([`subject_token_file`](Self::subject_token_file) or
/// [`subject_authenticator`](Self::subject_authenticator)), a
/// [`client_id`](Self::client_id), and either [`token_endpoint`](Self::token_endpoint) or
/// [`config_store`](Self::config_store). The client secret is optional (a public client
/// sends its `client_id` only).
///
/// The subject token type defaults to [`token_type::JWT`] for a file and
/// [`token_type::ACCESS_TOKEN`] for an authenticator. Scopes and audience given here beat the
/// config store's.
#[derive(Default)]
pub struct TokenExchangeBuilder {
    subject: Option<Subject>,
    subject_token_type: Option<String>,
    requested_token_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<ClientSecret>,
    auth_method: ClientAuthMethod,
    token_endpoint: Option<String>,
    config_store: Option<Arc<dyn ClientConfigStore>>,
    scopes: Option<Vec<String>>,
    audience: Option<String>,
    header_key: Option<String>,
    transport: Option<TransportOptions>,
    http: Option<HttpClient>,
    store: Option<Arc<dyn CredentialStore>>,
    store_key: Option<String>,
    engine: Option<EngineOptions>,
    allow_http: bool,
}

impl fmt::Debug for TokenExchangeBuilder {
    // Hand-written: the client secret is shown only as present or not.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenExchangeBuilder")
            .field("subject", &self.subject)
            .field("subject_token_type", &self.subject_token_type)
            .field("requested_token_type", &self.requested_token_type)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("auth_method", &self.auth_method)
            .field("token_endpoint", &self.token_endpoint)
            .field("config_store", &self.config_store)
            .field("scopes", &self.scopes)
            .field("audience", &self.audience)
            .field("header_key", &self.header_key)
            .field("store_key", &self.store_key)
            .field("allow_http", &self.allow_http)
            .finish_non_exhaustive()
    }
}

impl TokenExchangeBuilder {
    /// The subject token is the contents of this file (surrounding whitespace removed), read
    /// again for every exchange: a Kubernetes projected service-account token
    /// (`/var/run/secrets/tokens/...`), `AZURE_FEDERATED_TOKEN_FILE`, or a CI job's OIDC token.
    pub fn subject_token_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.subject = Some(Subject::File(path.into()));
        self
    }

    /// The subject token is the current access token of `authenticator`: a command
    /// (`auth_command::CommandAuthenticator`, for `gcloud auth print-identity-token` and the
    /// like), or any other flow. When the exchange rejects it (`invalid_grant`), that
    /// authenticator is asked once for a fresh one.
    pub fn subject_authenticator(mut self, authenticator: Arc<dyn Authenticator>) -> Self {
        self.subject = Some(Subject::Authenticator(authenticator));
        self
    }

    /// The `subject_token_type` (see [`token_type`]).
    pub fn subject_token_type(mut self, token_type: impl Into<String>) -> Self {
        self.subject_token_type = Some(token_type.into()).filter(|t| !t.trim().is_empty());
        self
    }

    /// The `requested_token_type`; not sent unless given (the server then issues an access
    /// token).
    pub fn requested_token_type(mut self, token_type: impl Into<String>) -> Self {
        self.requested_token_type = Some(token_type.into()).filter(|t| !t.trim().is_empty());
        self
    }

    /// The client id (required).
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// The client secret, for a confidential client.
    pub fn client_secret(mut self, secret: ClientSecret) -> Self {
        self.client_secret = Some(secret).filter(|s| !s.secret().is_empty());
        self
    }

    /// How the secret is sent: [`ClientAuthMethod::Basic`] (the default) or
    /// [`ClientAuthMethod::Post`].
    pub fn auth_method(mut self, method: ClientAuthMethod) -> Self {
        self.auth_method = method;
        self
    }

    /// A static token endpoint: no discovery. Beats [`config_store`](Self::config_store).
    pub fn token_endpoint(mut self, url: impl Into<String>) -> Self {
        self.token_endpoint = Some(url.into());
        self
    }

    /// Where the token endpoint, scopes, audience and header key come from (Flyte discovery,
    /// issuer discovery, static).
    pub fn config_store(mut self, store: Arc<dyn ClientConfigStore>) -> Self {
        self.config_store = Some(store);
        self
    }

    /// The scopes to request; not given, the config store's (an empty list sends none).
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// The `audience`: the Flyte service the token is for. Beats the config store's.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into()).filter(|a| !a.trim().is_empty());
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

    /// An HTTP client to share. Beats [`transport`](Self::transport).
    pub fn http_client(mut self, http: HttpClient) -> Self {
        self.http = Some(http);
        self
    }

    /// Persists the credentials in `store`. None by default.
    pub fn credential_store(mut self, store: Arc<dyn CredentialStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The key of the credentials in the store. Default: `token-exchange:<client id>`.
    pub fn store_key(mut self, key: impl Into<String>) -> Self {
        self.store_key = Some(key.into());
        self
    }

    /// Token engine settings (refresh window, skew, retries).
    pub fn engine_options(mut self, options: EngineOptions) -> Self {
        self.engine = Some(options);
        self
    }

    /// Allows a token endpoint over plain http on a host that is not loopback. Off by
    /// default.
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// Checks the settings and builds the authenticator.
    pub fn build(self) -> Result<TokenExchangeAuthenticator, BuildError> {
        let subject = self.subject.ok_or(BuildError::Missing {
            name: "subject token",
            hint: "set .subject_token_file(..) (a projected service-account token, for \
                   example) or .subject_authenticator(..)",
        })?;
        let client_id =
            self.client_id
                .filter(|c| !c.trim().is_empty())
                .ok_or(BuildError::Missing {
                    name: "client id",
                    hint: "set it with .client_id(..): the client registered for token exchange",
                })?;
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
                    hint: "set .token_endpoint(..) or .config_store(..)",
                });
            }
        };
        let http = match self.http {
            Some(http) => http,
            None => {
                HttpClient::new(&self.transport.unwrap_or_default()).map_err(BuildError::Invalid)?
            }
        };
        let client = match self.client_secret {
            Some(secret) => {
                let method = match self.auth_method {
                    ClientAuthMethod::None => ClientAuthMethod::Basic,
                    m => m,
                };
                OAuth2Client::new(http, client_id.clone()).with_client_secret(Some(secret), method)
            }
            None => OAuth2Client::new(http, client_id.clone()),
        };
        let subject_token_type = self.subject_token_type.unwrap_or_else(|| {
            match subject {
                Subject::File(_) => token_type::JWT,
                Subject::Authenticator(_) => token_type::ACCESS_TOKEN,
            }
            .to_owned()
        });
        let store_key = self
            .store_key
            .unwrap_or_else(|| format!("token-exchange:{client_id}"));
        let mut options = self.engine.unwrap_or_default();
        if self.store.is_some() || options.store.is_none() {
            options = options.with_store(self.store, store_key);
        }
        if self.header_key.is_some() {
            options = options.with_header_key(self.header_key.clone());
        }
        let source = ExchangeSource {
            client,
            subject,
            subject_token_type,
            requested_token_type: self.requested_token_type,
            endpoint,
            scopes: self.scopes,
            audience: self.audience,
            header_key: self.header_key,
            discovered_header_key: OnceLock::new(),
            allow_http: self.allow_http,
        };
        Ok(TokenExchangeAuthenticator {
            engine: TokenEngine::new(Arc::new(source), options),
        })
    }
}

/// The acquisition: read the subject token, exchange it.
struct ExchangeSource {
    client: OAuth2Client,
    subject: Subject,
    subject_token_type: String,
    requested_token_type: Option<String>,
    endpoint: Endpoint,
    scopes: Option<Vec<String>>,
    audience: Option<String>,
    header_key: Option<String>,
    discovered_header_key: OnceLock<String>,
    allow_http: bool,
}

impl fmt::Debug for ExchangeSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeSource")
            .field("client", &self.client)
            .field("subject", &self.subject)
            .field("subject_token_type", &self.subject_token_type)
            .field("endpoint", &self.endpoint)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl ExchangeSource {
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
                    ..
                } = store.client_config().await?;
                let _ = self.discovered_header_key.set(header_key);
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

    async fn exchange(
        &self,
        endpoint: &str,
        scopes: &[String],
        audience: Option<&str>,
        subject: &AccessToken,
    ) -> Result<Credentials, AuthError> {
        let mut params = vec![
            ("subject_token", subject.secret()),
            ("subject_token_type", self.subject_token_type.as_str()),
        ];
        if let Some(a) = audience {
            params.push(("audience", a));
        }
        if let Some(t) = &self.requested_token_type {
            params.push(("requested_token_type", t.as_str()));
        }
        // The subject token may be exchanged again, so a transient failure may be retried.
        self.client
            .extension_grant(endpoint, TOKEN_EXCHANGE_GRANT, scopes, &params, true)
            .await
    }
}

#[async_trait]
impl TokenSource for ExchangeSource {
    async fn fetch(&self, _context: &FetchContext<'_>) -> Result<Credentials, AuthError> {
        let (endpoint, scopes, audience) = self.resolve().await?;
        match &self.subject {
            Subject::File(path) => {
                let subject = read_subject_file(path).await?;
                tracing::debug!(token_endpoint = %endpoint, subject_file = %path.display(), "exchanging a subject token");
                self.exchange(&endpoint, &scopes, audience.as_deref(), &subject)
                    .await
            }
            Subject::Authenticator(inner) => {
                let subject = inner
                    .credentials()
                    .await
                    .map_err(|e| e.context("getting the subject token for the token exchange"))?;
                tracing::debug!(token_endpoint = %endpoint, "exchanging another authenticator's token");
                match self
                    .exchange(
                        &endpoint,
                        &scopes,
                        audience.as_deref(),
                        subject.access_token(),
                    )
                    .await
                {
                    Err(e) if e.is_invalid_grant() => {
                        // The subject token was refused: ask its authenticator for a new one,
                        // once.
                        tracing::debug!("the subject token was refused; renewing it once");
                        let fresh = inner.refresh_credentials().await.map_err(|e| {
                            e.context("renewing the subject token for the token exchange")
                        })?;
                        self.exchange(
                            &endpoint,
                            &scopes,
                            audience.as_deref(),
                            fresh.access_token(),
                        )
                        .await
                    }
                    other => other,
                }
            }
        }
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

/// Reads the subject token file: a regular file of at most [`MAX_SUBJECT_TOKEN_BYTES`],
/// within a deadline, stripped of surrounding whitespace.
async fn read_subject_file(path: &Path) -> Result<AccessToken, AuthError> {
    let fail = |what: String| {
        AuthError::configuration(format!(
            "subject token file {}: {what}; check the path and the volume that provides it \
             (for Kubernetes, a projected serviceAccountToken volume)",
            path.display()
        ))
    };
    let read = async {
        let meta = tokio::fs::metadata(path)
            .await
            .map_err(|e| fail(format!("cannot read it ({e})")))?;
        if !meta.is_file() {
            return Err(fail("it is not a regular file".into()));
        }
        if meta.len() > MAX_SUBJECT_TOKEN_BYTES {
            return Err(fail(format!(
                "it is larger than {MAX_SUBJECT_TOKEN_BYTES} bytes"
            )));
        }
        tokio::fs::read(path)
            .await
            .map(Zeroizing::new)
            .map_err(|e| fail(format!("cannot read it ({e})")))
    };
    let bytes = tokio::time::timeout(FILE_READ_TIMEOUT, read)
        .await
        .map_err(|_| fail(format!("reading it took longer than {FILE_READ_TIMEOUT:?}")))??;
    let text = std::str::from_utf8(&bytes).map_err(|_| fail("it is not UTF-8 text".into()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(fail("it is empty".into()));
    }
    Ok(AccessToken::new(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_values_are_named() {
        let e = TokenExchangeAuthenticator::builder().build().unwrap_err();
        assert!(e.to_string().starts_with("subject token is missing"), "{e}");
        let e = TokenExchangeAuthenticator::builder()
            .subject_token_file("/t")
            .build()
            .unwrap_err();
        assert!(e.to_string().starts_with("client id is missing"), "{e}");
        let e = TokenExchangeAuthenticator::builder()
            .subject_token_file("/t")
            .client_id("c")
            .build()
            .unwrap_err();
        assert!(e.to_string().starts_with("token endpoint"), "{e}");
    }

    #[tokio::test]
    async fn subject_files_are_checked() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = read_subject_file(&dir.path().join("nope"))
            .await
            .unwrap_err();
        assert!(missing.to_string().contains("cannot read it"), "{missing}");
        let empty = dir.path().join("empty");
        std::fs::write(&empty, " \n").expect("write");
        let e = read_subject_file(&empty).await.unwrap_err();
        assert!(e.to_string().contains("it is empty"), "{e}");
        let e = read_subject_file(Path::new("/dev/zero")).await.unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let ok = dir.path().join("token");
        std::fs::write(&ok, "eyJ.x.y\n").expect("write");
        assert_eq!(
            read_subject_file(&ok).await.expect("read").secret(),
            "eyJ.x.y"
        );
    }
}
