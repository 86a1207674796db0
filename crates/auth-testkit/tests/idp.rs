//! The test identity provider, through its launcher: every behaviour the project's tests rely on.
//!
//! Each test starts a private provider (about half a second), so counters and grants never
//! leak between tests.

use std::time::Duration;

use auth_testkit::idp::{
    self, BrowserOutcome, TestIdp, approve_device, approve_device_code, basic_authorization,
    play_browser, reset_stats, stats,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use url::Url;

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const WAIT: Duration = Duration::from_secs(15);

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .expect("client")
}

async fn get_json(url: &str) -> Value {
    let response = http().get(url).send().await.expect("GET");
    assert!(
        response.status().is_success(),
        "GET {url}: {}",
        response.status()
    );
    response.json().await.expect("JSON")
}

/// POSTs a form to the token endpoint, optionally with a ready-made Authorization header.
async fn token(issuer: &str, form: &[(&str, &str)], authorization: Option<&str>) -> (u16, Value) {
    let mut request = http().post(format!("{issuer}/token")).form(form);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request.send().await.expect("token request");
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("token response JSON");
    (status, body)
}

fn basic(id: &str, secret: &str) -> String {
    basic_authorization(id, secret)
        .expect("header")
        .to_str()
        .expect("ascii")
        .to_owned()
}

async fn device_authorization(issuer: &str, client_id: &str, scope: &str) -> Value {
    let response = http()
        .post(format!("{issuer}/device/auth"))
        .form(&[("client_id", client_id), ("scope", scope)])
        .send()
        .await
        .expect("device authorization");
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.expect("JSON")
}

async fn poll(issuer: &str, client_id: &str, device_code: &str) -> (u16, Value) {
    token(
        issuer,
        &[
            ("grant_type", DEVICE_GRANT),
            ("client_id", client_id),
            ("device_code", device_code),
        ],
        None,
    )
    .await
}

fn jwt_claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("claims")
}

fn start() -> TestIdp {
    TestIdp::start().expect("the test identity provider starts")
}

// ---- a loopback callback server, as a CLI runs one ---------------------------------------------

/// Serves one `GET /callback?...` on 127.0.0.1 and hands over its query.
async fn callback_server() -> (u16, oneshot::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let mut tx = Some(tx);
        while tx.is_some() {
            let Ok(Ok((mut socket, _))) = tokio::time::timeout(WAIT, listener.accept()).await
            else {
                return;
            };
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
                match tokio::time::timeout(WAIT, socket.read(&mut buf)).await {
                    Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buf[..n]),
                    _ => break,
                }
            }
            let head = String::from_utf8_lossy(&head);
            let target = head.split_whitespace().nth(1).unwrap_or("").to_owned();
            let (status, body) = if target.starts_with("/callback") {
                ("200 OK", "signed in")
            } else {
                ("404 Not Found", "not here")
            };
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
            let _ = socket.shutdown().await;
            if target.starts_with("/callback") {
                let query = target
                    .split_once('?')
                    .map(|(_, q)| q.to_owned())
                    .unwrap_or_default();
                if let Some(tx) = tx.take() {
                    let _ = tx.send(query);
                }
            }
        }
    });
    (port, rx)
}

struct Pkce {
    verifier: String,
    challenge: String,
}

fn pkce() -> Pkce {
    // A fixed-shape but per-test verifier is enough here: the provider only checks S256.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    let verifier = URL_SAFE_NO_PAD.encode(format!("verifier-{nanos}-{}", "x".repeat(40)));
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    Pkce {
        verifier,
        challenge,
    }
}

fn authorization_url(
    issuer: &str,
    client_id: &str,
    redirect_uri: &str,
    pkce: Option<&Pkce>,
) -> String {
    let mut url = Url::parse(&format!("{issuer}/auth")).expect("url");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", "openid offline_access profile email all offline")
        .append_pair("state", "state-123");
    if let Some(pkce) = pkce {
        url.query_pairs_mut()
            .append_pair("code_challenge", &pkce.challenge)
            .append_pair("code_challenge_method", "S256");
    }
    url.to_string()
}

