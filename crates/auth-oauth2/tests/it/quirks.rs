//! Provider quirks and failures at the token endpoint, against wiremock.

use std::time::{Duration, SystemTime};

use auth_core::{
    AuthorizationCode, ClientSecret, DeviceCode, ErrorKind, PkceCodeVerifier, RefreshToken,
};
use auth_oauth2::{ClientAuthMethod, HttpClient, OAuth2Client, TransportOptions};
use base64::Engine as _;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{body_string_contains, header, header_exists, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::support::{fixed, http, options, strings};

const SECRET: &str = "planted-client-secret-4711";

fn client(http: HttpClient) -> OAuth2Client {
    OAuth2Client::new(http, "svc")
        .with_client_secret(Some(ClientSecret::new(SECRET)), ClientAuthMethod::Basic)
}

fn token_json() -> serde_json::Value {
    json!({"access_token": "at-1", "token_type": "Bearer", "expires_in": 3600})
}

async fn token_server(response: ResponseTemplate) -> (MockServer, String) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(response)
        .mount(&server)
        .await;
    let url = format!("{}/token", server.uri());
    (server, url)
}

fn assert_no_secret(e: &auth_core::AuthError) {
    let text = format!("{e} {e:?}");
    assert!(!text.contains(SECRET), "{text}");
    assert!(
        !text.contains("grant_type"),
        "request body in error: {text}"
    );
}

#[tokio::test]
async fn client_credentials_basic_sends_encoded_header_and_form() {
    let server = MockServer::start().await;
    let expected = base64::engine::general_purpose::STANDARD.encode(format!("svc:{SECRET}"));
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(header(
            "authorization",
            format!("Basic {expected}").as_str(),
        ))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains("scope=offline+all"))
        .and(body_string_contains("audience=https%3A%2F%2Fapi"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json()))
        .expect(1)
        .mount(&server)
        .await;
    let before = SystemTime::now();
    let c = client(http())
        .client_credentials(
            &format!("{}/token", server.uri()),
            &strings(&["['offline', 'all']"]),
            Some("https://api"),
        )
        .await
        .expect("token");
    assert_eq!(c.access_token().secret(), "at-1");
    assert_eq!(c.scopes(), strings(&["offline", "all"]));
    let at = c.expires_at().expect("expiry");
    assert!(at >= before + Duration::from_secs(3600));
    let body =
        String::from_utf8(server.received_requests().await.unwrap()[0].body.clone()).unwrap();
    assert!(!body.contains("client_secret"), "{body}");
}

