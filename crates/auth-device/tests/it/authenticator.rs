//! The authenticator around the flow: refresh before login, the credential store, the
//! interaction switch, cancellation, configuration and build errors.

use std::sync::Arc;
use std::time::SystemTime;

use auth_core::{
    AccessToken, Authenticator, ClientConfig, CredentialStore, Credentials, EngineOptions,
    ErrorKind, MemoryStore, RefreshToken, StaticClientConfigStore, TokioClock,
};
use auth_device::DeviceCodeAuthenticator;
use serde_json::json;

use crate::support::*;

const KEY: &str = "flyte.example.com";

fn expired_with_refresh_token(refresh: &str) -> Credentials {
    Credentials::new(AccessToken::new("at-old"))
        .with_refresh_token(Some(RefreshToken::new(refresh)))
        .with_expires_at(Some(SystemTime::now() - SECS(60)))
}

#[tokio::test(start_paused = true)]
async fn a_stored_refresh_token_is_tried_first() {
    let clock = Clocked::install();
    let server = idp(
        device_response(json!({})),
        vec![token("at-new", None)],
        pending(),
    )
    .await;
    let store = Arc::new(MemoryStore::new());
    store
        .save(KEY, &expired_with_refresh_token("rt-stored"))
        .await
        .unwrap();
    let (presenter, _rx) = Recorder::new();
    let auth = builder(&server, presenter.clone())
        .credential_store(store.clone())
        .store_key(KEY)
        .build()
        .unwrap();

    let creds = auth.credentials().await.unwrap();

    assert_eq!(creds.access_token().secret(), "at-new");
    assert_eq!(
        creds.refresh_token().map(|r| r.secret()),
        Some("rt-stored"),
        "kept when not rotated"
    );
    assert!(
        requests_to(&server, "/device").await.is_empty(),
        "no device login"
    );
    assert!(presenter.events().is_empty(), "nothing shown to the user");
    let token_requests = requests_to(&server, "/token").await;
    assert_eq!(token_requests.len(), 1);
    let f = form(&token_requests[0]);
    assert_eq!(f["grant_type"], "refresh_token");
    assert_eq!(f["refresh_token"], "rt-stored");
    assert!(
        !f.contains_key("scope"),
        "a refresh keeps the granted scopes"
    );
    let stored = store.load(KEY).await.unwrap().unwrap();
    assert_eq!(stored.access_token().secret(), "at-new");
    assert_eq!(clock.layer.starts("refresh").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_rejected_refresh_token_starts_the_device_flow_and_stores_the_result() {
    let _clock = Clocked::install();
    let server = idp(
        device_response(json!({})),
        vec![oauth_error("invalid_grant"), pending()],
        token("at-device", Some("rt-device")),
    )
    .await;
    let store = Arc::new(MemoryStore::new());
    store
        .save(KEY, &expired_with_refresh_token("rt-revoked"))
        .await
        .unwrap();
    let (presenter, _rx) = Recorder::new();
    let auth = builder(&server, presenter.clone())
        .credential_store(store.clone())
        .store_key(KEY)
        .build()
        .unwrap();

    let creds = auth.credentials().await.unwrap();

    assert_eq!(creds.access_token().secret(), "at-device");
    assert_eq!(requests_to(&server, "/device").await.len(), 1);
    assert_eq!(presenter.prompts().len(), 1);
    let stored = store.load(KEY).await.unwrap().unwrap();
    assert_eq!(stored.access_token().secret(), "at-device");
    assert_eq!(
        stored.refresh_token().map(|r| r.secret()),
        Some("rt-device")
    );
}

#[tokio::test(start_paused = true)]
async fn a_network_error_on_refresh_never_starts_a_login() {
    let _clock = Clocked::install();
    let server = idp(
        device_response(json!({})),
        vec![unavailable(); 10],
        token("at", None),
    )
    .await;
    let store = Arc::new(MemoryStore::new());
    store
        .save(KEY, &expired_with_refresh_token("rt"))
        .await
        .unwrap();
    let (presenter, _rx) = Recorder::new();
    let auth = builder(&server, presenter.clone())
        .credential_store(store)
        .store_key(KEY)
        .build()
        .unwrap();

    let error = auth.credentials().await.unwrap_err();

    assert!(
        error.status() == Some(503) || error.kind() == ErrorKind::Transport,
        "{error:?}"
    );
    assert!(requests_to(&server, "/device").await.is_empty());
    assert!(presenter.events().is_empty());
}

#[tokio::test(start_paused = true)]
async fn refresh_after_expiry_without_a_second_prompt() {
    let _clock = Clocked::install();
    // auth-oauth2 computes the expiry from the real wall clock, the engine here reads the
    // paused one (anchored when built): the token lives 10 s minus the 1 s of polling.
    let short = wiremock::ResponseTemplate::new(200).set_body_json(json!({
        "access_token": "at-1", "token_type": "Bearer", "expires_in": 10, "refresh_token": "rt-1"
    }));
    let server = idp(
        device_response(json!({ "interval": 1 })),
        vec![short],
        token("at-2", Some("rt-2")),
    )
    .await;
    let (presenter, _rx) = Recorder::new();
    let auth = builder(&server, presenter.clone())
        .engine_options(EngineOptions::default().with_clock(Arc::new(TokioClock::new())))
        .build()
        .unwrap();

    assert_eq!(
        auth.credentials().await.unwrap().access_token().secret(),
        "at-1"
    );
    tokio::time::sleep(SECS(5)).await;
    assert_eq!(
        auth.credentials().await.unwrap().access_token().secret(),
        "at-1",
        "still valid"
    );
    tokio::time::sleep(SECS(10)).await;
    assert_eq!(
        auth.credentials().await.unwrap().access_token().secret(),
        "at-2"
    );

    assert_eq!(presenter.prompts().len(), 1, "one device prompt in all");
    assert_eq!(requests_to(&server, "/device").await.len(), 1);
    let grants: Vec<String> = requests_to(&server, "/token")
        .await
        .iter()
        .map(|r| form(r)["grant_type"].clone())
        .collect();
    assert_eq!(
        grants,
        [
            "urn:ietf:params:oauth:grant-type:device_code",
            "refresh_token"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn non_interactive_returns_interaction_required_without_any_request() {
    let _clock = Clocked::install();
    let server = idp(device_response(json!({})), vec![], token("at", None)).await;
    let (presenter, _rx) = Recorder::new();
    let auth = builder(&server, presenter.clone())
        .interactive(false)
        .build()
        .unwrap();

    let error = auth.credentials().await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::InteractionRequired, "{error}");
    assert!(server.received_requests().await.unwrap().is_empty());
    assert!(presenter.events().is_empty());
}

#[tokio::test(start_paused = true)]
async fn dropping_the_future_stops_polling_at_once() {
    let clock = Clocked::install();
    let server = idp(device_response(json!({})), vec![], pending()).await;
    let (presenter, _rx) = Recorder::new();
    let auth = builder(&server, presenter).build().unwrap();

    tokio::select! {
        result = auth.credentials() => panic!("the login ended: {result:?}"),
        () = clock.layer.wait_for_polls(2) => {}
    }
    // The future is dropped: the engine cancels the login.
    tokio::time::sleep(SECS(120)).await;
    assert_eq!(
        clock.layer.starts("device_token").len(),
        2,
        "no poll after cancellation"
    );
    assert_eq!(requests_to(&server, "/token").await.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn concurrent_callers_share_one_login() {
    let _clock = Clocked::install();
    let server = idp(
        device_response(json!({})),
        vec![pending()],
        token("at", None),
    )
    .await;
    let (presenter, _rx) = Recorder::new();
    let auth = Arc::new(builder(&server, presenter.clone()).build().unwrap());
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let auth = auth.clone();
            tokio::spawn(async move {
                auth.credentials()
                    .await
                    .map(|c| c.access_token().secret().to_string())
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), "at");
    }
    assert_eq!(presenter.prompts().len(), 1);
    assert_eq!(requests_to(&server, "/device").await.len(), 1);
    assert_eq!(requests_to(&server, "/token").await.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn discovered_config_without_device_endpoint_fails_with_a_clear_message() {
    let _clock = Clocked::install();
    let server = idp(device_response(json!({})), vec![], token("at", None)).await;
    let config = ClientConfig::new(format!("{}/token", server.uri()), "flyte-cli")
        .with_device_authorization_endpoint("");
    let (presenter, _rx) = Recorder::new();
    let auth = DeviceCodeAuthenticator::builder()
        .config_store(Arc::new(StaticClientConfigStore::new(config)))
        .presenter(presenter.clone())
        .build()
        .unwrap();

    let error = auth.credentials().await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Configuration, "{error}");
    assert!(
        error
            .to_string()
            .contains("no device authorization endpoint"),
        "{error}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
    assert!(matches!(presenter.events().as_slice(), [Event::Failed(_)]));
}

#[tokio::test(start_paused = true)]
async fn config_store_endpoints_scopes_and_header_key_are_used() {
    let _clock = Clocked::install();
    let server = idp(device_response(json!({})), vec![], token("at", None)).await;
    let config = ClientConfig::new(format!("{}/token", server.uri()), "discovered-client")
        .with_device_authorization_endpoint(format!("{}/device", server.uri()))
        .with_scopes(["all"])
        .with_header_key("flyte-authorization");
    let (presenter, _rx) = Recorder::new();
    let auth = DeviceCodeAuthenticator::builder()
        .config_store(Arc::new(StaticClientConfigStore::new(config)))
        .presenter(presenter)
        .build()
        .unwrap();

    auth.check_configuration().await.unwrap();
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "a check starts no login"
    );
    let (key, value) = auth.authorization_header().await.unwrap();

    assert_eq!(key, "flyte-authorization");
    assert_eq!(value.secret(), "Bearer at");
    let f = form(&requests_to(&server, "/device").await[0]);
    assert_eq!(f["client_id"], "discovered-client");
    assert_eq!(f["scope"], "all");
}

#[tokio::test(start_paused = true)]
async fn builder_settings_override_the_config_store() {
    let _clock = Clocked::install();
    let server = idp(device_response(json!({})), vec![], token("at", None)).await;
    let config = ClientConfig::new(format!("{}/token", server.uri()), "discovered-client")
        .with_device_authorization_endpoint(format!("{}/device", server.uri()))
        .with_scopes(["all"]);
    let (presenter, _rx) = Recorder::new();
    let auth = DeviceCodeAuthenticator::builder()
        .config_store(Arc::new(StaticClientConfigStore::new(config)))
        .client_id("my-client")
        .scopes(["offline"])
        .header_key("x-auth")
        .presenter(presenter)
        .build()
        .unwrap();

    let (key, _) = auth.authorization_header().await.unwrap();

    assert_eq!(key, "x-auth");
    let f = form(&requests_to(&server, "/device").await[0]);
    assert_eq!(
        (f["client_id"].as_str(), f["scope"].as_str()),
        ("my-client", "offline")
    );
}

#[test]
fn build_fails_clearly_without_a_device_endpoint() {
    let base = || {
        DeviceCodeAuthenticator::builder()
            .client_id("c")
            .token_endpoint("https://idp/token")
    };
    for builder in [
        base(),
        base().device_authorization_endpoint(""),
        base().device_authorization_endpoint("  "),
    ] {
        let error = builder.build().unwrap_err();
        assert!(
            error
                .message()
                .contains("device authorization endpoint is missing"),
            "{error}"
        );
        assert!(
            error.to_string().contains("deviceAuthorizationEndpoint"),
            "{error}"
        );
        let auth_error: auth_core::AuthError = error.into();
        assert_eq!(auth_error.kind(), ErrorKind::Configuration);
    }
}

#[test]
fn build_checks_the_other_settings() {
    let ok = || {
        DeviceCodeAuthenticator::builder()
            .client_id("c")
            .token_endpoint("https://idp/token")
            .device_authorization_endpoint("https://idp/device")
    };
    assert!(ok().build().is_ok());
    let cases = [
        (
            DeviceCodeAuthenticator::builder()
                .device_authorization_endpoint("https://idp/d")
                .client_id("c"),
            "token endpoint or client config store is missing",
        ),
        (
            DeviceCodeAuthenticator::builder()
                .device_authorization_endpoint("https://idp/d")
                .token_endpoint("https://idp/t"),
            "client id is missing",
        ),
        (
            ok().device_authorization_endpoint("idp/device"),
            "not a valid URL",
        ),
        (ok().token_endpoint("ftp://idp/token"), "use https"),
        (
            ok().token_endpoint("http://idp.example/token"),
            "uses plain http",
        ),
        (ok().time_limit(SECS(0)), "more than zero"),
        (
            ok().default_interval(SECS(0)),
            "poll interval must be more than zero",
        ),
    ];
    for (builder, expected) in cases {
        let error = builder.build().unwrap_err();
        assert!(
            error.message().contains(expected),
            "{error} (expected {expected:?})"
        );
    }
}

#[tokio::test]
async fn a_discovered_plain_http_endpoint_is_refused_before_any_request() {
    // Every test that runs the flow installs the layer: a device_request span first seen on a
    // thread without a subscriber could otherwise leave that callsite disabled for a racing
    // paused-clock test, whose layer then misses its HTTP calls.
    let _clock = Clocked::install();
    let config = ClientConfig::new("http://example.invalid/token", "discovered-client")
        .with_device_authorization_endpoint("http://example.invalid/device");
    let (presenter, _rx) = Recorder::new();
    let auth = DeviceCodeAuthenticator::builder()
        .config_store(Arc::new(StaticClientConfigStore::new(config)))
        .presenter(presenter.clone())
        .build()
        .unwrap();

    let checked = auth.check_configuration().await.unwrap_err();
    let error = auth.credentials().await.unwrap_err();

    for e in [&checked, &error] {
        assert_eq!(e.kind(), ErrorKind::Configuration, "{e}");
        let message = e.to_string();
        assert!(message.contains("http://example.invalid/"), "{message}");
        assert!(
            message.contains("use https") && message.contains("insecure"),
            "{message}"
        );
    }
    assert!(presenter.prompts().is_empty(), "no login started");
}

#[tokio::test(start_paused = true)]
async fn discovered_loopback_http_endpoints_are_used() {
    let _clock = Clocked::install();
    let server = idp(device_response(json!({})), vec![], token("at", None)).await;
    assert!(server.uri().starts_with("http://127.0.0.1"));
    let config = ClientConfig::new(format!("{}/token", server.uri()), "discovered-client")
        .with_device_authorization_endpoint(format!("{}/device", server.uri()));
    let (presenter, _rx) = Recorder::new();
    let auth = DeviceCodeAuthenticator::builder()
        .config_store(Arc::new(StaticClientConfigStore::new(config)))
        .presenter(presenter)
        .build()
        .unwrap();
    assert_eq!(
        auth.credentials().await.unwrap().access_token().secret(),
        "at"
    );
}

#[test]
fn allow_http_admits_a_static_plain_http_endpoint() {
    let b = || {
        DeviceCodeAuthenticator::builder()
            .client_id("c")
            .token_endpoint("http://idp.example/token")
            .device_authorization_endpoint("http://idp.example/device")
    };
    let error = b().build().unwrap_err();
    assert!(error.message().contains("uses plain http"), "{error}");
    assert!(b().allow_http(true).build().is_ok());
}

/// A Flyte admin on wiremock: discovery names `flyte-authorization` as the header key and
/// the server's own `/token` and `/device` as endpoints.
async fn flyte_admin() -> wiremock::MockServer {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    let uri = server.uri();
    Mock::given(method("GET"))
        .and(path("/.well-known/oauth-authorization-server"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issuer": uri,
            "token_endpoint": format!("{uri}/token"),
            "device_authorization_endpoint": format!("{uri}/device"),
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/config/v1/flyte_client"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "client_id": "flytectl",
            "authorization_metadata_key": "flyte-authorization",
        })))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_stored_token_gets_the_discovered_header_key_without_a_token_request() {
    let _clock = Clocked::install();
    let server = flyte_admin().await;
    let store = Arc::new(MemoryStore::new());
    let valid = Credentials::new(AccessToken::new("at-stored"))
        .with_expires_at(Some(SystemTime::now() + SECS(3600)));
    store.save(KEY, &valid).await.unwrap();
    let http = auth_oauth2::HttpClient::new(&auth_oauth2::TransportOptions::new()).unwrap();
    let (presenter, _rx) = Recorder::new();
    let auth = DeviceCodeAuthenticator::builder()
        .config_store(Arc::new(auth_oauth2::FlyteDiscovery::new(
            http.clone(),
            &server.uri(),
            true,
        )))
        .http_client(http)
        .credential_store(store)
        .store_key(KEY)
        .presenter(presenter.clone())
        .build()
        .unwrap();

    let (key, value) = auth.authorization_header().await.unwrap();

    assert_eq!(key, "flyte-authorization");
    assert_eq!(value.secret(), "Bearer at-stored");
    assert!(requests_to(&server, "/token").await.is_empty());
    assert!(requests_to(&server, "/device").await.is_empty());
    assert!(presenter.events().is_empty(), "no login");
}
