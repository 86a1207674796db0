//! The token endpoint grants, the device authorization request and client authentication.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use auth_core::{
    AccessToken, AuthError, AuthorizationCode, ClientSecret, Credentials, DeviceCode, IdToken,
    PkceCodeVerifier, RefreshToken,
};
use base64::Engine as _;
use reqwest::Method;
use serde_json::{Map, Value};
use url::Url;
use url::form_urlencoded;
use zeroize::Zeroizing;

use crate::assertion::{ClientAssertion, JWT_BEARER_ASSERTION_TYPE};
use crate::transport::{
    HttpClient, Request, Resend, Response, location_host, oauth_error, oauth_error_from, parse_url,
};

/// The grant type of the device flow (RFC 8628 §3.4).
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The grant type of token exchange (RFC 8693 §2.1).
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// The longest device code lifetime read from a device authorization response: one day.
///
/// Providers issue codes for minutes (RFC 8628 suggests 10 to 30); a larger `expires_in`
/// (a typo, `1e30`, `u64::MAX`) is read as one day, with a debug event, so that no deadline
/// computed from it can overflow.
pub const MAX_DEVICE_CODE_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// The longest polling interval read from a server, in a device authorization response or
/// in a `slow_down` error: one hour. A larger `interval` is read as one hour, with a debug
/// event.
pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// How the client authenticates to the token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
#[repr(u8)]
pub enum ClientAuthMethod {
    /// `client_secret_basic`: HTTP Basic with the client id and secret each
    /// form-urlencoded first (RFC 6749 §2.3.1).
    #[default]
    Basic,
    /// `client_secret_post`: `client_id` and `client_secret` in the request body.
    Post,
    /// HTTP Basic as flytekit sends it: the client id as it is, only the secret
    /// percent-encoded. For identity providers set up against flytekit.
    BasicSecretOnlyEncoded,
    /// A public client: `client_id` in the body, no secret.
    None,
}

impl ClientAuthMethod {
    /// The RFC 8414 name (`client_secret_basic`, `client_secret_post`, `none`).
    pub fn name(self) -> &'static str {
        match self {
            ClientAuthMethod::Basic | ClientAuthMethod::BasicSecretOnlyEncoded => {
                "client_secret_basic"
            }
            ClientAuthMethod::Post => "client_secret_post",
            ClientAuthMethod::None => "none",
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            1 => ClientAuthMethod::Post,
            2 => ClientAuthMethod::BasicSecretOnlyEncoded,
            3 => ClientAuthMethod::None,
            _ => ClientAuthMethod::Basic,
        }
    }
}

/// What the client knows about how to authenticate: the method in use and whether it may
/// still switch from Basic to post. Shared by the clones of one [`OAuth2Client`].
#[derive(Debug)]
struct AuthChoice {
    /// The [`ClientAuthMethod`] in use, as `u8`.
    current: AtomicU8,
    /// `NEGOTIATE_*`: how the method may still change.
    negotiate: AtomicU8,
    /// The `Authorization` values of the two Basic methods, encoded once on first use
    /// (`[Basic, BasicSecretOnlyEncoded]`), marked sensitive.
    basic: [OnceLock<reqwest::header::HeaderValue>; 2],
}

/// The method was configured: it never changes.
const NEGOTIATE_OFF: u8 = 0;
/// Basic now; when Basic is refused, try post once and keep whichever worked.
const NEGOTIATE_FALLBACK: u8 = 1;
/// The provider's methods are known and leave no choice.
const NEGOTIATE_DONE: u8 = 2;

impl AuthChoice {
    fn new(method: ClientAuthMethod, negotiate: u8) -> Arc<Self> {
        Arc::new(Self {
            current: AtomicU8::new(method as u8),
            negotiate: AtomicU8::new(negotiate),
            basic: [OnceLock::new(), OnceLock::new()],
        })
    }

    fn current(&self) -> ClientAuthMethod {
        ClientAuthMethod::from_u8(self.current.load(Ordering::Acquire))
    }
}

/// A client of one identity provider: the client id, its secret and how it is sent.
///
/// Every method takes the endpoint it calls, so one client serves static and discovered
/// configurations alike.
#[derive(Clone, Debug)]
pub struct OAuth2Client {
    http: HttpClient,
    client_id: Arc<str>,
    secret: Option<ClientSecret>,
    auth: Arc<AuthChoice>,
    assertion: Option<Arc<ClientAssertion>>,
    /// The token endpoints, parsed once: most clients call one endpoint for their whole life.
    endpoint: Arc<EndpointCache>,
}

/// The parsed token endpoints of a client and its clones.
#[derive(Debug, Default)]
struct EndpointCache {
    /// The first endpoint called: read with no lock and no reference count, so concurrent
    /// requests on several threads write no shared cache line here.
    first: OnceLock<ParsedEndpoint>,
    /// The last other endpoint (discovery moved it, or the client serves two).
    other: Mutex<Option<Arc<ParsedEndpoint>>>,
}

