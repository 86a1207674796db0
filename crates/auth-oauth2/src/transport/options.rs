//! How the HTTP client is set up: [`TransportOptions`], the proxy and the
//! proxy-authorization hook.

use super::*;

/// How the HTTP client is set up: TLS roots, proxy, timeouts, retries and the
/// proxy-authorization hook.
///
/// ```
/// use std::time::Duration;
/// use auth_oauth2::{HttpClient, TransportOptions};
///
/// let options = TransportOptions::new()
///     .with_connect_timeout(Duration::from_secs(5))
///     .with_user_agent("my-tool/1.0");
/// let http = HttpClient::new(&options)?;
/// # Ok::<(), auth_core::AuthError>(())
/// ```
#[derive(Clone)]
pub struct TransportOptions {
    pub(crate) ca_certs_pem: Vec<Vec<u8>>,
    pub(crate) ca_cert_files: Vec<PathBuf>,
    pub(crate) insecure_skip_verify: bool,
    pub(crate) proxy_url: Option<String>,
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    pub(crate) user_agent: String,
    pub(crate) retry: RetryPolicy,
    pub(crate) proxy_authorization: Option<(String, Arc<dyn Authenticator>)>,
}

impl Default for TransportOptions {
    fn default() -> Self {
        Self {
            ca_certs_pem: Vec::new(),
            ca_cert_files: Vec::new(),
            insecure_skip_verify: false,
            proxy_url: None,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            user_agent: concat!("flyte-auth/", env!("CARGO_PKG_VERSION")).to_string(),
            retry: RetryPolicy::default(),
            proxy_authorization: None,
        }
    }
}

impl fmt::Debug for TransportOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportOptions")
            .field("ca_certs_pem", &self.ca_certs_pem.len())
            .field("ca_cert_files", &self.ca_cert_files)
            .field("insecure_skip_verify", &self.insecure_skip_verify)
            .field("proxy_url", &self.proxy_url.as_deref().map(redact_userinfo))
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("user_agent", &self.user_agent)
            .field("retry", &self.retry)
            .field(
                "proxy_authorization_host",
                &self.proxy_authorization.as_ref().map(|p| &p.0),
            )
            .finish()
    }
}

impl TransportOptions {
    /// The defaults: platform roots, TLS verification on, standard proxy variables, connect
    /// timeout 10 s, total timeout 30 s, three attempts for transient failures.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the certificates of a PEM bundle to the platform's roots (it does not replace
    /// them).
    pub fn with_ca_cert_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_certs_pem.push(pem.into());
        self
    }

    /// Adds the certificates of a PEM file to the platform's roots. The file is read by
    /// [`HttpClient::new`], which reports a missing or malformed file.
    pub fn with_ca_cert_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_cert_files.push(path.into());
        self
    }

    /// Switches TLS certificate verification off. Insecure: [`HttpClient::new`] logs a
    /// warning each time it is used.
    pub fn with_insecure_skip_verify(mut self, skip: bool) -> Self {
        self.insecure_skip_verify = skip;
        self
    }

    /// Sends every request through this HTTP proxy (hosts in `NO_PROXY` excepted). `None`:
    /// the standard variables `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY`.
    pub fn with_proxy_url(mut self, url: Option<String>) -> Self {
        self.proxy_url = url.filter(|u| !u.trim().is_empty());
        self
    }

    /// The longest wait for a connection (TCP and TLS), default 10 s.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The longest wait for a whole request, answer included, default 30 s.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The `User-Agent` header, default `flyte-auth/<version>`.
    pub fn with_user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Retries of transient failures (connect errors always; 5xx, 429 and resets only for
    /// requests that may be sent twice).
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The TLS client configuration these options describe (platform roots plus the CA
    /// bundles, or no verification when switched off, with its warning), for other
    /// transports to the same deployment, such as a gRPC channel. ALPN offers `http/1.1`;
    /// set `alpn_protocols` for HTTP/2.
    pub fn tls_client_config(&self) -> Result<rustls::ClientConfig, AuthError> {
        crate::tls::client_config(self)
    }

    /// The connect timeout (default 10 s).
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// The host and the authenticator of the `proxy-authorization` header, if configured.
    pub fn proxy_authorization(&self) -> Option<(&str, &Arc<dyn Authenticator>)> {
        self.proxy_authorization
            .as_ref()
            .map(|(host, auth)| (host.as_str(), auth))
    }

    /// Adds a `proxy-authorization` header, with the value of `auth`'s
    /// [`header_value`](Authenticator::header_value), to requests for `host` and to no other
    /// host. `host` is the Flyte endpoint (`flyte.example.com`, `flyte.example.com:443`,
    /// `dns:///flyte.example.com` or a URL); with a port, the port must match too.
    pub fn with_proxy_authorization(
        mut self,
        host: impl Into<String>,
        auth: Arc<dyn Authenticator>,
    ) -> Self {
        self.proxy_authorization = Some((host.into(), auth));
        self
    }
}

/// Where the proxy-authorization header goes.
#[derive(Debug)]
pub(super) struct ProxyAuth {
    pub(super) host: String,
    pub(super) port: Option<u16>,
    pub(super) auth: Arc<dyn Authenticator>,
}

impl ProxyAuth {
    pub(super) fn parse(target: &str, auth: Arc<dyn Authenticator>) -> Result<Self, AuthError> {
        let trimmed = target.trim().trim_start_matches("dns:///");
        let with_scheme = if trimmed.contains("://") {
            trimmed.to_string()
        } else {
            format!("http://{trimmed}")
        };
        let url = Url::parse(&with_scheme).map_err(|e| {
            AuthError::configuration(format!(
                "the proxy-authorization host {target:?} is not a host name: use host or host:port"
            ))
            .with_source(e)
        })?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| {
                AuthError::configuration(format!(
                    "the proxy-authorization host {target:?} has no host name"
                ))
            })?
            .to_ascii_lowercase();
        // An explicit port in a URL with a scheme is the known default when omitted.
        let port = if trimmed.contains("://") {
            url.port_or_known_default()
        } else {
            url.port()
        };
        Ok(Self { host, port, auth })
    }

    pub(super) fn applies_to(&self, url: &Url) -> bool {
        url.host_str()
            .is_some_and(|h| h.eq_ignore_ascii_case(&self.host))
            && self
                .port
                .is_none_or(|p| url.port_or_known_default() == Some(p))
    }
}

/// The explicit proxy of `options`, if any (`NO_PROXY` honoured).
pub(super) fn proxy(options: &TransportOptions) -> Result<Option<reqwest::Proxy>, AuthError> {
    let Some(proxy_url) = &options.proxy_url else {
        return Ok(None);
    };
    let proxy = reqwest::Proxy::all(proxy_url.as_str()).map_err(|e| {
        AuthError::configuration(format!(
            "the proxy URL {} is not valid: use http://host:port",
            redact_userinfo(proxy_url)
        ))
        .with_source(e)
    })?;
    Ok(Some(proxy.no_proxy(reqwest::NoProxy::from_env())))
}
