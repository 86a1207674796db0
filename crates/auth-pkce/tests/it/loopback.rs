//! The browser login against a fake token endpoint: the loopback server's behaviour seen
//! through `PkceAuthenticator`, the exchange request, and the engine's policy.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use auth_core::{
    AccessToken, Authenticator, ClientSecret, CredentialStore, Credentials, ErrorKind, MemoryStore,
    RefreshToken,
};
use auth_oauth2::ClientAuthMethod;
use auth_pkce::{Pages, PkceAuthenticator};

use crate::support::{FakeIdp, channel_launcher, form_get, get, request, verifier_matches};

/// `idp` also serves an OpenID discovery document naming it as the issuer, with
/// `authorization_response_iss_parameter_supported: advertised`, and a builder that finds the
/// endpoints through `IssuerDiscovery` there.
async fn discovered(idp: &FakeIdp, advertised: bool) -> auth_pkce::PkceAuthenticatorBuilder {
    let issuer = idp.server.uri();
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path(
            "/.well-known/openid-configuration",
        ))
        .respond_with(
            wiremock::ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "issuer": issuer,
                "authorization_endpoint": format!("{issuer}/authorize"),
                "token_endpoint": format!("{issuer}/token"),
                "authorization_response_iss_parameter_supported": advertised,
            })),
        )
        .mount(&idp.server)
        .await;
    let http = auth_oauth2::HttpClient::new(&auth_oauth2::TransportOptions::new()).unwrap();
    let discovery = auth_oauth2::IssuerDiscovery::new(http, &issuer, "test-cli");
    PkceAuthenticator::builder()
        .config_store(Arc::new(discovery))
        .redirect_uri("http://127.0.0.1:0/callback")
        .timeout(Duration::from_secs(30))
        .prompt(|_| {})
}

/// Logs in with `auth`, answering the redirect with a code, the right state and `extra`;
/// returns the outcome and the browser's status and page.
async fn login_answering(
    auth: PkceAuthenticator,
    mut urls: tokio::sync::mpsc::UnboundedReceiver<crate::support::AuthUrl>,
    extra: &str,
) -> (Result<Credentials, auth_core::AuthError>, u16, String) {
    let auth = Arc::new(auth);
    let login = tokio::spawn({
        let auth = Arc::clone(&auth);
        async move { auth.credentials().await }
    });
    let a = urls.recv().await.unwrap();
    let (status, page) = get(&a.callback(&format!("code=c&state={}{extra}", a.state))).await;
    (login.await.unwrap(), status, page)
}

#[tokio::test]
async fn stray_requests_and_wrong_state_then_the_right_callback() {
    let idp = FakeIdp::start().await;
    let (launcher, mut urls, _) = channel_launcher();
    let auth = Arc::new(idp.builder().launcher(launcher).build().unwrap());
    let login = tokio::spawn({
        let auth = Arc::clone(&auth);
        async move { auth.credentials().await }
    });
    let a = urls.recv().await.unwrap();
    let origin = a.redirect_uri.trim_end_matches("/callback").to_string();

    assert_eq!(get(&format!("{origin}/favicon.ico")).await.0, 404);
    assert_eq!(get(&format!("{origin}/")).await.0, 404);
    assert_eq!(
        request("POST", &a.callback(&format!("code=c&state={}", a.state)))
            .await
            .0,
        404
    );
    assert_eq!(
        request("HEAD", &a.callback(&format!("code=c&state={}", a.state)))
            .await
            .0,
        404
    );
    let (status, page) = get(&a.callback("code=forged&state=not-the-state")).await;
    assert_eq!(status, 400);
    assert!(page.contains("state does not match"), "{page}");
    assert_eq!(get(&a.callback("code=forged")).await.0, 400);
    assert!(!login.is_finished());
    assert!(
        idp.token_requests().await.is_empty(),
        "nothing was exchanged yet"
    );

    let (status, page) = get(&a.callback(&format!("code=the-code&state={}", a.state))).await;
    assert_eq!(status, 200);
    assert!(page.contains("Login complete"), "{page}");
    let creds = login.await.unwrap().unwrap();
    assert_eq!(creds.access_token().secret(), "at-code-0");
    assert_eq!(creds.refresh_token().map(|r| r.secret()), Some("rt-code-0"));

    let requests = idp.token_requests().await;
    assert_eq!(requests.len(), 1);
    let form = &requests[0];
    assert_eq!(form_get(form, "grant_type"), Some("authorization_code"));
    assert_eq!(form_get(form, "code"), Some("the-code"));
    assert_eq!(
        form_get(form, "redirect_uri"),
        Some(a.redirect_uri.as_str())
    );
    assert_eq!(form_get(form, "client_id"), Some("test-cli"));
    let verifier = form_get(form, "code_verifier").unwrap();
    assert_eq!(verifier.len(), 86);
    assert!(verifier_matches(verifier, &a.code_challenge));
}

