//! Discovery as a [`ClientConfigStore`]: from a Flyte endpoint (its AuthMetadataService over
//! HTTP) and from an OAuth 2.0 / OpenID Connect issuer (RFC 8414, OpenID discovery).

use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use auth_core::{AuthError, ClientConfig, ClientConfigStore, async_trait, non_empty};
use security_model::{OAuth2MetadataResponse, PublicClientAuthConfigResponse};

use crate::transport::{HttpClient, parse_url};

/// An authorization server metadata document: Flyte's message, plus the members it lacks that
/// a flow needs, read from the same JSON.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct MetadataDocument {
    #[serde(flatten)]
    pub(crate) metadata: OAuth2MetadataResponse,
    /// RFC 9207 §3. Not in Flyte's `OAuth2MetadataResponse` (a protobuf message), so a Flyte
    /// admin that renders that message never sends it; a provider's own document does.
    #[serde(default, alias = "authorizationResponseIssParameterSupported")]
    authorization_response_iss_parameter_supported: Option<serde_json::Value>,
    /// RFC 7009 / RFC 8414 §2. Not in Flyte's message either.
    #[serde(default, alias = "revocationEndpoint")]
    revocation_endpoint: Option<String>,
}

impl MetadataDocument {
    /// `authorization_response_iss_parameter_supported`: `true` (or the string `"true"`, a
    /// quirk) means supported; absent or anything else means not.
    pub(crate) fn iss_parameter_supported(&self) -> bool {
        match &self.authorization_response_iss_parameter_supported {
            None | Some(serde_json::Value::Null) => false,
            Some(serde_json::Value::Bool(b)) => *b,
            Some(serde_json::Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => {
                tracing::debug!(
                    "authorization_response_iss_parameter_supported sent as a string; accepting it"
                );
                true
            }
            Some(other) => {
                tracing::debug!(
                    value = %other,
                    "authorization_response_iss_parameter_supported is not a boolean; taking it as false"
                );
                false
            }
        }
    }
}

/// Fetches once and shares the result with every concurrent caller; a failure is shared by
/// the callers that waited for it, and the next call tries again.
#[derive(Debug, Default)]
struct SharedFetch {
    value: OnceLock<ClientConfig>,
    gate: tokio::sync::Mutex<Option<AuthError>>,
    attempts: AtomicU64,
}

impl SharedFetch {
    async fn get<F, Fut>(&self, fetch: F) -> Result<ClientConfig, AuthError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<ClientConfig, AuthError>>,
    {
        if let Some(v) = self.value.get() {
            return Ok(v.clone());
        }
        let seen = self.attempts.load(Ordering::Acquire);
        let mut last_error = self.gate.lock().await;
        if let Some(v) = self.value.get() {
            return Ok(v.clone());
        }
        if self.attempts.load(Ordering::Acquire) != seen {
            // An attempt finished while this caller waited: share its error.
            if let Some(e) = last_error.as_ref() {
                return Err(e.clone());
            }
        }
        let result = fetch().await;
        match &result {
            Ok(config) => {
                let _ = self.value.set(config.clone());
                *last_error = None;
            }
            Err(e) => *last_error = Some(e.clone()),
        }
        self.attempts.fetch_add(1, Ordering::AcqRel);
        result
    }
}

/// What the user configured instead of the answers of a Flyte deployment's
/// `AuthMetadataService`, and the mapping of those answers to a [`ClientConfig`]: the one
/// mapping for every protocol discovery speaks (HTTP here; gRPC and Connect in auth-tower).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct FlyteOverrides {
    /// The client id to use instead of the server's public client.
    pub client_id: Option<String>,
    /// The scopes to use instead of the server's (an empty list sends no `scope`).
    pub scopes: Option<Vec<String>>,
    /// The audience to use instead of the server's.
    pub audience: Option<String>,
    /// The header key to use instead of the server's `authorization_metadata_key`.
    pub header_key: Option<String>,
}

impl FlyteOverrides {
    /// No overrides: the server's answers as they are.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the client id override (empty means none).
    pub fn with_client_id(mut self, client_id: Option<String>) -> Self {
        self.client_id = client_id.and_then(non_empty);
        self
    }

    /// Sets the scopes override.
    pub fn with_scopes(mut self, scopes: Option<Vec<String>>) -> Self {
        self.scopes = scopes;
        self
    }

