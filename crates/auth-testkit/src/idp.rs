//! The project's real test identity provider, and helpers that play the user's part.
//!
//! The provider is `oidc-provider` (Node, OpenID Certified) configured in
//! `crates/auth-testkit/idp/server.mjs`; its clients, secrets, token lifetimes, extra routes and
//! knobs are listed in `crates/auth-testkit/idp/README.md`. In short:
//!
//! | client | authentication | grants | access token TTL |
//! |---|---|---|---|
//! | `flyte-cli` | none (public, native), PKCE S256 required | code, refresh, device | 3600 s |
//! | `flyte-cli-short` | as `flyte-cli` | code, refresh, device | 2 s |
//! | `device-slow` | as `flyte-cli`; first 2 pending polls answer `slow_down` | code, refresh, device | 3600 s |
//! | `flyte-cli-rotating` | as `flyte-cli`; every refresh rotates the refresh token, reuse revokes the grant | code, refresh, device | 20 s |
//! | `cc-basic` | `client_secret_basic`, secret `cc-basic-secret` | client_credentials | 3600 s |
//! | `cc-post` | `client_secret_post`, secret `cc-post-secret` | client_credentials | 3600 s |
//! | `cc-special` | `client_secret_basic`, secret `p@ss:w+rd/% &=z` | client_credentials | 3600 s |
//! | `cc-short` | `client_secret_basic`, secret `cc-short-secret` | client_credentials | 2 s |
//!
//! Public clients accept the redirect URIs `http://127.0.0.1/callback`,
//! `http://localhost/callback` and `http://[::1]/callback` on any port (RFC 8252 §7.3).
//!
//! - [`TestIdp`] starts a private provider (installing its npm packages on first use) and stops
//!   it on drop.
//! - [`shared_issuer`] / [`require_issuer`] read the provider that `cargo xtask test` runs for the
//!   whole test session (`FLYTE_AUTH_TEST_ISSUER`).
//! - [`stats`] / [`reset_stats`] read the provider's per-client request counters.
//! - [`play_browser`] and [`approve_device`] do what a person in a browser would do.
//!
//! The counters are per provider: tests that assert on them against a shared provider must use
//! client ids that no concurrent test uses, or start their own [`TestIdp`].

use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderValue, LOCATION};
use reqwest::redirect::Policy;
use serde::Deserialize;
use url::Url;

/// Environment variable holding the issuer of the provider shared by a whole test session.
pub const SHARED_ISSUER_ENV: &str = "FLYTE_AUTH_TEST_ISSUER";

/// Environment variable that overrides the provider's directory (default: the `idp/` directory
/// of this crate's source tree).
pub const IDP_DIR_ENV: &str = "FLYTE_AUTH_IDP_DIR";

/// How long [`TestIdp::start`] waits for the issuer line.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// How long `npm ci` may take on first use.
pub const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);

/// Timeout of every HTTP request the helpers make.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_REDIRECTS: usize = 20;
const BODY_EXCERPT: usize = 2048;
const STDERR_KEEP: usize = 64 * 1024;
const LOCK_DIR: &str = ".install.lock";
const STALE_LOCK: Duration = Duration::from_secs(600);

/// Errors of the launcher and the helpers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdpError {
    /// A local operation (spawning, reading a pipe, a lock directory) failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// `npm ci` failed or timed out.
    #[error("installing the test identity provider's npm packages failed: {0}")]
    Install(String),
    /// The provider did not print its issuer in time, or exited.
    #[error("the test identity provider did not start: {message}; its stderr: {stderr}")]
    Startup {
        /// What went wrong.
        message: String,
        /// The last part of the provider's stderr.
        stderr: String,
    },
    /// An HTTP request failed (connect, timeout, body).
    #[error("HTTP request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// A URL could not be parsed or resolved.
    #[error("invalid URL {url:?}: {message}")]
    Url {
        /// The offending text.
        url: String,
        /// Why.
        message: String,
    },
    /// A response was not what a well-behaved flow produces at this step.
    #[error("{context}: unexpected response from {url}: HTTP {status}: {body}")]
    UnexpectedResponse {
        /// The step.
        context: String,
        /// The URL that answered.
        url: String,
        /// Its status.
        status: u16,
        /// The start of its body.
        body: String,
    },
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> IdpError {
    let context = context.into();
    move |source| IdpError::Io { context, source }
}

