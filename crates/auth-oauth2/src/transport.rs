//! The HTTP transport: one reqwest client per configuration, timeouts, capped bodies, retries
//! of transient failures where a resend is safe, and the proxy-authorization hook.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use auth_core::{AuthError, Authenticator, ErrorKind, OAuthErrorResponse, RetryPolicy};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

/// The largest response body read, in bytes (1 MiB). Larger answers are refused unread.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// How many redirects a discovery `GET` follows. Token endpoints follow none.
const MAX_GET_REDIRECTS: usize = 5;

mod options;
pub use options::TransportOptions;
use options::{ProxyAuth, proxy};

/// The HTTP client every flow uses: one reqwest client per configuration. Cloning is cheap
/// and shares the connection pool.
#[derive(Clone, Debug)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: OnceLock<reqwest::Client>,
    options: TransportOptions,
    timeout: Duration,
    connect_timeout: Duration,
    retry: RetryPolicy,
    proxy_auth: Option<ProxyAuth>,
}

/// Whether a request may be sent again after it may have reached the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resend {
    /// Idempotent (`GET`) or harmless to repeat (client credentials): transient failures
    /// are retried.
    Safe,
    /// Spends a single-use grant: only retried when it provably never left this process;
    /// every error is returned as not retryable.
    SingleUse,
}

/// A request as the protocol code describes it.
pub(crate) struct Request<'a> {
    pub(crate) method: Method,
    pub(crate) url: &'a Url,
    /// A secret `Authorization` header value (client authentication), marked sensitive.
    pub(crate) authorization: Option<HeaderValue>,
    /// An `application/x-www-form-urlencoded` body (cloning it for a retry shares it).
    pub(crate) form: Option<bytes::Bytes>,
    /// An `application/json` body (Connect unary calls).
    pub(crate) json: Option<&'a str>,
    pub(crate) resend: Resend,
    /// Prepended to error messages: "token request to https://...".
    pub(crate) what: &'a str,
}

/// A 2xx or 3xx answer, its body read (capped).
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

/// Why one attempt failed, which decides whether another one is made.
enum Failure {
    /// The request never left this process (connect error): always safe to resend.
    NotSent(AuthError),
    /// The request may have reached the server: reset, 5xx, 429.
    Transient(AuthError),
    /// A time limit ran out: not resent (the bound is the caller's to keep).
    Timeout(AuthError),
    /// Anything else: a definitive answer.
    Final(AuthError),
}

