//! `from_config`: the authenticator for a configured auth mode.

use std::fmt;
use std::sync::Arc;

use auth_config::{AuthMode, Settings};

use crate::headless::{Surroundings, Unattended};
#[allow(unused_imports)]
use auth_core::{AuthError, ClientConfigStore, CredentialStore, SharedAuthenticator};

mod options;
pub use options::*;

/// What [`from_config`] built.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Configured {
    /// The authenticator for the configured mode.
    pub authenticator: SharedAuthenticator,
    /// The mode it implements.
    pub mode: AuthMode,
    /// The key its credentials are stored under (the endpoint without `dns:///`).
    pub store_key: String,
    /// Where its client configuration comes from (static or discovery), for display.
    pub client_config: Option<Arc<dyn ClientConfigStore>>,
    /// The HTTP client of the flow, with the configured transport (for token revocation
    /// at logout); `None` for the external command.
    #[cfg(any(feature = "pkce", feature = "device", feature = "clientcreds"))]
    #[cfg_attr(
        docsrs,
        doc(cfg(any(feature = "pkce", feature = "device", feature = "clientcreds")))
    )]
    pub http_client: Option<auth_oauth2::HttpClient>,
}

impl Configured {
    /// The authenticator of `proxy-authorization` (`admin.proxyCommand`) that the OAuth calls
    /// to the Flyte host carry, for a channel or middleware that must send it too; `None`
    /// when none is configured (or the mode makes no HTTP call).
    pub fn proxy_authenticator(&self) -> Option<Arc<dyn auth_core::Authenticator>> {
        #[cfg(any(feature = "pkce", feature = "device", feature = "clientcreds"))]
        if let Some(http) = &self.http_client {
            return http
                .options()
                .proxy_authorization()
                .map(|(_, auth)| Arc::clone(auth));
        }
        None
    }
}

/// Builds the authenticator for `settings.auth_mode`: discovery from the Flyte endpoint
/// unless static endpoints are configured, the keyring for interactive flows when the
/// `keyring` feature is on, the proxy-authorization command scoped to the Flyte host, and the
/// TLS and proxy settings on every HTTP call. A mode whose feature is off is a configuration
/// error naming the feature.
///
/// In a Kubernetes pod or CI job without a terminal ([`Surroundings::refusal`]), the browser
/// and device flows are built non-interactive: stored or refreshable credentials still work,
/// and a login that needs a person fails at once with an error naming the non-interactive
/// modes.
pub fn from_config(
    settings: &Settings,
    options: &FromConfigOptions,
) -> Result<Configured, AuthError> {
    let store_key = store_key(settings);
    let refusal = unattended_refusal(settings.auth_mode, options);
    let unattended;
    let options = match refusal {
        Some(_) => {
            unattended = options.clone().interactive(false);
            &unattended
        }
        None => options,
    };
    let mut configured = match settings.auth_mode {
        AuthMode::ExternalCommand => external_command(settings, options, store_key),
        AuthMode::ClientSecret => client_secret(settings, options, store_key),
        AuthMode::Pkce => pkce(settings, options, store_key),
        AuthMode::DeviceFlow => device_flow(settings, options, store_key),
        #[allow(unreachable_patterns)]
        other => Err(AuthError::configuration(format!(
            "auth mode {other} is not supported by this build"
        ))),
    }?;
    if let Some(refusal) = refusal {
        configured.authenticator = Unattended::wrap(configured.authenticator, refusal);
    }
    Ok(configured)
}

/// Why a flow that needs a person must not prompt here, when it is one that does and
/// interaction was not already switched off.
fn unattended_refusal(mode: AuthMode, options: &FromConfigOptions) -> Option<String> {
    if !options.interactive || !matches!(mode, AuthMode::Pkce | AuthMode::DeviceFlow) {
        return None;
    }
    match &options.surroundings {
        Some(s) => s.refusal(),
        None => Surroundings::detect().refusal(),
    }
}

/// The keyring service name: the endpoint without `dns:///`, as flytekit uses; without a
/// Flyte endpoint, the issuer or the token URL.
fn store_key(settings: &Settings) -> String {
    settings
        .endpoint
        .clone()
        .or_else(|| settings.issuer.clone())
        .or_else(|| settings.token_url.clone())
        .unwrap_or_else(|| "flyte-auth".to_string())
}

#[allow(dead_code)]
fn feature_off(mode: AuthMode, feature: &str) -> AuthError {
    AuthError::configuration(format!(
        "auth mode {mode} needs the `{feature}` feature of flyte-auth, which this build does not have"
    ))
}