fn param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Authorization code + PKCE through [`play_browser`] and a real loopback server; returns the
/// token response.
async fn login(issuer: &str, client_id: &str) -> Value {
    let (port, query) = callback_server().await;
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let pkce = pkce();
    let outcome = tokio::time::timeout(
        WAIT,
        play_browser(&authorization_url(
            issuer,
            client_id,
            &redirect_uri,
            Some(&pkce),
        )),
    )
    .await
    .expect("browser in time")
    .expect("browser");
    assert_eq!(outcome.status, 200, "callback response: {outcome:?}");
    assert_eq!(outcome.body, "signed in");
    let query = tokio::time::timeout(WAIT, query)
        .await
        .expect("callback in time")
        .expect("callback query");
    assert_eq!(param(&query, "state").as_deref(), Some("state-123"));
    assert_eq!(
        param(&query, "iss").as_deref(),
        Some(issuer),
        "RFC 9207 iss"
    );
    let code = param(&query, "code").expect("code");
    assert_eq!(
        outcome.callback_param("code").as_deref(),
        Some(code.as_str())
    );

    let (status, body) = token(
        issuer,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", &code),
            ("redirect_uri", &redirect_uri),
            ("code_verifier", &pkce.verifier),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200, "code exchange: {body}");
    body
}

// ---- tests -------------------------------------------------------------------------------------

#[tokio::test]
async fn discovery_and_flyte_admin_routes() {
    let idp = start();
    let issuer = idp.issuer();
    assert!(issuer.starts_with("http://127.0.0.1:"), "{issuer}");

    let oidc = get_json(&format!("{issuer}/.well-known/openid-configuration")).await;
    let rfc8414 = get_json(&format!("{issuer}/.well-known/oauth-authorization-server")).await;
    assert_eq!(oidc, rfc8414);
    assert_eq!(oidc["issuer"], issuer);
    assert_eq!(oidc["token_endpoint"], format!("{issuer}/token"));
    assert_eq!(oidc["authorization_endpoint"], format!("{issuer}/auth"));
    assert_eq!(
        oidc["device_authorization_endpoint"],
        format!("{issuer}/device/auth")
    );
    assert!(oidc["introspection_endpoint"].is_string());
    assert!(oidc["revocation_endpoint"].is_string());
    let scopes = oidc["scopes_supported"].as_array().expect("scopes");
    for scope in ["openid", "offline_access", "all", "offline"] {
        assert!(scopes.iter().any(|s| s == scope), "{scope} in {scopes:?}");
    }

    let flyte = get_json(&format!("{issuer}/config/v1/flyte_client")).await;
    assert_eq!(flyte["client_id"], "flyte-cli");
    assert_eq!(flyte["redirect_uri"], "http://localhost:53593/callback");
    assert_eq!(flyte["authorization_metadata_key"], "flyte-authorization");
    assert_eq!(
        flyte["scopes"],
        serde_json::json!(["openid", "offline_access"])
    );
}

#[tokio::test]
async fn knobs_change_flyte_client_and_device_interval() {
    let idp = TestIdp::start_with(&[
        ("IDP_FLYTE_CLIENT_ID", "other-cli"),
        ("IDP_DEVICE_INTERVAL", "3"),
    ])
    .expect("start");
    let issuer = idp.issuer();
    let flyte = get_json(&format!("{issuer}/config/v1/flyte_client")).await;
    assert_eq!(flyte["client_id"], "other-cli");
    let device = device_authorization(issuer, "flyte-cli", "openid").await;
    assert_eq!(device["interval"], 3);
}