/// A token endpoint as parsed once: the URL and the prefix of its error messages.
#[derive(Debug)]
struct ParsedEndpoint {
    raw: Box<str>,
    url: Url,
    what: Box<str>,
}

impl ParsedEndpoint {
    fn parse(token_endpoint: &str) -> Result<Self, AuthError> {
        let url = parse_url(token_endpoint, "token endpoint")?;
        Ok(Self {
            raw: token_endpoint.into(),
            what: format!("token request to {url}").into(),
            url,
        })
    }
}

/// The answer to a device authorization request (RFC 8628 §3.2).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DeviceAuthorization {
    /// The device code, sent back when polling the token endpoint.
    pub device_code: DeviceCode,
    /// The code the person types at the verification URI.
    pub user_code: String,
    /// Where the person goes (`verification_uri`, or Google's `verification_url`).
    pub verification_uri: String,
    /// The verification URI with the user code filled in, if the provider sends one.
    pub verification_uri_complete: Option<String>,
    /// How long the device code stays valid, at most [`MAX_DEVICE_CODE_LIFETIME`].
    pub expires_in: Duration,
    /// The least time between two polls, if the provider says; at most
    /// [`MAX_POLL_INTERVAL`].
    pub interval: Option<Duration>,
}

impl OAuth2Client {
    /// A public client (no secret) identified by `client_id`.
    pub fn new(http: HttpClient, client_id: impl Into<String>) -> Self {
        Self {
            http,
            client_id: Arc::from(client_id.into()),
            secret: None,
            auth: AuthChoice::new(ClientAuthMethod::None, NEGOTIATE_OFF),
            endpoint: Arc::default(),
            assertion: None,
        }
    }

    /// Sets the client secret and how it is sent, always. Without a secret the client is
    /// public whatever `method` says.
    pub fn with_client_secret(
        mut self,
        secret: Option<ClientSecret>,
        method: ClientAuthMethod,
    ) -> Self {
        self.secret = secret;
        self.auth = AuthChoice::new(method, NEGOTIATE_OFF);
        self.assertion = None;
        self
    }

    /// Authenticates with a JWT assertion instead of a secret (RFC 7523 §2.2:
    /// `client_assertion_type` and `client_assertion` in the body, with `client_id`): a
    /// `private_key_jwt` signed for each request, or a federated token file read for each
    /// request. A secret set before is dropped.
    pub fn with_client_assertion(mut self, assertion: ClientAssertion) -> Self {
        self.secret = None;
        self.auth = AuthChoice::new(ClientAuthMethod::None, NEGOTIATE_OFF);
        self.assertion = Some(Arc::new(assertion));
        self
    }

    /// Sets the client secret and lets the client choose how to send it: `client_secret_basic`
    /// unless the provider advertises only `client_secret_post` (see
    /// [`use_advertised_methods`](Self::use_advertised_methods)). When Basic is refused
    /// (HTTP 401 or `invalid_client`) and post is advertised or nothing is known, the request
    /// is sent once more with post, and whichever worked is used from then on: some providers
    /// do not form-decode Basic credentials (RFC 6749 §2.3.1), so a secret with `@ : + / %`
    /// or a space only works in the body.
    pub fn with_negotiated_client_secret(mut self, secret: ClientSecret) -> Self {
        self.secret = Some(secret);
        self.auth = AuthChoice::new(ClientAuthMethod::Basic, NEGOTIATE_FALLBACK);
        self.assertion = None;
        self
    }

    /// Tells a negotiating client which methods the token endpoint advertises
    /// (`token_endpoint_auth_methods_supported`, from discovery). Only post: post from now
    /// on; only Basic: no fallback; both, or nothing known: Basic with the fallback. Does
    /// nothing for a configured method, or once the fallback has decided.
    pub fn use_advertised_methods(&self, methods: &[String]) {
        let has = |name: &str| methods.iter().any(|m| m.trim().eq_ignore_ascii_case(name));
        let (basic, post) = (has("client_secret_basic"), has("client_secret_post"));
        let next = match (basic, post) {
            (false, true) => Some((ClientAuthMethod::Post, NEGOTIATE_DONE)),
            (true, false) => Some((ClientAuthMethod::Basic, NEGOTIATE_DONE)),
            _ => None,
        };
        if let Some((method, state)) = next
            && self
                .auth
                .negotiate
                .compare_exchange(
                    NEGOTIATE_FALLBACK,
                    state,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
        {
            tracing::debug!(
                method = method.name(),
                "client authentication chosen from the provider's metadata"
            );
            self.auth.current.store(method as u8, Ordering::Release);
        }
    }

    /// How the client authenticates now.
    pub fn auth_method(&self) -> ClientAuthMethod {
        match self.secret {
            Some(_) => self.auth.current(),
            None => ClientAuthMethod::None,
        }
    }

    /// The HTTP client.
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The `client_credentials` grant. Transient failures are retried (the grant may be
    /// repeated).
    pub async fn client_credentials(
        &self,
        token_endpoint: &str,
        scopes: &[String],
        audience: Option<&str>,
    ) -> Result<Credentials, AuthError> {
        let scope = scope_param(scopes);
        let mut params = vec![("grant_type", "client_credentials")];
        push_scope_and_audience(&mut params, scope.as_deref(), audience);
        self.token_request(token_endpoint, params, Resend::Safe, scopes)
            .await
    }

    /// The `refresh_token` grant. A refresh token may be rotated, so a request that may have
    /// reached the server is never resent and its error is not retryable.
    pub async fn refresh(
        &self,
        token_endpoint: &str,
        refresh_token: &RefreshToken,
        scopes: &[String],
    ) -> Result<Credentials, AuthError> {
        let scope = scope_param(scopes);
        let mut params = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.secret()),
        ];
        push_scope_and_audience(&mut params, scope.as_deref(), None);
        self.token_request(token_endpoint, params, Resend::SingleUse, scopes)
            .await
    }

