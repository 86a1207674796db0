//! Client configuration: where the identity provider's endpoints are and who we are to it.

use std::fmt::Debug;

use async_trait::async_trait;

use crate::error::AuthError;

/// The header (or gRPC metadata key) that carries the token unless configured otherwise.
pub const DEFAULT_HEADER_KEY: &str = "authorization";

/// Everything a flow needs to know about the identity provider and the client.
///
/// Endpoints are absolute URLs as strings; flows validate the ones they use when they are
/// built or when the configuration is first resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The token endpoint.
    pub token_endpoint: String,
    /// The authorization endpoint (authorization code flow).
    pub authorization_endpoint: Option<String>,
    /// The device authorization endpoint (RFC 8628).
    pub device_authorization_endpoint: Option<String>,
    /// The redirect URI registered for the client (authorization code flow).
    pub redirect_uri: Option<String>,
    /// The client id.
    pub client_id: String,
    /// Scopes to request.
    pub scopes: Vec<String>,
    /// The header or metadata key that carries the token, `authorization` by default.
    pub header_key: String,
    /// The `audience` parameter (Auth0 and others), if any.
    pub audience: Option<String>,
    /// The issuer, when known (used to check RFC 9207 `iss` on redirects).
    pub issuer: Option<String>,
    /// Whether the provider advertises `authorization_response_iss_parameter_supported`
    /// (RFC 9207 §3): its authorization responses always carry `iss`, so a browser login
    /// refuses a redirect without one (a mix-up attack). False by default and when unknown.
    pub authorization_response_iss_parameter_supported: bool,
    /// The client authentication methods the token endpoint advertises
    /// (`token_endpoint_auth_methods_supported`, RFC 8414); empty when unknown.
    pub token_endpoint_auth_methods_supported: Vec<String>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            token_endpoint: String::new(),
            authorization_endpoint: None,
            device_authorization_endpoint: None,
            redirect_uri: None,
            client_id: String::new(),
            scopes: Vec::new(),
            header_key: DEFAULT_HEADER_KEY.to_string(),
            audience: None,
            issuer: None,
            authorization_response_iss_parameter_supported: false,
            token_endpoint_auth_methods_supported: Vec::new(),
        }
    }
}

impl ClientConfig {
    /// A configuration with a token endpoint and a client id.
    pub fn new(token_endpoint: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            token_endpoint: token_endpoint.into(),
            client_id: client_id.into(),
            ..Self::default()
        }
    }

    /// Sets the authorization endpoint.
    pub fn with_authorization_endpoint(mut self, url: impl Into<String>) -> Self {
        self.authorization_endpoint = non_empty(url.into());
        self
    }

    /// Sets the device authorization endpoint.
    pub fn with_device_authorization_endpoint(mut self, url: impl Into<String>) -> Self {
        self.device_authorization_endpoint = non_empty(url.into());
        self
    }

    /// Sets the redirect URI.
    pub fn with_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uri = non_empty(uri.into());
        self
    }

    /// Sets the scopes.
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the header key; an empty key means the default.
    pub fn with_header_key(mut self, key: impl Into<String>) -> Self {
        self.header_key = non_empty(key.into()).unwrap_or_else(|| DEFAULT_HEADER_KEY.to_string());
        self
    }

    /// Sets the audience; empty means none.
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = non_empty(audience.into());
        self
    }

    /// Sets the issuer.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = non_empty(issuer.into());
        self
    }

    /// Sets whether the provider advertises RFC 9207 `iss` in authorization responses.
    pub fn with_authorization_response_iss_parameter_supported(mut self, supported: bool) -> Self {
        self.authorization_response_iss_parameter_supported = supported;
        self
    }
}

/// `None` for an empty (or all-blank) string: configuration and discovery documents use empty
/// strings to mean "absent".
pub fn non_empty(s: String) -> Option<String> {
    if s.trim().is_empty() { None } else { Some(s) }
}

/// Something that knows the client configuration: a static value, or discovery from a Flyte
/// endpoint or an OAuth/OIDC issuer.
#[async_trait]
pub trait ClientConfigStore: Send + Sync + Debug {
    /// The client configuration. Implementations that fetch it do so once and share the
    /// result among concurrent callers.
    async fn client_config(&self) -> Result<ClientConfig, AuthError>;
}

/// A [`ClientConfigStore`] that returns a fixed configuration.
#[derive(Clone, Debug)]
pub struct StaticClientConfigStore {
    config: ClientConfig,
}

impl StaticClientConfigStore {
    /// A store that always returns `config`.
    pub fn new(config: ClientConfig) -> Self {
        Self { config }
    }
}

#[async_trait]
impl ClientConfigStore for StaticClientConfigStore {
    async fn client_config(&self) -> Result<ClientConfig, AuthError> {
        Ok(self.config.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iss_parameter_support_is_off_unless_set() {
        let config = ClientConfig::new("https://idp/token", "cli");
        assert!(!config.authorization_response_iss_parameter_supported);
        let config = config.with_authorization_response_iss_parameter_supported(true);
        assert!(config.authorization_response_iss_parameter_supported);
    }
}
