//! Settings, precedence and errors against a wiremock token endpoint.

use std::sync::Arc;

use auth_clientcreds::ClientCredentialsAuthenticator;
use auth_core::{
    Authenticator, ClientConfig, ClientSecret, ErrorKind, MemoryStore, StaticClientConfigStore,
};
use auth_oauth2::ClientAuthMethod;
use serde_json::json;
use wiremock::matchers::{body_string_contains, header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "wire-planted-secret-99";

async fn token_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "wire-access-token", "token_type": "Bearer", "expires_in": 3600
        })))
        .mount(&server)
        .await;
    server
}

fn store_with(
    server: &MockServer,
    scopes: &[&str],
    header_key: &str,
) -> Arc<StaticClientConfigStore> {
    let config = ClientConfig::new(format!("{}/token", server.uri()), "public-client")
        .with_scopes(scopes.iter().copied())
        .with_header_key(header_key)
        .with_audience("store-audience");
    Arc::new(StaticClientConfigStore::new(config))
}

fn builder() -> auth_clientcreds::ClientCredentialsBuilder {
    ClientCredentialsAuthenticator::builder()
        .client_id("svc")
        .client_secret(ClientSecret::new(SECRET))
}

async fn last_body(server: &MockServer) -> String {
    let requests = server.received_requests().await.unwrap_or_default();
    requests
        .last()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn server_scopes_are_used_only_when_none_are_configured() {
    let server = token_server().await;
    let auth = builder()
        .config_store(store_with(&server, &["offline", "all"], ""))
        .build()
        .unwrap();
    auth.credentials().await.expect("token");
    let body = last_body(&server).await;
    assert!(body.contains("scope=offline+all"), "{body}");
    assert!(body.contains("audience=store-audience"), "{body}");
    assert!(
        !body.contains("public-client"),
        "the builder's client id is used: {body}"
    );

    let auth = builder()
        .config_store(store_with(&server, &["offline", "all"], ""))
        .scopes(["mine"])
        .audience("my-audience")
        .build()
        .unwrap();
    auth.credentials().await.expect("token");
    let body = last_body(&server).await;
    assert!(
        body.contains("scope=mine") && !body.contains("offline"),
        "{body}"
    );
    assert!(body.contains("audience=my-audience"), "{body}");

    let auth = builder()
        .config_store(store_with(&server, &["offline", "all"], ""))
        .scopes(Vec::<String>::new())
        .build()
        .unwrap();
    auth.credentials().await.expect("token");
    let body = last_body(&server).await;
    assert!(
        !body.contains("scope="),
        "an empty list sends no scope: {body}"
    );
}

#[tokio::test]
async fn header_key_precedence() {
    let server = token_server().await;
    let discovered = builder()
        .config_store(store_with(&server, &[], "flyte-authorization"))
        .build()
        .unwrap();
    let (key, value) = discovered.authorization_header().await.expect("header");
    assert_eq!(key, "flyte-authorization");
    assert_eq!(value.secret(), "Bearer wire-access-token");

    let explicit = builder()
        .config_store(store_with(&server, &[], "flyte-authorization"))
        .header_key("x-api-auth")
        .build()
        .unwrap();
    assert_eq!(
        explicit.header_key(),
        "x-api-auth",
        "known before any request"
    );
    assert_eq!(
        explicit.authorization_header().await.unwrap().0,
        "x-api-auth"
    );

    let plain = builder()
        .token_endpoint(format!("{}/token", server.uri()))
        .build()
        .unwrap();
    assert_eq!(
        plain.authorization_header().await.unwrap().0,
        "authorization"
    );
}

#[tokio::test]
async fn client_secret_post_is_used_when_asked() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains(format!("client_secret={SECRET}")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "p", "expires_in": 60})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let auth = builder()
        .token_endpoint(format!("{}/token", server.uri()))
        .auth_method(ClientAuthMethod::Post)
        .build()
        .unwrap();
    assert_eq!(
        auth.credentials().await.unwrap().access_token().secret(),
        "p"
    );
}