    /// The `authorization_code` grant with its PKCE `code_verifier`. Single use.
    pub async fn exchange_code(
        &self,
        token_endpoint: &str,
        code: &AuthorizationCode,
        redirect_uri: &str,
        verifier: &PkceCodeVerifier,
    ) -> Result<Credentials, AuthError> {
        let params = vec![
            ("grant_type", "authorization_code"),
            ("code", code.secret()),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier.secret()),
        ];
        self.token_request(token_endpoint, params, Resend::SingleUse, &[])
            .await
    }

    /// The device authorization request (RFC 8628 §3.1). `extra` adds provider-specific
    /// parameters.
    pub async fn device_authorization(
        &self,
        endpoint: &str,
        scopes: &[String],
        audience: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Result<DeviceAuthorization, AuthError> {
        let url = parse_url(endpoint, "device authorization endpoint")?;
        let scope = scope_param(scopes);
        let mut params = Vec::new();
        push_scope_and_audience(&mut params, scope.as_deref(), audience);
        params.extend_from_slice(extra);
        let what = format!("device authorization request to {url}");
        let response = self.post_form(&url, params, Resend::Safe, &what).await?;
        let map: Map<String, Value> = parse_json(&response, &what)?;
        if let Some(oauth) = oauth_error_from(&map) {
            tracing::debug!(error = %oauth.error, "a 2xx answer carries an OAuth error");
            return Err(AuthError::oauth(oauth, Some(response.status.as_u16())).context(&what));
        }
        parse_device_authorization(map).map_err(|e| e.context(&what))
    }

    /// One poll of the token endpoint with the device code (RFC 8628 §3.4).
    /// `authorization_pending` and `slow_down` come back as errors with
    /// [`oauth_error_code`](AuthError::oauth_error_code) set. Never retried here.
    pub async fn poll_device_token(
        &self,
        token_endpoint: &str,
        device_code: &DeviceCode,
        extra: &[(&str, &str)],
    ) -> Result<Credentials, AuthError> {
        let mut params = vec![
            ("grant_type", DEVICE_CODE_GRANT),
            ("device_code", device_code.secret()),
        ];
        params.extend_from_slice(extra);
        self.token_request(token_endpoint, params, Resend::SingleUse, &[])
            .await
    }

    /// An endpoint other than the first, parsed (and its error prefix formatted) only when
    /// it changed.
    fn other_endpoint(&self, token_endpoint: &str) -> Result<Arc<ParsedEndpoint>, AuthError> {
        let mut cached = self
            .endpoint
            .other
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(e) = cached.as_ref().filter(|e| &*e.raw == token_endpoint) {
            return Ok(Arc::clone(e));
        }
        let parsed = Arc::new(ParsedEndpoint::parse(token_endpoint)?);
        *cached = Some(Arc::clone(&parsed));
        Ok(parsed)
    }

    /// Any other grant at the token endpoint: an extension grant (RFC 6749 §4.5) such as
    /// RFC 8693 token exchange ([`TOKEN_EXCHANGE_GRANT`]). Sends `grant_type`, the `scope`
    /// built from `scopes`, `params`, and this client's authentication.
    ///
    /// With `repeatable`, transient failures are retried (the grant may be sent twice);
    /// without it, a request that may have reached the server is never resent and its error is
    /// not retryable, as for single-use grants.
    pub async fn extension_grant(
        &self,
        token_endpoint: &str,
        grant_type: &str,
        scopes: &[String],
        params: &[(&str, &str)],
        repeatable: bool,
    ) -> Result<Credentials, AuthError> {
        let scope = scope_param(scopes);
        let mut all = vec![("grant_type", grant_type)];
        push_scope_and_audience(&mut all, scope.as_deref(), None);
        all.extend_from_slice(params);
        let resend = if repeatable {
            Resend::Safe
        } else {
            Resend::SingleUse
        };
        self.token_request(token_endpoint, all, resend, scopes)
            .await
    }

    async fn token_request(
        &self,
        token_endpoint: &str,
        params: Vec<(&str, &str)>,
        resend: Resend,
        requested_scopes: &[String],
    ) -> Result<Credentials, AuthError> {
        let cache = &self.endpoint;
        if cache.first.get().is_none() {
            // Two first requests at once may both parse; the first stored wins.
            let _ = cache.first.set(ParsedEndpoint::parse(token_endpoint)?);
        }
        let other;
        let endpoint = match cache.first.get().filter(|e| &*e.raw == token_endpoint) {
            Some(first) => first,
            None => {
                other = self.other_endpoint(token_endpoint)?;
                &*other
            }
        };
        let (url, what) = (&endpoint.url, &*endpoint.what);
        let result = match self.post_form(url, params, resend, what).await {
            Ok(response) => parse_json::<TokenBody>(&response, what).and_then(|body| {
                parse_token_response(
                    body,
                    response.status.as_u16(),
                    requested_scopes,
                    SystemTime::now(),
                )
                .map_err(|e| e.context(what))
            }),
            Err(e) => Err(e),
        };
        match resend {
            Resend::SingleUse => result.map_err(|e| e.with_retryable(false)),
            Resend::Safe => result,
        }
    }

    /// POSTs a form with client authentication and returns the 2xx answer. A redirect is an
    /// error naming where it pointed.
    pub(crate) async fn post_form(
        &self,
        url: &Url,
        params: Vec<(&str, &str)>,
        resend: Resend,
        what: &str,
    ) -> Result<Response, AuthError> {
        let method = self.auth_method();
        let first = self
            .post_form_with(method, url, params.clone(), resend, what)
            .await;
        let Err(refused) = first else { return first };
        if !is_client_auth_refusal(&refused) {
            return Err(match refused.status() {
                Some(403) => self.refusal_context(refused, method),
                _ => refused,
            });
        }
        // Refused at client authentication, before the grant was looked at: the request may
        // be sent again, with post, once for the life of this client.
        let may_fall_back = method == ClientAuthMethod::Basic
            && self
                .auth
                .negotiate
                .compare_exchange(
                    NEGOTIATE_FALLBACK,
                    NEGOTIATE_DONE,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok();
        if !may_fall_back {
            return Err(self.refusal_context(refused, method));
        }
        tracing::info!(
            client_id = %self.client_id,
            "client_secret_basic was refused; trying client_secret_post once"
        );
        match self
            .post_form_with(ClientAuthMethod::Post, url, params, resend, what)
            .await
        {
            Ok(response) => {
                self.auth
                    .current
                    .store(ClientAuthMethod::Post as u8, Ordering::Release);
                tracing::info!(client_id = %self.client_id, "client_secret_post worked; using it from now on");
                Ok(response)
            }
            Err(e) if is_client_auth_refusal(&e) => Err(self
                .refusal_context(e, ClientAuthMethod::Post)
                .context("client_secret_basic was refused too")),
            Err(e) => Err(e),
        }
    }

    /// Names the client, the method and what to check in a refusal of client authentication.
    /// Never the secret.
    fn refusal_context(&self, e: AuthError, method: ClientAuthMethod) -> AuthError {
        if self.secret.is_none() {
            return e;
        }
        let other = match method {
            ClientAuthMethod::Post => "client_secret_basic",
            _ => "client_secret_post",
        };
        e.context(format!(
            "the identity provider refused client `{}` authenticating with {}: check the client \
             id and secret, and whether the provider expects {other} \
             (admin.clientAuthMethod or FLYTE_CREDENTIALS_CLIENT_AUTH_METHOD)",
            self.client_id,
            method.name()
        ))
    }

    async fn post_form_with(
        &self,
        method: ClientAuthMethod,
        url: &Url,
        params: Vec<(&str, &str)>,
        resend: Resend,
        what: &str,
    ) -> Result<Response, AuthError> {
        // The assertion lives in this call: let `params` borrow it.
        let mut params: Vec<(&str, &str)> = params;
        let assertion = match &self.assertion {
            Some(a) => Some(a.assertion(&self.client_id, url.as_str()).await?),
            None => None,
        };
        let authorization = match &assertion {
            Some(jwt) => {
                params.push(("client_id", &self.client_id));
                params.push(("client_assertion_type", JWT_BEARER_ASSERTION_TYPE));
                params.push(("client_assertion", jwt.as_str()));
                None
            }
            None => self.client_authentication(method, &mut params)?,
        };
        // The body moves into the request (retries share it), so no second copy is made.
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&params)
            .finish();
        let request = Request {
            method: Method::POST,
            url,
            authorization,
            form: Some(body.into()),
            json: None,
            resend,
            what,
        };
        let response = self.http.execute(&request).await?;
        if response.status.is_redirection() {
            return Err(AuthError::configuration(format!(
                "{what}: the server redirected to {}; token endpoints are never followed: \
                 configure the final token URL",
                location_host(url, &response)
            ))
            .with_status(response.status.as_u16()));
        }
        Ok(response)
    }

    /// Adds the client authentication to `params`, or returns the `Authorization` value
    /// (encoded once per method and kept, marked sensitive).
    fn client_authentication<'a>(
        &'a self,
        method: ClientAuthMethod,
        params: &mut Vec<(&'a str, &'a str)>,
    ) -> Result<Option<reqwest::header::HeaderValue>, AuthError> {
        let secret = match &self.secret {
            Some(secret) if method != ClientAuthMethod::None => secret,
            _ => {
                params.push(("client_id", &self.client_id));
                return Ok(None);
            }
        };
        let slot = match method {
            ClientAuthMethod::Post => {
                params.push(("client_id", &self.client_id));
                params.push(("client_secret", secret.secret()));
                return Ok(None);
            }
            ClientAuthMethod::BasicSecretOnlyEncoded => &self.auth.basic[1],
            _ => &self.auth.basic[0],
        };
        if let Some(value) = slot.get() {
            return Ok(Some(value.clone()));
        }
        let pair = match method {
            ClientAuthMethod::BasicSecretOnlyEncoded => Zeroizing::new(format!(
                "{}:{}",
                self.client_id,
                quote(secret.secret()).as_str()
            )),
            _ => Zeroizing::new(format!(
                "{}:{}",
                form_encode(&self.client_id).as_str(),
                form_encode(secret.secret()).as_str()
            )),
        };
        let mut value = reqwest::header::HeaderValue::from_str(&basic(&pair)).map_err(|_| {
            AuthError::configuration(
                "the client credentials contain characters not allowed in a header",
            )
        })?;
        value.set_sensitive(true);
        Ok(Some(slot.get_or_init(|| value).clone()))
    }
}