#[tokio::test]
async fn authorization_url_parameters() {
    let idp = FakeIdp::start().await;
    let (launcher, mut urls, _) = channel_launcher();
    let auth = Arc::new(
        idp.builder()
            .launcher(launcher)
            .audience("https://api.example")
            .extra_param("prompt", "login")
            .build()
            .unwrap(),
    );
    let login = tokio::spawn({
        let auth = Arc::clone(&auth);
        async move { auth.credentials().await }
    });
    let a = urls.recv().await.unwrap();
    let keys: Vec<String> = a.url.query_pairs().map(|(k, _)| k.into_owned()).collect();
    assert_eq!(
        keys,
        [
            "tenant",
            "client_id",
            "response_type",
            "scope",
            "redirect_uri",
            "state",
            "nonce",
            "audience",
            "code_challenge",
            "code_challenge_method",
            "prompt"
        ]
    );
    assert_eq!(a.url.path(), "/authorize");
    assert_eq!(a.param("tenant").as_deref(), Some("t1"));
    assert_eq!(a.param("response_type").as_deref(), Some("code"));
    assert_eq!(a.param("scope").as_deref(), Some("openid offline_access"));
    assert_eq!(a.param("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(a.state.len(), 43);
    // Port 0 became the bound port in the redirect URI sent to the provider.
    let redirect = url::Url::parse(&a.redirect_uri).unwrap();
    assert_ne!(redirect.port(), Some(0));
    assert_eq!(redirect.host_str(), Some("127.0.0.1"));
    get(&a.callback(&format!("code=c&state={}", a.state))).await;
    login.await.unwrap().unwrap();
}

#[tokio::test]
async fn fresh_verifier_and_state_for_every_attempt() {
    let idp = FakeIdp::start().await;
    let (launcher, mut urls, calls) = channel_launcher();
    let auth = Arc::new(idp.builder().launcher(launcher).build().unwrap());
    let mut seen = Vec::new();
    for _ in 0..3 {
        let login = tokio::spawn({
            let auth = Arc::clone(&auth);
            async move { auth.credentials().await }
        });
        let a = urls.recv().await.unwrap();
        get(&a.callback(&format!("code=c&state={}", a.state))).await;
        login.await.unwrap().unwrap();
        seen.push((a.state, a.code_challenge));
        // Forget the credentials so that the next call logs in again.
        auth.clear().await.unwrap();
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let verifiers: Vec<String> = idp
        .token_requests()
        .await
        .iter()
        .map(|f| form_get(f, "code_verifier").unwrap().to_string())
        .collect();
    for i in 0..3 {
        for j in (i + 1)..3 {
            assert_ne!(seen[i].0, seen[j].0, "state reused");
            assert_ne!(seen[i].1, seen[j].1, "challenge reused");
            assert_ne!(verifiers[i], verifiers[j], "verifier reused");
        }
    }
}

#[tokio::test]
async fn access_denied_callback_is_a_typed_error() {
    let idp = FakeIdp::start().await;
    let (launcher, mut urls, _) = channel_launcher();
    let auth = Arc::new(idp.builder().launcher(launcher).build().unwrap());
    let login = tokio::spawn({
        let auth = Arc::clone(&auth);
        async move { auth.credentials().await }
    });
    let a = urls.recv().await.unwrap();
    let (status, page) = get(&a.callback(&format!(
        "error=access_denied&error_description=The+user+%3Cb%3Edenied%3C%2Fb%3E&state={}",
        a.state
    )))
    .await;
    let err = login.await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AccessDenied);
    assert_eq!(err.oauth_error_code(), Some("access_denied"));
    assert!(err.is_refused());
    assert_eq!(status, 400);
    assert!(
        page.contains("The user &lt;b&gt;denied&lt;/b&gt;"),
        "{page}"
    );
    assert!(!page.contains("<b>"), "{page}");
    assert!(idp.token_requests().await.is_empty());
}

#[tokio::test]
async fn failed_exchange_shows_the_failure_page() {
    let idp = FakeIdp::answering(
        400,
        serde_json::json!({"error": "invalid_grant", "error_description": "code expired"}),
    )
    .await;
    let (launcher, mut urls, _) = channel_launcher();
    let auth = Arc::new(idp.builder().launcher(launcher).build().unwrap());
    let login = tokio::spawn({
        let auth = Arc::clone(&auth);
        async move { auth.credentials().await }
    });
    let a = urls.recv().await.unwrap();
    let (status, page) = get(&a.callback(&format!("code=c&state={}", a.state))).await;
    let err = login.await.unwrap().unwrap_err();
    assert!(err.is_invalid_grant(), "{err}");
    assert_eq!(status, 400);
    assert!(page.contains("code expired"), "{page}");
    assert!(!page.contains("Login complete"), "{page}");
}

#[tokio::test]
async fn time_limit_ends_the_wait() {
    let idp = FakeIdp::start().await;
    let (launcher, mut urls, _) = channel_launcher();
    let auth = idp
        .builder()
        .launcher(launcher)
        .redirect_uri("http://localhost:0/callback")
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = auth.credentials().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(
        err.to_string().contains("no login response arrived"),
        "{err}"
    );
    // The server is gone: its port refuses connections.
    let a = urls.recv().await.unwrap();
    let port = url::Url::parse(&a.redirect_uri).unwrap().port().unwrap();
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn busy_port_is_a_configuration_error_naming_the_port() {
    let idp = FakeIdp::start().await;
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let (launcher, _urls, calls) = channel_launcher();
    let auth = idp
        .builder()
        .launcher(launcher)
        .redirect_uri(format!("http://localhost:{port}/callback"))
        .build()
        .unwrap();
    let err = auth.credentials().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    let msg = err.to_string();
    assert!(msg.contains(&format!("port {port}")), "{msg}");
    assert!(msg.contains("another login may be running"), "{msg}");
    assert!(msg.contains("redirectUri"), "{msg}");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "no browser for a login that cannot finish"
    );
}

#[tokio::test]
async fn localhost_is_reached_over_ipv6_and_ipv4() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        // Without an IPv6 loopback there is nothing to prove about it; IPv4 is tested below.
        eprintln!("note: no IPv6 loopback on this machine");
    }
    let ipv6 = std::net::TcpListener::bind("[::1]:0").is_ok();
    let idp = FakeIdp::start().await;
    let (launcher, mut urls, _) = channel_launcher();
    let auth = Arc::new(
        idp.builder()
            .launcher(launcher)
            .redirect_uri("http://localhost:0/callback")
            .build()
            .unwrap(),
    );
    let hosts: &[&str] = if ipv6 {
        &["[::1]", "127.0.0.1"]
    } else {
        &["127.0.0.1"]
    };
    for host in hosts {
        let login = tokio::spawn({
            let auth = Arc::clone(&auth);
            async move { auth.credentials().await }
        });
        let a = urls.recv().await.unwrap();
        assert!(
            a.redirect_uri.starts_with("http://localhost:"),
            "{}",
            a.redirect_uri
        );
        // A stray request on the other family first, then the callback on this one.
        let other = if *host == "127.0.0.1" && ipv6 {
            "[::1]"
        } else {
            "127.0.0.1"
        };
        assert_eq!(get(&a.callback_via(other, "")).await.0, 400);
        let (status, _) = get(&a.callback_via(host, &format!("code=c&state={}", a.state))).await;
        assert_eq!(status, 200, "callback over {host}");
        login.await.unwrap().unwrap();
        auth.clear().await.unwrap();
    }
}