#[tokio::test]
async fn one_hundred_concurrent_callers_cause_one_request() {
    let server = token_server().await;
    let auth = Arc::new(
        builder()
            .token_endpoint(format!("{}/token", server.uri()))
            .build()
            .unwrap(),
    );
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let auth = Arc::clone(&auth);
            tokio::spawn(async move { auth.credentials().await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().expect("token");
    }
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn invalid_client_is_typed_and_never_shows_the_secret() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": "invalid_client", "error_description": "client authentication failed"
        })))
        .mount(&server)
        .await;
    let auth = builder()
        .token_endpoint(format!("{}/token", server.uri()))
        .auth_method(ClientAuthMethod::Basic)
        .build()
        .unwrap();
    let e = auth.credentials().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OAuth);
    assert_eq!(e.oauth_error_code(), Some("invalid_client"));
    assert_eq!(
        e.oauth_error().and_then(|o| o.error_description.as_deref()),
        Some("client authentication failed")
    );
    let text = format!("{e} {e:?}");
    assert!(!text.contains(SECRET), "{text}");
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "a refusal is not retried"
    );
}

#[tokio::test]
async fn a_credential_store_is_used_only_when_given() {
    let server = token_server().await;
    let store = Arc::new(MemoryStore::new());
    let url = format!("{}/token", server.uri());
    let auth = builder()
        .token_endpoint(url.clone())
        .credential_store(store.clone())
        .build()
        .unwrap();
    auth.credentials().await.expect("token");
    let saved = auth_core::CredentialStore::load(store.as_ref(), &url)
        .await
        .unwrap();
    assert_eq!(
        saved
            .map(|c| c.access_token().secret().to_string())
            .as_deref(),
        Some("wire-access-token")
    );

    // A second authenticator with the same store finds the token without a request.
    let again = builder()
        .token_endpoint(url)
        .credential_store(store)
        .build()
        .unwrap();
    again.credentials().await.expect("token");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn secrets_never_reach_the_logs() {
    let logs = auth_testkit::logs::global();
    let server = token_server().await;
    let auth = builder()
        .token_endpoint(format!("{}/token", server.uri()))
        .build()
        .unwrap();
    let creds = auth.credentials().await.expect("token");
    tracing::info!(?auth, ?creds, "done");
    logs.assert_none_of(&[SECRET, "wire-access-token"]);
}

#[tokio::test]
async fn a_discovered_plain_http_token_endpoint_is_refused() {
    let store = Arc::new(StaticClientConfigStore::new(ClientConfig::new(
        "http://example.invalid/token",
        "public-client",
    )));
    let auth = builder().config_store(store).build().unwrap();

    let error = auth.credentials().await.unwrap_err();

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
    assert!(!message.contains(SECRET), "{message}");
}

#[tokio::test]
async fn a_discovered_loopback_http_token_endpoint_is_used() {
    let server = token_server().await;
    assert!(server.uri().starts_with("http://127.0.0.1"));
    let auth = builder()
        .config_store(store_with(&server, &[], ""))
        .build()
        .unwrap();
    let creds = auth.credentials().await.unwrap();
    assert_eq!(creds.access_token().secret(), "wire-access-token");
}

#[tokio::test]
async fn a_stored_token_gets_the_discovered_header_key_without_a_token_request() {
    use auth_core::{AccessToken, CredentialStore as _, Credentials};
    let server = token_server().await;
    let uri = server.uri();
    Mock::given(method("GET"))
        .and(path("/.well-known/oauth-authorization-server"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issuer": uri, "token_endpoint": format!("{uri}/token"),
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/config/v1/flyte_client"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "client_id": "flytectl", "authorization_metadata_key": "flyte-authorization",
        })))
        .mount(&server)
        .await;
    let store = Arc::new(MemoryStore::new());
    let valid = Credentials::new(AccessToken::new("at-stored")).with_expires_at(Some(
        std::time::SystemTime::now() + std::time::Duration::from_secs(3600),
    ));
    store.save("svc-key", &valid).await.unwrap();
    let http = auth_oauth2::HttpClient::new(&auth_oauth2::TransportOptions::new()).unwrap();
    let auth = builder()
        .config_store(Arc::new(auth_oauth2::FlyteDiscovery::new(
            http.clone(),
            &uri,
            true,
        )))
        .http_client(http)
        .credential_store(store)
        .store_key("svc-key")
        .build()
        .unwrap();

    let (key, value) = auth.authorization_header().await.unwrap();

    assert_eq!(key, "flyte-authorization");
    assert_eq!(value.secret(), "Bearer at-stored");
    let token_requests = server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == "/token")
        .count();
    assert_eq!(token_requests, 0);
}