impl HttpClient {
    /// Builds the client. Fails with a configuration error when a CA bundle cannot be read
    /// or parsed, or the proxy URL is malformed.
    pub fn new(options: &TransportOptions) -> Result<Self, AuthError> {
        // Check now what the user can get wrong (CA bundle, proxy URL, proxy host), so a bad
        // setting fails at construction; build the client itself on first use. Loading and
        // parsing the platform's root certificates costs milliseconds, and a process that
        // finds a valid token in its store (`flyte-auth token`) never needs the network.
        crate::tls::extra_roots(options)?;
        proxy(options)?;
        let proxy_auth = match &options.proxy_authorization {
            Some((host, auth)) => Some(ProxyAuth::parse(host, Arc::clone(auth))?),
            None => None,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                client: OnceLock::new(),
                options: options.clone(),
                timeout: options.timeout,
                connect_timeout: options.connect_timeout,
                retry: options.retry,
                proxy_auth,
            }),
        })
    }

    /// The reqwest client, built on first use.
    fn client(&self) -> Result<&reqwest::Client, AuthError> {
        if let Some(c) = self.inner.client.get() {
            return Ok(c);
        }
        let options = &self.inner.options;
        let tls = crate::tls::client_config(options)?;
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(options.connect_timeout)
            .timeout(options.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(options.user_agent.clone())
            .pool_idle_timeout(Duration::from_secs(60));
        if let Some(proxy) = proxy(options)? {
            builder = builder.proxy(proxy);
        }
        let client = builder.build().map_err(|e| {
            AuthError::configuration("the HTTP client could not be set up").with_source(e)
        })?;
        // Two first requests at once may both build one; the first stored wins.
        Ok(self.inner.client.get_or_init(|| client))
    }

    /// `GET`s a JSON document: follows up to five redirects (never from https to http),
    /// caps the body at 1 MiB and retries transient failures.
    pub async fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, AuthError> {
        let mut url = parse_url(url, "URL")?;
        for _ in 0..=MAX_GET_REDIRECTS {
            let what = format!("request to {url}");
            let request = Request {
                method: Method::GET,
                url: &url,
                authorization: None,
                form: None,
                json: None,
                resend: Resend::Safe,
                what: &what,
            };
            let response = self.execute(&request).await?;
            if response.status.is_redirection() {
                let next = redirect_target(&url, &response)?;
                if url.scheme() == "https" && next.scheme() != "https" {
                    return Err(AuthError::configuration(format!(
                        "{what}: the server redirected from https to {}; refusing to downgrade",
                        next.scheme()
                    ))
                    .with_status(response.status.as_u16()));
                }
                tracing::debug!(from = %url, to = %next, "following a redirect");
                url = next;
                continue;
            }
            return serde_json::from_slice(&response.body).map_err(|e| {
                AuthError::invalid_response(format!(
                    "{what}: the answer is not the expected JSON document: {e}"
                ))
            });
        }
        Err(AuthError::configuration(format!(
            "request to {url}: more than {MAX_GET_REDIRECTS} redirects; configure the final URL"
        )))
    }

    /// `POST`s a JSON body and reads a JSON answer, as a Connect unary call does
    /// (`Content-Type: application/json`). Only for calls without side effects (discovery):
    /// transient failures are retried. Follows no redirect; caps the body at 1 MiB.
    pub async fn post_json<T: DeserializeOwned>(
        &self,
        url: &str,
        body: &str,
    ) -> Result<T, AuthError> {
        let url = parse_url(url, "URL")?;
        let what = format!("request to {url}");
        let request = Request {
            method: Method::POST,
            url: &url,
            authorization: None,
            form: None,
            json: Some(body),
            resend: Resend::Safe,
            what: &what,
        };
        let response = self.execute(&request).await?;
        if response.status.is_redirection() {
            return Err(AuthError::configuration(format!(
                "{what}: the server answered with a redirect ({}); configure the final URL",
                response.status
            ))
            .with_status(response.status.as_u16()));
        }
        serde_json::from_slice(&response.body).map_err(|e| {
            AuthError::invalid_response(format!(
                "{what}: the answer is not the expected JSON document: {e}"
            ))
        })
    }

    /// The options the client was built from.
    pub fn options(&self) -> &TransportOptions {
        &self.inner.options
    }

    /// The configured total timeout of one request.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// Sends `request`, retrying where that is safe. Returns 2xx and 3xx answers; every other
    /// status becomes an error (an OAuth error when the body is one).
    pub(crate) async fn execute(&self, request: &Request<'_>) -> Result<Response, AuthError> {
        let policy = self.inner.retry;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let (error, may_retry) = match self.attempt(request).await {
                Ok(response) => return Ok(response),
                Err(Failure::NotSent(e)) => (e, true),
                Err(Failure::Transient(e)) => (e, request.resend == Resend::Safe),
                Err(Failure::Timeout(e) | Failure::Final(e)) => (e, false),
            };
            if may_retry && attempt < policy.max_attempts {
                let wait = policy.backoff(attempt - 1).max(
                    error
                        .retry_after()
                        .unwrap_or_default()
                        .min(policy.max_backoff),
                );
                tracing::info!(
                    error = %error,
                    attempt,
                    wait_ms = wait.as_millis() as u64,
                    "request failed; retrying"
                );
                tokio::time::sleep(wait).await;
                continue;
            }
            let error = if may_retry && attempt > 1 {
                // This layer already retried: the token engine must not multiply the attempts.
                error
                    .context(format!("gave up after {attempt} attempts"))
                    .with_retryable(false)
            } else if request.resend == Resend::SingleUse {
                error.with_retryable(false)
            } else {
                error
            };
            return Err(error);
        }
    }

    async fn attempt(&self, request: &Request<'_>) -> Result<Response, Failure> {
        let url = request.url;
        let client = self.client().map_err(Failure::Final)?;
        let mut builder = client
            .request(request.method.clone(), url.clone())
            .header(header::ACCEPT, "application/json");
        if let Some(value) = &request.authorization {
            builder = builder.header(header::AUTHORIZATION, value.clone());
        }
        if let Some(value) = self
            .proxy_authorization(url)
            .await
            .map_err(Failure::Final)?
        {
            builder = builder.header(header::PROXY_AUTHORIZATION, value);
        }
        if let Some(form) = &request.form {
            builder = builder
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form.clone());
        }
        if let Some(json) = request.json {
            builder = builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(json.to_string());
        }
        let mut response = builder
            .send()
            .await
            .map_err(|e| self.send_failure(request, e))?;
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        let body = read_capped(&mut response).await.map_err(|e| match e {
            BodyError::TooLarge(size) => Failure::Final(
                AuthError::invalid_response(format!(
                    "{}: the answer is larger than 1 MiB{}; refusing to read it",
                    request.what,
                    size.map(|s| format!(" ({s} bytes)")).unwrap_or_default()
                ))
                .with_status(status.as_u16()),
            ),
            BodyError::Read(e) => self.send_failure(request, e),
        })?;
        if status.is_success() || status.is_redirection() {
            return Ok(Response {
                status,
                headers,
                body,
            });
        }
        let error = status_error(request.what, status, &headers, &body);
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            Err(Failure::Transient(error))
        } else {
            Err(Failure::Final(error))
        }
    }

    fn send_failure(&self, request: &Request<'_>, e: reqwest::Error) -> Failure {
        let origin = request.url.origin().ascii_serialization();
        if let Some(tls) = tls_error(&e) {
            // A refused certificate is not transient: say what to do instead of retrying.
            return Failure::Final(
                AuthError::transport(format!(
                    "{}: the TLS handshake with {origin} failed: {tls}; if the server uses a \
                     private CA, add its certificate (caCertFilePath / with_ca_cert_file)",
                    request.what
                ))
                .with_retryable(false)
                .with_source(e.without_url()),
            );
        }
        if e.is_connect() {
            let message = if e.is_timeout() {
                format!(
                    "{}: could not connect to {origin} within {}",
                    request.what,
                    fmt_duration(self.inner.connect_timeout)
                )
            } else {
                format!("{}: could not connect to {origin}", request.what)
            };
            let kind = if e.is_timeout() {
                ErrorKind::Timeout
            } else {
                ErrorKind::Transport
            };
            Failure::NotSent(AuthError::new(kind, message).with_source(e.without_url()))
        } else if e.is_timeout() {
            Failure::Timeout(
                AuthError::timeout(format!(
                    "no answer from {} within {}",
                    request.url,
                    fmt_duration(self.inner.timeout)
                ))
                .with_source(e.without_url()),
            )
        } else {
            Failure::Transient(
                AuthError::transport(format!("{}: the connection failed", request.what))
                    .with_source(e.without_url()),
            )
        }
    }

    async fn proxy_authorization(&self, url: &Url) -> Result<Option<HeaderValue>, AuthError> {
        let Some(proxy) = &self.inner.proxy_auth else {
            return Ok(None);
        };
        if !proxy.applies_to(url) {
            return Ok(None);
        }
        let credentials = tokio::time::timeout(self.inner.timeout, proxy.auth.credentials())
            .await
            .map_err(|_| {
                AuthError::timeout(format!(
                    "no proxy-authorization token within {}",
                    fmt_duration(self.inner.timeout)
                ))
            })?
            .map_err(|e| e.context("getting the proxy-authorization token"))?;
        let value = proxy.auth.header_value(&credentials);
        let mut value = HeaderValue::from_str(value.secret()).map_err(|_| {
            AuthError::invalid_response(
                "the proxy-authorization token contains characters not allowed in a header",
            )
        })?;
        value.set_sensitive(true);
        Ok(Some(value))
    }
}