#[tokio::test]
async fn refresh_asks_for_the_granted_scopes() {
    let idp = FakeIdp::start().await;
    let store = Arc::new(MemoryStore::new());
    let granted = expired_with_refresh_token().with_scopes(["openid"]);
    store.save("key", &granted).await.unwrap();
    let (launcher, _urls, calls) = channel_launcher();
    let auth = idp
        .builder()
        .launcher(launcher)
        .credential_store(store)
        .store_key("key")
        .build()
        .unwrap();
    let creds = auth.credentials().await.unwrap();
    assert_eq!(creds.scopes(), ["openid".to_string()]);
    assert_eq!(
        form_get(&idp.token_requests().await[0], "scope"),
        Some("openid")
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn refresh_after_two_second_tokens_never_opens_the_browser_again() {
    let idp = FakeIdp::start_with_lifetime(2).await;
    let (launcher, mut urls, calls) = channel_launcher();
    let auth = Arc::new(
        idp.builder()
            .launcher(launcher)
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap(),
    );
    let login = tokio::spawn({
        let auth = Arc::clone(&auth);
        async move { auth.credentials().await }
    });
    let a = urls.recv().await.unwrap();
    get(&a.callback(&format!("code=c&state={}", a.state))).await;
    assert_eq!(
        login.await.unwrap().unwrap().access_token().secret(),
        "at-code-0"
    );
    for n in 0..2 {
        // Let the 2 s token expire.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let next = auth.credentials().await.unwrap();
        assert_eq!(next.access_token().secret(), format!("at-refresh-{n}"));
    }
    // A launcher call now would be a failure: the browser opened once only.
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(urls.try_recv().is_err());
    let grants: Vec<String> = idp
        .token_requests()
        .await
        .iter()
        .map(|f| form_get(f, "grant_type").unwrap().to_string())
        .collect();
    assert_eq!(
        grants,
        ["authorization_code", "refresh_token", "refresh_token"]
    );
    // The rotated refresh token is the one sent next.
    assert_eq!(
        form_get(&idp.token_requests().await[2], "refresh_token"),
        Some("rt-refresh-0")
    );
}

fn expired_with_refresh_token() -> Credentials {
    Credentials::new(AccessToken::new("old-at"))
        .with_refresh_token(Some(RefreshToken::new("stored-rt")))
        .with_expires_at(Some(SystemTime::now() - Duration::from_secs(60)))
}

#[tokio::test]
async fn stored_refresh_token_is_used_before_any_browser() {
    let idp = FakeIdp::start().await;
    let store = Arc::new(MemoryStore::new());
    store
        .save("key", &expired_with_refresh_token())
        .await
        .unwrap();
    let (launcher, _urls, calls) = channel_launcher();
    let auth = idp
        .builder()
        .launcher(launcher)
        .credential_store(store.clone())
        .store_key("key")
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let creds = auth.credentials().await.unwrap();
    assert_eq!(creds.access_token().secret(), "at-refresh-0");
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the browser was opened");
    let requests = idp.token_requests().await;
    assert_eq!(form_get(&requests[0], "refresh_token"), Some("stored-rt"));
    // The granted scopes are unknown (a login stored elsewhere): no scope, "as granted".
    assert_eq!(form_get(&requests[0], "scope"), None);
    // The rotated refresh token was saved.
    let saved = store.load("key").await.unwrap().unwrap();
    assert_eq!(
        saved.refresh_token().map(|r| r.secret()),
        Some("rt-refresh-0")
    );
}

#[tokio::test]
async fn network_error_on_refresh_never_opens_a_browser() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = Arc::new(MemoryStore::new());
    store
        .save("key", &expired_with_refresh_token())
        .await
        .unwrap();
    let (launcher, _urls, calls) = channel_launcher();
    let auth = PkceAuthenticator::builder()
        .client_id("test-cli")
        .authorization_endpoint(format!("http://127.0.0.1:{port}/authorize"))
        .token_endpoint(format!("http://127.0.0.1:{port}/token"))
        .redirect_uri("http://127.0.0.1:0/callback")
        .launcher(launcher)
        .prompt(|_| {})
        .credential_store(store)
        .store_key("key")
        .engine_options(
            auth_core::EngineOptions::default().with_retry(auth_core::RetryPolicy::none()),
        )
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let err = auth.credentials().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the browser was opened");
}

#[tokio::test]
async fn rejected_refresh_token_falls_back_to_the_browser() {
    let idp = FakeIdp::answering(400, serde_json::json!({"error": "invalid_grant"})).await;
    let store = Arc::new(MemoryStore::new());
    store
        .save("key", &expired_with_refresh_token())
        .await
        .unwrap();
    let (launcher, mut urls, calls) = channel_launcher();
    let auth = idp
        .builder()
        .launcher(launcher)
        .credential_store(store)
        .store_key("key")
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let auth = Arc::new(auth);
    let login = tokio::spawn({
        let auth = Arc::clone(&auth);
        async move { auth.credentials().await }
    });
    let a = urls.recv().await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // This token endpoint rejects the code as well; the browser was what mattered.
    get(&a.callback(&format!("code=c&state={}", a.state))).await;
    assert!(login.await.unwrap().unwrap_err().is_invalid_grant());
    let grants: Vec<String> = idp
        .token_requests()
        .await
        .iter()
        .map(|f| form_get(f, "grant_type").unwrap().to_string())
        .collect();
    assert_eq!(grants, ["refresh_token", "authorization_code"]);
}

#[tokio::test]
async fn no_browser_prints_the_url_only() {
    let idp = FakeIdp::start().await;
    let (launcher, _urls, calls) = channel_launcher();
    let (tx, mut printed) = tokio::sync::mpsc::unbounded_channel();
    let auth = Arc::new(
        idp.builder()
            .launcher(launcher)
            .no_browser(true)
            .prompt(move |url| {
                let _ = tx.send(url.to_string());
            })
            .build()
            .unwrap(),
    );
    let login = tokio::spawn({
        let auth = Arc::clone(&auth);
        async move { auth.credentials().await }
    });
    let a = crate::support::AuthUrl::parse(&printed.recv().await.unwrap());
    get(&a.callback(&format!("code=c&state={}", a.state))).await;
    login.await.unwrap().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn launcher_failure_does_not_stop_the_login() {
    let idp = FakeIdp::start().await;
    let (tx, mut printed) = tokio::sync::mpsc::unbounded_channel();
    let auth = Arc::new(
        idp.builder()
            .launcher(auth_pkce::FnLauncher::new(|_: &str| {
                Err(auth_core::AuthError::configuration("no display"))
            }))
            .prompt(move |url| {
                let _ = tx.send(url.to_string());
            })
            .build()
            .unwrap(),
    );
    let login = tokio::spawn({
        let auth = Arc::clone(&auth);
        async move { auth.credentials().await }
    });
    let a = crate::support::AuthUrl::parse(&printed.recv().await.unwrap());
    get(&a.callback(&format!("code=c&state={}", a.state))).await;
    assert_eq!(
        login.await.unwrap().unwrap().access_token().secret(),
        "at-code-0"
    );
}

#[tokio::test]
async fn non_interactive_refuses_to_open_a_browser() {
    let idp = FakeIdp::start().await;
    let (launcher, _urls, calls) = channel_launcher();
    let auth = idp
        .builder()
        .launcher(launcher)
        .interactive(false)
        .build()
        .unwrap();
    let err = auth.credentials().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InteractionRequired);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn one_browser_for_many_concurrent_callers() {
    let idp = FakeIdp::start().await;
    let (launcher, mut urls, calls) = channel_launcher();
    let auth = Arc::new(idp.builder().launcher(launcher).build().unwrap());
    let callers: Vec<_> = (0..20)
        .map(|_| {
            let auth = Arc::clone(&auth);
            tokio::spawn(async move { auth.credentials().await })
        })
        .collect();
    let a = urls.recv().await.unwrap();
    get(&a.callback(&format!("code=c&state={}", a.state))).await;
    for c in callers {
        assert_eq!(
            c.await.unwrap().unwrap().access_token().secret(),
            "at-code-0"
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(idp.token_requests().await.len(), 1);
}

#[tokio::test]
async fn confidential_client_sends_its_secret_with_the_exchange() {
    let idp = FakeIdp::start().await;
    let (launcher, mut urls, _) = channel_launcher();
    let auth = Arc::new(
        idp.builder()
            .launcher(launcher)
            .client_secret(ClientSecret::new("conf-secret"))
            .auth_method(ClientAuthMethod::Post)
            .build()
            .unwrap(),
    );
    let login = tokio::spawn({
        let auth = Arc::clone(&auth);
        async move { auth.credentials().await }
    });
    let a = urls.recv().await.unwrap();
    get(&a.callback(&format!("code=c&state={}", a.state))).await;
    login.await.unwrap().unwrap();
    let form = &idp.token_requests().await[0];
    assert_eq!(form_get(form, "client_secret"), Some("conf-secret"));
    assert_eq!(form_get(form, "client_id"), Some("test-cli"));
    assert!(form_get(form, "code_verifier").is_some());
}

#[tokio::test]
async fn custom_pages() {
    let idp = FakeIdp::start().await;
    let (launcher, mut urls, _) = channel_launcher();
    let pages = Pages::new()
        .with_success_page("<p>all good</p>")
        .with_failure_page("<p>broken: {{error}}</p>");
    let auth = Arc::new(
        idp.builder()
            .launcher(launcher)
            .pages(pages)
            .build()
            .unwrap(),
    );
    let login = tokio::spawn({
        let auth = Arc::clone(&auth);
        async move { auth.credentials().await }
    });
    let a = urls.recv().await.unwrap();
    let (status, page) = get(&a.callback("state=wrong&code=c")).await;
    assert_eq!(status, 400);
    assert!(
        page.starts_with("<p>broken: This response does not belong"),
        "{page}"
    );
    let (status, page) = get(&a.callback(&format!("code=c&state={}", a.state))).await;
    assert_eq!((status, page.as_str()), (200, "<p>all good</p>"));
    login.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_callback_without_iss_is_refused_when_discovery_advertises_it() {
    let idp = FakeIdp::start().await;
    let (launcher, urls, _) = channel_launcher();
    let auth = discovered(&idp, true)
        .await
        .launcher(launcher)
        .build()
        .unwrap();
    let (result, status, page) = login_answering(auth, urls, "").await;
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{err}");
    assert!(err.to_string().contains("(iss)"), "{err}");
    assert!(err.to_string().contains("RFC 9207"), "{err}");
    assert_eq!(status, 400);
    assert!(page.contains("RFC 9207"), "{page}");
    assert!(
        idp.token_requests().await.is_empty(),
        "the code was not exchanged"
    );
}

#[tokio::test]
async fn a_callback_with_the_right_iss_is_accepted_when_discovery_advertises_it() {
    let idp = FakeIdp::start().await;
    let (launcher, urls, _) = channel_launcher();
    let auth = discovered(&idp, true)
        .await
        .launcher(launcher)
        .build()
        .unwrap();
    let iss: String = url::form_urlencoded::byte_serialize(idp.server.uri().as_bytes()).collect();
    let (result, status, _) = login_answering(auth, urls, &format!("&iss={iss}")).await;
    assert_eq!(result.unwrap().access_token().secret(), "at-code-0");
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_callback_without_iss_is_accepted_when_discovery_does_not_advertise_it() {
    let idp = FakeIdp::start().await;
    let (launcher, urls, _) = channel_launcher();
    let auth = discovered(&idp, false)
        .await
        .launcher(launcher)
        .build()
        .unwrap();
    let (result, status, _) = login_answering(auth, urls, "").await;
    assert_eq!(result.unwrap().access_token().secret(), "at-code-0");
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_builder_overrides_the_advertised_iss_support() {
    // Off: a provider that advertises iss but omits it (a broken deployment) still logs in.
    let idp = FakeIdp::start().await;
    let (launcher, urls, _) = channel_launcher();
    let auth = discovered(&idp, true)
        .await
        .launcher(launcher)
        .require_issuer_in_response(false)
        .build()
        .unwrap();
    let (result, status, _) = login_answering(auth, urls, "").await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(status, 200);

    // On: required although the provider does not advertise it.
    let idp = FakeIdp::start().await;
    let (launcher, urls, _) = channel_launcher();
    let auth = discovered(&idp, false)
        .await
        .launcher(launcher)
        .require_issuer_in_response(true)
        .build()
        .unwrap();
    let (result, status, _) = login_answering(auth, urls, "").await;
    assert_eq!(result.unwrap_err().kind(), ErrorKind::InvalidResponse);
    assert_eq!(status, 400);
    assert!(idp.token_requests().await.is_empty());
}

#[tokio::test]
async fn a_discovered_plain_http_token_endpoint_is_refused() {
    let config = auth_core::ClientConfig::new("http://example.invalid/token", "test-cli")
        .with_authorization_endpoint("https://example.invalid/authorize");
    let auth = PkceAuthenticator::builder()
        .config_store(Arc::new(auth_core::StaticClientConfigStore::new(config)))
        .redirect_uri("http://127.0.0.1:0/callback")
        .no_browser(true)
        .prompt(|_| {})
        .build()
        .unwrap();

    let error = auth.credentials().await.unwrap_err();
    // (Discovered loopback http endpoints are used: see the `discovered(..)` tests above.)

    assert_eq!(error.kind(), ErrorKind::Configuration, "{error}");
    let message = error.to_string();
    assert!(
        message.contains("http://example.invalid/token"),
        "{message}"
    );
    assert!(
        message.contains("use https") && message.contains("insecure"),
        "{message}"
    );
}

#[tokio::test]
async fn a_stored_token_gets_the_discovered_header_key_without_a_token_request() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};
    let idp = FakeIdp::start().await;
    let uri = idp.server.uri();
    Mock::given(method("GET"))
        .and(path("/.well-known/oauth-authorization-server"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "issuer": uri,
            "token_endpoint": format!("{uri}/token"),
            "authorization_endpoint": format!("{uri}/authorize"),
        })))
        .mount(&idp.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/config/v1/flyte_client"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "client_id": "flytectl",
            "authorization_metadata_key": "flyte-authorization",
        })))
        .mount(&idp.server)
        .await;
    let store = Arc::new(MemoryStore::new());
    let valid = Credentials::new(AccessToken::new("at-stored"))
        .with_expires_at(Some(SystemTime::now() + Duration::from_secs(3600)));
    store.save("key", &valid).await.unwrap();
    let (launcher, _urls, calls) = channel_launcher();
    let http = auth_oauth2::HttpClient::new(&auth_oauth2::TransportOptions::new()).unwrap();
    let auth = PkceAuthenticator::builder()
        .config_store(Arc::new(auth_oauth2::FlyteDiscovery::new(
            http.clone(),
            &uri,
            true,
        )))
        .http_client(http)
        .launcher(launcher)
        .credential_store(store)
        .store_key("key")
        .prompt(|_| {})
        .build()
        .unwrap();

    let (key, value) = auth.authorization_header().await.unwrap();

    assert_eq!(key, "flyte-authorization");
    assert_eq!(value.secret(), "Bearer at-stored");
    assert!(idp.token_requests().await.is_empty());
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the browser was opened");
}

