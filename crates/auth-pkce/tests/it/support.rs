//! Test support: a scripted browser, a tiny HTTP client and a fake token endpoint.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use auth_core::AuthError;
use auth_pkce::{BrowserLauncher, FnLauncher, PkceAuthenticatorBuilder, code_challenge_s256};
use tokio::sync::mpsc;
use url::Url;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The parts of an authorization URL a browser test needs.
#[derive(Debug, Clone)]
pub(crate) struct AuthUrl {
    pub(crate) url: Url,
    pub(crate) redirect_uri: String,
    pub(crate) state: String,
    pub(crate) code_challenge: String,
}

impl AuthUrl {
    pub(crate) fn parse(url: &str) -> Self {
        let url = Url::parse(url).unwrap();
        let get = |name: &str| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
                .unwrap_or_else(|| panic!("{name} missing in {url}"))
        };
        Self {
            redirect_uri: get("redirect_uri"),
            state: get("state"),
            code_challenge: get("code_challenge"),
            url: url.clone(),
        }
    }

    pub(crate) fn param(&self, name: &str) -> Option<String> {
        self.url
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// The redirect URI with `query` appended.
    pub(crate) fn callback(&self, query: &str) -> String {
        format!("{}?{query}", self.redirect_uri)
    }

    /// The redirect URI with another host (for `localhost` reached as `[::1]` or `127.0.0.1`).
    pub(crate) fn callback_via(&self, host: &str, query: &str) -> String {
        let mut u = Url::parse(&self.redirect_uri).unwrap();
        let port = u.port().unwrap();
        u.set_host(Some(host)).unwrap();
        u.set_port(Some(port)).unwrap();
        format!("{u}?{query}")
    }
}

/// A launcher that hands every URL to the test through a channel, and counts its calls.
pub(crate) fn channel_launcher() -> (
    impl BrowserLauncher + 'static,
    mpsc::UnboundedReceiver<AuthUrl>,
    Arc<AtomicUsize>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let launcher = FnLauncher::new(move |url: &str| {
        counter.fetch_add(1, Ordering::SeqCst);
        let _ = tx.send(AuthUrl::parse(url));
        Ok(())
    });
    (launcher, rx, calls)
}

/// A launcher that plays a browser that approves at once: it calls the redirect URI with a
/// fresh code and the right state.
pub(crate) fn approving_launcher() -> impl BrowserLauncher + 'static {
    let n = Arc::new(AtomicUsize::new(0));
    FnLauncher::new(move |url: &str| {
        let a = AuthUrl::parse(url);
        let code = format!("code-{}", n.fetch_add(1, Ordering::SeqCst));
        tokio::runtime::Handle::current().spawn(async move {
            let (status, body) = get(&a.callback(&format!("code={code}&state={}", a.state))).await;
            assert_eq!(status, 200, "{body}");
        });
        Ok(())
    })
}

/// A minimal HTTP/1.1 client for the loopback server (plain http, one request per
/// connection, 10 s limit). Returns status and body.
pub(crate) async fn request(method: &str, url: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let u = Url::parse(url).unwrap();
    let host = u
        .host_str()
        .unwrap()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let mut stream = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::TcpStream::connect((host.as_str(), u.port().unwrap())),
    )
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    let target = match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    };
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        u.authority()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8(raw).unwrap();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

pub(crate) async fn get(url: &str) -> (u16, String) {
    request("GET", url).await
}

/// A fake identity provider: a token endpoint that answers the code exchange with
/// `at-code-N`/`rt-code-N` and the refresh grant with `at-refresh-N`/`rt-refresh-N`.
pub(crate) struct FakeIdp {
    pub(crate) server: MockServer,
}

impl FakeIdp {
    pub(crate) async fn start() -> Self {
        Self::start_with_lifetime(3600).await
    }

    /// As [`start`](Self::start), with access tokens valid for `expires_in` seconds.
    pub(crate) async fn start_with_lifetime(expires_in: u64) -> Self {
        let server = MockServer::start().await;
        let codes = Arc::new(AtomicUsize::new(0));
        Mock::given(method("POST"))
            .and(path("/token"))
            .and(body_string_contains("grant_type=authorization_code"))
            .respond_with(move |_: &wiremock::Request| {
                let n = codes.fetch_add(1, Ordering::SeqCst);
                token_response(&format!("at-code-{n}"), &format!("rt-code-{n}"), expires_in)
            })
            .mount(&server)
            .await;
        let refreshes = Arc::new(AtomicUsize::new(0));
        Mock::given(method("POST"))
            .and(path("/token"))
            .and(body_string_contains("grant_type=refresh_token"))
            .respond_with(move |_: &wiremock::Request| {
                let n = refreshes.fetch_add(1, Ordering::SeqCst);
                token_response(
                    &format!("at-refresh-{n}"),
                    &format!("rt-refresh-{n}"),
                    expires_in,
                )
            })
            .mount(&server)
            .await;
        Self { server }
    }

    /// An idp whose token endpoint answers everything with `status` and `body`.
    pub(crate) async fn answering(status: u16, body: serde_json::Value) -> Self {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .mount(&server)
            .await;
        Self { server }
    }

    pub(crate) fn builder(&self) -> PkceAuthenticatorBuilder {
        auth_pkce::PkceAuthenticator::builder()
            .client_id("test-cli")
            .authorization_endpoint(format!("{}/authorize?tenant=t1", self.server.uri()))
            .token_endpoint(format!("{}/token", self.server.uri()))
            .redirect_uri("http://127.0.0.1:0/callback")
            .scopes(["openid", "offline_access"])
            .timeout(Duration::from_secs(30))
            .prompt(|_| {})
    }

    /// The form bodies of the token requests received so far.
    pub(crate) async fn token_requests(&self) -> Vec<Vec<(String, String)>> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.url.path() == "/token")
            .map(|r| url::form_urlencoded::parse(&r.body).into_owned().collect())
            .collect()
    }
}

pub(crate) fn token_response(at: &str, rt: &str, expires_in: u64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "access_token": at,
        "refresh_token": rt,
        "token_type": "Bearer",
        "expires_in": expires_in,
    }))
}

pub(crate) fn form_get<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Checks that a verifier matches the challenge of the authorization URL (S256).
pub(crate) fn verifier_matches(verifier: &str, challenge: &str) -> bool {
    code_challenge_s256(verifier) == challenge
}

/// A launcher that plays the browser through the real test identity provider
/// (`auth_testkit::idp::play_browser`) in a spawned task, and hands each outcome to the test.
/// Each call is counted; when `allowed` is false, a call fails the test.
pub(crate) fn idp_browser(
    allowed: Arc<std::sync::atomic::AtomicBool>,
) -> (
    impl BrowserLauncher + 'static,
    mpsc::UnboundedReceiver<Result<auth_testkit::idp::BrowserOutcome, String>>,
    Arc<AtomicUsize>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let launcher = FnLauncher::new(move |url: &str| {
        counter.fetch_add(1, Ordering::SeqCst);
        if !allowed.load(Ordering::SeqCst) {
            let _ = tx.send(Err(
                "the browser was opened although it must not be".to_string()
            ));
            return Err(AuthError::configuration("test: no browser allowed here"));
        }
        let url = url.to_string();
        let tx = tx.clone();
        tokio::runtime::Handle::current().spawn(async move {
            let outcome = auth_testkit::idp::play_browser(&url)
                .await
                .map_err(|e| e.to_string());
            let _ = tx.send(outcome);
        });
        Ok(())
    });
    (launcher, rx, calls)
}
