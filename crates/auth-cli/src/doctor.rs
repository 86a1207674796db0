//! `flyte-auth doctor`: what is wrong with this machine's setup, in order, with a fix for
//! each failure. Checks: the configuration, the endpoint reachable, TLS, discovery (each
//! document tried and what answered), the issuer's metadata, the redirect port and
//! `localhost`, the credential store, and a token request whose decoded claims (`iss`,
//! `aud`, `scope`, `exp`) are shown, never the token. `-o json` prints one object per check.
//! The exit code is 0 only when every check passed.

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, SystemTime};

use flyte_auth::config::{AuthMode, Settings};
use flyte_auth::oauth2::{HttpClient, TransportOptions};
use flyte_auth::{AuthError, CredentialStore, ErrorKind, FromConfigOptions};
use serde_json::Value;

use crate::{Store, timefmt};

/// How long a connection attempt, a keyring call or the token request may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const STORE_TIMEOUT: Duration = Duration::from_secs(10);
const TOKEN_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Pass,
    Fail,
    Skip,
}

/// The outcome of one check.
#[derive(Debug)]
struct Check {
    name: &'static str,
    status: Status,
    detail: String,
    fix: Option<String>,
}

impl Check {
    fn pass(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Pass,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    fn skip(name: &'static str, why: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Skip,
            detail: why.into(),
            fix: None,
        }
    }
}

/// Prints each check as soon as it is done.
struct Report {
    json: bool,
    failed: usize,
    total: usize,
}

impl Report {
    fn add(&mut self, check: Check) -> bool {
        self.total += 1;
        if check.status != Status::Pass {
            self.failed += 1;
        }
        let mut out = std::io::stdout().lock();
        let _ = if self.json {
            let status = match check.status {
                Status::Pass => "pass",
                Status::Fail => "fail",
                Status::Skip => "skip",
            };
            writeln!(
                out,
                "{}",
                serde_json::json!({"check": check.name, "status": status, "detail": check.detail, "fix": check.fix})
            )
        } else {
            let mark = match check.status {
                Status::Pass => "ok  ",
                Status::Fail => "FAIL",
                Status::Skip => "skip",
            };
            let mut text = format!("{mark}  {:<10} {}", check.name, check.detail);
            if let Some(fix) = &check.fix {
                text.push_str(&format!("\n      fix: {fix}"));
            }
            writeln!(out, "{text}")
        };
        let _ = out.flush();
        check.status == Status::Pass
    }

    fn finish(&self) -> u8 {
        if !self.json {
            let mut out = std::io::stdout().lock();
            let _ = if self.failed == 0 {
                writeln!(out, "All {} checks passed.", self.total)
            } else {
                writeln!(
                    out,
                    "{} of {} checks did not pass.",
                    self.failed, self.total
                )
            };
        }
        if self.failed == 0 {
            0
        } else {
            crate::exit::FAILURE
        }
    }
}

/// What the command line tells doctor.
pub(crate) struct Inputs {
    /// The settings, or why they could not be loaded.
    pub(crate) settings: Result<Settings, String>,
    pub(crate) store: Store,
    pub(crate) options: FromConfigOptions,
    pub(crate) json: bool,
}