#[tokio::test]
async fn client_secret_post_puts_credentials_in_body_and_skips_empty_audience() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("client_id=svc"))
        .and(body_string_contains(format!("client_secret={SECRET}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json()))
        .expect(1)
        .mount(&server)
        .await;
    let c = OAuth2Client::new(http(), "svc")
        .with_client_secret(Some(ClientSecret::new(SECRET)), ClientAuthMethod::Post);
    c.client_credentials(&format!("{}/token", server.uri()), &[], Some(" "))
        .await
        .expect("token");
    let req = &server.received_requests().await.unwrap()[0];
    let body = String::from_utf8(req.body.clone()).unwrap();
    assert!(
        !body.contains("scope="),
        "empty scopes send no scope: {body}"
    );
    assert!(
        !body.contains("audience"),
        "blank audience is not sent: {body}"
    );
    assert!(req.headers.get("authorization").is_none());
}

#[tokio::test]
async fn expires_in_as_string_and_lowercase_token_type() {
    let (_s, url) = token_server(ResponseTemplate::new(200).set_body_json(
        json!({"access_token": "at", "token_type": "bearer", "expires_in": "120", "unknown": {"x": 1}}),
    ))
    .await;
    let before = SystemTime::now();
    let c = client(http())
        .client_credentials(&url, &[], None)
        .await
        .expect("token");
    assert_eq!(c.token_type(), "Bearer");
    let at = c.expires_at().expect("expiry");
    assert!(
        at >= before + Duration::from_secs(120)
            && at <= SystemTime::now() + Duration::from_secs(120)
    );
}

#[tokio::test]
async fn expires_on_is_read_when_expires_in_is_absent() {
    let (_s, url) = token_server(
        ResponseTemplate::new(200)
            .set_body_json(json!({"access_token": "at", "expires_on": "4102444800"})),
    )
    .await;
    let c = client(http())
        .client_credentials(&url, &[], None)
        .await
        .expect("token");
    assert_eq!(
        c.expires_at(),
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(4_102_444_800))
    );
}

#[tokio::test]
async fn success_status_with_error_member_is_an_oauth_error() {
    let (_s, url) = token_server(ResponseTemplate::new(200).set_body_json(
        json!({"error": "invalid_scope", "error_description": "scope x is unknown"}),
    ))
    .await;
    let e = client(http())
        .client_credentials(&url, &[], None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OAuth);
    assert_eq!(e.oauth_error_code(), Some("invalid_scope"));
    assert_eq!(e.status(), Some(200));
    assert!(
        e.to_string().contains(&format!("token request to {url}")),
        "{e}"
    );
    assert_no_secret(&e);
}

#[tokio::test]
async fn error_body_is_parsed_into_the_oauth_error() {
    let (_s, url) = token_server(ResponseTemplate::new(401).set_body_json(json!({
        "error": "invalid_client",
        "error_description": "client authentication failed",
        "error_uri": "https://idp/docs"
    })))
    .await;
    let e = client(http())
        .client_credentials(&url, &[], None)
        .await
        .unwrap_err();
    let oauth = e.oauth_error().expect("oauth error");
    assert_eq!(oauth.error, "invalid_client");
    assert_eq!(
        oauth.error_description.as_deref(),
        Some("client authentication failed")
    );
    assert_eq!(oauth.error_uri.as_deref(), Some("https://idp/docs"));
    assert_eq!(e.status(), Some(401));
    assert!(!e.is_retryable());
    assert_no_secret(&e);
}

#[tokio::test]
async fn missing_access_token_names_the_member() {
    let (_s, url) =
        token_server(ResponseTemplate::new(200).set_body_json(json!({"token_type": "Bearer"})))
            .await;
    let e = client(http())
        .client_credentials(&url, &[], None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
    assert!(e.to_string().contains("access_token"), "{e}");
}

#[tokio::test]
async fn malformed_json_is_an_invalid_response_without_the_body() {
    let (_s, url) = token_server(
        ResponseTemplate::new(200)
            .set_body_raw(r#"{"access_token": "leaky-token", "#, "application/json"),
    )
    .await;
    let e = client(http())
        .client_credentials(&url, &[], None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
    assert!(e.to_string().contains("not valid JSON"), "{e}");
    assert!(!e.to_string().contains("leaky-token"), "{e}");
}

#[tokio::test]
async fn html_502_is_retried_then_reported_with_an_excerpt() {
    let page = "<html><head><title>502 Bad Gateway</title></head><body>\n<center>nginx</center>\x07</body></html>";
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(502).set_body_raw(page, "text/html"))
        .expect(3)
        .mount(&server)
        .await;
    let e = client(http())
        .client_credentials(&format!("{}/token", server.uri()), &[], None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport);
    assert_eq!(e.status(), Some(502));
    let text = e.to_string();
    assert!(text.contains("502 Bad Gateway nginx"), "{text}");
    assert!(text.contains("after 3 attempts"), "{text}");
    assert!(!text.contains('<') && !text.contains('\x07'), "{text}");
    // This layer retried: the token engine must not multiply the attempts.
    assert!(!e.is_retryable());
}

#[tokio::test]
async fn single_use_grants_are_never_resent_after_a_5xx() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(503).set_body_raw("busy", "text/plain"))
        .expect(3)
        .mount(&server)
        .await;
    let url = format!("{}/token", server.uri());
    let c = OAuth2Client::new(http(), "cli");
    let e = c
        .exchange_code(
            &url,
            &AuthorizationCode::new("code"),
            "http://127.0.0.1/cb",
            &PkceCodeVerifier::new("v"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(503));
    assert!(!e.is_retryable(), "the code may have been spent");
    let e = c
        .refresh(&url, &RefreshToken::new("rt"), &[])
        .await
        .unwrap_err();
    assert!(!e.is_retryable());
    let e = c
        .poll_device_token(&url, &DeviceCode::new("dc"), &[])
        .await
        .unwrap_err();
    assert!(!e.is_retryable());
    // One request per grant (3 in all), none resent.
}

#[tokio::test]
async fn device_polling_errors_carry_the_code() {
    let (_s, url) = token_server(
        ResponseTemplate::new(400).set_body_json(json!({"error": "authorization_pending"})),
    )
    .await;
    let e = OAuth2Client::new(http(), "cli")
        .poll_device_token(
            &url,
            &DeviceCode::new("dc"),
            &[("client_secret_extra", "x")],
        )
        .await
        .unwrap_err();
    assert_eq!(e.oauth_error_code(), Some("authorization_pending"));
    assert!(!e.is_retryable());
}

#[tokio::test]
async fn slow_down_keeps_the_servers_interval_and_nothing_else() {
    // The interval as a number, as a numeric string (a quirk), absent, and not a number.
    for (interval, want) in [
        (json!(30), Some(Duration::from_secs(30))),
        (json!("12"), Some(Duration::from_secs(12))),
        (serde_json::Value::Null, None),
        (json!("soon"), None),
    ] {
        let mut body = json!({
            "error": "slow_down",
            "device_code": "echoed-dc-4711",
            "nested": {"x": 1},
        });
        if !interval.is_null() {
            body["interval"] = interval.clone();
        }
        let (_s, url) = token_server(ResponseTemplate::new(400).set_body_json(body)).await;
        let e = OAuth2Client::new(http(), "cli")
            .poll_device_token(&url, &DeviceCode::new("dc"), &[])
            .await
            .unwrap_err();
        let oauth = e.oauth_error().expect("oauth error");
        assert_eq!(oauth.error, "slow_down");
        assert_eq!(oauth.interval, want, "interval {interval}");
        // Other members of the body are not kept.
        let text = format!("{e} {e:?}");
        assert!(!text.contains("echoed-dc-4711"), "{text}");
        assert!(!text.contains("nested"), "{text}");
    }
}

#[tokio::test]
async fn a_2xx_slow_down_keeps_the_interval_too() {
    let (_s, url) = token_server(
        ResponseTemplate::new(200).set_body_json(json!({"error": "slow_down", "interval": 25})),
    )
    .await;
    let e = OAuth2Client::new(http(), "cli")
        .poll_device_token(&url, &DeviceCode::new("dc"), &[])
        .await
        .unwrap_err();
    assert_eq!(e.oauth_error_code(), Some("slow_down"));
    assert_eq!(
        e.oauth_error().and_then(|o| o.interval),
        Some(Duration::from_secs(25))
    );
}

#[tokio::test]
async fn too_many_requests_honours_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json()))
        .mount(&server)
        .await;
    let url = format!("{}/token", server.uri());
    let c = client(http())
        .client_credentials(&url, &[], None)
        .await
        .expect("retried after 429");
    assert_eq!(c.access_token().secret(), "at-1");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);

    // Without retries here, the wait the server asked for is handed to the caller.
    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "7"))
        .mount(&server)
        .await;
    let once = HttpClient::new(&options().with_retry(auth_core::RetryPolicy::none())).unwrap();
    let e = client(once)
        .client_credentials(&url, &[], None)
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(429));
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    assert!(e.is_retryable(), "not retried here, so the engine may");
}

