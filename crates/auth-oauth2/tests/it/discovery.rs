//! Flyte and issuer discovery against wiremock.

use std::sync::Arc;

use auth_core::{ClientConfigStore, ErrorKind};
use auth_oauth2::{FlyteDiscovery, IssuerDiscovery};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{http, strings};

async fn flyte_server(metadata: serde_json::Value, client: serde_json::Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/.well-known/oauth-authorization-server"))
        .respond_with(ResponseTemplate::new(200).set_body_json(metadata))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/config/v1/flyte_client"))
        .respond_with(ResponseTemplate::new(200).set_body_json(client))
        .mount(&server)
        .await;
    server
}

fn discovery(server: &MockServer) -> FlyteDiscovery {
    FlyteDiscovery::new(http(), &format!("dns:///{}", server.address()), true)
}

#[tokio::test]
async fn flyte_snake_case_bodies() {
    let server = flyte_server(
        json!({
            "issuer": "https://idp.example", "token_endpoint": "https://idp.example/token",
            "authorization_endpoint": "https://idp.example/auth",
            "device_authorization_endpoint": "https://idp.example/device"
        }),
        json!({
            "client_id": "flytectl", "redirect_uri": "http://localhost:53593/callback",
            "scopes": ["offline", "all"], "authorization_metadata_key": "flyte-authorization",
            "audience": "https://flyte.example"
        }),
    )
    .await;
    let c = discovery(&server).client_config().await.expect("config");
    assert_eq!(c.token_endpoint, "https://idp.example/token");
    assert_eq!(
        c.authorization_endpoint.as_deref(),
        Some("https://idp.example/auth")
    );
    assert_eq!(
        c.device_authorization_endpoint.as_deref(),
        Some("https://idp.example/device")
    );
    assert_eq!(c.client_id, "flytectl");
    assert_eq!(
        c.redirect_uri.as_deref(),
        Some("http://localhost:53593/callback")
    );
    assert_eq!(c.scopes, strings(&["offline", "all"]));
    assert_eq!(c.header_key, "flyte-authorization");
    assert_eq!(c.audience.as_deref(), Some("https://flyte.example"));
    assert_eq!(c.issuer.as_deref(), Some("https://idp.example"));
}

#[tokio::test]
async fn flyte_camel_case_bodies_with_empty_strings_as_absent() {
    let server = flyte_server(
        json!({
            "issuer": "", "tokenEndpoint": "https://idp.example/token",
            "authorizationEndpoint": "", "deviceAuthorizationEndpoint": ""
        }),
        json!({
            "clientId": "flytectl", "redirectUri": "", "scopes": ["all"],
            "authorizationMetadataKey": "", "audience": ""
        }),
    )
    .await;
    let c = discovery(&server).client_config().await.expect("config");
    assert_eq!(c.token_endpoint, "https://idp.example/token");
    assert_eq!(c.authorization_endpoint, None);
    assert_eq!(c.device_authorization_endpoint, None);
    assert_eq!(c.redirect_uri, None);
    assert_eq!(c.header_key, "authorization");
    assert_eq!(c.audience, None);
    assert_eq!(c.issuer, None);
}

#[tokio::test]
async fn overrides_beat_discovered_values() {
    let server = flyte_server(
        json!({"token_endpoint": "https://idp.example/token"}),
        json!({"client_id": "flytectl", "scopes": ["all"], "authorization_metadata_key": "flyte-authorization", "audience": "a"}),
    )
    .await;
    let c = discovery(&server)
        .with_client_id(Some("mine".into()))
        .with_scopes(Some(vec![]))
        .with_audience(Some("b".into()))
        .with_header_key(Some("x-auth".into()))
        .client_config()
        .await
        .expect("config");
    assert_eq!(c.client_id, "mine");
    assert!(c.scopes.is_empty(), "an explicit empty list wins");
    assert_eq!(c.audience.as_deref(), Some("b"));
    assert_eq!(c.header_key, "x-auth");
}

#[tokio::test]
async fn discovery_is_fetched_once_for_concurrent_callers() {
    let server = flyte_server(
        json!({"token_endpoint": "https://idp.example/token"}),
        json!({"client_id": "flytectl"}),
    )
    .await;
    let d = Arc::new(discovery(&server));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let d = Arc::clone(&d);
            tokio::spawn(async move { d.client_config().await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().expect("config");
    }
    d.client_config().await.expect("config");
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        2,
        "one GET per document"
    );
}

#[tokio::test]
async fn a_failed_discovery_is_retried_by_the_next_call() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/.well-known/oauth-authorization-server"))
        .respond_with(ResponseTemplate::new(404))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/.well-known/oauth-authorization-server"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"token_endpoint": "https://idp/token"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/config/v1/flyte_client"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"client_id": "c"})))
        .mount(&server)
        .await;
    let d = discovery(&server);
    let e = d.client_config().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Configuration);
    assert_eq!(e.status(), Some(404));
    assert!(
        e.to_string().contains("discovery from the Flyte endpoint"),
        "{e}"
    );
    let c = d.client_config().await.expect("second call retries");
    assert_eq!(c.token_endpoint, "https://idp/token");
}