#[tokio::test]
async fn escape_sequences_in_a_redirect_error_never_reach_the_terminal() {
    let idp = FakeIdp::start().await;
    let (launcher, mut urls, _) = channel_launcher();
    let auth = Arc::new(idp.builder().launcher(launcher).build().unwrap());
    let login = tokio::spawn({
        let auth = Arc::clone(&auth);
        async move { auth.credentials().await }
    });
    let a = urls.recv().await.unwrap();
    // ESC [2J (clear screen), ESC ]0; ... BEL (window title), a C1 CSI and a bidi override.
    let (status, _page) = get(&a.callback(&format!(
        "error=access_denied&error_description=denied%1B%5B2J%1B%5D0%3Bpwned%07%C2%9B31m%E2%80%AE\
         &error_uri=https%3A%2F%2Fidp%2Fhelp%1B%5B8m&state={}",
        a.state
    )))
    .await;
    let err = login.await.unwrap().unwrap_err();
    assert_eq!(status, 400);
    assert_eq!(err.kind(), ErrorKind::AccessDenied);
    let shown = err.to_string();
    assert!(
        !shown.chars().any(|c| c.is_control() || c == '\u{202e}'),
        "{shown:?}"
    );
    let oauth = err.oauth_error().unwrap();
    assert_eq!(
        oauth.error_description.as_deref(),
        Some("denied ]0;pwned 31m")
    );
    assert_eq!(oauth.error_uri.as_deref(), Some("https://idp/help"));
}