#[tokio::test]
async fn client_credentials_methods_are_enforced() {
    let idp = start();
    let issuer = idp.issuer();
    let grant = [("grant_type", "client_credentials")];

    let (status, body) = token(issuer, &grant, Some(&basic("cc-basic", "cc-basic-secret"))).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["access_token"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);

    // cc-basic with the secret in the form: refused.
    let (status, body) = token(
        issuer,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "cc-basic"),
            ("client_secret", "cc-basic-secret"),
        ],
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );

    // cc-post: form works, Basic is refused.
    let (status, body) = token(
        issuer,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "cc-post"),
            ("client_secret", "cc-post-secret"),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = token(issuer, &grant, Some(&basic("cc-post", "cc-post-secret"))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );

    // A wrong secret.
    let (status, body) = token(issuer, &grant, Some(&basic("cc-basic", "wrong"))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );

    // A public client cannot use client_credentials.
    let (status, body) = token(
        issuer,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "flyte-cli"),
        ],
        None,
    )
    .await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn special_secret_needs_form_urlencoded_basic_credentials() {
    let idp = start();
    let issuer = idp.issuer();
    let grant = [("grant_type", "client_credentials")];
    let secret = "p@ss:w+rd/% &=z";

    let (status, body) = token(issuer, &grant, Some(&basic("cc-special", secret))).await;
    assert_eq!(status, 200, "{body}");

    // The raw secret in Basic (what many clients wrongly send) is refused.
    let raw = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("cc-special:{secret}"))
    );
    let (status, body) = token(issuer, &grant, Some(&raw)).await;
    assert!(
        status == 400 || status == 401,
        "raw Basic accepted: {status} {body}"
    );
    assert!(body["error"].is_string(), "{body}");
}

#[tokio::test]
async fn audience_maps_to_resource() {
    let idp = start();
    let issuer = idp.issuer();
    let (status, body) = token(
        issuer,
        &[
            ("grant_type", "client_credentials"),
            ("audience", "https://api.example"),
            ("scope", "all"),
        ],
        Some(&basic("cc-basic", "cc-basic-secret")),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "all");
    let claims = jwt_claims(body["access_token"].as_str().expect("token"));
    assert_eq!(claims["aud"], "https://api.example");
    assert_eq!(claims["client_id"], "cc-basic");
    assert_eq!(claims["iss"], issuer);

    // `resource` itself works the same.
    let (status, body) = token(
        issuer,
        &[
            ("grant_type", "client_credentials"),
            ("resource", "https://other.example"),
        ],
        Some(&basic("cc-basic", "cc-basic-secret")),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        jwt_claims(body["access_token"].as_str().expect("token"))["aud"],
        "https://other.example"
    );
}

#[tokio::test]
async fn stats_count_requests_per_client() {
    let idp = start();
    let issuer = idp.issuer();
    let before = stats(issuer).await.expect("stats");
    assert_eq!(before.token_requests("cc-basic"), 0);

    for _ in 0..3 {
        let (status, _) = token(
            issuer,
            &[("grant_type", "client_credentials")],
            Some(&basic("cc-basic", "cc-basic-secret")),
        )
        .await;
        assert_eq!(status, 200);
    }
    let (status, _) = token(
        issuer,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "cc-post"),
            ("client_secret", "cc-post-secret"),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200);
    device_authorization(issuer, "flyte-cli", "openid").await;

    let now = stats(issuer).await.expect("stats");
    assert_eq!(now.token_requests("cc-basic"), 3);
    assert_eq!(now.token_requests("cc-post"), 1);
    assert_eq!(now.token_requests("flyte-cli"), 0);
    assert_eq!(now.device_authorization_requests("flyte-cli"), 1);
    assert_eq!(now.device_authorization_requests("cc-basic"), 0);

    reset_stats(issuer).await.expect("reset");
    let after = stats(issuer).await.expect("stats");
    assert_eq!(after, idp::Stats::default());
}

