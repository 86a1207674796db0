//! `connect`: an authenticated tonic channel to a Flyte endpoint in one call.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use auth_core::{AuthError, Authenticator};
use auth_oauth2::TransportOptions;
use http::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use tonic::transport::{Channel, Endpoint};
use tower_layer::Layer;
use tower_service::Service;

use crate::layer::{AuthLayer, AuthService};

/// A tonic channel that authenticates every call ([`AuthLayer`]); use it wherever a
/// `Channel` goes (`FooClient::new(channel)`, `tonic::client::Grpc::new(channel)`).
pub type AuthChannel = AuthService<Channel>;

/// Where and how [`connect`] connects.
#[derive(Clone, Debug)]
pub struct ChannelOptions {
    endpoint: String,
    insecure: bool,
    transport: TransportOptions,
    keepalive: Option<Duration>,
    timeout: Option<Duration>,
}

impl ChannelOptions {
    /// The admin `endpoint` (`host[:port]`, with or without `dns:///`, or a URL), over TLS
    /// unless `insecure` (plain HTTP/2), as in Flyte's `admin.endpoint` and `admin.insecure`.
    pub fn new(endpoint: impl Into<String>, insecure: bool) -> Self {
        Self {
            endpoint: endpoint.into(),
            insecure,
            transport: TransportOptions::new(),
            keepalive: Some(Duration::from_secs(30)),
            timeout: None,
        }
    }

    /// The transport options of the OAuth client: CA bundles, `insecure_skip_verify` (with
    /// its warning), the connect timeout and proxy-authorization are shared with the channel.
    pub fn with_transport(mut self, transport: TransportOptions) -> Self {
        self.transport = transport;
        self
    }

    /// HTTP/2 keepalive pings at this interval, also while idle (default 30 s; `None`: off).
    pub fn with_keepalive(mut self, interval: Option<Duration>) -> Self {
        self.keepalive = interval;
        self
    }

    /// A deadline for every call (`None`, the default: the caller's own deadlines).
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// The endpoint as a URL (`https://host:port`, or `http://` when insecure), for HTTP
    /// transports to the same server (Connect).
    pub fn base_url(&self) -> Result<String, AuthError> {
        let (authority, tls) = self.target()?;
        Ok(format!(
            "{}://{authority}",
            if tls { "https" } else { "http" }
        ))
    }

    /// `(authority, tls)` of the endpoint.
    fn target(&self) -> Result<(String, bool), AuthError> {
        let e = self
            .endpoint
            .trim()
            .trim_start_matches("dns:///")
            .trim_end_matches('/');
        let (rest, tls) = if let Some(r) = e.strip_prefix("https://") {
            (r, true)
        } else if let Some(r) = e.strip_prefix("http://") {
            (r, false)
        } else {
            (e, !self.insecure)
        };
        if rest.is_empty() || rest.contains('/') {
            return Err(AuthError::configuration(format!(
                "the endpoint {:?} is not host[:port]: configure admin.endpoint as \
                 dns:///flyte.example.com or flyte.example.com:443",
                self.endpoint
            )));
        }
        let authority = if rest.contains(':') && !rest.ends_with(']') {
            rest.to_string()
        } else {
            format!("{rest}:{}", if tls { 443 } else { 80 })
        };
        Ok((authority, tls))
    }
}

/// Connects to a Flyte endpoint and returns a channel that authenticates every call with
/// `auth` (and `proxy-authorization`, when the transport options configure it).
///
/// TLS uses the OAuth client's configuration ([`TransportOptions::tls_client_config`]) with
/// ALPN `h2`; the connection is made now, so a wrong endpoint fails here.
///
/// ```no_run
/// # async fn demo(auth: std::sync::Arc<dyn auth_core::Authenticator>) -> Result<(), Box<dyn std::error::Error>> {
/// let options = auth_tower::ChannelOptions::new("dns:///flyte.example.com", false);
/// let channel = auth_tower::connect(&options, auth).await?;
/// let mut grpc = tonic::client::Grpc::new(channel);
/// # let _ = grpc; Ok(()) }
/// ```
pub async fn connect(
    options: &ChannelOptions,
    auth: Arc<dyn Authenticator>,
) -> Result<AuthChannel, AuthError> {
    let channel = plain_channel(options).await?;
    let mut layer = AuthLayer::new(auth);
    if let Some((_, proxy)) = options.transport.proxy_authorization() {
        layer = layer.proxy_authorization(Arc::clone(proxy));
    }
    Ok(layer.layer(channel))
}