    /// Sets the audience override (empty means none).
    pub fn with_audience(mut self, audience: Option<String>) -> Self {
        self.audience = audience.and_then(non_empty);
        self
    }

    /// Sets the header key override (empty means none).
    pub fn with_header_key(mut self, header_key: Option<String>) -> Self {
        self.header_key = header_key.and_then(non_empty);
        self
    }

    /// The client configuration from the answers of `GetOAuth2Metadata` (`metadata`, fetched
    /// from `metadata_source`) and `GetPublicClientConfig` (`public`, from `client_source`),
    /// these overrides applied. `iss_supported` is RFC 9207's
    /// `authorization_response_iss_parameter_supported`, which Flyte's message lacks (false
    /// unless a provider's own document said so). Empty strings mean absent.
    pub fn client_config(
        &self,
        metadata: OAuth2MetadataResponse,
        public: PublicClientAuthConfigResponse,
        iss_supported: bool,
        metadata_source: &str,
        client_source: &str,
    ) -> Result<ClientConfig, AuthError> {
        let token_endpoint = non_empty(metadata.token_endpoint).ok_or_else(|| {
            AuthError::configuration(format!(
                "{metadata_source} names no token_endpoint: configure tokenUrl, or check that \
                 authentication is enabled on the Flyte deployment"
            ))
        })?;
        let client_id = self
            .client_id
            .clone()
            .or_else(|| non_empty(public.client_id))
            .ok_or_else(|| {
                AuthError::configuration(format!(
                    "{client_source} names no client_id and none is configured: configure clientId"
                ))
            })?;
        let mut config = ClientConfig::new(token_endpoint, client_id)
            .with_scopes(self.scopes.clone().unwrap_or(public.scopes))
            .with_header_key(
                self.header_key
                    .clone()
                    .unwrap_or(public.authorization_metadata_key),
            )
            .with_audience(self.audience.clone().unwrap_or(public.audience))
            .with_authorization_endpoint(metadata.authorization_endpoint)
            .with_device_authorization_endpoint(metadata.device_authorization_endpoint)
            .with_redirect_uri(public.redirect_uri)
            .with_issuer(metadata.issuer)
            .with_authorization_response_iss_parameter_supported(iss_supported);
        config.token_endpoint_auth_methods_supported =
            metadata.token_endpoint_auth_methods_supported;
        config.scopes.retain(|s| !s.trim().is_empty());
        Ok(config)
    }
}

/// The client configuration of a Flyte deployment, discovered from its admin endpoint:
/// `GET /.well-known/oauth-authorization-server` and `GET /config/v1/flyte_client`
/// (https unless `insecure`).
///
/// Values given to the `with_*` methods beat the discovered ones. Discovery runs once and its
/// result is shared by concurrent callers; after a failure the next call tries again.
///
/// The metadata document's `authorization_response_iss_parameter_supported` (RFC 9207), when
/// present (Flyte's own message lacks it; a provider's document has it), fills
/// [`ClientConfig::authorization_response_iss_parameter_supported`].
///
/// ```no_run
/// use auth_core::ClientConfigStore;
/// use auth_oauth2::{FlyteDiscovery, HttpClient, TransportOptions};
///
/// # async fn demo() -> Result<(), auth_core::AuthError> {
/// let http = HttpClient::new(&TransportOptions::new())?;
/// let discovery = FlyteDiscovery::new(http, "dns:///flyte.example.com", false);
/// let config = discovery.client_config().await?;
/// println!("token endpoint: {}", config.token_endpoint);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct FlyteDiscovery {
    http: HttpClient,
    base: String,
    overrides: FlyteOverrides,
    cache: SharedFetch,
}

impl FlyteDiscovery {
    /// Discovery from the admin `endpoint` (`host[:port]`, with or without `dns:///`, or a
    /// URL); plain http when `insecure`.
    pub fn new(http: HttpClient, endpoint: &str, insecure: bool) -> Self {
        let endpoint = endpoint
            .trim()
            .trim_start_matches("dns:///")
            .trim_end_matches('/');
        let base = if endpoint.starts_with("http://") || endpoint.starts_with("https://") {
            endpoint.to_string()
        } else {
            format!("{}://{endpoint}", if insecure { "http" } else { "https" })
        };
        Self {
            http,
            base,
            overrides: FlyteOverrides::default(),
            cache: SharedFetch::default(),
        }
    }