#[tokio::test]
async fn device_flow_approve_then_poll_yields_refresh_token() {
    let idp = start();
    let issuer = idp.issuer();
    let device = device_authorization(issuer, "flyte-cli", "openid offline_access all").await;
    assert_eq!(device["interval"], 1);
    assert!(device["user_code"].is_string());
    assert_eq!(device["verification_uri"], format!("{issuer}/device"));
    let device_code = device["device_code"].as_str().expect("device_code");

    let (status, body) = poll(issuer, "flyte-cli", device_code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("authorization_pending")),
        "{body}"
    );

    approve_device(
        device["verification_uri_complete"]
            .as_str()
            .expect("complete uri"),
        true,
    )
    .await
    .expect("approve");

    let (status, body) = poll(issuer, "flyte-cli", device_code).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["access_token"].is_string());
    assert!(
        body["refresh_token"].is_string(),
        "refresh token issued: {body}"
    );
    assert_eq!(body["expires_in"], 3600);
    let id_token = jwt_claims(body["id_token"].as_str().expect("id_token"));
    assert_eq!(id_token["sub"], "alice");
    assert_eq!(id_token["aud"], "flyte-cli");

    // The device code is single-use.
    let (status, body) = poll(issuer, "flyte-cli", device_code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
}

#[tokio::test]
async fn device_flow_typed_user_code_and_other_user() {
    let idp = TestIdp::start_with(&[("IDP_USER", "bob")]).expect("start");
    let issuer = idp.issuer();
    let device = device_authorization(issuer, "flyte-cli", "openid").await;
    approve_device_code(
        device["verification_uri"].as_str().expect("uri"),
        device["user_code"].as_str().expect("user_code"),
        true,
    )
    .await
    .expect("approve");
    let (status, body) = poll(
        issuer,
        "flyte-cli",
        device["device_code"].as_str().expect("dc"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        jwt_claims(body["id_token"].as_str().expect("id_token"))["sub"],
        "bob"
    );
}

#[tokio::test]
async fn device_flow_abort_is_access_denied() {
    let idp = start();
    let issuer = idp.issuer();
    let device = device_authorization(issuer, "flyte-cli", "openid").await;
    approve_device(
        device["verification_uri_complete"].as_str().expect("uri"),
        false,
    )
    .await
    .expect("abort");
    let (status, body) = poll(
        issuer,
        "flyte-cli",
        device["device_code"].as_str().expect("dc"),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("access_denied")),
        "{body}"
    );
}

#[tokio::test]
async fn device_slow_answers_slow_down_twice() {
    let idp = start();
    let issuer = idp.issuer();
    let device = device_authorization(issuer, "device-slow", "openid offline_access").await;
    let device_code = device["device_code"].as_str().expect("device_code");
    let mut errors = Vec::new();
    for _ in 0..4 {
        let (status, body) = poll(issuer, "device-slow", device_code).await;
        assert_eq!(status, 400, "{body}");
        errors.push(body["error"].as_str().expect("error").to_owned());
    }
    assert_eq!(
        errors,
        [
            "slow_down",
            "slow_down",
            "authorization_pending",
            "authorization_pending"
        ]
    );

    // Another device code gets its own two.
    let other = device_authorization(issuer, "device-slow", "openid").await;
    let (_, body) = poll(
        issuer,
        "device-slow",
        other["device_code"].as_str().expect("dc"),
    )
    .await;
    assert_eq!(body["error"], "slow_down");

    approve_device(
        device["verification_uri_complete"].as_str().expect("uri"),
        true,
    )
    .await
    .expect("approve");
    let (status, body) = poll(issuer, "device-slow", device_code).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["refresh_token"].is_string());
}