fn id_token(claims: serde_json::Value) -> String {
    use base64::Engine as _;
    let enc = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.sig",
        enc.encode(r#"{"alg":"RS256"}"#),
        enc.encode(claims.to_string())
    )
}

/// OpenID Connect Core: a strict provider refuses an `openid` request without a nonce, and the
/// id_token must carry the nonce of this login. Each attempt sends a fresh one; an id_token
/// with another nonce or none is refused, and the browser is not told the login worked.
#[tokio::test]
async fn openid_logins_send_a_fresh_nonce_and_check_it_in_the_id_token() {
    enum IdToken {
        Echo,
        Other,
        Missing,
    }
    let mut seen = Vec::new();
    for case in [
        IdToken::Echo,
        IdToken::Other,
        IdToken::Missing,
        IdToken::Echo,
    ] {
        let server = wiremock::MockServer::start().await;
        let (launcher, mut urls, _) = channel_launcher();
        let auth = Arc::new(
            PkceAuthenticator::builder()
                .client_id("test-cli")
                .authorization_endpoint(format!("{}/authorize", server.uri()))
                .token_endpoint(format!("{}/token", server.uri()))
                .redirect_uri("http://127.0.0.1:0/callback")
                .scopes(["openid", "offline_access"])
                .timeout(Duration::from_secs(30))
                .prompt(|_| {})
                .launcher(launcher)
                .build()
                .unwrap(),
        );
        let login = tokio::spawn({
            let auth = Arc::clone(&auth);
            async move { auth.credentials().await }
        });
        let a = urls.recv().await.unwrap();
        let nonce = a.param("nonce").expect("a nonce with scope openid");
        assert!(nonce.len() >= 43, "{nonce}");
        assert!(!seen.contains(&nonce), "a fresh nonce per attempt");
        seen.push(nonce.clone());
        let claims = match case {
            IdToken::Echo => serde_json::json!({"sub": "alice", "nonce": nonce}),
            IdToken::Other => serde_json::json!({"sub": "alice", "nonce": "replayed"}),
            IdToken::Missing => serde_json::json!({"sub": "alice"}),
        };
        wiremock::Mock::given(wiremock::matchers::method("POST"))
            .respond_with(
                wiremock::ResponseTemplate::new(200).set_body_json(serde_json::json!({
                    "access_token": "at", "token_type": "Bearer", "expires_in": 60,
                    "id_token": id_token(claims),
                })),
            )
            .mount(&server)
            .await;
        let (status, page) = get(&a.callback(&format!("code=c&state={}", a.state))).await;
        let result = login.await.unwrap();
        match case {
            IdToken::Echo => {
                result.expect("the matching nonce is accepted");
                assert_eq!(status, 200, "{page}");
            }
            IdToken::Other | IdToken::Missing => {
                let e = result.unwrap_err();
                assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
                assert!(e.to_string().contains("nonce"), "{e}");
                assert_ne!(status, 200, "{page}");
                assert!(!page.contains("Login complete"), "{page}");
            }
        }
    }
}