#[tokio::test]
async fn missing_token_endpoint_is_a_configuration_error() {
    let server = flyte_server(json!({"issuer": "x"}), json!({"client_id": "c"})).await;
    let e = discovery(&server).client_config().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Configuration);
    assert!(e.to_string().contains("token_endpoint"), "{e}");
}

#[tokio::test]
async fn discovery_gets_follow_redirects() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/old/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(301).insert_header("location", "/new/doc"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/new/doc"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .mount(&server)
        .await;
    let v: serde_json::Value = http()
        .get_json(&format!(
            "{}/old/.well-known/openid-configuration",
            server.uri()
        ))
        .await
        .expect("json");
    assert_eq!(v["ok"], true);
}

#[tokio::test]
async fn issuer_with_a_path_uses_rfc8414_path_insertion() {
    let server = MockServer::start().await;
    let issuer = format!("{}/tenant", server.uri());
    Mock::given(method("GET"))
        .and(path("/.well-known/oauth-authorization-server/tenant"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issuer": issuer, "token_endpoint": format!("{issuer}/token"),
            "device_authorization_endpoint": format!("{issuer}/device")
        })))
        .expect(1)
        .mount(&server)
        .await;
    let c = IssuerDiscovery::new(http(), &format!("{issuer}/"), "cli")
        .with_scopes(strings(&["openid"]))
        .with_redirect_uri(Some("http://127.0.0.1/callback".into()))
        .client_config()
        .await
        .expect("config");
    assert_eq!(c.token_endpoint, format!("{issuer}/token"));
    assert_eq!(
        c.device_authorization_endpoint,
        Some(format!("{issuer}/device"))
    );
    assert_eq!(c.client_id, "cli");
    assert_eq!(c.redirect_uri.as_deref(), Some("http://127.0.0.1/callback"));
}

#[tokio::test]
async fn issuer_falls_back_to_openid_discovery() {
    let server = MockServer::start().await;
    let issuer = format!("{}/realms/x", server.uri());
    Mock::given(method("GET"))
        .and(path("/realms/x/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issuer": issuer, "token_endpoint": format!("{issuer}/token")
        })))
        .mount(&server)
        .await;
    let c = IssuerDiscovery::new(http(), &issuer, "cli")
        .client_config()
        .await
        .expect("config");
    assert_eq!(c.token_endpoint, format!("{issuer}/token"));
    assert_eq!(c.issuer.as_deref(), Some(issuer.as_str()));
}

#[tokio::test]
async fn issuer_mismatch_is_refused() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/.well-known/oauth-authorization-server"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issuer": "https://evil.example", "token_endpoint": "https://evil.example/token"
        })))
        .mount(&server)
        .await;
    let e = IssuerDiscovery::new(http(), &server.uri(), "cli")
        .client_config()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Configuration);
    assert!(e.to_string().contains("https://evil.example"), "{e}");
}

#[tokio::test]
async fn flyte_discovery_reads_the_rfc9207_flag_beside_flytes_message() {
    // snake_case and camelCase, a string "true" (a quirk), absent, false, and junk.
    for (member, value, want) in [
        (
            "authorization_response_iss_parameter_supported",
            json!(true),
            true,
        ),
        (
            "authorizationResponseIssParameterSupported",
            json!(true),
            true,
        ),
        (
            "authorization_response_iss_parameter_supported",
            json!("true"),
            true,
        ),
        (
            "authorization_response_iss_parameter_supported",
            json!(false),
            false,
        ),
        (
            "authorization_response_iss_parameter_supported",
            json!(1),
            false,
        ),
        (
            "authorization_response_iss_parameter_supported",
            json!(null),
            false,
        ),
        ("unrelated", json!(true), false),
    ] {
        let server = flyte_server(
            json!({
                "issuer": "https://idp.example", "token_endpoint": "https://idp.example/token",
                member: value,
            }),
            json!({"client_id": "flytectl"}),
        )
        .await;
        let c = discovery(&server).client_config().await.expect("config");
        assert_eq!(
            c.authorization_response_iss_parameter_supported, want,
            "{member}: {value}"
        );
        // The rest of the document is read as before.
        assert_eq!(c.token_endpoint, "https://idp.example/token");
        assert_eq!(c.issuer.as_deref(), Some("https://idp.example"));
    }
}

#[tokio::test]
async fn issuer_discovery_reads_the_rfc9207_flag() {
    for (flag, want) in [(Some(true), true), (Some(false), false), (None, false)] {
        let server = MockServer::start().await;
        let issuer = server.uri();
        let mut document = json!({
            "issuer": issuer, "token_endpoint": format!("{issuer}/token"),
            "authorization_endpoint": format!("{issuer}/auth")
        });
        if let Some(flag) = flag {
            document["authorization_response_iss_parameter_supported"] = json!(flag);
        }
        Mock::given(method("GET"))
            .and(path("/.well-known/openid-configuration"))
            .respond_with(ResponseTemplate::new(200).set_body_json(document))
            .mount(&server)
            .await;
        let c = IssuerDiscovery::new(http(), &issuer, "cli")
            .client_config()
            .await
            .expect("config");
        assert_eq!(
            c.authorization_response_iss_parameter_supported, want,
            "{flag:?}"
        );
        assert_eq!(c.authorization_endpoint, Some(format!("{issuer}/auth")));
    }
}