fn url_err(url: &str, message: impl fmt::Display) -> IdpError {
    IdpError::Url {
        url: url.to_owned(),
        message: message.to_string(),
    }
}

fn excerpt(body: &str) -> String {
    if body.len() <= BODY_EXCERPT {
        return body.to_owned();
    }
    let mut end = BODY_EXCERPT;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &body[..end])
}

// ---- the launcher ------------------------------------------------------------------------------

/// A private instance of the test identity provider, stopped (killed by PID) on drop.
///
/// ```no_run
/// let idp = auth_testkit::idp::TestIdp::start()?;
/// println!("issuer: {}", idp.issuer());
/// # Ok::<(), auth_testkit::idp::IdpError>(())
/// ```
pub struct TestIdp {
    child: Child,
    // Kept open: the provider runs with IDP_EXIT_ON_STDIN_EOF=1 and exits when this closes,
    // so it never outlives this process, even one killed by SIGKILL.
    _stdin: Option<ChildStdin>,
    issuer: String,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl fmt::Debug for TestIdp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestIdp")
            .field("issuer", &self.issuer)
            .field("pid", &self.child.id())
            .finish_non_exhaustive()
    }
}

impl TestIdp {
    /// Starts a provider with the default settings; see [`TestIdp::start_with`].
    pub fn start() -> Result<TestIdp, IdpError> {
        Self::start_with(&[])
    }

    /// Starts a provider with extra environment variables (`IDP_USER`, `IDP_DEVICE_INTERVAL`,
    /// `IDP_FLYTE_CLIENT_ID`, `IDP_PORT`, ...; see the idp README).
    ///
    /// Runs `npm ci` first if the provider's packages are not installed (serialised between
    /// processes by a lock directory), then `node server.mjs`, and waits up to
    /// [`STARTUP_TIMEOUT`] for the issuer line. Blocks the calling thread; usable from sync and
    /// async tests alike.
    pub fn start_with(env: &[(&str, &str)]) -> Result<TestIdp, IdpError> {
        let dir = idp_dir();
        ensure_installed_in(&dir)?;

        let mut command = Command::new(node_program());
        command
            .arg("server.mjs")
            .current_dir(&dir)
            .env("IDP_EXIT_ON_STDIN_EOF", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().map_err(io_err(format!(
            "spawning `{} server.mjs` in {}",
            node_program(),
            dir.display()
        )))?;

        let stdin = child.stdin.take();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        if let Some(pipe) = child.stderr.take() {
            let sink = Arc::clone(&stderr);
            let echo = std::env::var_os("FLYTE_AUTH_IDP_LOG").is_some();
            thread::spawn(move || drain_stderr(pipe, &sink, echo));
        }

        let (tx, rx) = mpsc::channel();
        if let Some(pipe) = child.stdout.take() {
            thread::spawn(move || {
                let mut reader = BufReader::new(pipe);
                let mut line = String::new();
                let first = reader.read_line(&mut line).map(|n| (n, line));
                let _ = tx.send(first);
                // Drain whatever else comes so that the provider never blocks on a full pipe.
                let _ = std::io::copy(&mut reader, &mut std::io::sink());
            });
        }

        let mut idp = TestIdp {
            child,
            _stdin: stdin,
            issuer: String::new(),
            stderr,
        };
        let line = match rx.recv_timeout(STARTUP_TIMEOUT) {
            Ok(Ok((n, line))) if n > 0 => line,
            Ok(Ok(_)) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = idp.stop_and_wait();
                return Err(idp.startup_error(format!(
                    "it closed stdout without printing the issuer ({status})"
                )));
            }
            Ok(Err(e)) => {
                idp.stop_and_wait();
                return Err(idp.startup_error(format!("reading its stdout failed: {e}")));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                idp.stop_and_wait();
                return Err(idp.startup_error(format!(
                    "no issuer line within {} s",
                    STARTUP_TIMEOUT.as_secs()
                )));
            }
        };
        let issuer = line.trim().to_owned();
        match Url::parse(&issuer) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
            _ => {
                idp.stop_and_wait();
                return Err(
                    idp.startup_error(format!("its first line is not an issuer URL: {issuer:?}"))
                );
            }
        }
        idp.issuer = issuer;
        Ok(idp)
    }

    /// The issuer URL, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The provider's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the provider wrote on stderr so far (the last 64 KiB). Set `FLYTE_AUTH_IDP_LOG=1`
    /// to also echo it to this process's stderr as it comes.
    pub fn stderr_log(&self) -> String {
        let buf = self.stderr.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&buf).into_owned()
    }

    fn stop_and_wait(&mut self) -> String {
        let _ = self.child.kill();
        match self.child.wait() {
            Ok(status) => describe_status(status),
            Err(e) => format!("wait failed: {e}"),
        }
    }

    fn startup_error(&self, message: String) -> IdpError {
        // Give the stderr thread a moment to collect the last words of a crashed provider.
        thread::sleep(Duration::from_millis(50));
        IdpError::Startup {
            message,
            stderr: self.stderr_log(),
        }
    }
}