/// Whether the token endpoint refused the client's authentication: HTTP 401 (with or
/// without a body) or `invalid_client` (RFC 6749 §5.2).
fn is_client_auth_refusal(e: &AuthError) -> bool {
    e.status() == Some(401) || e.oauth_error_code() == Some("invalid_client")
}

fn basic(pair: &str) -> Zeroizing<String> {
    let mut value = Zeroizing::new(String::from("Basic "));
    base64::engine::general_purpose::STANDARD.encode_string(pair.as_bytes(), &mut value);
    value
}

/// `application/x-www-form-urlencoded` encoding of one value (RFC 6749 §2.3.1, Appendix B).
fn form_encode(value: &str) -> Zeroizing<String> {
    Zeroizing::new(form_urlencoded::byte_serialize(value.as_bytes()).collect())
}

/// Python's `urllib.parse.quote(value)` (safe characters: unreserved and `/`), as flytekit
/// encodes the secret.
fn quote(value: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(value.len()));
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn push_scope_and_audience<'a>(
    params: &mut Vec<(&'a str, &'a str)>,
    scope: Option<&'a str>,
    audience: Option<&'a str>,
) {
    if let Some(scope) = scope {
        params.push(("scope", scope));
    }
    if let Some(audience) = audience.map(str::trim).filter(|a| !a.is_empty()) {
        params.push(("audience", audience));
    }
}