/// The rustls error behind a failed request, if the TLS handshake failed.
fn tls_error(e: &reqwest::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        // An io::Error hides the error it wraps from `source()`: unwrap it explicitly.
        source = match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

enum BodyError {
    TooLarge(Option<u64>),
    Read(reqwest::Error),
}

/// Reads the body chunk by chunk and stops at [`MAX_BODY_BYTES`], so a huge answer is never
/// buffered.
async fn read_capped(response: &mut reqwest::Response) -> Result<Vec<u8>, BodyError> {
    if let Some(len) = response
        .content_length()
        .filter(|len| *len > MAX_BODY_BYTES as u64)
    {
        return Err(BodyError::TooLarge(Some(len)));
    }
    let mut body = Vec::with_capacity(response.content_length().unwrap_or(0) as usize);
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(BodyError::TooLarge(None));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The first ~200 characters of a body, control characters removed, whitespace collapsed
/// and markup tags dropped, for error messages about non-JSON answers.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]);
    let mut without_tags = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                without_tags.push(' ');
            }
            _ if !in_tag => without_tags.push(c),
            _ => {}
        }
    }
    sanitize(&without_tags, 200)
}

/// Server-provided text made safe to print on a terminal: terminal escape sequences
/// (`ESC [ ... letter`) are dropped whole, other control characters (C0, DEL, C1) and Unicode
/// bidirectional overrides become spaces, whitespace is collapsed, and the result is cut at
/// `max_chars` characters (with `...`).
///
/// For anything an identity provider sends that ends up in a prompt or an error message: a
/// device flow's verification URI and user code, a redirect's `error_description`. A
/// malicious or broken provider could otherwise move the cursor, rewrite what the user
/// reads, set the window title or write to the clipboard.
///
/// ```
/// use auth_oauth2::sanitize_for_terminal;
///
/// assert_eq!(sanitize_for_terminal("WDJB-\u{1b}[2J\u{1b}[31mMJHT\u{7}", 100), "WDJB- MJHT");
/// assert_eq!(sanitize_for_terminal("a\u{202e}b", 100), "a b");
/// assert_eq!(sanitize_for_terminal("abcdef", 3), "abc...");
/// ```
pub fn sanitize_for_terminal(text: &str, max_chars: usize) -> String {
    auth_core::text::sanitize_for_terminal(text, max_chars)
}