#[tokio::test]
async fn no_nonce_without_openid() {
    let idp = FakeIdp::start().await;
    let (launcher, mut urls, _) = channel_launcher();
    let auth = Arc::new(
        idp.builder()
            .scopes(["api"])
            .launcher(launcher)
            .build()
            .unwrap(),
    );
    let login = tokio::spawn({
        let auth = Arc::clone(&auth);
        async move { auth.credentials().await }
    });
    let a = urls.recv().await.unwrap();
    assert_eq!(a.param("nonce"), None);
    get(&a.callback(&format!("code=c&state={}", a.state))).await;
    login.await.unwrap().unwrap();
}

/// A provider that answers a dead refresh token with a bare 400 (no `invalid_grant` body):
/// the refresh token is dropped, and the next step is the login, never the same failure
/// forever. Without interaction the error says to run `flyte-auth login`; with it, the
/// browser opens.
#[tokio::test]
async fn a_bare_400_to_the_refresh_grant_leads_to_a_login() {
    for interactive in [false, true] {
        let server = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::body_string_contains(
            "grant_type=refresh_token",
        ))
        .respond_with(wiremock::ResponseTemplate::new(400))
        .mount(&server)
        .await;
        wiremock::Mock::given(wiremock::matchers::body_string_contains(
            "grant_type=authorization_code",
        ))
        .respond_with(crate::support::token_response("at-new", "rt-new", 3600))
        .mount(&server)
        .await;
        let store = Arc::new(MemoryStore::new());
        store
            .save("key", &expired_with_refresh_token())
            .await
            .unwrap();
        let (launcher, mut urls, calls) = channel_launcher();
        let auth = Arc::new(
            PkceAuthenticator::builder()
                .client_id("test-cli")
                .authorization_endpoint(format!("{}/authorize", server.uri()))
                .token_endpoint(format!("{}/token", server.uri()))
                .redirect_uri("http://127.0.0.1:0/callback")
                .timeout(Duration::from_secs(30))
                .prompt(|_| {})
                .launcher(launcher)
                .credential_store(store.clone())
                .store_key("key")
                .interactive(interactive)
                .build()
                .unwrap(),
        );
        if !interactive {
            let e = auth.credentials().await.unwrap_err();
            assert!(e.is_interaction_required(), "{e}");
            assert!(e.to_string().contains("flyte-auth login"), "{e}");
            assert!(e.to_string().contains("HTTP 400"), "{e}");
            assert!(
                store.load("key").await.unwrap().is_none(),
                "the dead refresh token is gone from the store"
            );
            assert_eq!(calls.load(Ordering::SeqCst), 0);
            continue;
        }
        let login = tokio::spawn({
            let auth = Arc::clone(&auth);
            async move { auth.credentials().await }
        });
        let a = urls.recv().await.unwrap();
        get(&a.callback(&format!("code=c&state={}", a.state))).await;
        let c = login.await.unwrap().unwrap();
        assert_eq!(c.access_token().secret(), "at-new");
        let stored = store.load("key").await.unwrap().unwrap();
        assert_eq!(stored.refresh_token().map(|r| r.secret()), Some("rt-new"));
    }
}