#[tokio::test]
async fn a_hung_endpoint_ends_in_a_timeout_naming_the_bound() {
    let (_s, url) = token_server(
        ResponseTemplate::new(200)
            .set_body_json(token_json())
            .set_delay(Duration::from_secs(30)),
    )
    .await;
    let http = HttpClient::new(&options().with_timeout(Duration::from_millis(300))).unwrap();
    let e = client(http)
        .client_credentials(&url, &[], None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(
        e.to_string()
            .contains(&format!("no answer from {url} within 300ms")),
        "{e}"
    );
}

#[tokio::test]
async fn a_redirect_from_the_token_endpoint_is_not_followed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", "https://login.elsewhere.example/token"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let e = client(http())
        .client_credentials(&format!("{}/token", server.uri()), &[], None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Configuration);
    assert_eq!(e.status(), Some(302));
    assert!(e.to_string().contains("login.elsewhere.example"), "{e}");
}

#[tokio::test]
async fn a_five_mib_body_is_refused() {
    let big = format!("{{\"access_token\": \"{}\"}}", "a".repeat(5 << 20));
    let (_s, url) =
        token_server(ResponseTemplate::new(200).set_body_raw(big, "application/json")).await;
    let e = client(http())
        .client_credentials(&url, &[], None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
    assert!(e.to_string().contains("larger than 1 MiB"), "{e}");
}

/// A chunked answer without a length: reading stops at the cap instead of buffering it all.
#[tokio::test]
async fn an_endless_chunked_body_is_cut_at_the_cap() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 8192];
        let _ = sock.read(&mut buf).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
        sock.write_all(head.as_bytes()).await.unwrap();
        let chunk = vec![b'a'; 64 * 1024];
        let mut sent = 0usize;
        // Up to 64 MiB; the client hangs up long before.
        while sent < 64 << 20 {
            let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
            if sock.write_all(&framed).await.is_err() {
                break;
            }
            sent += chunk.len();
        }
        sent
    });
    let e = client(http())
        .client_credentials(&format!("http://{addr}/token"), &[], None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
    assert!(e.to_string().contains("larger than 1 MiB"), "{e}");
    let sent = server.await.unwrap();
    assert!(sent < 64 << 20, "the client kept reading ({sent} bytes)");
}