/// A channel to the endpoint of `options` without credentials (for discovery), connected now.
pub(crate) async fn plain_channel(options: &ChannelOptions) -> Result<Channel, AuthError> {
    let (authority, tls) = options.target()?;
    let invalid = |e: tonic::transport::Error| {
        AuthError::configuration(format!(
            "the endpoint {:?} is not a valid URI: {e}",
            options.endpoint
        ))
    };
    // The connector always sees http://: it adds TLS itself when `tls`, so that tonic's own
    // TLS (if another crate enables it) never refuses an https URI it has no config for.
    let mut endpoint = Endpoint::from_shared(format!("http://{authority}")).map_err(invalid)?;
    if tls {
        let origin: Uri = format!("https://{authority}").parse().map_err(|_| {
            AuthError::configuration(format!(
                "the endpoint {:?} is not a valid URI",
                options.endpoint
            ))
        })?;
        endpoint = endpoint.origin(origin);
    }
    let connect_timeout = options.transport.connect_timeout();
    endpoint = endpoint
        .connect_timeout(connect_timeout)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(options.keepalive.unwrap_or(Duration::from_secs(3600)))
        .keep_alive_while_idle(options.keepalive.is_some())
        .keep_alive_timeout(Duration::from_secs(20));
    if let Some(t) = options.timeout {
        endpoint = endpoint.timeout(t);
    }
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
    let connected = if tls {
        let mut config = options.transport.tls_client_config()?;
        // The builder offers h2 itself (enable_http2) and panics on a config that already
        // names protocols, as the OAuth client's (http/1.1) does.
        config.alpn_protocols.clear();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_only()
            .enable_http2()
            .wrap_connector(http);
        endpoint.connect_with_connector(ForceHttps(https)).await
    } else {
        endpoint.connect_with_connector(http).await
    };
    connected.map_err(|e| {
        AuthError::transport(format!(
            "could not connect to {authority}{}: {e}; check admin.endpoint and admin.insecure",
            if tls { " (TLS)" } else { "" }
        ))
    })
}

/// Gives the TLS connector an https URI for the http one tonic hands out.
#[derive(Clone, Debug)]
struct ForceHttps<C>(C);

impl<C> Service<Uri> for ForceHttps<C>
where
    C: Service<Uri>,
    C::Future: Send + 'static,
{
    type Response = C::Response;
    type Error = C::Error;
    type Future = Pin<Box<dyn Future<Output = Result<C::Response, C::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let mut parts = uri.into_parts();
        parts.scheme = Some(http::uri::Scheme::HTTPS);
        let uri = Uri::from_parts(parts).unwrap_or_default();
        Box::pin(self.0.call(uri))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_forms() {
        let t = |e: &str, insecure| ChannelOptions::new(e, insecure).target().unwrap();
        assert_eq!(
            t("dns:///flyte.example.com", false),
            ("flyte.example.com:443".into(), true)
        );
        assert_eq!(
            t("localhost:30080", true),
            ("localhost:30080".into(), false)
        );
        assert_eq!(
            t("http://127.0.0.1:8089/", false),
            ("127.0.0.1:8089".into(), false)
        );
        assert_eq!(t("https://h", true), ("h:443".into(), true));
        assert!(ChannelOptions::new("h/x", false).target().is_err());
        assert!(ChannelOptions::new("", false).target().is_err());
    }
}