    /// The client id to use instead of the server's public client.
    pub fn with_client_id(mut self, client_id: Option<String>) -> Self {
        self.overrides = self.overrides.with_client_id(client_id);
        self
    }

    /// The scopes to use instead of the server's (an empty list sends no `scope`).
    pub fn with_scopes(mut self, scopes: Option<Vec<String>>) -> Self {
        self.overrides = self.overrides.with_scopes(scopes);
        self
    }

    /// The audience to use instead of the server's.
    pub fn with_audience(mut self, audience: Option<String>) -> Self {
        self.overrides = self.overrides.with_audience(audience);
        self
    }

    /// The header key to use instead of the server's `authorization_metadata_key`.
    pub fn with_header_key(mut self, header_key: Option<String>) -> Self {
        self.overrides = self.overrides.with_header_key(header_key);
        self
    }

    async fn discover(&self) -> Result<ClientConfig, AuthError> {
        let metadata_url = format!("{}/.well-known/oauth-authorization-server", self.base);
        let client_url = format!("{}/config/v1/flyte_client", self.base);
        parse_url(&metadata_url, "Flyte endpoint")?;
        let (document, public) = futures_util::future::join(
            self.http.get_json::<MetadataDocument>(&metadata_url),
            self.http
                .get_json::<PublicClientAuthConfigResponse>(&client_url),
        )
        .await;
        let context =
            |e: AuthError| e.context(format!("discovery from the Flyte endpoint {}", self.base));
        let document = document.map_err(context)?;
        let public = public.map_err(context)?;
        let iss_supported = document.iss_parameter_supported();
        let revocation_endpoint = document.revocation_endpoint.clone().unwrap_or_default();
        let config = self
            .overrides
            .client_config(
                document.metadata,
                public,
                iss_supported,
                &metadata_url,
                &client_url,
            )?
            .with_revocation_endpoint(revocation_endpoint);
        tracing::debug!(
            token_endpoint = %config.token_endpoint,
            header_key = %config.header_key,
            iss_supported,
            "discovered the Flyte client configuration"
        );
        Ok(config)
    }
}

#[async_trait]
impl ClientConfigStore for FlyteDiscovery {
    async fn client_config(&self) -> Result<ClientConfig, AuthError> {
        self.cache.get(|| self.discover()).await
    }
}

/// The client configuration of an OAuth 2.0 / OpenID Connect issuer: RFC 8414 metadata
/// (`/.well-known/oauth-authorization-server`, inserted before the issuer's path), else
/// OpenID discovery (`/.well-known/openid-configuration`, appended to the issuer). The
/// document's `issuer` must equal the configured one (a trailing slash aside). Its
/// `authorization_response_iss_parameter_supported` (RFC 9207) fills
/// [`ClientConfig::authorization_response_iss_parameter_supported`].
///
/// ```no_run
/// use auth_core::ClientConfigStore;
/// use auth_oauth2::{HttpClient, IssuerDiscovery, TransportOptions};
///
/// # async fn demo() -> Result<(), auth_core::AuthError> {
/// let http = HttpClient::new(&TransportOptions::new())?;
/// let discovery = IssuerDiscovery::new(http, "https://idp.example.com/tenant", "my-cli")
///     .with_scopes(vec!["openid".into(), "offline_access".into()]);
/// let config = discovery.client_config().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct IssuerDiscovery {
    http: HttpClient,
    issuer: String,
    client_id: String,
    scopes: Vec<String>,
    audience: Option<String>,
    redirect_uri: Option<String>,
    cache: SharedFetch,
}

impl IssuerDiscovery {
    /// Discovery for `issuer`, as the client `client_id`.
    pub fn new(http: HttpClient, issuer: &str, client_id: impl Into<String>) -> Self {
        Self {
            http,
            issuer: issuer.trim().to_string(),
            client_id: client_id.into(),
            scopes: Vec::new(),
            audience: None,
            redirect_uri: None,
            cache: SharedFetch::default(),
        }
    }

    /// The scopes to request.
    pub fn with_scopes(mut self, scopes: Vec<String>) -> Self {
        self.scopes = scopes;
        self
    }

    /// The `audience` to request.
    pub fn with_audience(mut self, audience: Option<String>) -> Self {
        self.audience = audience.and_then(non_empty);
        self
    }