/// Removes control characters, collapses whitespace and cuts at `max` characters.
pub(crate) fn sanitize(text: &str, max: usize) -> String {
    auth_core::text::sanitize_for_terminal(text, max)
}

fn redirect_target(from: &Url, response: &Response) -> Result<Url, AuthError> {
    let location = response
        .headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            AuthError::invalid_response(format!(
                "request to {from}: a redirect without a Location header"
            ))
            .with_status(response.status.as_u16())
        })?;
    from.join(location).map_err(|e| {
        AuthError::invalid_response(format!(
            "request to {from}: the redirect target is not a URL"
        ))
        .with_status(response.status.as_u16())
        .with_source(e)
    })
}

/// The host a redirect points to, for error messages.
pub(crate) fn location_host(from: &Url, response: &Response) -> String {
    redirect_target(from, response)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "an unknown host".to_string())
}

/// Parses an endpoint URL; only http and https.
pub(crate) fn parse_url(url: &str, what: &str) -> Result<Url, AuthError> {
    let parsed = Url::parse(url.trim()).map_err(|e| {
        AuthError::configuration(format!("the {what} {url:?} is not a valid URL")).with_source(e)
    })?;
    match parsed.scheme() {
        "http" | "https" => Ok(parsed),
        other => Err(AuthError::configuration(format!(
            "the {what} {url:?} uses the scheme {other:?}: use https (or http for local tests)"
        ))),
    }
}

/// `30s`, `1.5s`, `250ms`.
pub(crate) fn fmt_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

fn redact_userinfo(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("redacted");
            let _ = u.set_password(None);
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "[unparsable]".to_string(),
    }
}

mod errors;
#[cfg(test)]
mod tests;

pub(crate) use errors::{oauth_error, oauth_error_from, status_error};