/// The store of interactive flows: the given one, else the OS keyring (with the `keyring`
/// feature, unless `admin.disableKeyring`), else memory.
#[allow(dead_code)]
#[cfg_attr(not(feature = "keyring"), allow(unused_variables))]
fn interactive_store(settings: &Settings, options: &FromConfigOptions) -> Arc<dyn CredentialStore> {
    if let Some(s) = &options.store {
        return s.clone();
    }
    #[cfg(feature = "keyring")]
    if options.use_keyring && !settings.disable_keyring {
        let layout = settings
            .keyring_layout
            .as_deref()
            .and_then(auth_keyring::KeyringLayout::parse)
            .unwrap_or_default();
        return Arc::new(auth_keyring::KeyringStore::new().with_layout(layout));
    }
    Arc::new(auth_core::MemoryStore::new())
}

/// Engine settings from the configuration (the refresh-ahead window).
#[allow(dead_code)]
fn engine_options(settings: &Settings) -> auth_core::EngineOptions {
    auth_core::EngineOptions::default().with_refresh_window(settings.token_refresh_window)
}

#[cfg(feature = "command")]
fn external_command(
    settings: &Settings,
    options: &FromConfigOptions,
    store_key: String,
) -> Result<Configured, AuthError> {
    let argv = settings
        .command
        .clone()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            AuthError::configuration(
                "auth mode ExternalCommand needs admin.command (or FLYTE_CREDENTIALS_COMMAND)",
            )
        })?;
    let mut b = auth_command::CommandAuthenticator::builder()
        .command(argv)
        .store(options.store.clone(), store_key.clone());
    if let Some(h) = &settings.authorization_header {
        b = b.header_key(h.clone());
    }
    if let Some(w) = settings.token_refresh_window {
        b = b.refresh_window(Some(w));
    }
    configured(b.build()?, AuthMode::ExternalCommand, store_key, None)
}

#[cfg(not(feature = "command"))]
fn external_command(
    _: &Settings,
    _: &FromConfigOptions,
    _: String,
) -> Result<Configured, AuthError> {
    Err(feature_off(AuthMode::ExternalCommand, "command"))
}

/// The transport settings every HTTP call and the gRPC channel share.
#[cfg(any(
    feature = "pkce",
    feature = "device",
    feature = "clientcreds",
    feature = "tower"
))]
pub(crate) mod transport {
    use super::*;
    use auth_oauth2::TransportOptions;

    /// TLS, proxy and proxy-authorization settings for every HTTP call.
    pub(crate) fn transport(settings: &Settings) -> Result<TransportOptions, AuthError> {
        let mut t = TransportOptions::new()
            .with_insecure_skip_verify(settings.insecure_skip_verify)
            .with_proxy_url(settings.http_proxy_url.clone())
            .with_user_agent(concat!("flyte-auth/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &settings.ca_cert_file_path {
            t = t.with_ca_cert_file(ca.clone());
        }
        if let Some(argv) = settings.proxy_command.clone().filter(|c| !c.is_empty()) {
            let host = settings.endpoint.clone().ok_or_else(|| {
                AuthError::configuration("admin.proxyCommand is set but admin.endpoint is not: the proxy token is only sent to the Flyte endpoint")
            })?;
            t = t.with_proxy_authorization(host, proxy_authenticator(argv)?);
        }
        Ok(t)
    }

    #[cfg(feature = "command")]
    fn proxy_authenticator(
        argv: Vec<String>,
    ) -> Result<Arc<dyn auth_core::Authenticator>, AuthError> {
        Ok(Arc::new(
            auth_command::CommandAuthenticator::proxy_authorization(argv).build()?,
        ))
    }

    #[cfg(not(feature = "command"))]
    fn proxy_authenticator(_: Vec<String>) -> Result<Arc<dyn auth_core::Authenticator>, AuthError> {
        Err(AuthError::configuration(
            "admin.proxyCommand needs the `command` feature of flyte-auth, which this build does not have",
        ))
    }
}

#[cfg(any(feature = "pkce", feature = "device", feature = "clientcreds"))]
mod http {
    use super::transport::transport;
    use super::*;
    use auth_core::{ClientConfig, StaticClientConfigStore};
    use auth_oauth2::{FlyteDiscovery, HttpClient, IssuerDiscovery};