impl Drop for TestIdp {
    fn drop(&mut self) {
        // Child::kill signals exactly this PID (SIGKILL); wait reaps it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn describe_status(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exit code {code}"),
        None => format!("{status}"),
    }
}

fn drain_stderr(mut pipe: impl Read, sink: &Mutex<Vec<u8>>, echo: bool) {
    let mut chunk = [0u8; 4096];
    loop {
        match pipe.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if echo {
                    eprint!("{}", String::from_utf8_lossy(&chunk[..n]));
                }
                if let Ok(mut buf) = sink.lock() {
                    buf.extend_from_slice(&chunk[..n]);
                    if buf.len() > STDERR_KEEP {
                        let cut = buf.len() - STDERR_KEEP;
                        buf.drain(..cut);
                    }
                }
            }
        }
    }
}

/// The provider's directory: `$FLYTE_AUTH_IDP_DIR`, else `crates/auth-testkit/idp` of the
/// source tree this crate was built from.
pub fn idp_dir() -> PathBuf {
    match std::env::var_os(IDP_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("idp"),
    }
}

fn node_program() -> String {
    std::env::var("FLYTE_AUTH_NODE").unwrap_or_else(|_| "node".to_owned())
}

fn npm_program() -> &'static str {
    if cfg!(windows) { "npm.cmd" } else { "npm" }
}

fn installed(dir: &Path) -> bool {
    // npm writes node_modules/.package-lock.json at the end of a successful install.
    dir.join("node_modules/.package-lock.json").is_file()
        && dir
            .join("node_modules/oidc-provider/package.json")
            .is_file()
}

/// Installs the provider's npm packages (`npm ci --no-audit --no-fund`) unless they are there.
///
/// Concurrent callers, in this and other processes, are serialised by the lock directory
/// `idp/.install.lock`; a lock older than ten minutes is taken as abandoned.
pub fn ensure_installed() -> Result<(), IdpError> {
    ensure_installed_in(&idp_dir())
}

