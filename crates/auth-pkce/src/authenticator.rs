//! `PkceAuthenticator`: the browser login as a [`TokenSource`] under the shared token engine.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use auth_core::{
    AuthError, Credentials, FetchContext, RefreshToken, TokenEngine, TokenSource, async_trait,
};
/// A setting that [`PkceAuthenticatorBuilder::build`] refused (the one `BuildError` of the
/// HTTP flows).
pub use auth_oauth2::BuildError;
use auth_oauth2::{
    ClientSettings, ConfigResolver, FlowRules, OAuth2Client, check_endpoint, scope_param,
};
use tokio::task::JoinHandle;

use crate::browser::{BrowserLauncher, SystemBrowser, ensure_http};
use crate::pages::Pages;
use crate::paste::PasteInput;
use crate::pkce::State;
use crate::progress::LoginProgress;
use crate::request::{AuthorizationRequest, RESERVED_PARAMS, RedirectUri};
use crate::server::{CallbackServer, Expectation};
use auth_oauth2::pkce::PkceChallenge;

/// Flyte's default redirect URI for the browser login.
pub const DEFAULT_REDIRECT_URI: &str = "http://localhost:53593/callback";

/// How long a browser login may take by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// How long the browser launcher may take before the flow stops waiting for it (the login
/// itself goes on: the URL was printed).
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Shows the authorization URL to the person logging in.
pub(crate) type UrlPrompt = Arc<dyn Fn(&str) + Send + Sync>;

/// Log in through the browser: the OAuth 2.0 authorization code flow with PKCE (RFC 7636)
/// and a loopback redirect (RFC 8252).
///
/// Implements [`Authenticator`](auth_core::Authenticator) on the shared `auth_core` token engine, which keeps the
/// credentials, refreshes them with the refresh token before any browser opens, never opens a
/// browser because of a network error, runs one login at a time however many callers ask, and
/// persists the credentials in the configured [`CredentialStore`](auth_core::CredentialStore).
///
/// Each login attempt uses a fresh verifier and `state`, listens on the redirect URI's
/// loopback address, prints the authorization URL on stderr and opens it in the browser, and
/// ends with a typed error on `?error=`, on a wrong issuer, or at the time limit.
///
/// Built with [`PkceAuthenticator::builder`].
pub struct PkceAuthenticator {
    engine: TokenEngine,
}

impl fmt::Debug for PkceAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PkceAuthenticator")
            .field("engine", &self.engine)
            .finish()
    }
}

impl PkceAuthenticator {
    /// A builder with no settings.
    pub fn builder() -> PkceAuthenticatorBuilder {
        PkceAuthenticatorBuilder::default()
    }

    /// The token engine (cached credentials, options).
    pub fn engine(&self) -> &TokenEngine {
        &self.engine
    }
}

auth_core::forward_authenticator!(PkceAuthenticator => engine);

/// Settings of a [`PkceAuthenticator`].
///
/// Required: a client id (here or from the config store), and the endpoints, either static
/// ([`authorization_endpoint`](Self::authorization_endpoint) and
/// [`token_endpoint`](Self::token_endpoint)) or from a [`config_store`](Self::config_store)
/// (`auth_oauth2::FlyteDiscovery`, `auth_oauth2::IssuerDiscovery`, static).
///
/// Precedence: a value given here beats the config store's (client id, redirect URI,
/// scopes, audience, header key, issuer; a static endpoint beats the discovered one), which
/// beats the default (redirect URI `http://localhost:53593/callback`, header key
/// `authorization`).
#[derive(Default)]
pub struct PkceAuthenticatorBuilder {
    settings: ClientSettings,
    authorization_endpoint: Option<String>,
    issuer: Option<String>,
    require_iss: Option<bool>,
    redirect_uri: Option<String>,
    extra_params: Vec<(String, String)>,
    interactive: Option<bool>,
    launcher: Option<Arc<dyn BrowserLauncher>>,
    no_browser: bool,
    prompt: Option<UrlPrompt>,
    timeout: Option<Duration>,
    pages: Option<Pages>,
    progress: Option<Arc<dyn LoginProgress>>,
    paste: Option<Arc<dyn PasteInput>>,
}