    /// The redirect URI of the client.
    pub fn with_redirect_uri(mut self, redirect_uri: Option<String>) -> Self {
        self.redirect_uri = redirect_uri.and_then(non_empty);
        self
    }

    /// The two discovery URLs, in the order they are tried.
    fn urls(&self) -> Result<[String; 2], AuthError> {
        let issuer = parse_url(&self.issuer, "issuer")?;
        let path = issuer.path().trim_end_matches('/');
        let origin = issuer.origin().ascii_serialization();
        Ok([
            format!("{origin}/.well-known/oauth-authorization-server{path}"),
            format!("{origin}{path}/.well-known/openid-configuration"),
        ])
    }

    async fn discover(&self) -> Result<ClientConfig, AuthError> {
        let [rfc8414, openid] = self.urls()?;
        let document = match self.http.get_json::<MetadataDocument>(&rfc8414).await {
            Ok(m) => m,
            Err(first) => {
                tracing::debug!(error = %first, "no RFC 8414 metadata; trying OpenID discovery");
                self.http
                    .get_json::<MetadataDocument>(&openid)
                    .await
                    .map_err(|e| {
                        e.context(format!(
                            "discovery for the issuer {} (RFC 8414: {first})",
                            self.issuer
                        ))
                    })?
            }
        };
        let iss_supported = document.iss_parameter_supported();
        let revocation_endpoint = document.revocation_endpoint.unwrap_or_default();
        let metadata = document.metadata;
        if metadata.issuer.trim_end_matches('/') != self.issuer.trim_end_matches('/') {
            return Err(AuthError::configuration(format!(
                "the discovery document names the issuer {:?}, not the configured {:?}: \
                 configure the issuer exactly as the provider spells it",
                metadata.issuer, self.issuer
            )));
        }
        let token_endpoint = non_empty(metadata.token_endpoint).ok_or_else(|| {
            AuthError::configuration(format!(
                "the discovery document of {} names no token_endpoint",
                self.issuer
            ))
        })?;
        let mut config = ClientConfig::new(token_endpoint, self.client_id.clone())
            .with_scopes(self.scopes.clone())
            .with_authorization_endpoint(metadata.authorization_endpoint)
            .with_device_authorization_endpoint(metadata.device_authorization_endpoint)
            .with_issuer(metadata.issuer)
            .with_authorization_response_iss_parameter_supported(iss_supported)
            .with_revocation_endpoint(revocation_endpoint);
        config.token_endpoint_auth_methods_supported =
            metadata.token_endpoint_auth_methods_supported;
        if let Some(a) = &self.audience {
            config = config.with_audience(a.clone());
        }
        if let Some(r) = &self.redirect_uri {
            config = config.with_redirect_uri(r.clone());
        }
        Ok(config)
    }
}

#[async_trait]
impl ClientConfigStore for IssuerDiscovery {
    async fn client_config(&self) -> Result<ClientConfig, AuthError> {
        self.cache.get(|| self.discover()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_urls_insert_and_append_the_path() {
        let http = HttpClient::new(&crate::TransportOptions::new()).unwrap();
        let d = IssuerDiscovery::new(http.clone(), "https://h/tenant/", "c");
        assert_eq!(
            d.urls().unwrap(),
            [
                "https://h/.well-known/oauth-authorization-server/tenant".to_string(),
                "https://h/tenant/.well-known/openid-configuration".to_string()
            ]
        );
        let d = IssuerDiscovery::new(http, "https://h:8443", "c");
        assert_eq!(
            d.urls().unwrap(),
            [
                "https://h:8443/.well-known/oauth-authorization-server".to_string(),
                "https://h:8443/.well-known/openid-configuration".to_string()
            ]
        );
    }

    #[test]
    fn flyte_endpoint_scheme() {
        let http = HttpClient::new(&crate::TransportOptions::new()).unwrap();
        assert_eq!(
            FlyteDiscovery::new(http.clone(), "dns:///flyte:443", false).base,
            "https://flyte:443"
        );
        assert_eq!(
            FlyteDiscovery::new(http.clone(), "localhost:30080", true).base,
            "http://localhost:30080"
        );
        assert_eq!(
            FlyteDiscovery::new(http, "http://127.0.0.1:1/", false).base,
            "http://127.0.0.1:1"
        );
    }
}