/// The `scope` parameter: the scopes space-joined, or `None` when there are none.
///
/// Entries are cleaned the way flytekit does: a stringified list such as `['offline', 'all']`
/// becomes `offline all`, an entry holding several space-separated scopes is split, and
/// duplicates are dropped.
///
/// ```
/// use auth_oauth2::scope_param;
///
/// let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
/// assert_eq!(scope_param(&s(&["offline", "all"])).as_deref(), Some("offline all"));
/// assert_eq!(scope_param(&s(&["['offline', 'all']"])).as_deref(), Some("offline all"));
/// assert_eq!(scope_param(&s(&[])), None);
/// ```
pub fn scope_param(scopes: &[String]) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    for entry in scopes {
        let entry = entry.trim();
        let list = entry.strip_prefix('[').and_then(|e| e.strip_suffix(']'));
        let pieces: Box<dyn Iterator<Item = &str>> = match list {
            Some(inner) => {
                tracing::debug!("cleaning up a stringified scope list");
                Box::new(inner.split(|c: char| c == ',' || c.is_whitespace()))
            }
            None => Box::new(entry.split_whitespace()),
        };
        for piece in pieces {
            let piece = piece.trim().trim_matches(|c| c == '\'' || c == '"').trim();
            if !piece.is_empty() && !out.contains(&piece) {
                out.push(piece);
            }
        }
    }
    if out.is_empty() {
        None
    } else {
        Some(out.join(" "))
    }
}

/// The scopes `scope_param` would send, as a list.
fn clean_scopes(scopes: &[String]) -> Vec<String> {
    scope_param(scopes)
        .map(|s| s.split(' ').map(str::to_string).collect())
        .unwrap_or_default()
}