impl fmt::Debug for PkceAuthenticatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PkceAuthenticatorBuilder")
            .field("settings", &self.settings)
            .field("authorization_endpoint", &self.authorization_endpoint)
            .field("issuer", &self.issuer)
            .field("require_iss", &self.require_iss)
            .field("redirect_uri", &self.redirect_uri)
            .field("extra_params", &self.extra_params)
            .field("interactive", &self.interactive)
            .field("launcher", &self.launcher)
            .field("no_browser", &self.no_browser)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// What the browser login requires of the shared settings: a public client needs no secret.
const RULES: FlowRules = FlowRules {
    client_id_hint: "set it with .client_id(..) (Flyte config: clientId) or use a config store \
                     that discovers it",
    client_auth_required: None,
    endpoint_hint: "set .authorization_endpoint(..) and .token_endpoint(..) (Flyte config: \
                    authorizationEndpoint, tokenUrl) or .config_store(..) (for example \
                    auth_oauth2::FlyteDiscovery)",
    store_key_prefix: "authorization-code",
};

impl PkceAuthenticatorBuilder {
    auth_oauth2::client_settings_setters!(settings);

    /// A static authorization endpoint. Beats the config store's.
    pub fn authorization_endpoint(mut self, url: impl Into<String>) -> Self {
        self.authorization_endpoint = Some(url.into()).filter(|u| !u.trim().is_empty());
        self
    }

