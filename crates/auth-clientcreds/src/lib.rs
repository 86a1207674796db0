#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::fmt;
use std::sync::Arc;

use auth_core::{AuthError, Credentials, FetchContext, TokenEngine, TokenSource, async_trait};
/// A setting that [`ClientCredentialsBuilder::build`] refused (the one `BuildError` of the
/// HTTP flows).
pub use auth_oauth2::BuildError;
use auth_oauth2::{ClientSettings, ConfigResolver, FlowRules};

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
#[derive(Debug, Default)]
pub struct ClientCredentialsBuilder {
    settings: ClientSettings,
}

/// What the client credentials flow requires of the shared settings.
const RULES: FlowRules = FlowRules {
    client_id_hint: "set it with .client_id(..) (Flyte config: clientId, FLYTE_CREDENTIALS_CLIENT_ID)",
    client_auth_required: Some(
        "set it with .client_secret(..) (Flyte config: clientSecretLocation, \
         clientSecretEnvVar or FLYTE_CREDENTIALS_CLIENT_SECRET), or use .client_assertion(..)",
    ),
    endpoint_hint: "set .token_endpoint(..) (Flyte config: tokenUrl) or .config_store(..) \
                    (for example auth_oauth2::FlyteDiscovery)",
    store_key_prefix: "client-credentials",
};

impl ClientCredentialsBuilder {
    auth_oauth2::client_settings_setters!(settings);

    /// Checks the settings and builds the authenticator. Must be called inside a tokio
    /// runtime only when credentials are requested, not here.
    pub fn build(self) -> Result<ClientCredentialsAuthenticator, BuildError> {
        let built = self.settings.build(RULES)?;
        let source = ClientCredentialsSource {
            config: built.resolver,
        };
        Ok(ClientCredentialsAuthenticator {
            engine: TokenEngine::new(Arc::new(source), built.engine_options),
        })
    }
}

/// The acquisition: one client credentials grant.
#[derive(Debug)]
struct ClientCredentialsSource {
    config: ConfigResolver,
}

#[async_trait]
impl TokenSource for ClientCredentialsSource {
    async fn fetch(&self, _context: &FetchContext<'_>) -> Result<Credentials, AuthError> {
        let r = self.config.resolve().await?;
        let c = &r.config;
        tracing::debug!(token_endpoint = %c.token_endpoint, "requesting a token with the client credentials grant");
        r.client
            .client_credentials(&c.token_endpoint, &c.scopes, c.audience.as_deref())
            .await
    }

    fn header_key(&self) -> Option<String> {
        self.config.header_key()
    }

    async fn prepare(&self) -> Result<(), AuthError> {
        self.config.resolve().await.map(|_| ())
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
            .client_secret(auth_core::ClientSecret::new(""))
            .build()
            .unwrap_err();
        assert!(e.to_string().starts_with("client secret is missing"), "{e}");
        let e = ClientCredentialsAuthenticator::builder()
            .client_id("c")
            .client_secret(auth_core::ClientSecret::new("s"))
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
                .client_secret(auth_core::ClientSecret::new("s"))
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
        assert_eq!(e.kind(), auth_oauth2::BuildErrorKind::Invalid, "{e}");
        assert!(e.to_string().contains("allow_http"), "{e}");
        assert!(b("ftp://idp/token").build().is_err());
    }

    #[test]
    fn builder_debug_hides_the_secret() {
        let b = ClientCredentialsAuthenticator::builder()
            .client_id("c")
            .client_secret(auth_core::ClientSecret::new("hunter2-planted"));
        let d = format!("{b:?} {b:#?}");
        assert!(!d.contains("hunter2-planted"), "{d}");
        assert!(d.contains("[redacted]"), "{d}");
    }
}
