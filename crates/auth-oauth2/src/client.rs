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

mod form;
pub use form::scope_param;
use form::{
    basic, clean_scopes, form_encode, is_client_auth_refusal, push_scope_and_audience, quote,
};
mod response;
#[cfg(test)]
mod tests;

pub(crate) use response::TokenBody;
pub(crate) use response::{
    capped, parse_device_authorization, parse_json, parse_token_response, value_seconds,
};
