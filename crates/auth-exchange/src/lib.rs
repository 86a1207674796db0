#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use auth_core::{
    AccessToken, AuthError, Authenticator, Credentials, FetchContext, TokenEngine, TokenSource,
    async_trait,
};
/// A setting that [`TokenExchangeBuilder::build`] refused (the one `BuildError` of the HTTP
/// flows).
pub use auth_oauth2::BuildError;
use auth_oauth2::{ClientSettings, ConfigResolver, FlowRules, OAuth2Client, TOKEN_EXCHANGE_GRANT};
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
#[derive(Debug, Default)]
pub struct TokenExchangeBuilder {
    subject: Option<Subject>,
    subject_token_type: Option<String>,
    requested_token_type: Option<String>,
    settings: ClientSettings,
}

/// What the token exchange requires of the shared settings (a public client sends its
/// `client_id` only).
const RULES: FlowRules = FlowRules {
    client_id_hint: "set it with .client_id(..): the client registered for token exchange",
    client_auth_required: None,
    endpoint_hint: "set .token_endpoint(..) or .config_store(..)",
    store_key_prefix: "token-exchange",
};

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

    auth_oauth2::client_settings_setters!(settings);

    /// Checks the settings and builds the authenticator.
    pub fn build(self) -> Result<TokenExchangeAuthenticator, BuildError> {
        let subject = self.subject.ok_or_else(|| {
            BuildError::missing(
                "subject token",
                "set .subject_token_file(..) (a projected service-account token, for \
                 example) or .subject_authenticator(..)",
            )
        })?;
        let built = self.settings.build(RULES)?;
        let subject_token_type = self.subject_token_type.unwrap_or_else(|| {
            match subject {
                Subject::File(_) => token_type::JWT,
                Subject::Authenticator(_) => token_type::ACCESS_TOKEN,
            }
            .to_owned()
        });
        let source = ExchangeSource {
            subject,
            subject_token_type,
            requested_token_type: self.requested_token_type,
            config: built.resolver,
        };
        Ok(TokenExchangeAuthenticator {
            engine: TokenEngine::new(Arc::new(source), built.engine_options),
        })
    }
}

/// The acquisition: read the subject token, exchange it.
struct ExchangeSource {
    subject: Subject,
    subject_token_type: String,
    requested_token_type: Option<String>,
    config: ConfigResolver,
}

impl fmt::Debug for ExchangeSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeSource")
            .field("subject", &self.subject)
            .field("subject_token_type", &self.subject_token_type)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ExchangeSource {
    async fn exchange(
        &self,
        client: &OAuth2Client,
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
        client
            .extension_grant(endpoint, TOKEN_EXCHANGE_GRANT, scopes, &params, true)
            .await
    }
}

#[async_trait]
impl TokenSource for ExchangeSource {
    async fn fetch(&self, _context: &FetchContext<'_>) -> Result<Credentials, AuthError> {
        let resolved = self.config.resolve().await?;
        let client = resolved.client;
        let (endpoint, scopes, audience) = (
            resolved.config.token_endpoint,
            resolved.config.scopes,
            resolved.config.audience,
        );
        match &self.subject {
            Subject::File(path) => {
                let subject = read_subject_file(path).await?;
                tracing::debug!(token_endpoint = %endpoint, subject_file = %path.display(), "exchanging a subject token");
                self.exchange(client, &endpoint, &scopes, audience.as_deref(), &subject)
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
                        client,
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
                            client,
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
        self.config.header_key()
    }

    async fn prepare(&self) -> Result<(), AuthError> {
        self.config.resolve().await.map(|_| ())
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
