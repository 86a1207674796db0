//! What goes on the wire, against wiremock: the RFC 8693 parameters and client
//! authentication, and no secret in the logs.

use std::sync::Arc;

use auth_core::testing::ScriptedSource;
use auth_core::{EngineOptions, TokenEngine};

use auth_core::{Authenticator, ClientSecret};
use auth_exchange::{TokenExchangeAuthenticator, token_type};
use serde_json::json;
use wiremock::matchers::{body_string_contains, header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SUBJECT: &str = "planted-subject-token-1";
const SECRET: &str = "planted-client-secret-1";

async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange",
        ))
        .and(body_string_contains(format!("subject_token={SUBJECT}")))
        .and(body_string_contains(
            "subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt",
        ))
        .and(body_string_contains(
            "audience=https%3A%2F%2Fflyte.example.com",
        ))
        .and(body_string_contains("scope=all"))
        .and(header_exists("authorization"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "exchanged-access-token",
            "issued_token_type": token_type::ACCESS_TOKEN,
            "token_type": "Bearer",
            "expires_in": 600
        })))
        .expect(1)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn sends_the_rfc8693_parameters_and_logs_no_secret() {
    let logs = auth_testkit::logs::global();
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{SUBJECT}\n")).expect("write");
    let auth = TokenExchangeAuthenticator::builder()
        .subject_token_file(&file)
        .client_id("exchanger")
        .client_secret(ClientSecret::new(SECRET))
        .token_endpoint(format!("{}/token", server.uri()))
        .audience("https://flyte.example.com")
        .scopes(["all"])
        .build()
        .expect("build");
    let c = auth.credentials().await.expect("exchanged");
    assert_eq!(c.access_token().secret(), "exchanged-access-token");
    tracing::trace!(?auth, ?c, "after the exchange");
    logs.assert_none_of(&[SUBJECT, SECRET, "exchanged-access-token"]);
    server.verify().await;
}

#[tokio::test]
async fn a_subject_from_another_authenticator_is_an_access_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("subject_token=fetch-1"))
        .and(body_string_contains(
            "subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token",
        ))
        // A public client sends its id in the body.
        .and(body_string_contains("client_id=public-workload"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "exchanged", "token_type": "Bearer", "expires_in": 600
        })))
        .expect(1)
        .mount(&server)
        .await;
    let auth = TokenExchangeAuthenticator::builder()
        .subject_authenticator(scripted())
        .client_id("public-workload")
        .token_endpoint(format!("{}/token", server.uri()))
        .build()
        .expect("build");
    assert_eq!(
        auth.credentials()
            .await
            .expect("exchanged")
            .access_token()
            .secret(),
        "exchanged"
    );
    server.verify().await;
}

/// An authenticator whose tokens are `fetch-1`, `fetch-2`, ...
fn scripted() -> Arc<dyn Authenticator> {
    Arc::new(TokenEngine::new(
        Arc::new(ScriptedSource::new()),
        EngineOptions::default().with_min_refresh_interval(std::time::Duration::ZERO),
    ))
}

#[tokio::test]
async fn a_refused_subject_is_renewed_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains("subject_token=fetch-1"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant", "error_description": "subject token expired"
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_string_contains("subject_token=fetch-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "exchanged-2", "token_type": "Bearer", "expires_in": 600
        })))
        .expect(1)
        .mount(&server)
        .await;
    let auth = TokenExchangeAuthenticator::builder()
        .subject_authenticator(scripted())
        .client_id("public-workload")
        .token_endpoint(format!("{}/token", server.uri()))
        .build()
        .expect("build");
    assert_eq!(
        auth.credentials()
            .await
            .expect("exchanged")
            .access_token()
            .secret(),
        "exchanged-2"
    );
    server.verify().await;
}