fn ensure_installed_in(dir: &Path) -> Result<(), IdpError> {
    if installed(dir) {
        return Ok(());
    }
    let lock = dir.join(LOCK_DIR);
    let deadline = Instant::now() + INSTALL_TIMEOUT + Duration::from_secs(30);
    loop {
        match std::fs::create_dir(&lock) {
            Ok(()) => {
                let result = if installed(dir) {
                    Ok(())
                } else {
                    run_npm_ci(dir)
                };
                let _ = std::fs::remove_dir(&lock);
                return result;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if installed(dir) {
                    return Ok(());
                }
                let stale = std::fs::metadata(&lock)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| SystemTime::now().duration_since(t).ok())
                    .is_some_and(|age| age > STALE_LOCK);
                if stale {
                    let _ = std::fs::remove_dir(&lock);
                    continue;
                }
                if Instant::now() > deadline {
                    return Err(IdpError::Install(format!(
                        "timed out waiting for another process's install (lock {})",
                        lock.display()
                    )));
                }
                thread::sleep(Duration::from_millis(200));
            }
            Err(e) => {
                return Err(io_err(format!(
                    "creating the lock directory {}",
                    lock.display()
                ))(e));
            }
        }
    }
}

fn run_npm_ci(dir: &Path) -> Result<(), IdpError> {
    let mut child = Command::new(npm_program())
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io_err(format!("spawning `npm ci` in {}", dir.display())))?;
    let output = Arc::new(Mutex::new(Vec::new()));
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|pipe| {
        let sink = Arc::clone(&output);
        thread::spawn(move || drain_stderr(pipe, &sink, false))
    })
    .collect();
    let deadline = Instant::now() + INSTALL_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(IdpError::Install(format!(
                    "`npm ci` did not finish within {} s",
                    INSTALL_TIMEOUT.as_secs()
                )));
            }
            Ok(None) => thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(io_err("waiting for `npm ci`")(e)),
        }
    };
    for reader in readers {
        let _ = reader.join();
    }
    if status.success() && installed(dir) {
        return Ok(());
    }
    let text = output.lock().map(|b| b.clone()).unwrap_or_default();
    Err(IdpError::Install(format!(
        "`npm ci` in {} ended with {}: {}",
        dir.display(),
        describe_status(status),
        String::from_utf8_lossy(&text)
    )))
}

// ---- the shared provider -----------------------------------------------------------------------

/// The issuer of the provider shared by the test session: `$FLYTE_AUTH_TEST_ISSUER`, which
/// `cargo xtask test` sets. `None` when unset or empty.
pub fn shared_issuer() -> Option<String> {
    std::env::var(SHARED_ISSUER_ENV)
        .ok()
        .map(|s| s.trim().trim_end_matches('/').to_owned())
        .filter(|s| !s.is_empty())
}

/// [`shared_issuer`], or a note on stderr that `test_name` is skipped and `None`.
///
/// ```no_run
/// let Some(issuer) = auth_testkit::idp::require_issuer("login_with_browser") else { return };
/// # let _ = issuer;
/// ```
pub fn require_issuer(test_name: &str) -> Option<String> {
    let issuer = shared_issuer();
    if issuer.is_none() {
        eprintln!("skipped {test_name}: {SHARED_ISSUER_ENV} not set (run cargo xtask test)");
    }
    issuer
}

// ---- HTTP helpers ------------------------------------------------------------------------------

fn client(cookies: bool, redirect: Policy) -> Result<reqwest::Client, IdpError> {
    // Only plain http is spoken here, but a reqwest built with `rustls-no-provider` (feature
    // unification with other crates) needs a process-wide provider to build any client.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(reqwest::Client::builder()
        .cookie_store(cookies)
        .redirect(redirect)
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(HTTP_TIMEOUT)
        .no_proxy()
        .user_agent("flyte-auth-testkit")
        .build()?)
}

fn issuer_url(issuer: &str, path: &str) -> Result<Url, IdpError> {
    let joined = format!("{}{path}", issuer.trim_end_matches('/'));
    Url::parse(&joined).map_err(|e| url_err(&joined, e))
}

async fn unexpected(context: &str, response: reqwest::Response) -> IdpError {
    let url = response.url().to_string();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    IdpError::UnexpectedResponse {
        context: context.to_owned(),
        url,
        status,
        body: excerpt(&body),
    }
}

// ---- request counters --------------------------------------------------------------------------