/// Runs the checks; returns the exit code.
pub(crate) async fn run(inputs: Inputs) -> u8 {
    let mut report = Report {
        json: inputs.json,
        failed: 0,
        total: 0,
    };
    let settings = match inputs.settings {
        Ok(s) => s,
        Err(e) => {
            report.add(Check::fail(
                "config",
                e,
                "fix the value named above, or point to another file with --config PATH \
                 (searched: --config, $FLYTECTL_CONFIG, ~/.flyte/config.yaml)",
            ));
            for name in [
                "endpoint",
                "tls",
                "discovery",
                "metadata",
                "redirect",
                "store",
                "token",
            ] {
                report.add(Check::skip(name, "needs a configuration"));
            }
            return report.finish();
        }
    };
    let config_ok = report.add(check_config(&settings));
    let target = Target::of(&settings);

    let endpoint_ok = match (&target, config_ok) {
        (Some(t), true) => report.add(check_endpoint(t, &settings).await),
        _ => report.add(Check::skip(
            "endpoint",
            "needs an endpoint in the configuration",
        )),
    };
    let http = match (&target, endpoint_ok) {
        (Some(t), true) => {
            let (check, http) = check_tls(t, &settings).await;
            report.add(check);
            http
        }
        _ => {
            report.add(Check::skip("tls", "needs a reachable endpoint"));
            None
        }
    };
    let metadata = match (&target, &http) {
        (Some(t), Some(http)) => {
            let (check, metadata) = check_discovery(t, &settings, http).await;
            report.add(check);
            metadata
        }
        _ => {
            report.add(Check::skip("discovery", "needs a working TLS connection"));
            None
        }
    };
    match &metadata {
        Some(m) => report.add(check_metadata(m, &settings)),
        None => report.add(Check::skip("metadata", "needs discovery")),
    };
    report.add(check_redirect(&settings, metadata.as_ref()).await);
    report.add(check_store(&settings, inputs.store).await);
    if report.failed == 0 {
        report.add(check_token(&settings, &inputs.options).await);
    } else {
        report.add(Check::skip(
            "token",
            "not requested until the checks above pass",
        ));
    }
    report.finish()
}

fn check_config(s: &Settings) -> Check {
    let file = match &s.source_file {
        Some(p) => p.display().to_string(),
        None => "no config file (flags and environment only)".to_string(),
    };
    let mut detail = format!("{file}: authType {}", s.auth_mode);
    if let Some(e) = &s.endpoint {
        detail.push_str(&format!(", endpoint {e}"));
    }
    if let Some(t) = &s.token_url {
        detail.push_str(&format!(", tokenUrl {t}"));
    }
    if let Some(i) = &s.issuer {
        detail.push_str(&format!(", issuer {i}"));
    }
    if let Some(c) = &s.client_id {
        detail.push_str(&format!(", clientId {c}"));
    }
    let missing = |what: &str, fix: &str| Check::fail("config", format!("{detail}; {what}"), fix);
    if s.endpoint.is_none()
        && s.token_url.is_none()
        && s.issuer.is_none()
        && s.auth_mode != AuthMode::ExternalCommand
    {
        return missing(
            "no endpoint",
            "set admin.endpoint in ~/.flyte/config.yaml (or FLYTE_PLATFORM_URL, --endpoint), \
             admin.issuer (or --issuer) for a plain OAuth 2.0 / OpenID Connect provider, or \
             admin.tokenUrl for static endpoints",
        );
    }
    // A private key or a federated token file authenticates the client instead of a secret.
    let client_authenticated = s.client_secret.is_some()
        || s.client_assertion_key_file.is_some()
        || s.federated_token_file.is_some();
    match s.auth_mode {
        AuthMode::ClientSecret if s.client_id.is_none() => missing(
            "no client id",
            "set admin.clientId (or FLYTE_CREDENTIALS_CLIENT_ID)",
        ),
        AuthMode::ClientSecret if !client_authenticated => missing(
            "no client secret",
            "set admin.clientSecretLocation (a file), admin.clientSecretEnvVar or \
             FLYTE_CREDENTIALS_CLIENT_SECRET (or admin.clientAssertionKeyFile / \
             admin.federatedTokenFile for a client assertion)",
        ),
        AuthMode::ExternalCommand if s.command.as_ref().is_none_or(Vec::is_empty) => missing(
            "no command",
            "set admin.command (or FLYTE_CREDENTIALS_COMMAND) to the argv that prints a token",
        ),
        _ => Check::pass("config", detail),
    }
}

/// Where the HTTP checks go.
#[derive(Debug)]
struct Target {
    /// `http(s)://host[:port]` plus a path, without a trailing slash.
    base: String,
    https: bool,
    host: String,
    port: u16,
    /// Static endpoints: no discovery.
    static_endpoints: bool,
    /// A plain OAuth 2.0 / OpenID Connect issuer instead of a Flyte endpoint.
    issuer: bool,
}

