//! The auth-testkit conformance suite over a wiremock identity provider that approves at the
//! first poll and numbers its tokens. Runs on the real clock (interval 1 s).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use auth_core::ClientSecret;
use auth_device::DeviceCodeAuthenticator;
use auth_oauth2::ClientAuthMethod;
use auth_testkit::conformance::Fixture;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::support::{Recorder, builder, device_response};

const PLANTED_SECRET: &str = "cs-conformance-planted-secret";

/// Token responses `at-1`, `at-2`, ... with refresh tokens `rt-1`, `rt-2`, ...
struct Numbered(AtomicU64);

impl Respond for Numbered {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": format!("at-conformance-{n}"), "token_type": "Bearer",
            "expires_in": 3600, "refresh_token": format!("rt-conformance-{n}"),
        }))
    }
}

async fn device_fixture() -> Option<Fixture<DeviceCodeAuthenticator>> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/device"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(device_response(json!({ "interval": 1 }))),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(Numbered(AtomicU64::new(0)))
        .mount(&server)
        .await;
    let authenticator = builder(&server, Recorder::new().0)
        .client_secret(ClientSecret::new(PLANTED_SECRET))
        .auth_method(ClientAuthMethod::Post)
        .build()
        .expect("build");
    let server = Arc::new(server);
    Some(Fixture {
        authenticator: Arc::new(authenticator),
        secrets: vec![
            PLANTED_SECRET.to_string(),
            "dc-SECRET-device-code-4711".to_string(),
        ],
        acquisitions: Arc::new(move || {
            let server = server.clone();
            Box::pin(async move {
                let requests = server.received_requests().await.unwrap_or_default();
                requests.iter().filter(|r| r.url.path() == "/token").count() as u64
            })
        }),
        expected_header_key: "authorization".to_string(),
    })
}

auth_testkit::conformance_suite!(DeviceCodeAuthenticator, device_fixture);