    /// The issuer that login responses must name when they carry `iss` (RFC 9207). Beats the
    /// config store's.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into()).filter(|i| !i.trim().is_empty());
        self
    }

    /// Whether login responses must carry the `iss` parameter (RFC 9207), overriding the
    /// config store's
    /// [`authorization_response_iss_parameter_supported`](auth_core::ClientConfig::authorization_response_iss_parameter_supported).
    ///
    /// Without this call, `iss` is required exactly when the configuration says the provider
    /// advertises it (`auth_oauth2::FlyteDiscovery` and `auth_oauth2::IssuerDiscovery` read it
    /// from the metadata document). `true` requires it from any provider; `false` accepts a
    /// response without it even from one that advertises it. A response that carries `iss`
    /// is checked either way when the issuer is known.
    pub fn require_issuer_in_response(mut self, require: bool) -> Self {
        self.require_iss = Some(require);
        self
    }

    /// The redirect URI registered for the client: `http` on `localhost`, `127.0.0.1` or
    /// `[::1]`, with a port (0 for any free port, where the provider allows it). Default:
    /// the config store's, else `http://localhost:53593/callback`.
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(uri.into()).filter(|u| !u.trim().is_empty());
        self
    }

    /// An extra parameter of the authorization request (for example `prompt=login` or
    /// `login_hint=...`). The parameters this flow sets itself cannot be overridden.
    pub fn extra_param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_params.push((key.into(), value.into()));
        self
    }

    /// Whether a browser login may start (default: yes). Off, a needed login returns an
    /// `InteractionRequired` error instead; stored credentials and refreshes still work.
    pub fn interactive(mut self, interactive: bool) -> Self {
        self.interactive = Some(interactive);
        self
    }

    /// How the browser is opened. Default: [`SystemBrowser`] (`$BROWSER`, then the platform's
    /// default browser).
    pub fn launcher(mut self, launcher: impl BrowserLauncher + 'static) -> Self {
        self.launcher = Some(Arc::new(launcher));
        self
    }

    /// Only prints the URL, without opening a browser (`--no-browser`): for remote sessions.
    pub fn no_browser(mut self, no_browser: bool) -> Self {
        self.no_browser = no_browser;
        self
    }

    /// Replaces how the authorization URL is shown. Default: on stderr, as
    /// `Open this URL in your browser to log in: <url>`.
    pub fn prompt(mut self, prompt: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.prompt = Some(Arc::new(prompt));
        self
    }

    /// Told the time left, once a second, while the browser login is pending (a terminal
    /// spinner, for one). None by default.
    pub fn progress(mut self, progress: Arc<dyn LoginProgress>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Also accepts the login response pasted on the terminal (the address the browser ended
    /// on, or the code), raced against the loopback redirect: for a browser on another
    /// machine (a remote shell). The pasted address is checked as a redirect is.
    pub fn paste_input(mut self, input: Arc<dyn PasteInput>) -> Self {
        self.paste = Some(input);
        self
    }

    /// How long a browser login may take, from the moment the URL is shown (default: 2 min).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The pages shown in the browser at the end of the login.
    pub fn pages(mut self, pages: Pages) -> Self {
        self.pages = Some(pages);
        self
    }

    /// Checks the settings and builds the authenticator. Needs no runtime; a login runs on
    /// the tokio runtime of the caller of `credentials()`.
    pub fn build(self) -> Result<PkceAuthenticator, BuildError> {
        let invalid = |m: String| BuildError::invalid(AuthError::configuration(m));
        let discovered = self.settings.config_store.is_some();
        if !discovered
            && self
                .settings
                .client_id
                .as_deref()
                .is_none_or(|c| c.trim().is_empty())
        {
            return Err(BuildError::missing("client id", RULES.client_id_hint));
        }
        if !discovered && self.authorization_endpoint.is_none() {
            return Err(BuildError::missing(
                "authorization and token endpoints or client config store",
                RULES.endpoint_hint,
            ));
        }
        if let Some(url) = &self.authorization_endpoint {
            check_endpoint("authorization endpoint", url, self.settings.allow_http)
                .map_err(BuildError::invalid)?;
        }
        if let Some(uri) = &self.redirect_uri {
            RedirectUri::parse(uri).map_err(invalid)?;
        }
        if let Some((k, _)) = self
            .extra_params
            .iter()
            .find(|(k, _)| RESERVED_PARAMS.contains(&k.as_str()))
        {
            return Err(invalid(format!(
                "the extra authorization parameter {k:?} is set by the flow itself; \
                 use the builder's own setting for it"
            )));
        }
        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        if timeout.is_zero() {
            return Err(invalid(
                "the login time limit must be more than zero".to_string(),
            ));
        }
        let built = self.settings.build(RULES)?;
        let mut options = built.engine_options;
        if let Some(interactive) = self.interactive {
            options = options.with_interactive(interactive);
        }
        let source = Arc::new(PkceSource {
            config: built.resolver,
            authorization_endpoint: self.authorization_endpoint.map(|u| u.trim().to_string()),
            issuer: self.issuer,
            require_iss: self.require_iss,
            redirect_uri: self.redirect_uri,
            extra_params: self.extra_params,
            launcher: self.launcher.unwrap_or_else(|| Arc::new(SystemBrowser)),
            no_browser: self.no_browser,
            prompt: self.prompt.unwrap_or_else(|| Arc::new(print_to_stderr)),
            timeout,
            pages: Arc::new(self.pages.unwrap_or_default()),
            progress: self.progress,
            paste: self.paste,
        });
        let engine = TokenEngine::new(source as Arc<dyn TokenSource>, options);
        Ok(PkceAuthenticator { engine })
    }
}

fn print_to_stderr(url: &str) {
    eprintln!("Open this URL in your browser to log in: {url}");
}

/// Everything one login or refresh needs, resolved from the builder and the config store.
#[derive(Debug)]
struct Resolved<'a> {
    client: &'a OAuth2Client,
    token_endpoint: String,
    authorization_endpoint: Option<String>,
    redirect: RedirectUri,
    scopes: Vec<String>,
    audience: Option<String>,
    issuer: Option<String>,
    /// Whether the login response must carry `iss`: the builder's override, else the config.
    require_iss: bool,
}

/// The acquisition: a browser login, or the refresh grant.
struct PkceSource {
    /// Client id, token endpoint, scopes, audience, header key and client authentication, by
    /// the HTTP flows' one precedence rule.
    config: ConfigResolver,
    authorization_endpoint: Option<String>,
    issuer: Option<String>,
    require_iss: Option<bool>,
    redirect_uri: Option<String>,
    extra_params: Vec<(String, String)>,
    launcher: Arc<dyn BrowserLauncher>,
    no_browser: bool,
    prompt: UrlPrompt,
    timeout: Duration,
    pages: Arc<Pages>,
    progress: Option<Arc<dyn LoginProgress>>,
    paste: Option<Arc<dyn PasteInput>>,
}