#[tokio::test]
async fn connect_errors_are_retried_and_reported() {
    // A port nobody listens on: bind, note the port, close.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = client(http())
        .client_credentials(&format!("http://127.0.0.1:{port}/token"), &[], None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport);
    let text = e.to_string();
    assert!(
        text.contains("could not connect to http://127.0.0.1"),
        "{text}"
    );
    assert!(text.contains("after 3 attempts"), "{text}");
    assert!(!e.is_retryable());
}

#[tokio::test]
async fn device_authorization_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/device"))
        .and(body_string_contains("client_id=cli"))
        .and(body_string_contains("scope=openid+offline_access"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "device_code": "dc-1", "user_code": "WDJB-MJHT",
            "verification_uri": "https://idp/device",
            "verification_uri_complete": "https://idp/device?user_code=WDJB-MJHT",
            "expires_in": 900, "interval": 5
        })))
        .mount(&server)
        .await;
    let d = OAuth2Client::new(http(), "cli")
        .device_authorization(
            &format!("{}/device", server.uri()),
            &strings(&["openid", "offline_access"]),
            None,
            &[],
        )
        .await
        .expect("device authorization");
    assert_eq!(d.device_code.secret(), "dc-1");
    assert_eq!(d.user_code, "WDJB-MJHT");
    assert_eq!(d.interval, Some(Duration::from_secs(5)));
    assert_eq!(d.expires_in, Duration::from_secs(900));
}