/// The provider's request counters (`GET /test/stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Stats {
    /// Token endpoint requests per client id.
    #[serde(default)]
    pub token: BTreeMap<String, u64>,
    /// Device authorization endpoint requests per client id.
    #[serde(default)]
    pub device_authorization: BTreeMap<String, u64>,
}

impl Stats {
    /// Token endpoint requests made by `client_id` (from Basic credentials or the form).
    pub fn token_requests(&self, client_id: &str) -> u64 {
        self.token.get(client_id).copied().unwrap_or(0)
    }

    /// Device authorization requests made by `client_id`.
    pub fn device_authorization_requests(&self, client_id: &str) -> u64 {
        self.device_authorization
            .get(client_id)
            .copied()
            .unwrap_or(0)
    }
}

/// Reads the request counters of the provider at `issuer`.
pub async fn stats(issuer: &str) -> Result<Stats, IdpError> {
    let url = issuer_url(issuer, "/test/stats")?;
    let response = client(false, Policy::none())?.get(url).send().await?;
    if !response.status().is_success() {
        return Err(unexpected("reading /test/stats", response).await);
    }
    Ok(response.json().await?)
}

/// Zeroes the request counters of the provider at `issuer`.
pub async fn reset_stats(issuer: &str) -> Result<(), IdpError> {
    let url = issuer_url(issuer, "/test/stats/reset")?;
    let response = client(false, Policy::none())?.post(url).send().await?;
    if !response.status().is_success() {
        return Err(unexpected("resetting /test/stats", response).await);
    }
    Ok(())
}

/// The private keys of the provider's `private_key_jwt` clients and of its "cluster issuer"
/// (`GET /test/client-keys`), PKCS#8 PEM, generated when the provider started.
#[derive(Clone, Deserialize)]
pub struct ClientKeys {
    /// The RSA key of client `pkjwt-rs256` (kid `client-rs256`).
    #[serde(rename = "pkjwt-rs256")]
    pub rs256: String,
    /// The P-256 key of client `pkjwt-es256` (kid `client-es256`).
    #[serde(rename = "pkjwt-es256")]
    pub es256: String,
    /// The RSA key whose JWTs client `federated` presents as its assertion (kid
    /// `cluster-issuer`).
    #[serde(rename = "cluster-issuer")]
    pub cluster_issuer: String,
}

impl std::fmt::Debug for ClientKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientKeys([redacted])")
    }
}

/// Reads the client keys of the provider at `issuer`.
pub async fn client_keys(issuer: &str) -> Result<ClientKeys, IdpError> {
    let url = issuer_url(issuer, "/test/client-keys")?;
    let response = client(false, Policy::none())?.get(url).send().await?;
    if !response.status().is_success() {
        return Err(unexpected("reading /test/client-keys", response).await);
    }
    Ok(response.json().await?)
}

// ---- the browser -------------------------------------------------------------------------------

/// What the browser saw at the end of [`play_browser`].
#[derive(Debug, Clone)]
pub struct BrowserOutcome {
    /// The redirect URI the provider sent the browser to, with its query (`code`, `state`,
    /// `iss`, or `error`).
    pub callback_url: Url,
    /// Status of the response to `GET callback_url` (after at most 10 further redirects).
    pub status: u16,
    /// Its body.
    pub body: String,
}