/// A whole number of seconds from a JSON number or a numeric string (a lenient quirk).
fn seconds(value: &Lenient, member: &str) -> Option<u64> {
    match value {
        Lenient::Num(n) => n.as_u64().or_else(|| {
            n.as_f64().filter(|f| f.is_finite() && *f >= 0.0).map(|f| {
                tracing::debug!(member, "a fractional number of seconds; rounding");
                f.round() as u64
            })
        }),
        Lenient::Str(s) => {
            let s = s.trim();
            let parsed = s.parse::<u64>().ok().or_else(|| {
                s.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite() && *f >= 0.0)
                    .map(|f| f.round() as u64)
            });
            if parsed.is_some() {
                tracing::debug!(member, "a number sent as a string; accepting it");
            }
            parsed
        }
        _ => None,
    }
}

/// [`seconds`] for a member of a JSON object.
pub(crate) fn value_seconds(value: &Value, member: &str) -> Option<u64> {
    let lenient = match value {
        Value::Number(n) => Lenient::Num(n.clone()),
        Value::String(s) => Lenient::Str(s.clone()),
        _ => Lenient::Other,
    };
    seconds(&lenient, member)
}

/// `secs` as a duration of at most `cap`: a server's absurd value (`1e30`, `u64::MAX`) must
/// not overflow the deadlines computed from it.
pub(crate) fn capped(secs: u64, cap: Duration, member: &str) -> Duration {
    let duration = Duration::from_secs(secs);
    if duration > cap {
        tracing::debug!(
            member,
            secs,
            cap_secs = cap.as_secs(),
            "the server's value is implausibly large; using the cap"
        );
        cap
    } else {
        duration
    }
}

fn take_string(map: &mut Map<String, Value>, key: &str) -> Option<String> {
    match map.remove(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s),
        _ => None,
    }
}

/// Parses a 2xx JSON body. Errors give the position only: the body may hold a token.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    response: &Response,
    what: &str,
) -> Result<T, AuthError> {
    serde_json::from_slice(&response.body).map_err(|e| {
        let problem = match e.classify() {
            serde_json::error::Category::Data => {
                "is JSON but not an object with the expected members"
            }
            _ => "is not valid JSON",
        };
        AuthError::invalid_response(format!(
            "{what}: the answer {problem} (line {}, column {})",
            e.line(),
            e.column()
        ))
        .with_status(response.status.as_u16())
    })
}

/// A JSON member read leniently: any type is accepted and the reader decides what it means.
#[derive(Debug)]
enum Lenient {
    Str(String),
    Num(serde_json::Number),
    List(Vec<String>),
    Other,
}