/// A 401 or 403 without an OAuth error body is the provider refusing the client (exit 3 in
/// the command), and the message says which client, which method and what to check.
#[tokio::test]
async fn a_bodyless_refusal_names_the_client_and_the_method() {
    for status in [401u16, 403] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status))
            .mount(&server)
            .await;
        let auth = builder()
            .token_endpoint(format!("{}/token", server.uri()))
            .auth_method(ClientAuthMethod::Basic)
            .build()
            .unwrap();
        let e = auth.credentials().await.unwrap_err();
        assert!(e.is_refused(), "HTTP {status}: {e}");
        assert_eq!(e.kind(), ErrorKind::OAuth, "HTTP {status}: {e}");
        let text = e.to_string();
        assert!(text.contains("client `svc`"), "{text}");
        assert!(text.contains("client_secret_basic"), "{text}");
        assert!(text.contains("clientAuthMethod"), "{text}");
        assert!(!format!("{e} {e:?}").contains(SECRET), "{text}");
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }
}

/// Mounts a token endpoint that refuses Basic (as providers that do not form-decode Basic
/// credentials do) and accepts the secret in the body.
async fn post_only_server(refusal: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header_exists("authorization"))
        .respond_with(refusal)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_string_contains(format!("client_secret={SECRET}")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "via-post", "expires_in": 3600})),
        )
        .mount(&server)
        .await;
    server
}

async fn uses_basic(server: &MockServer) -> Vec<bool> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| r.headers.contains_key("authorization"))
        .collect()
}

#[tokio::test]
async fn basic_refused_falls_back_to_post_once_and_keeps_it() {
    for refusal in [
        ResponseTemplate::new(401),
        ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_client"})),
    ] {
        let server = post_only_server(refusal).await;
        let auth = builder()
            .token_endpoint(format!("{}/token", server.uri()))
            .build()
            .unwrap();
        let c = auth.credentials().await.unwrap();
        assert_eq!(c.access_token().secret(), "via-post");
        auth.refresh_credentials().await.unwrap();
        // Basic once, then post for the life of the authenticator.
        assert_eq!(uses_basic(&server).await, [true, false, false]);
    }
}

#[tokio::test]
async fn a_provider_advertising_only_post_gets_post_first() {
    let server = post_only_server(ResponseTemplate::new(401)).await;
    let mut config = ClientConfig::new(format!("{}/token", server.uri()), "ignored");
    config.token_endpoint_auth_methods_supported = vec!["client_secret_post".into()];
    let auth = builder()
        .config_store(Arc::new(StaticClientConfigStore::new(config)))
        .build()
        .unwrap();
    auth.credentials().await.unwrap();
    assert_eq!(uses_basic(&server).await, [false]);
}

#[tokio::test]
async fn a_provider_advertising_only_basic_gets_no_fallback() {
    let server = post_only_server(ResponseTemplate::new(401)).await;
    let mut config = ClientConfig::new(format!("{}/token", server.uri()), "ignored");
    config.token_endpoint_auth_methods_supported = vec!["client_secret_basic".into()];
    let auth = builder()
        .config_store(Arc::new(StaticClientConfigStore::new(config)))
        .build()
        .unwrap();
    let e = auth.credentials().await.unwrap_err();
    assert!(e.is_refused(), "{e}");
    assert_eq!(uses_basic(&server).await, [true]);
}

#[tokio::test]
async fn both_methods_refused_is_reported_and_tried_only_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client"})))
        .mount(&server)
        .await;
    let auth = builder()
        .token_endpoint(format!("{}/token", server.uri()))
        .build()
        .unwrap();
    let e = auth.credentials().await.unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("client_secret_basic was refused too"),
        "{text}"
    );
    assert!(
        text.contains("authenticating with client_secret_post"),
        "{text}"
    );
    assert!(!format!("{e:?}").contains(SECRET));
    // The next attempt does not double the requests again.
    auth.refresh_credentials().await.unwrap_err();
    assert_eq!(uses_basic(&server).await, [true, false, true]);
}