    /// One HTTP client with the configured transport, shared by discovery and the flow.
    pub(super) fn client_and_config(
        settings: &Settings,
    ) -> Result<(HttpClient, Arc<dyn ClientConfigStore>), AuthError> {
        let client = HttpClient::new(&transport(settings)?)?;
        let config = config_store(settings, &client)?;
        Ok((client, config))
    }

    /// Static endpoints when `tokenUrl` is configured, else discovery from the issuer when
    /// one is configured, else discovery from the Flyte endpoint.
    fn config_store(
        settings: &Settings,
        http: &HttpClient,
    ) -> Result<Arc<dyn ClientConfigStore>, AuthError> {
        if let Some(token_url) = &settings.token_url {
            let mut c = ClientConfig::new(
                token_url.clone(),
                settings.client_id.clone().unwrap_or_default(),
            );
            if let Some(u) = &settings.authorization_endpoint {
                c = c.with_authorization_endpoint(u.clone());
            }
            if let Some(u) = &settings.device_authorization_endpoint {
                c = c.with_device_authorization_endpoint(u.clone());
            }
            if let Some(u) = &settings.redirect_uri {
                c = c.with_redirect_uri(u.clone());
            }
            if let Some(s) = &settings.scopes {
                c = c.with_scopes(s.clone());
            }
            if let Some(a) = &settings.audience {
                c = c.with_audience(a.clone());
            }
            if let Some(h) = &settings.authorization_header {
                c = c.with_header_key(h.clone());
            }
            return Ok(Arc::new(StaticClientConfigStore::new(c)));
        }
        if let Some(issuer) = &settings.issuer {
            return issuer_store(settings, http, issuer);
        }
        let endpoint = settings.endpoint.clone().ok_or_else(|| {
            AuthError::configuration(
                "no Flyte endpoint configured: set admin.endpoint in config.yaml, FLYTE_PLATFORM_URL, or --endpoint \
                 (or admin.issuer / --issuer for a plain OAuth 2.0 or OpenID Connect provider, \
                 or admin.tokenUrl for static endpoints)",
            )
        })?;
        let discovery: Arc<dyn ClientConfigStore> = Arc::new(
            FlyteDiscovery::new(http.clone(), &endpoint, settings.insecure)
                .with_client_id(settings.client_id.clone())
                .with_scopes(settings.scopes.clone())
                .with_audience(settings.audience.clone())
                .with_header_key(settings.authorization_header.clone()),
        );
        // With `tower`: the gateway's GET paths, else the AuthMetadataService over gRPC or
        // Connect (Flyte 2 serves no GET paths), the first that answers remembered; or the
        // one `admin.discovery` names.
        #[cfg(feature = "tower")]
        let discovery = crate::channel::with_rpc_discovery(settings, &endpoint, http, discovery)?;
        #[cfg(not(feature = "tower"))]
        if let Some(method) = settings
            .discovery
            .as_deref()
            .filter(|m| !matches!(*m, "auto" | "http"))
        {
            return Err(AuthError::configuration(format!(
                "admin.discovery is {method}: discovery over gRPC or Connect needs the `tower` feature of \
                 flyte-auth, which this build does not have (set admin.discovery to auto or http)"
            )));
        }
        Ok(discovery)
    }

