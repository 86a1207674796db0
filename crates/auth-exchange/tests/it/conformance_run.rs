//! The conformance suite every Authenticator passes, against a wiremock token endpoint.

use std::sync::Arc;
use std::time::Duration;

use auth_core::{ClientSecret, EngineOptions};
use auth_exchange::TokenExchangeAuthenticator;
use auth_testkit::conformance::Fixture;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "conformance-planted-secret";
const SUBJECT: &str = "conformance-planted-subject-token";

async fn fixture() -> Option<Fixture<TokenExchangeAuthenticator>> {
    let server = Arc::new(MockServer::start().await);
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "conformance-access-token", "token_type": "Bearer", "expires_in": 3600
        })))
        .mount(&server)
        .await;
    // The fixture outlives this function, so the file is kept (a few bytes in the temp dir).
    let dir = tempfile::tempdir().expect("temp dir").keep();
    let file = dir.join("subject");
    std::fs::write(&file, SUBJECT).expect("write");
    let auth = TokenExchangeAuthenticator::builder()
        .subject_token_file(file)
        .client_id("svc")
        .client_secret(ClientSecret::new(SECRET))
        .token_endpoint(format!("{}/token", server.uri()))
        // A rejection right after a login must reach the token endpoint in this suite.
        .engine_options(EngineOptions::default().with_min_refresh_interval(Duration::ZERO))
        .build()
        .expect("build");
    let counter = Arc::clone(&server);
    Some(Fixture {
        authenticator: Arc::new(auth),
        secrets: vec![SECRET.to_string(), SUBJECT.to_string()],
        acquisitions: Arc::new(move || {
            let server = Arc::clone(&counter);
            Box::pin(async move {
                server
                    .received_requests()
                    .await
                    .map_or(0, |r| r.len() as u64)
            })
        }),
        expected_header_key: "authorization".to_string(),
    })
}

auth_testkit::conformance_suite!(TokenExchangeAuthenticator, fixture);