impl fmt::Debug for PkceSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PkceSource")
            .field("config", &self.config)
            .field("authorization_endpoint", &self.authorization_endpoint)
            .field("redirect_uri", &self.redirect_uri)
            .field("launcher", &self.launcher)
            .field("no_browser", &self.no_browser)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl PkceSource {
    async fn resolve(&self) -> Result<Resolved<'_>, AuthError> {
        let resolved = self.config.resolve().await?;
        let config = resolved.config;
        let redirect_text = self
            .redirect_uri
            .clone()
            .or(config.redirect_uri)
            .unwrap_or_else(|| DEFAULT_REDIRECT_URI.to_string());
        let redirect = RedirectUri::parse(&redirect_text).map_err(AuthError::configuration)?;
        Ok(Resolved {
            client: resolved.client,
            token_endpoint: config.token_endpoint,
            authorization_endpoint: self
                .authorization_endpoint
                .clone()
                .or(config.authorization_endpoint),
            redirect,
            scopes: config.scopes,
            audience: config.audience,
            issuer: self.issuer.clone().or(config.issuer),
            require_iss: self
                .require_iss
                .unwrap_or(config.authorization_response_iss_parameter_supported),
        })
    }

    /// One browser login: a fresh verifier and state, the loopback server, the URL, the wait.
    async fn login(&self) -> Result<Credentials, AuthError> {
        let r = self.resolve().await?;
        let authorization_endpoint = r.authorization_endpoint.as_deref().ok_or_else(|| {
            AuthError::configuration(
                "no authorization endpoint is configured or discovered, so a browser login \
                 cannot start: set authorizationEndpoint, or use the device flow",
            )
        })?;
        check_endpoint(
            "authorization endpoint",
            authorization_endpoint,
            self.config.allow_http(),
        )?;
        let server = CallbackServer::bind(&r.redirect)
            .await?
            .with_paste(self.paste.clone());
        let redirect_uri = server.redirect_uri().to_string();
        let pkce = PkceChallenge::new_random()?;
        let state = State::new_random()?;
        // OpenID Connect Core §3.1.2.1: providers that follow it strictly refuse an `openid`
        // request without a nonce; the id_token must then carry the same one.
        let nonce = match r.scopes.iter().any(|s| s == "openid") {
            true => Some(State::new_random()?),
            false => None,
        };
        let url = AuthorizationRequest {
            endpoint: authorization_endpoint,
            client_id: r.client.client_id(),
            redirect_uri: &redirect_uri,
            scope: scope_param(&r.scopes),
            audience: r.audience.as_deref(),
            state: state.secret(),
            nonce: nonce.as_ref().map(State::secret),
            code_challenge: pkce.challenge(),
            extra: &self.extra_params,
        }
        .url()
        .map_err(AuthError::configuration)?;
        tracing::info!(
            redirect_uri = %redirect_uri,
            listening = ?server.local_addrs(),
            timeout_secs = self.timeout.as_secs(),
            "waiting for the browser login"
        );
        let deadline = tokio::time::Instant::now() + self.timeout;
        (self.prompt)(url.as_str());
        let launch = self.launch(url.as_str());

        let expect = Expectation {
            state,
            issuer: r.issuer.clone(),
            require_iss: r.require_iss,
        };
        let client = r.client.clone();
        let token_endpoint = r.token_endpoint.clone();
        let verifier = pkce.verifier().clone();
        let exchange = move |code| async move {
            let credentials = client
                .exchange_code(&token_endpoint, &code, &redirect_uri, &verifier)
                .await
                .map_err(|e| e.context("exchanging the authorization code"))?;
            if let Some(nonce) = &nonce {
                check_nonce(&credentials, nonce)?;
            }
            Ok(credentials)
        };
        let wait = server.run(expect, Arc::clone(&self.pages), deadline, exchange);
        let wait = crate::progress::report(wait, deadline, self.progress.clone());
        let result = drive_with_launch(wait, launch).await;
        match &result {
            Ok(_) => tracing::info!("browser login complete"),
            Err(e) => tracing::debug!(error = %e, "browser login failed"),
        }
        result
    }

    /// Starts the launcher on a blocking thread (it may run a text-mode browser), unless
    /// `no_browser` or the URL is not http(s).
    fn launch(&self, url: &str) -> Option<JoinHandle<Result<(), AuthError>>> {
        if self.no_browser {
            return None;
        }
        if let Err(e) = ensure_http(url) {
            tracing::warn!(error = %e, "not opening the browser");
            return None;
        }
        tracing::debug!("opening the browser");
        let launcher = Arc::clone(&self.launcher);
        let url = url.to_string();
        Some(tokio::task::spawn_blocking(move || launcher.open(&url)))
    }
}