#[tokio::test]
async fn proxy_authorization_goes_to_the_flyte_host_only() {
    let flyte = MockServer::start().await;
    let idp = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/.well-known/oauth-authorization-server"))
        .and(header("proxy-authorization", "Bearer px-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issuer": idp.uri(), "token_endpoint": format!("{}/token", idp.uri())
        })))
        .mount(&flyte)
        .await;
    Mock::given(method("GET"))
        .and(path("/config/v1/flyte_client"))
        .and(header_exists("proxy-authorization"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"clientId": "flytectl"})))
        .mount(&flyte)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json()))
        .mount(&idp)
        .await;
    let flyte_host = flyte.address().to_string();
    let http = HttpClient::new(
        &options().with_proxy_authorization(flyte_host.as_str(), fixed("px-token")),
    )
    .unwrap();
    let discovery =
        auth_oauth2::FlyteDiscovery::new(http.clone(), &format!("dns:///{flyte_host}"), true);
    let config = auth_core::ClientConfigStore::client_config(&discovery)
        .await
        .expect("discovery");
    client(http)
        .client_credentials(&config.token_endpoint, &[], None)
        .await
        .expect("token");

    let to_flyte = flyte.received_requests().await.unwrap();
    assert_eq!(to_flyte.len(), 2);
    assert!(
        to_flyte
            .iter()
            .all(|r: &Request| r.headers.get("proxy-authorization").is_some())
    );
    let to_idp = idp.received_requests().await.unwrap();
    assert_eq!(to_idp.len(), 1);
    assert!(
        to_idp[0].headers.get("proxy-authorization").is_none(),
        "the IdP got the proxy token"
    );
}

#[tokio::test]
async fn an_explicit_proxy_is_used() {
    // wiremock as the HTTP proxy: an absolute-form request line arrives there.
    let proxy = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json()))
        .expect(1)
        .mount(&proxy)
        .await;
    let http = HttpClient::new(&TransportOptions::new().with_proxy_url(Some(proxy.uri()))).unwrap();
    client(http)
        .client_credentials("http://idp.invalid/token", &[], None)
        .await
        .expect("via proxy");
}

#[tokio::test]
async fn secrets_never_reach_the_logs() {
    let logs = auth_testkit::logs::global();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "planted-access-token", "refresh_token": "planted-new-refresh",
            "id_token": "planted-id-token", "expires_in": "60", "token_type": "bearer"
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_string_contains("grant_type=client_credentials"))
        .respond_with(ResponseTemplate::new(502).set_body_raw("<h1>bad gateway</h1>", "text/html"))
        .mount(&server)
        .await;
    let url = format!("{}/token", server.uri());
    let c = client(http());
    let creds = c
        .refresh(&url, &RefreshToken::new("planted-old-refresh"), &[])
        .await
        .expect("refresh");
    let e = c.client_credentials(&url, &[], None).await.unwrap_err();
    tracing::info!(error = %e, credentials = ?creds, "done");
    logs.assert_none_of(&[
        SECRET,
        "planted-access-token",
        "planted-new-refresh",
        "planted-id-token",
        "planted-old-refresh",
    ]);
}

#[tokio::test]
async fn one_client_alternating_token_endpoints_sends_each_request_to_its_endpoint() {
    // The first endpoint is cached without a lock; any other goes through the slow path.
    // Each request must still reach the endpoint it names, and errors name that endpoint.
    let a = MockServer::start().await;
    let b = MockServer::start().await;
    for (server, token) in [(&a, "at-a"), (&b, "at-b")] {
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600}),
            ))
            .expect(2)
            .mount(server)
            .await;
    }
    let c = client(http());
    let (url_a, url_b) = (format!("{}/token", a.uri()), format!("{}/token", b.uri()));
    for (url, token) in [
        (&url_a, "at-a"),
        (&url_b, "at-b"),
        (&url_a, "at-a"),
        (&url_b, "at-b"),
    ] {
        let creds = c.client_credentials(url, &[], None).await.expect("token");
        assert_eq!(creds.access_token().secret(), token, "{url}");
    }
    let e = c
        .client_credentials("not a url", &[], None)
        .await
        .expect_err("a malformed endpoint is refused");
    assert_eq!(e.kind(), ErrorKind::Configuration, "{e}");
    let (gone, url_gone) =
        token_server(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_scope"})))
            .await;
    let e = c
        .client_credentials(&url_gone, &[], None)
        .await
        .expect_err("400");
    assert!(e.to_string().contains(&url_gone), "{e}");
    drop(gone);
}