impl BrowserOutcome {
    /// A query parameter of the callback URL.
    pub fn callback_param(&self, name: &str) -> Option<String> {
        self.callback_url
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// Plays the user's browser: opens `authorization_url`, keeps cookies and follows the
/// provider's redirects through the headless login and consent, stops at the redirect that
/// leaves the provider (another host or port: the loopback redirect URI), and then performs
/// that `GET` itself, so that a real callback server receives it.
///
/// Errors if the provider answers without redirecting away (an error page, e.g. for an
/// unregistered redirect URI), or if the callback cannot be reached.
pub async fn play_browser(authorization_url: &str) -> Result<BrowserOutcome, IdpError> {
    let callback_url = remote_browser(authorization_url).await?;
    let callback_client = client(false, Policy::limited(10))?;
    let response = callback_client.get(callback_url.clone()).send().await?;
    let status = response.status().as_u16();
    let body = response.text().await?;
    Ok(BrowserOutcome {
        callback_url,
        status,
        body,
    })
}

/// Plays a browser on another machine: as [`play_browser`], but it stops at the redirect
/// that leaves the provider and returns its address (what the address bar shows when the
/// loopback redirect cannot load there), without requesting it.
pub async fn remote_browser(authorization_url: &str) -> Result<Url, IdpError> {
    let start = Url::parse(authorization_url).map_err(|e| url_err(authorization_url, e))?;
    let origin = start.origin();
    let policy = Policy::custom(move |attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            attempt.error("too many redirects at the identity provider")
        } else if attempt.url().origin() == origin {
            attempt.follow()
        } else {
            attempt.stop()
        }
    });
    let browser = client(true, policy)?;
    let response = browser.get(start).send().await?;
    match redirect_target(&response)? {
        Some(url) => Ok(url),
        None => Err(unexpected(
            "the identity provider did not redirect to the client",
            response,
        )
        .await),
    }
}

fn redirect_target(response: &reqwest::Response) -> Result<Option<Url>, IdpError> {
    if !response.status().is_redirection() {
        return Ok(None);
    }
    let Some(location) = response.headers().get(LOCATION) else {
        return Ok(None);
    };
    let location = location
        .to_str()
        .map_err(|e| url_err(&String::from_utf8_lossy(location.as_bytes()), e))?;
    response
        .url()
        .join(location)
        .map(Some)
        .map_err(|e| url_err(location, e))
}

/// Plays the user at the device verification page: opens `verification_uri_complete` (which
/// carries `user_code`), then confirms (`approve`) or aborts the request, signing in as the
/// provider's test user through the headless login, and checks the page that ends it.
pub async fn approve_device(
    verification_uri_complete: &str,
    approve: bool,
) -> Result<(), IdpError> {
    let url =
        Url::parse(verification_uri_complete).map_err(|e| url_err(verification_uri_complete, e))?;
    let user_code = url
        .query_pairs()
        .find(|(k, _)| k == "user_code")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| url_err(verification_uri_complete, "no user_code query parameter"))?;
    approve_device_code(verification_uri_complete, &user_code, approve).await
}

/// Like [`approve_device`], for a client that shows `verification_uri` and the user code
/// separately: the user code is typed in rather than taken from the URL.
pub async fn approve_device_code(
    verification_uri: &str,
    user_code: &str,
    approve: bool,
) -> Result<(), IdpError> {
    let start = Url::parse(verification_uri).map_err(|e| url_err(verification_uri, e))?;
    let origin = start.origin();
    let policy = Policy::custom(move |attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            attempt.error("too many redirects at the identity provider")
        } else if attempt.url().origin() == origin {
            attempt.follow()
        } else {
            attempt.stop()
        }
    });
    let browser = client(true, policy)?;

    let response = browser.get(start).send().await?;
    let page_url = response.url().clone();
    if !response.status().is_success() {
        return Err(unexpected("opening the device verification page", response).await);
    }
    let page = response.text().await?;
    let Some(xsrf) = hidden_input(&page, "xsrf") else {
        return Err(IdpError::UnexpectedResponse {
            context: "the device verification page has no xsrf field".to_owned(),
            url: page_url.to_string(),
            status: 200,
            body: excerpt(&page),
        });
    };
    let action = form_action(&page)
        .map(|a| page_url.join(&a).map_err(|e| url_err(&a, e)))
        .transpose()?
        .map_or_else(
            || page_url.join("/device").map_err(|e| url_err("/device", e)),
            Ok,
        )?;

    let decision = if approve { "confirm" } else { "abort" };
    let form = [
        ("xsrf", xsrf.as_str()),
        ("user_code", user_code),
        (decision, "yes"),
    ];
    let response = browser.post(action).form(&form).send().await?;
    if let Some(target) = redirect_target(&response)? {
        return Err(IdpError::UnexpectedResponse {
            context: format!("device {decision}: the provider redirected away to {target}"),
            url: response.url().to_string(),
            status: response.status().as_u16(),
            body: String::new(),
        });
    }
    let status = response.status();
    let url = response.url().to_string();
    let body = response.text().await?;
    let marker = if approve {
        "id=\"device-success\""
    } else {
        "id=\"device-aborted\""
    };
    if status.is_success() && body.contains(marker) {
        return Ok(());
    }
    Err(IdpError::UnexpectedResponse {
        context: format!("device {decision}: the final page lacks {marker}"),
        url,
        status: status.as_u16(),
        body: excerpt(&body),
    })
}