/// Checks the id_token's `nonce` claim (read without signature verification, as the expiry
/// is) against the one sent. A readable id_token without it, or with another, is refused: it
/// was not issued for this login. An id_token that is not a readable JWT (encrypted) is
/// accepted with a warning; no id_token at all needs no check.
fn check_nonce(credentials: &Credentials, nonce: &State) -> Result<(), AuthError> {
    let Some(id_token) = credentials.id_token() else {
        return Ok(());
    };
    let Some(claims) = auth_core::jwt_claims(id_token.secret()) else {
        tracing::warn!("the id_token is not a readable JWT; its nonce cannot be checked");
        return Ok(());
    };
    match claims.get("nonce").and_then(|n| n.as_str()) {
        Some(found) if nonce.matches(found) => Ok(()),
        found => Err(AuthError::invalid_response(format!(
            "the id_token {} the nonce this login sent, so it was not issued for this login \
             (a replayed or mixed-up response); log in again",
            if found.is_some() {
                "carries another nonce than"
            } else {
                "lacks"
            }
        ))),
    }
}

/// Waits for the login while the launcher runs; a launcher that fails or hangs only logs.
async fn drive_with_launch<W>(
    wait: W,
    mut launch: Option<JoinHandle<Result<(), AuthError>>>,
) -> W::Output
where
    W: Future,
{
    tokio::pin!(wait);
    let launch_timer = tokio::time::sleep(LAUNCH_TIMEOUT);
    tokio::pin!(launch_timer);
    loop {
        tokio::select! {
            result = &mut wait => return result,
            joined = join_launch(&mut launch), if launch.is_some() => {
                launch = None;
                match joined {
                    Ok(Ok(())) => tracing::debug!("the browser was opened"),
                    // One line for people (the launcher's own error is detail, for -v).
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, "the browser launcher failed");
                        tracing::warn!("could not open a browser; open the URL above");
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "the browser launcher panicked");
                        tracing::warn!("could not open a browser; open the URL above");
                    }
                }
            }
            () = &mut launch_timer, if launch.is_some() => {
                launch = None;
                tracing::warn!("the browser launcher did not return in time; still waiting for the login");
            }
        }
    }
}

async fn join_launch(
    launch: &mut Option<JoinHandle<Result<(), AuthError>>>,
) -> Result<Result<(), AuthError>, tokio::task::JoinError> {
    match launch {
        Some(handle) => handle.await,
        None => std::future::pending().await,
    }
}

#[async_trait]
impl TokenSource for PkceSource {
    async fn fetch(&self, _context: &FetchContext<'_>) -> Result<Credentials, AuthError> {
        self.login().await
    }

    /// The refresh grant asks for the scopes that were granted (RFC 6749 §6), not the ones
    /// configured: a provider may grant fewer than requested (`offline_access` without
    /// consent, for one), and asking for more on refresh is an `invalid_scope` error. When
    /// the granted scopes are unknown (a login stored by another tool), no `scope` is sent,
    /// which means "as originally granted".
    async fn refresh(
        &self,
        refresh_token: &RefreshToken,
        previous: &Credentials,
    ) -> Result<Option<Credentials>, AuthError> {
        let r = self.resolve().await?;
        tracing::debug!(token_endpoint = %r.token_endpoint, "refreshing with the refresh token");
        r.client
            .refresh(&r.token_endpoint, refresh_token, previous.scopes())
            .await
            .map(Some)
    }

    fn is_interactive(&self) -> bool {
        true
    }

    fn header_key(&self) -> Option<String> {
        self.config.header_key()
    }

    async fn prepare(&self) -> Result<(), AuthError> {
        self.resolve().await.map(|_| ())
    }
}

#[cfg(test)]
mod tests;