impl Target {
    fn of(s: &Settings) -> Option<Target> {
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
fn split_host_port(authority: &str, default_port: u16) -> Option<(String, u16)> {
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

fn proxy_of(s: &Settings) -> Option<String> {
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

async fn check_endpoint(t: &Target, s: &Settings) -> Check {
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

fn transport(s: &Settings) -> TransportOptions {
    let mut t = TransportOptions::new()
        .with_insecure_skip_verify(s.insecure_skip_verify)
        .with_proxy_url(s.http_proxy_url.clone())
        .with_user_agent(concat!("flyte-auth/", env!("CARGO_PKG_VERSION"), " doctor"));
    if let Some(ca) = &s.ca_cert_file_path {
        t = t.with_ca_cert_file(ca.clone());
    }
    t
}

fn is_tls_error(e: &AuthError) -> bool {
    e.kind() == ErrorKind::Transport && e.to_string().contains("TLS handshake")
}

async fn check_tls(t: &Target, s: &Settings) -> (Check, Option<HttpClient>) {
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

/// What a discovery document said, for the metadata check.
#[derive(Debug)]
struct Metadata {
    document: Value,
    redirect_uri: Option<String>,
}

async fn check_discovery(t: &Target, s: &Settings, http: &HttpClient) -> (Check, Option<Metadata>) {
    const NAME: &str = "discovery";
    if t.static_endpoints {
        let mut document = serde_json::json!({"token_endpoint": s.token_url});
        if let Some(a) = &s.authorization_endpoint {
            document["authorization_endpoint"] = Value::String(a.clone());
        }
        if let Some(d) = &s.device_authorization_endpoint {
            document["device_authorization_endpoint"] = Value::String(d.clone());
        }
        return (
            Check::pass(NAME, "static endpoints (admin.tokenUrl): discovery skipped"),
            Some(Metadata {
                document,
                redirect_uri: s.redirect_uri.clone(),
            }),
        );
    }
    if t.issuer {
        // RFC 8414 (with path insertion), then OpenID Connect discovery, as the flows do.
        return match rpc_discovery(s).await {
            Ok(document) => (
                Check::pass(NAME, format!("the issuer {} answered discovery", t.base)),
                Some(Metadata {
                    document,
                    redirect_uri: s.redirect_uri.clone(),
                }),
            ),
            Err(e) => (
                Check::fail(
                    NAME,
                    e.to_string(),
                    "check admin.issuer (or --issuer): it must serve \
                     /.well-known/oauth-authorization-server or \
                     /.well-known/openid-configuration",
                ),
                None,
            ),
        };
    }
    if s.discovery
        .as_deref()
        .is_some_and(|m| m != "auto" && m != "http")
    {
        // Forced to gRPC or Connect: the GET paths are not what the flows will use.
        return match rpc_discovery(s).await {
            Ok(document) => (
                Check::pass(
                    NAME,
                    format!(
                        "the AuthMetadataService answered (admin.discovery: {})",
                        s.discovery.as_deref().unwrap_or_default()
                    ),
                ),
                Some(Metadata {
                    document,
                    redirect_uri: s.redirect_uri.clone(),
                }),
            ),
            Err(e) => (
                Check::fail(
                    NAME,
                    e.to_string(),
                    "check that admin.endpoint is the Flyte endpoint and serves the \
                     AuthMetadataService that admin.discovery names, or set admin.discovery \
                     to auto to try every method",
                ),
                None,
            ),
        };
    }
    let urls = [
        format!("{}/.well-known/oauth-authorization-server", t.base),
        format!("{}/config/v1/flyte_client", t.base),
        format!("{}/.well-known/openid-configuration", t.base),
    ];
    let (metadata, client, openid) = tokio::join!(
        http.get_json::<Value>(&urls[0]),
        http.get_json::<Value>(&urls[1]),
        http.get_json::<Value>(&urls[2]),
    );
    let said = |r: &Result<Value, AuthError>| match r {
        Ok(v) if v.is_object() => "answered".to_string(),
        Ok(_) => "answered, but not with a JSON object".to_string(),
        Err(e) => match e.status() {
            Some(code) => format!("HTTP {code}"),
            None => e.to_string(),
        },
    };
    let detail = format!(
        "GET {} -> {}; GET {} -> {}; GET {} -> {}",
        urls[0],
        said(&metadata),
        urls[1],
        said(&client),
        urls[2],
        said(&openid)
    );
    let document = match (metadata, openid) {
        (Ok(m), _) if m.is_object() => Some(m),
        (_, Ok(o)) if o.is_object() => Some(o),
        _ => None,
    };
    let client = client.ok().filter(Value::is_object);
    match (document, client) {
        (Some(document), Some(client)) => {
            let redirect_uri = s.redirect_uri.clone().or_else(|| {
                ["redirect_uri", "redirectUri"]
                    .iter()
                    .find_map(|k| client[*k].as_str())
                    .filter(|r| !r.is_empty())
                    .map(String::from)
            });
            (
                Check::pass(NAME, detail),
                Some(Metadata {
                    document,
                    redirect_uri,
                }),
            )
        }
        (document, _) => match rpc_discovery(s).await {
            // No HTTP gateway (Flyte 2, or Flyte 1 reached without it): gRPC or Connect.
            Ok(rpc) if s.discovery.as_deref() != Some("http") => (
                Check::pass(
                    NAME,
                    format!(
                        "{detail}; the AuthMetadataService answered over gRPC or Connect, \
                         which the flows use"
                    ),
                ),
                Some(Metadata {
                    document: rpc,
                    redirect_uri: s.redirect_uri.clone(),
                }),
            ),
            rpc => (
                Check::fail(
                    NAME,
                    match rpc {
                        Err(e) => format!("{detail}; over gRPC and Connect: {e}"),
                        Ok(_) => detail,
                    },
                    "the endpoint must serve Flyte's AuthMetadataService (over HTTP, gRPC or \
                     Connect): check that admin.endpoint is the Flyte endpoint (host:port) and \
                     that authentication is enabled there, or configure static endpoints \
                     (admin.tokenUrl, authorizationEndpoint, deviceAuthorizationEndpoint)",
                ),
                document.map(|document| Metadata {
                    document,
                    redirect_uri: s.redirect_uri.clone(),
                }),
            ),
        },
    }
}

/// The endpoints the configured flow discovers (from the issuer, or over gRPC or Connect when
/// the gateway's GET paths fail), as a discovery document for the metadata check.
async fn rpc_discovery(s: &Settings) -> Result<Value, AuthError> {
    let options = FromConfigOptions::default().interactive(false);
    let configured = flyte_auth::from_config(s, &options)?;
    let store = configured.client_config.ok_or_else(|| {
        AuthError::configuration("this auth mode discovers nothing (no client configuration)")
    })?;
    let c = tokio::time::timeout(Duration::from_secs(30), store.client_config())
        .await
        .map_err(|_| AuthError::timeout("discovery did not answer within 30 s"))??;
    let mut d = serde_json::json!({
        "token_endpoint": c.token_endpoint,
        "token_endpoint_auth_methods_supported": c.token_endpoint_auth_methods_supported,
    });
    for (key, value) in [
        ("issuer", &c.issuer),
        ("authorization_endpoint", &c.authorization_endpoint),
        (
            "device_authorization_endpoint",
            &c.device_authorization_endpoint,
        ),
        ("revocation_endpoint", &c.revocation_endpoint),
    ] {
        if let Some(v) = value {
            d[key] = Value::String(v.clone());
        }
    }
    Ok(d)
}

fn strings(v: &Value, key: &str) -> Option<Vec<String>> {
    let camel: String = {
        let mut out = String::new();
        let mut up = false;
        for c in key.chars() {
            if c == '_' {
                up = true;
            } else if up {
                out.extend(c.to_uppercase());
                up = false;
            } else {
                out.push(c);
            }
        }
        out
    };
    let list = v.get(key).or_else(|| v.get(&camel))?.as_array()?;
    Some(
        list.iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
    )
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

fn check_metadata(m: &Metadata, s: &Settings) -> Check {
    const NAME: &str = "metadata";
    let d = &m.document;
    let issuer = text(d, "issuer").unwrap_or("(not named)");
    let device =
        text(d, "device_authorization_endpoint").or_else(|| text(d, "deviceAuthorizationEndpoint"));
    let authorize = text(d, "authorization_endpoint").or_else(|| text(d, "authorizationEndpoint"));
    let token = text(d, "token_endpoint").or_else(|| text(d, "tokenEndpoint"));
    let pkce = strings(d, "code_challenge_methods_supported").unwrap_or_default();
    let auth_methods = strings(d, "token_endpoint_auth_methods_supported").unwrap_or_default();
    let revocation = text(d, "revocation_endpoint").is_some();
    let list = |l: &[String]| {
        if l.is_empty() {
            "not listed".to_string()
        } else {
            l.join(" ")
        }
    };
    let detail = format!(
        "issuer {issuer}; token endpoint {}; device endpoint {}; PKCE methods {}; client auth methods {}; revocation {}",
        if token.is_some() { "yes" } else { "no" },
        if device.is_some() { "yes" } else { "no" },
        list(&pkce),
        list(&auth_methods),
        if revocation { "yes" } else { "no" },
    );
    if token.is_none() {
        return Check::fail(
            NAME,
            detail,
            "the provider names no token_endpoint: enable authentication on the Flyte \
             deployment, or set admin.tokenUrl",
        );
    }
    match s.auth_mode {
        AuthMode::DeviceFlow if device.is_none() => Check::fail(
            NAME,
            detail,
            "the device flow needs a device authorization endpoint: enable it at the \
             provider, set admin.deviceAuthorizationEndpoint, or use authType: Pkce",
        ),
        AuthMode::Pkce if authorize.is_none() => Check::fail(
            NAME,
            detail,
            "a browser login needs an authorization endpoint: set \
             admin.authorizationEndpoint, or use authType: DeviceFlow",
        ),
        AuthMode::Pkce if !pkce.is_empty() && !pkce.iter().any(|m| m == "S256") => Check::fail(
            NAME,
            detail,
            "the provider does not offer PKCE with S256, the only method this client uses: \
             enable S256 at the provider",
        ),
        AuthMode::ClientSecret
            if !auth_methods.is_empty()
                && !auth_methods
                    .iter()
                    .any(|m| m == "client_secret_basic" || m == "client_secret_post") =>
        {
            Check::fail(
                NAME,
                detail,
                "the provider accepts neither client_secret_basic nor client_secret_post: \
                 enable one for the client",
            )
        }
        _ => Check::pass(NAME, detail),
    }
}

async fn check_redirect(s: &Settings, m: Option<&Metadata>) -> Check {
    const NAME: &str = "redirect";
    if s.auth_mode != AuthMode::Pkce {
        return Check::pass(NAME, format!("not used by {}", s.auth_mode));
    }
    let uri = m
        .and_then(|m| m.redirect_uri.clone())
        .or_else(|| s.redirect_uri.clone())
        .unwrap_or_else(|| flyte_auth::pkce::DEFAULT_REDIRECT_URI.to_string());
    let authority = uri
        .strip_prefix("http://")
        .and_then(|r| r.split('/').next())
        .unwrap_or_default();
    let Some((host, port)) = split_host_port(authority, 80) else {
        return Check::fail(
            NAME,
            format!("the redirect URI {uri} is not http://<loopback host>:<port>/<path>"),
            "set admin.redirectUri to a loopback URI registered for the client, such as \
             http://localhost:53593/callback",
        );
    };
    // `localhost` must resolve to loopback addresses only.
    match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::lookup_host(("localhost", 0))).await {
        Ok(Ok(addrs)) => {
            let addrs: Vec<_> = addrs.collect();
            if addrs.is_empty() || addrs.iter().any(|a| !a.ip().is_loopback()) {
                return Check::fail(
                    NAME,
                    format!("localhost resolves to {addrs:?}, not only loopback addresses"),
                    "put `127.0.0.1 localhost` and `::1 localhost` in /etc/hosts",
                );
            }
        }
        _ => {
            return Check::fail(
                NAME,
                "localhost does not resolve",
                "put `127.0.0.1 localhost` in /etc/hosts",
            );
        }
    }
    let ip = match host.as_str() {
        "localhost" => "127.0.0.1".to_string(),
        other => other.to_string(),
    };
    match tokio::net::TcpListener::bind((ip.as_str(), port)).await {
        Ok(_) if port == 0 => Check::pass(
            NAME,
            format!("{uri}: any free port; localhost resolves to loopback"),
        ),
        Ok(_) => Check::pass(
            NAME,
            format!("{uri}: port {port} is free; localhost resolves to loopback"),
        ),
        Err(e) => Check::fail(
            NAME,
            format!("{uri}: cannot listen on {ip}:{port}: {e}"),
            format!(
                "another program (or another login) uses port {port}: stop it, or set \
                 admin.redirectUri to another port registered for the client"
            ),
        ),
    }
}

async fn check_store(s: &Settings, store: Store) -> Check {
    const NAME: &str = "store";
    let interactive = matches!(s.auth_mode, AuthMode::Pkce | AuthMode::DeviceFlow);
    let key = s
        .endpoint
        .clone()
        .or_else(|| s.token_url.clone())
        .unwrap_or_else(|| "flyte-auth".to_string());
    match store {
        Store::Memory => Check::pass(
            NAME,
            "memory only (--store memory): nothing is kept between runs",
        ),
        Store::Keyring if !interactive => Check::pass(
            NAME,
            format!("not used by {} (a service keeps no login)", s.auth_mode),
        ),
        Store::Keyring => {
            let store = flyte_auth::keyring::KeyringStore::new();
            match tokio::time::timeout(STORE_TIMEOUT, store.load(&key)).await {
                Ok(Ok(found)) => Check::pass(
                    NAME,
                    format!(
                        "OS keyring reachable and unlocked; {}",
                        if found.is_some() {
                            "credentials stored for this endpoint"
                        } else {
                            "no credentials stored yet"
                        }
                    ),
                ),
                Ok(Err(e)) => Check::fail(
                    NAME,
                    e.to_string(),
                    "start or unlock the keyring (gnome-keyring, KeePassXC), or keep \
                     credentials in a file only you can read: --store file \
                     (FLYTE_AUTH_STORE=file)",
                ),
                Err(_) => Check::fail(
                    NAME,
                    format!(
                        "the keyring did not answer within {} s",
                        STORE_TIMEOUT.as_secs()
                    ),
                    "the Secret Service is wedged or waiting for a password prompt: unlock \
                     it, restart it, or use --store file",
                ),
            }
        }
        Store::File => match flyte_auth::keyring::FileStore::new() {
            Err(e) => Check::fail(
                NAME,
                e.to_string(),
                "set HOME (or XDG_STATE_HOME) to a directory you own",
            ),
            Ok(store) => {
                let path = store.path_for(&key);
                if let Some(problem) = permissions_problem(store.dir(), &path) {
                    return Check::fail(NAME, problem.0, problem.1);
                }
                match tokio::time::timeout(STORE_TIMEOUT, store.load(&key)).await {
                    Ok(Ok(found)) => Check::pass(
                        NAME,
                        format!(
                            "file store {}: {}",
                            store.dir().display(),
                            if found.is_some() {
                                "credentials stored, readable only by you"
                            } else {
                                "no credentials stored yet"
                            }
                        ),
                    ),
                    Ok(Err(e)) => Check::fail(
                        NAME,
                        e.to_string(),
                        format!("check the permissions of {}", store.dir().display()),
                    ),
                    Err(_) => Check::fail(
                        NAME,
                        "the credentials file did not answer in time",
                        "check the file system holding it",
                    ),
                }
            }
        },
    }
}

/// A credentials directory or file that others can read, with the fix.
#[cfg(unix)]
fn permissions_problem(dir: &Path, file: &Path) -> Option<(String, String)> {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .map(|m| m.permissions().mode() & 0o777)
    };
    if let Some(m) = mode(file).filter(|m| m & 0o077 != 0) {
        return Some((
            format!(
                "{} has mode {m:o}: other users can read the credentials",
                file.display()
            ),
            format!("chmod 600 {}", file.display()),
        ));
    }
    if let Some(m) = mode(dir).filter(|m| m & 0o077 != 0) {
        return Some((
            format!("{} has mode {m:o}: other users can list it", dir.display()),
            format!("chmod 700 {}", dir.display()),
        ));
    }
    None
}

#[cfg(not(unix))]
fn permissions_problem(_dir: &Path, _file: &Path) -> Option<(String, String)> {
    None
}

async fn check_token(s: &Settings, options: &FromConfigOptions) -> Check {
    const NAME: &str = "token";
    // Doctor never opens a browser or starts a device login.
    let options = options.clone().interactive(false);
    let configured = match flyte_auth::from_config(s, &options) {
        Ok(c) => c,
        Err(e) => {
            return Check::fail(NAME, e.to_string(), "fix the configuration named above");
        }
    };
    let creds =
        match tokio::time::timeout(TOKEN_TIMEOUT, configured.authenticator.credentials()).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                let fix = if e.is_interaction_required() {
                    "run `flyte-auth login` first"
                } else {
                    match e.kind() {
                        ErrorKind::OAuth | ErrorKind::AccessDenied => {
                            "the provider refused: check clientId, the client secret, scopes \
                             and audience against the client registered at the provider"
                        }
                        ErrorKind::Transport | ErrorKind::Timeout => {
                            "check the network path to the token endpoint"
                        }
                        ErrorKind::CommandFailed => "run the configured command by hand and fix it",
                        _ => "see the error above",
                    }
                };
                return Check::fail(NAME, e.to_string(), fix);
            }
            Err(_) => {
                return Check::fail(
                    NAME,
                    format!("no token within {} s", TOKEN_TIMEOUT.as_secs()),
                    "check the network path to the token endpoint",
                );
            }
        };
    Check::pass(NAME, describe_token(&creds, SystemTime::now()))
}

/// The token's decoded claims (`iss`, `aud`, `scope`, `exp`), never the token.
fn describe_token(creds: &flyte_auth::Credentials, now: SystemTime) -> String {
    let exp = creds
        .expires_at()
        .map(|t| format!("{} ({})", timefmt::rfc3339(t), timefmt::relative(t, now)))
        .unwrap_or_else(|| "unknown".to_string());
    let Some(claims) = flyte_auth::jwt_claims(creds.access_token().secret()) else {
        return format!("an opaque access token (not a JWT); exp {exp}");
    };
    let show = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(String::from)
                    .unwrap_or_else(|| x.to_string())
            })
            .collect::<Vec<_>>()
            .join(" "),
        Some(other) => other.to_string(),
        None => "-".to_string(),
    };
    format!(
        "a JWT access token: iss {}, aud {}, scope {}, exp {exp}",
        show(claims.get("iss")),
        show(claims.get("aud")),
        show(claims.get("scope").or_else(|| claims.get("scp"))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port() {
        assert_eq!(
            split_host_port("h:8080", 443),
            Some(("h".to_string(), 8080))
        );
        assert_eq!(split_host_port("h", 443), Some(("h".to_string(), 443)));
        assert_eq!(
            split_host_port("[::1]:53593", 80),
            Some(("::1".to_string(), 53593))
        );
        assert_eq!(split_host_port("", 80), None);
        assert_eq!(split_host_port("h:x", 80), None);
    }

    #[test]
    fn claims_are_shown_never_the_token() {
        use base64::Engine as _;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let jwt = format!(
            "{}.{}.sig-planted-secret",
            b64(r#"{"alg":"none"}"#),
            b64(r#"{"iss":"https://idp","aud":["a","b"],"scope":"openid all","exp":1}"#)
        );
        let creds = flyte_auth::Credentials::new(flyte_auth::AccessToken::new(jwt.clone()));
        let d = describe_token(&creds, SystemTime::now());
        assert!(
            d.contains("iss https://idp")
                && d.contains("aud a b")
                && d.contains("scope openid all"),
            "{d}"
        );
        assert!(
            !d.contains("sig-planted-secret") && !d.contains(&jwt),
            "{d}"
        );
        let opaque =
            flyte_auth::Credentials::new(flyte_auth::AccessToken::new("opaque-planted-secret"));
        let d = describe_token(&opaque, SystemTime::now());
        assert!(d.starts_with("an opaque access token"), "{d}");
        assert!(!d.contains("opaque-planted-secret"));
    }
}