    /// Discovery from a plain OAuth 2.0 / OpenID Connect issuer (RFC 8414 with path
    /// insertion, then OpenID discovery). Without configured scopes, interactive flows ask for
    /// `openid offline_access` (an id_token and a refresh token); client credentials for none.
    fn issuer_store(
        settings: &Settings,
        http: &HttpClient,
        issuer: &str,
    ) -> Result<Arc<dyn ClientConfigStore>, AuthError> {
        let client_id = settings.client_id.clone().ok_or_else(|| {
            AuthError::configuration(format!(
                "the issuer {issuer} is configured but no client id: set admin.clientId \
                 (or FLYTE_CREDENTIALS_CLIENT_ID) to the client registered at the provider"
            ))
        })?;
        let scopes = settings
            .scopes
            .clone()
            .unwrap_or_else(|| match settings.auth_mode {
                AuthMode::Pkce | AuthMode::DeviceFlow => {
                    vec!["openid".to_string(), "offline_access".to_string()]
                }
                _ => Vec::new(),
            });
        Ok(Arc::new(
            IssuerDiscovery::new(http.clone(), issuer, client_id)
                .with_scopes(scopes)
                .with_audience(settings.audience.clone())
                .with_redirect_uri(settings.redirect_uri.clone()),
        ))
    }
}

/// What [`from_config`] returns for a built authenticator.
#[allow(dead_code)]
fn configured(
    authenticator: impl auth_core::Authenticator + 'static,
    mode: AuthMode,
    store_key: String,
    client_config: Option<Arc<dyn ClientConfigStore>>,
) -> Result<Configured, AuthError> {
    Ok(Configured {
        authenticator: SharedAuthenticator::new(authenticator),
        mode,
        store_key,
        client_config,
        #[cfg(any(feature = "pkce", feature = "device", feature = "clientcreds"))]
        http_client: None,
    })
}

#[cfg(any(feature = "pkce", feature = "device", feature = "clientcreds"))]
fn with_http(
    configured: Result<Configured, AuthError>,
    http: auth_oauth2::HttpClient,
) -> Result<Configured, AuthError> {
    configured.map(|mut c| {
        c.http_client = Some(http);
        c
    })
}

#[cfg(feature = "clientcreds")]
fn client_secret(
    settings: &Settings,
    options: &FromConfigOptions,
    store_key: String,
) -> Result<Configured, AuthError> {
    let (client, config) = http::client_and_config(settings)?;
    let client_id = settings.client_id.clone().ok_or_else(|| {
        AuthError::configuration(
            "auth mode ClientSecret needs admin.clientId (or FLYTE_CREDENTIALS_CLIENT_ID)",
        )
    })?;
    let mut b = auth_clientcreds::ClientCredentialsAuthenticator::builder().client_id(client_id);
    // A client assertion (RFC 7523) stands in for the secret: the federated token file first,
    // then a private_key_jwt key file.
    if let Some(assertion) = client_assertion(settings)? {
        b = b.client_assertion(assertion);
    } else {
        let secret = settings.client_secret.clone().ok_or_else(|| {
            AuthError::configuration(
                "auth mode ClientSecret needs a client secret: admin.clientSecretLocation, admin.clientSecretEnvVar \
                 or FLYTE_CREDENTIALS_CLIENT_SECRET (or a client assertion: admin.federatedTokenFile, \
                 admin.clientAssertionKeyFile)",
            )
        })?;
        b = b.client_secret(secret);
    }
    let mut b = b
        .config_store(config.clone())
        .http_client(client.clone())
        .allow_http(settings.insecure)
        .engine_options(engine_options(settings))
        .store_key(store_key.clone());
    // A service does not write to a user's keyring unless asked.
    if let Some(store) = &options.store {
        b = b.credential_store(store.clone());
    }
    if let Some(s) = &settings.scopes {
        b = b.scopes(s.clone());
    }
    if let Some(a) = &settings.audience {
        b = b.audience(a.clone());
    }
    if let Some(h) = &settings.authorization_header {
        b = b.header_key(h.clone());
    }
    // Not configured: negotiated (Basic unless only post is advertised; post once when Basic
    // is refused).
    match settings.client_auth_method {
        Some(auth_config::ClientAuthMethod::SecretPost) => {
            b = b.auth_method(auth_oauth2::ClientAuthMethod::Post);
        }
        Some(_) => b = b.auth_method(auth_oauth2::ClientAuthMethod::Basic),
        None => {}
    }
    with_http(
        configured(b.build()?, AuthMode::ClientSecret, store_key, Some(config)),
        client,
    )
}

/// The client assertion the settings configure, if any.
#[cfg(feature = "clientcreds")]
fn client_assertion(
    settings: &Settings,
) -> Result<Option<auth_oauth2::ClientAssertion>, AuthError> {
    use auth_oauth2::ClientAssertion;
    if let Some(path) = &settings.federated_token_file {
        return Ok(Some(ClientAssertion::token_file(path.clone())));
    }
    let Some(path) = &settings.client_assertion_key_file else {
        return Ok(None);
    };
    private_key_jwt(settings, path).map(Some)
}

#[cfg(all(feature = "clientcreds", feature = "private-key-jwt"))]
fn private_key_jwt(
    settings: &Settings,
    path: &std::path::Path,
) -> Result<auth_oauth2::ClientAssertion, AuthError> {
    use auth_oauth2::{AssertionAlgorithm, ClientAssertion};
    let algorithm = match settings.client_assertion_algorithm.as_deref() {
        None => AssertionAlgorithm::Rs256,
        Some(name) => AssertionAlgorithm::parse(name).ok_or_else(|| {
            AuthError::configuration(format!(
                "admin.clientAssertionAlgorithm {name:?} is not RS256 or ES256"
            ))
        })?,
    };
    ClientAssertion::private_key_jwt(
        path.to_path_buf(),
        algorithm,
        settings.client_assertion_key_id.clone(),
    )
}

#[cfg(all(feature = "clientcreds", not(feature = "private-key-jwt")))]
fn private_key_jwt(
    _: &Settings,
    _: &std::path::Path,
) -> Result<auth_oauth2::ClientAssertion, AuthError> {
    Err(AuthError::configuration(
        "admin.clientAssertionKeyFile needs the `private-key-jwt` feature of flyte-auth, which \
         this build does not have (a federated token file, admin.federatedTokenFile, needs none)",
    ))
}

#[cfg(not(feature = "clientcreds"))]
fn client_secret(_: &Settings, _: &FromConfigOptions, _: String) -> Result<Configured, AuthError> {
    Err(feature_off(AuthMode::ClientSecret, "clientcreds"))
}

#[cfg(feature = "pkce")]
fn pkce(
    settings: &Settings,
    options: &FromConfigOptions,
    store_key: String,
) -> Result<Configured, AuthError> {
    let (client, config) = http::client_and_config(settings)?;
    let mut b = auth_pkce::PkceAuthenticator::builder()
        .config_store(config.clone())
        .http_client(client.clone())
        .allow_http(settings.insecure)
        .engine_options(engine_options(settings))
        .credential_store(interactive_store(settings, options))
        .store_key(store_key.clone())
        .interactive(options.interactive)
        .no_browser(options.no_browser);
    if let Some(t) = settings.pkce_timeout {
        b = b.timeout(t);
    }
    // admin.redirectUri beats the discovered one too (a port of its own, e.g. `:0`).
    if let Some(u) = &settings.redirect_uri {
        b = b.redirect_uri(u.clone());
    }
    if let Some(prompt) = options.browser_prompt.clone() {
        b = b.prompt(move |url: &str| prompt(url));
    }
    if let Some(p) = &options.pkce_progress {
        b = b.progress(p.clone());
    }
    if let Some(p) = &options.pkce_paste {
        b = b.paste_input(p.clone());
    }
    with_http(
        configured(b.build()?, AuthMode::Pkce, store_key, Some(config)),
        client,
    )
}

#[cfg(not(feature = "pkce"))]
fn pkce(_: &Settings, _: &FromConfigOptions, _: String) -> Result<Configured, AuthError> {
    Err(feature_off(AuthMode::Pkce, "pkce"))
}

#[cfg(feature = "device")]
fn device_flow(
    settings: &Settings,
    options: &FromConfigOptions,
    store_key: String,
) -> Result<Configured, AuthError> {
    let (client, config) = http::client_and_config(settings)?;
    let mut b = auth_device::DeviceCodeAuthenticator::builder()
        .config_store(config.clone())
        .http_client(client.clone())
        .allow_http(settings.insecure)
        .engine_options(engine_options(settings))
        .credential_store(interactive_store(settings, options))
        .store_key(store_key.clone())
        .interactive(options.interactive);
    if let Some(p) = &options.device_presenter {
        b = b.presenter(p.clone());
    }
    if let Some(t) = settings.device_flow_timeout {
        b = b.time_limit(t);
    }
    if let Some(i) = settings.device_flow_poll_interval {
        b = b.default_interval(i);
    }
    with_http(
        configured(b.build()?, AuthMode::DeviceFlow, store_key, Some(config)),
        client,
    )
}

#[cfg(not(feature = "device"))]
fn device_flow(_: &Settings, _: &FromConfigOptions, _: String) -> Result<Configured, AuthError> {
    Err(feature_off(AuthMode::DeviceFlow, "device"))
}

#[cfg(all(test, feature = "clientcreds", feature = "command"))]
mod tests {
    use super::*;

    #[test]
    fn the_proxy_authenticator_is_exposed_when_a_proxy_command_is_configured() {
        let mut settings = Settings::default();
        settings.auth_mode = AuthMode::ClientSecret;
        settings.endpoint = Some("flyte.example.com".into());
        settings.client_id = Some("svc".into());
        settings.client_secret = Some(auth_core::ClientSecret::new("s"));
        settings.token_url = Some("https://idp.example.com/token".into());
        let options = FromConfigOptions::default();
        let plain = from_config(&settings, &options).expect("configured");
        assert!(plain.proxy_authenticator().is_none());
        settings.proxy_command = Some(vec!["echo".into(), "proxy-token".into()]);
        let proxied = from_config(&settings, &options).expect("configured");
        assert!(proxied.proxy_authenticator().is_some());
    }
}
