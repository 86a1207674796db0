//! The checks that reach the endpoint: the target, TCP, TLS.

use super::*;

/// Where the HTTP checks go.
#[derive(Debug)]
pub(super) struct Target {
    /// `http(s)://host[:port]` plus a path, without a trailing slash.
    pub(super) base: String,
    pub(super) https: bool,
    pub(super) host: String,
    pub(super) port: u16,
    /// Static endpoints: no discovery.
    pub(super) static_endpoints: bool,
    /// A plain OAuth 2.0 / OpenID Connect issuer instead of a Flyte endpoint.
    pub(super) issuer: bool,
}

impl Target {
    pub(super) fn of(s: &Settings) -> Option<Target> {
        // The precedence of from_config: static endpoints, then the issuer, then the
        // Flyte endpoint.
        let (raw, static_endpoints, issuer) = match (&s.token_url, &s.issuer, &s.endpoint) {
            (Some(t), _, _) => (t.clone(), true, false),
            (None, Some(i), _) => (i.clone(), false, true),
            (None, None, Some(e)) => (e.clone(), false, false),
            (None, None, None) => return None,
        };
        let raw = raw
            .trim()
            .trim_start_matches("dns:///")
            .trim_end_matches('/');
        let (https, rest) = if let Some(r) = raw.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = raw.strip_prefix("http://") {
            (false, r)
        } else {
            (!s.insecure, raw)
        };
        let authority = rest.split('/').next().unwrap_or_default();
        let (host, port) = split_host_port(authority, if https { 443 } else { 80 })?;
        let base = format!("{}://{rest}", if https { "https" } else { "http" });
        Some(Target {
            base,
            https,
            host,
            port,
            static_endpoints,
            issuer,
        })
    }
}

/// `host:port`, `[v6]:port` or a bare host.
pub(super) fn split_host_port(authority: &str, default_port: u16) -> Option<(String, u16)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None => default_port,
        };
        return Some((host.to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Some((h.to_string(), p.parse().ok()?)),
        None if !authority.is_empty() => Some((authority.to_string(), default_port)),
        None => None,
    }
}

pub(super) fn proxy_of(s: &Settings) -> Option<String> {
    s.http_proxy_url
        .as_deref()
        .map(flyte_auth::config::redact_url_userinfo)
        .or_else(|| {
            ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
                .iter()
                .find_map(|v| std::env::var(v).ok().filter(|x| !x.is_empty()))
                .map(|p| flyte_auth::config::redact_url_userinfo(&p))
        })
}

pub(super) async fn check_endpoint(t: &Target, s: &Settings) -> Check {
    const NAME: &str = "endpoint";
    if let Some(proxy) = proxy_of(s) {
        return Check::pass(
            NAME,
            format!(
                "{}:{} goes through the proxy {proxy}; the TLS check below tries it",
                t.host, t.port
            ),
        );
    }
    let connect = tokio::net::TcpStream::connect((t.host.as_str(), t.port));
    match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Ok(Ok(stream)) => {
            let peer = stream
                .peer_addr()
                .map(|a| a.to_string())
                .unwrap_or_default();
            Check::pass(NAME, format!("{}:{} is reachable ({peer})", t.host, t.port))
        }
        Ok(Err(e)) => Check::fail(
            NAME,
            format!("cannot connect to {}:{}: {e}", t.host, t.port),
            "check admin.endpoint (host:port of the Flyte endpoint) and that this machine can \
             reach it (VPN, firewall; a proxy goes in admin.httpProxyURL or HTTPS_PROXY)",
        ),
        Err(_) => Check::fail(
            NAME,
            format!(
                "no answer from {}:{} within {} s",
                t.host,
                t.port,
                CONNECT_TIMEOUT.as_secs()
            ),
            "check the network path to the endpoint (VPN, firewall), or set a proxy \
             (admin.httpProxyURL or HTTPS_PROXY)",
        ),
    }
}

pub(super) fn transport(s: &Settings) -> TransportOptions {
    let mut t = TransportOptions::new()
        .with_insecure_skip_verify(s.insecure_skip_verify)
        .with_proxy_url(s.http_proxy_url.clone())
        .with_user_agent(concat!("flyte-auth/", env!("CARGO_PKG_VERSION"), " doctor"));
    if let Some(ca) = &s.ca_cert_file_path {
        t = t.with_ca_cert_file(ca.clone());
    }
    t
}

pub(super) fn is_tls_error(e: &AuthError) -> bool {
    e.kind() == ErrorKind::Transport && e.to_string().contains("TLS handshake")
}

pub(super) async fn check_tls(t: &Target, s: &Settings) -> (Check, Option<HttpClient>) {
    const NAME: &str = "tls";
    let http = match HttpClient::new(&transport(s)) {
        Ok(h) => h,
        Err(e) => {
            return (
                Check::fail(
                    NAME,
                    e.to_string(),
                    "admin.caCertFilePath (--ca-cert) must name a readable PEM file with the \
                     CA certificate(s); admin.httpProxyURL must be a URL",
                ),
                None,
            );
        }
    };
    if !t.https {
        let why = if s.insecure {
            "plain http (admin.insecure): no TLS"
        } else {
            "plain http (the URL says http://): no TLS"
        };
        return (Check::pass(NAME, why), Some(http));
    }
    // Any HTTP answer means the handshake worked.
    match http.get_json::<Value>(&format!("{}/", t.base)).await {
        Err(e) if is_tls_error(&e) => (
            Check::fail(
                NAME,
                e.to_string(),
                "if the server uses a private CA or a self-signed certificate, set \
                 admin.caCertFilePath (--ca-cert) to its PEM certificate; if it speaks plain \
                 http, set admin.insecure: true; admin.insecureSkipVerify only for testing",
            ),
            None,
        ),
        Err(e) if e.status().is_none() && e.kind() != ErrorKind::InvalidResponse => (
            Check::fail(
                NAME,
                e.to_string(),
                "check the endpoint and the proxy settings",
            ),
            None,
        ),
        _ => {
            let how = if s.insecure_skip_verify {
                "certificate NOT verified (insecureSkipVerify): use only for testing"
            } else if s.ca_cert_file_path.is_some() {
                "certificate verified (system roots plus caCertFilePath)"
            } else {
                "certificate verified (system roots)"
            };
            (
                Check::pass(NAME, format!("TLS handshake with {}: {how}", t.base)),
                Some(http),
            )
        }
    }
}