#[tokio::test]
async fn device_code_ttl_knob_and_expired_token_after_the_expiry() {
    let default = start();
    let device = device_authorization(default.issuer(), "flyte-cli", "openid").await;
    assert_eq!(device["expires_in"], 600);
    drop(default);

    let idp = TestIdp::start_with(&[("IDP_DEVICE_CODE_TTL", "2")]).expect("start");
    let issuer = idp.issuer();
    let device = device_authorization(issuer, "flyte-cli", "openid").await;
    assert_eq!(device["expires_in"], 2);
    let device_code = device["device_code"].as_str().expect("device_code");
    let (status, body) = poll(issuer, "flyte-cli", device_code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("authorization_pending")),
        "{body}"
    );
    // Past the expiry, and past the moment the in-memory store alone would have dropped the
    // code (then the answer would be invalid_grant, "not found").
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let (status, body) = poll(issuer, "flyte-cli", device_code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("expired_token")),
        "{body}"
    );
}

#[test]
fn an_invalid_device_code_ttl_stops_the_start() {
    for value in ["0", "-1", "1.5", "soon"] {
        match TestIdp::start_with(&[("IDP_DEVICE_CODE_TTL", value)]) {
            Err(idp::IdpError::Startup { stderr, .. }) => {
                assert!(stderr.contains("invalid IDP_DEVICE_CODE_TTL"), "{stderr}");
            }
            other => panic!("IDP_DEVICE_CODE_TTL={value}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn authorization_code_with_pkce_through_play_browser() {
    let idp = start();
    let issuer = idp.issuer();
    let tokens = login(issuer, "flyte-cli").await;
    assert!(tokens["access_token"].is_string());
    assert!(
        tokens["refresh_token"].is_string(),
        "refresh token without prompt=consent: {tokens}"
    );
    assert_eq!(tokens["expires_in"], 3600);
    let id_token = jwt_claims(tokens["id_token"].as_str().expect("id_token"));
    assert_eq!(id_token["sub"], "alice");
    // conformIdTokenClaims: scope-based claims go to userinfo, not into the id_token.

    let userinfo: Value = http()
        .get(format!("{issuer}/me"))
        .bearer_auth(tokens["access_token"].as_str().expect("at"))
        .send()
        .await
        .expect("userinfo")
        .json()
        .await
        .expect("JSON");
    assert_eq!(userinfo["sub"], "alice");
    assert_eq!(userinfo["email"], "alice@example.com");
    assert_eq!(userinfo["name"], "Alice Example");
}

#[tokio::test]
async fn pkce_is_required_for_public_clients() {
    let idp = start();
    let issuer = idp.issuer();
    let (port, _query) = callback_server().await;
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let outcome: BrowserOutcome =
        play_browser(&authorization_url(issuer, "flyte-cli", &redirect_uri, None))
            .await
            .expect("browser");
    assert_eq!(
        outcome.callback_param("error").as_deref(),
        Some("invalid_request")
    );
    assert!(
        outcome
            .callback_param("error_description")
            .is_some_and(|d| d.contains("PKCE")),
        "{outcome:?}"
    );
    assert_eq!(outcome.callback_param("code"), None);
}

#[tokio::test]
async fn loopback_redirect_hosts_and_ports() {
    let idp = start();
    let issuer = idp.issuer();
    let pkce = pkce();
    // localhost with any port is accepted (the provider redirects there; nothing listens on
    // the port, so only the provider's redirect is checked).
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::custom(|a| {
            if a.url().port() == Some(1) {
                a.stop()
            } else {
                a.follow()
            }
        }))
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .expect("client");
    let response = client
        .get(authorization_url(
            issuer,
            "flyte-cli",
            "http://localhost:1/callback",
            Some(&pkce),
        ))
        .send()
        .await
        .expect("authorize");
    let location = response.headers()["location"].to_str().expect("location");
    assert!(
        location.starts_with("http://localhost:1/callback?code="),
        "{location}"
    );

    // So is [::1]; 127.0.0.1 is exercised by every other login test.
    let location = client
        .get(authorization_url(
            issuer,
            "flyte-cli",
            "http://[::1]:1/callback",
            Some(&pkce),
        ))
        .send()
        .await
        .expect("authorize")
        .headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(
        location.starts_with("http://[::1]:1/callback?code="),
        "{location}"
    );

    // An unregistered path: the provider shows an error page instead of redirecting.
    let err = play_browser(&authorization_url(
        issuer,
        "flyte-cli",
        "http://127.0.0.1:1/other",
        Some(&pkce),
    ))
    .await
    .expect_err("unregistered redirect_uri");
    assert!(err.to_string().contains("redirect_uri"), "{err}");
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_chain() {
    let idp = start();
    let issuer = idp.issuer();
    let tokens = login(issuer, "flyte-cli").await;
    let first = tokens["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_owned();

    let refresh = |rt: String| async move {
        token(
            issuer,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "flyte-cli"),
                ("refresh_token", &rt),
            ],
            None,
        )
        .await
    };
    let (status, body) = refresh(first.clone()).await;
    assert_eq!(status, 200, "{body}");
    let second = body["refresh_token"].as_str().expect("rotated").to_owned();
    assert_ne!(second, first);
    assert_ne!(body["access_token"], tokens["access_token"]);

    // Replaying the rotated token fails and revokes everything issued from the grant.
    let (status, body) = refresh(first).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (status, body) = refresh(second).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
}

#[tokio::test]
async fn short_lived_tokens_expire_without_clock_tolerance() {
    let idp = start();
    let issuer = idp.issuer();
    let (status, body) = token(
        issuer,
        &[("grant_type", "client_credentials")],
        Some(&basic("cc-short", "cc-short-secret")),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], 2);
    let access_token = body["access_token"].as_str().expect("at").to_owned();

    let introspect = || async {
        let response = http()
            .post(format!("{issuer}/token/introspection"))
            .header("authorization", basic("cc-basic", "cc-basic-secret"))
            .form(&[("token", access_token.as_str())])
            .send()
            .await
            .expect("introspection");
        response.json::<Value>().await.expect("JSON")
    };
    assert_eq!(introspect().await["active"], true);
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(
        introspect().await["active"],
        false,
        "expired 2 s token still active"
    );

    let tokens = login(issuer, "flyte-cli-short").await;
    assert_eq!(tokens["expires_in"], 2);
    assert!(tokens["refresh_token"].is_string());
}

#[tokio::test]
async fn the_browser_binary_completes_a_login() {
    let idp = start();
    let issuer = idp.issuer().to_owned();
    let (port, query) = callback_server().await;
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let url = authorization_url(&issuer, "flyte-cli", &redirect_uri, Some(&pkce()));
    let status = tokio::time::timeout(
        WAIT,
        tokio::process::Command::new(env!("CARGO_BIN_EXE_auth-test-browser"))
            .arg("--some-option")
            .arg(&url)
            .stderr(std::process::Stdio::null())
            .status(),
    )
    .await
    .expect("in time")
    .expect("run");
    assert!(status.success(), "{status}");
    let query = tokio::time::timeout(WAIT, query)
        .await
        .expect("in time")
        .expect("query");
    assert!(param(&query, "code").is_some());

    // Nothing listening at the callback: exit 1.
    let status = tokio::time::timeout(
        WAIT,
        tokio::process::Command::new(env!("CARGO_BIN_EXE_auth-test-browser"))
            .arg(authorization_url(
                &issuer,
                "flyte-cli",
                "http://127.0.0.1:1/callback",
                Some(&pkce()),
            ))
            .stderr(std::process::Stdio::null())
            .status(),
    )
    .await
    .expect("in time")
    .expect("run");
    assert_eq!(status.code(), Some(1));
}

#[tokio::test]
async fn drop_stops_the_provider() {
    let idp = start();
    let address = idp.issuer().trim_start_matches("http://").to_owned();
    assert!(tokio::net::TcpStream::connect(&address).await.is_ok());
    drop(idp);
    assert!(
        tokio::net::TcpStream::connect(&address).await.is_err(),
        "still listening after drop"
    );
}