impl<'de> serde::Deserialize<'de> for Lenient {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Lenient;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E>(self, v: &str) -> Result<Lenient, E> {
                Ok(Lenient::Str(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Lenient, E> {
                Ok(Lenient::Str(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Lenient, E> {
                Ok(Lenient::Num(v.into()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Lenient, E> {
                Ok(Lenient::Num(v.into()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Lenient, E> {
                Ok(serde_json::Number::from_f64(v).map_or(Lenient::Other, Lenient::Num))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Lenient, E> {
                Ok(Lenient::Other)
            }
            fn visit_unit<E>(self) -> Result<Lenient, E> {
                Ok(Lenient::Other)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Lenient, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Lenient>()? {
                    if let Lenient::Str(s) = item {
                        items.push(s);
                    }
                }
                Ok(Lenient::List(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Lenient, A::Error> {
                while map
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Lenient::Other)
            }
        }
        d.deserialize_any(V)
    }
}

impl Lenient {
    fn into_string(self) -> Option<String> {
        match self {
            Lenient::Str(s) if !s.trim().is_empty() => Some(s),
            _ => None,
        }
    }
}

/// The members of a token response this crate reads; the others are ignored.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct TokenBody {
    access_token: Option<Lenient>,
    token_type: Option<Lenient>,
    expires_in: Option<Lenient>,
    expires_on: Option<Lenient>,
    refresh_token: Option<Lenient>,
    id_token: Option<Lenient>,
    scope: Option<Lenient>,
    error: Option<Lenient>,
    error_description: Option<Lenient>,
    error_uri: Option<Lenient>,
    interval: Option<Lenient>,
}

/// Credentials from a 2xx token response (or the OAuth error it carries).
///
/// Expiry: `expires_in` (number or numeric string), else `expires_on` (epoch seconds), else
/// the JWT `exp` of the access token. Scopes: the response's `scope`, else the requested ones.
pub(crate) fn parse_token_response(
    body: TokenBody,
    status: u16,
    requested_scopes: &[String],
    now: SystemTime,
) -> Result<Credentials, AuthError> {
    if let Some(oauth) = body.error.and_then(Lenient::into_string).and_then(|code| {
        oauth_error(
            &code,
            body.error_description
                .and_then(Lenient::into_string)
                .as_deref(),
            body.error_uri.and_then(Lenient::into_string).as_deref(),
            body.interval.as_ref().and_then(|v| seconds(v, "interval")),
        )
    }) {
        tracing::debug!(status, error = %oauth.error, "a 2xx answer carries an OAuth error");
        return Err(AuthError::oauth(oauth, Some(status)));
    }
    let access_token = match body.access_token {
        Some(Lenient::Str(s)) if !s.is_empty() => AccessToken::new(s),
        Some(_) => {
            return Err(AuthError::invalid_response(
                "the token response's `access_token` member is not a non-empty string",
            )
            .with_status(status));
        }
        None => {
            return Err(AuthError::invalid_response(
                "the token response has no `access_token` member",
            )
            .with_status(status));
        }
    };
    let token_type = match body.token_type.and_then(Lenient::into_string) {
        Some(t) => {
            if t != "Bearer" && t.eq_ignore_ascii_case("bearer") {
                tracing::debug!(token_type = %t, "token_type in another case; reading it as Bearer");
            }
            t
        }
        None => {
            tracing::debug!("the token response has no token_type; assuming Bearer");
            "Bearer".to_string()
        }
    };
    let mut credentials = Credentials::new(access_token)
        .with_token_type(token_type)
        .with_refresh_token(
            body.refresh_token
                .and_then(Lenient::into_string)
                .map(RefreshToken::new),
        )
        .with_id_token(
            body.id_token
                .and_then(Lenient::into_string)
                .map(IdToken::new),
        );
    let expires_in = body
        .expires_in
        .as_ref()
        .and_then(|v| seconds(v, "expires_in"));
    let expires_on = body
        .expires_on
        .as_ref()
        .and_then(|v| seconds(v, "expires_on"));
    credentials = match (expires_in, expires_on) {
        (Some(secs), _) => credentials.with_expiry_from(Some(secs), now),
        (None, Some(epoch)) => {
            tracing::debug!("expiry taken from expires_on");
            credentials
                .with_expires_at(SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(epoch)))
        }
        (None, None) => credentials.with_expiry_from(None, now),
    };
    let scopes: Vec<String> = match body.scope {
        Some(Lenient::Str(s)) => s.split_whitespace().map(str::to_string).collect(),
        Some(Lenient::List(items)) => {
            tracing::debug!("scope sent as a JSON array; accepting it");
            items
        }
        _ => Vec::new(),
    };
    let scopes = if scopes.is_empty() {
        clean_scopes(requested_scopes)
    } else {
        scopes
    };
    Ok(credentials.with_scopes(scopes))
}

pub(crate) fn parse_device_authorization(
    mut map: Map<String, Value>,
) -> Result<DeviceAuthorization, AuthError> {
    let device_code = take_string(&mut map, "device_code")
        .map(DeviceCode::new)
        .ok_or_else(|| AuthError::invalid_response("the answer has no `device_code` member"))?;
    let user_code = take_string(&mut map, "user_code")
        .ok_or_else(|| AuthError::invalid_response("the answer has no `user_code` member"))?;
    let verification_uri = match take_string(&mut map, "verification_uri") {
        Some(uri) => uri,
        None => {
            let uri = take_string(&mut map, "verification_url").ok_or_else(|| {
                AuthError::invalid_response("the answer has no `verification_uri` member")
            })?;
            tracing::debug!("verification_url instead of verification_uri; accepting it");
            uri
        }
    };
    let verification_uri_complete =
        take_string(&mut map, "verification_uri_complete").or_else(|| {
            let uri = take_string(&mut map, "verification_url_complete");
            if uri.is_some() {
                tracing::debug!("verification_url_complete instead of verification_uri_complete");
            }
            uri
        });
    let expires_in = match map
        .get("expires_in")
        .and_then(|v| value_seconds(v, "expires_in"))
    {
        Some(secs) => capped(secs, MAX_DEVICE_CODE_LIFETIME, "expires_in"),
        None => {
            tracing::debug!("the device authorization has no expires_in; assuming 10 minutes");
            Duration::from_secs(600)
        }
    };
    let interval = map
        .get("interval")
        .and_then(|v| value_seconds(v, "interval"))
        .map(|secs| capped(secs, MAX_POLL_INTERVAL, "interval"));
    Ok(DeviceAuthorization {
        device_code,
        user_code,
        verification_uri,
        verification_uri_complete,
        expires_in,
        interval,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn scope_cleanup() {
        assert_eq!(
            scope_param(&strings(&["['offline', 'all']"])).as_deref(),
            Some("offline all")
        );
        assert_eq!(
            scope_param(&strings(&["[\"a\",\"b\"]", "c"])).as_deref(),
            Some("a b c")
        );
        assert_eq!(
            scope_param(&strings(&["openid profile", "openid"])).as_deref(),
            Some("openid profile")
        );
        assert_eq!(scope_param(&strings(&["", "  "])), None);
        assert_eq!(scope_param(&strings(&["[]"])), None);
    }

    fn body(v: Value) -> TokenBody {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn token_response_quirks() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let c = parse_token_response(
            body(json!({"access_token": "at", "token_type": "bearer", "expires_in": "3600", "extra": {"x": [1]}})),
            200,
            &strings(&["all"]),
            now,
        )
        .unwrap();
        assert_eq!(c.token_type(), "Bearer");
        assert_eq!(c.expires_at(), Some(now + Duration::from_secs(3600)));
        assert_eq!(c.scopes(), ["all".to_string()]);

        let c = parse_token_response(
            body(json!({"access_token": "at", "expires_on": "5000", "scope": "a b", "expires_in": null})),
            200,
            &[],
            now,
        )
        .unwrap();
        assert_eq!(
            c.expires_at(),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(5000))
        );
        assert_eq!(c.scopes(), strings(&["a", "b"]));

        let c = parse_token_response(
            body(json!({"access_token": "at", "expires_in": 59.6, "scope": ["x", "y"]})),
            200,
            &[],
            now,
        )
        .unwrap();
        assert_eq!(c.expires_at(), Some(now + Duration::from_secs(60)));
        assert_eq!(c.scopes(), strings(&["x", "y"]));

        let e =
            parse_token_response(body(json!({"token_type": "Bearer"})), 200, &[], now).unwrap_err();
        assert_eq!(e.kind(), auth_core::ErrorKind::InvalidResponse);
        assert!(e.to_string().contains("`access_token`"), "{e}");

        let e = parse_token_response(body(json!({"access_token": 5})), 200, &[], now).unwrap_err();
        assert_eq!(e.kind(), auth_core::ErrorKind::InvalidResponse);

        let e = parse_token_response(
            body(json!({"error": "invalid_scope", "error_description": "no\u{7} such scope"})),
            200,
            &[],
            now,
        )
        .unwrap_err();
        assert_eq!(e.oauth_error_code(), Some("invalid_scope"));
        assert_eq!(
            e.oauth_error().and_then(|o| o.error_description.as_deref()),
            Some("no such scope")
        );
    }

    #[test]
    fn device_authorization_accepts_google_names() {
        let d = parse_device_authorization(obj(json!({
            "device_code": "dc", "user_code": "ABCD", "verification_url": "https://g/device",
            "expires_in": 1800, "interval": "5"
        })))
        .unwrap();
        assert_eq!(d.verification_uri, "https://g/device");
        assert_eq!(d.interval, Some(Duration::from_secs(5)));
        assert_eq!(d.expires_in, Duration::from_secs(1800));
        assert_eq!(format!("{:?}", d.device_code), "DeviceCode([redacted])");
    }

    #[test]
    fn huge_device_lifetimes_and_intervals_are_capped() {
        for (expires_in, interval) in [
            (json!(1e30), json!(9_999_999_999_999u64)),
            (json!(u64::MAX), json!("18446744073709551615")),
        ] {
            let d = parse_device_authorization(obj(json!({
                "device_code": "dc", "user_code": "ABCD", "verification_uri": "https://i/d",
                "expires_in": expires_in, "interval": interval
            })))
            .unwrap();
            assert_eq!(d.expires_in, MAX_DEVICE_CODE_LIFETIME);
            assert_eq!(d.interval, Some(MAX_POLL_INTERVAL));
        }
        let e = parse_token_response(
            body(json!({"error": "slow_down", "interval": 9_999_999_999_999u64})),
            200,
            &[],
            SystemTime::now(),
        )
        .unwrap_err();
        assert_eq!(
            e.oauth_error().and_then(|o| o.interval),
            Some(MAX_POLL_INTERVAL)
        );
    }

    #[test]
    fn client_secret_basic_encodes_both_parts() {
        let http = HttpClient::new(&crate::TransportOptions::new()).unwrap();
        let client = OAuth2Client::new(http, "my client").with_client_secret(
            Some(ClientSecret::new("p@ss:w+rd/% &=z")),
            ClientAuthMethod::Basic,
        );
        let mut params = Vec::new();
        let header = client
            .client_authentication(client.auth_method(), &mut params)
            .unwrap()
            .unwrap();
        let header = header.to_str().unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(header.strip_prefix("Basic ").unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            "my+client:p%40ss%3Aw%2Brd%2F%25+%26%3Dz"
        );
        assert!(params.is_empty());

        let flytekit = client.clone().with_client_secret(
            Some(ClientSecret::new("p@ss:w+rd/% &=z")),
            ClientAuthMethod::BasicSecretOnlyEncoded,
        );
        let header = flytekit
            .client_authentication(flytekit.auth_method(), &mut params)
            .unwrap()
            .unwrap();
        let header = header.to_str().unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(header.strip_prefix("Basic ").unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            "my client:p%40ss%3Aw%2Brd/%25%20%26%3Dz"
        );
    }
}