/// The value of the `<input ... name="NAME" ... value="...">` element of an HTML page.
fn hidden_input(html: &str, name: &str) -> Option<String> {
    let needle = format!("name=\"{name}\"");
    let at = html.find(&needle)?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    attribute(tag, "value")
}

/// The `action` of the first `<form>` of an HTML page.
fn form_action(html: &str) -> Option<String> {
    let start = html.find("<form")?;
    let end = start + html[start..].find('>')?;
    attribute(&html[start..end], "action")
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = start + tag[start..].find('"')?;
    Some(unescape_html(&tag[start..end]))
}

fn unescape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest.find(';') else { break };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A header value for `Authorization: Basic` as RFC 6749 §2.3.1 wants it: client id and secret
/// each `application/x-www-form-urlencoded` before base64. Handy for tests of `cc-special`.
pub fn basic_authorization(client_id: &str, client_secret: &str) -> Result<HeaderValue, IdpError> {
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let credentials = format!("{}:{}", encode(client_id), encode(client_secret));
    let value = format!("Basic {}", base64_standard(credentials.as_bytes()));
    HeaderValue::from_str(&value).map_err(|e| url_err("basic credentials", e))
}

fn base64_standard(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hidden_inputs_and_form_action() {
        let page = r#"<form method="post" action="http://127.0.0.1:1/device">
    <input type="hidden" name="xsrf" value="a&amp;b&#39;c"/>
<input type="hidden" name="user_code" value="ABCD-EFGH"/></form>"#;
        assert_eq!(hidden_input(page, "xsrf").as_deref(), Some("a&b'c"));
        assert_eq!(
            hidden_input(page, "user_code").as_deref(),
            Some("ABCD-EFGH")
        );
        assert_eq!(hidden_input(page, "nope"), None);
        assert_eq!(
            form_action(page).as_deref(),
            Some("http://127.0.0.1:1/device")
        );
    }

    #[test]
    fn basic_credentials_are_form_urlencoded() {
        let value = basic_authorization("cc-special", "p@ss:w+rd/% &=z").unwrap();
        // base64("cc-special:p%40ss%3Aw%2Brd%2F%25+%26%3Dz")
        assert_eq!(
            value.to_str().unwrap(),
            "Basic Y2Mtc3BlY2lhbDpwJTQwc3MlM0F3JTJCcmQlMkYlMjUrJTI2JTNEeg=="
        );
        assert_eq!(base64_standard(b""), "");
        assert_eq!(base64_standard(b"f"), "Zg==");
        assert_eq!(base64_standard(b"fo"), "Zm8=");
        assert_eq!(base64_standard(b"foo"), "Zm9v");
    }

    #[test]
    fn unescapes_entities() {
        assert_eq!(
            unescape_html("a&lt;b&gt;&quot;&#x41;&#66;&bogus;"),
            "a<b>\"AB&bogus;"
        );
        assert_eq!(unescape_html("x & y"), "x & y");
    }

    #[test]
    fn require_issuer_reads_the_environment_variable_only() {
        // Only checks the shape: the variable may or may not be set by the harness.
        assert_eq!(require_issuer("shape").is_some(), shared_issuer().is_some());
    }
}
