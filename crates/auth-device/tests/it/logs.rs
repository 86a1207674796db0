//! A TRACE-level log capture of whole logins (device flow with a client secret and PKCE,
//! then a refresh) finds none of the secrets: device code, tokens, client secret, verifier.

use std::sync::Arc;

use auth_core::{Authenticator, ClientSecret, EngineOptions, TokioClock};
use auth_oauth2::ClientAuthMethod;
use auth_testkit::logs::LogCapture;
use serde_json::json;
use wiremock::ResponseTemplate;

use crate::support::*;

const DEVICE_CODE: &str = "dc-SECRET-device-code-4711";
const CLIENT_SECRET: &str = "cs-SECRET-client-secret-0815";

#[tokio::test(start_paused = true)]
async fn trace_logs_hold_no_secret() {
    let capture = LogCapture::default();
    let _clock = Clocked::install_with_capture(&capture);
    let short = ResponseTemplate::new(200).set_body_json(json!({
        "access_token": "at-SECRET-first-access", "token_type": "Bearer", "expires_in": 100,
        "refresh_token": "rt-SECRET-first-refresh", "id_token": "it-SECRET-id-token",
    }));
    let server = idp(
        device_response(json!({})),
        vec![pending(), slow_down(), unavailable(), short],
        token("at-SECRET-second-access", Some("rt-SECRET-second-refresh")),
    )
    .await;
    let (presenter, _rx) = Recorder::new();
    let auth = builder(&server, presenter)
        .client_secret(ClientSecret::new(CLIENT_SECRET))
        .auth_method(ClientAuthMethod::Post)
        .pkce(true)
        .engine_options(EngineOptions::default().with_clock(Arc::new(TokioClock::new())))
        .build()
        .unwrap();

    let first = auth.credentials().await.unwrap();
    tracing::debug!(?first, authenticator = ?auth, "after login");
    // Polling took 40 s of the 100 s (see `refresh_after_expiry_without_a_second_prompt`).
    tokio::time::sleep(SECS(120)).await;
    let second = auth.credentials().await.unwrap();
    tracing::debug!(?second, "after refresh");

    let verifier = form(&requests_to(&server, "/token").await[0])["code_verifier"].clone();
    let logs = capture.contents();
    assert!(
        logs.contains("device_request"),
        "the flow's spans were captured"
    );
    assert!(
        logs.contains("request=\"device_token\""),
        "the polls were captured"
    );
    assert!(
        logs.contains("request=\"refresh\""),
        "the refresh was captured"
    );
    assert!(!logs.contains("already expired"), "the test's clocks agree");
    capture.assert_none_of(&[
        DEVICE_CODE,
        CLIENT_SECRET,
        &verifier,
        "at-SECRET-first-access",
        "rt-SECRET-first-refresh",
        "it-SECRET-id-token",
        "at-SECRET-second-access",
        "rt-SECRET-second-refresh",
        "SECRET",
    ]);
}
