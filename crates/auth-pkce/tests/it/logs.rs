//! TRACE-level logs of a whole login and refresh contain no code, verifier, state or token.
//!
//! Current-thread runtimes: the subscriber is installed for this thread, and every task of the
//! login (engine, loopback server, HTTP client) runs on it.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use auth_core::Authenticator;
use auth_testkit::idp::require_issuer;

use crate::support::{FakeIdp, channel_launcher, form_get, get, idp_browser};

#[tokio::test]
async fn trace_logs_hold_no_secret_fake_provider() {
    let logs = auth_testkit::logs::global();
    let idp = FakeIdp::answering(
        200,
        serde_json::json!({
            "access_token": "planted-access-token-8f3a91",
            "refresh_token": "planted-refresh-token-2b1c77",
            "id_token": "planted.id-token.5d0e",
            "token_type": "Bearer",
            "expires_in": 3600,
        }),
    )
    .await;
    let (launcher, mut urls, _) = channel_launcher();
    let auth = Arc::new(idp.builder().launcher(launcher).build().unwrap());
    let login = tokio::spawn({
        let auth = Arc::clone(&auth);
        async move { auth.credentials().await }
    });
    let a = urls.recv().await.unwrap();
    // A forged callback first (its state is logged nowhere either), then the real one.
    get(&a.callback("code=planted-forged-code-44&state=planted-forged-state-55")).await;
    get(&a.callback(&format!("code=planted-code-c0ffee&state={}", a.state))).await;
    let creds = login.await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    auth.refresh_credentials().await.unwrap();

    let requests = idp.token_requests().await;
    let verifier = form_get(&requests[0], "code_verifier").unwrap().to_string();
    assert_eq!(form_get(&requests[1], "grant_type"), Some("refresh_token"));
    let contents = logs.contents();
    assert!(
        contents.contains("TRACE") || contents.contains("DEBUG"),
        "{contents}"
    );
    logs.assert_none_of(&[
        "planted-code-c0ffee",
        "planted-forged-code-44",
        "planted-forged-state-55",
        &a.state,
        &verifier,
        creds.access_token().secret(),
        "planted-refresh-token-2b1c77",
        "planted.id-token.5d0e",
    ]);
}

#[tokio::test]
async fn trace_logs_hold_no_secret_real_provider() {
    let Some(issuer) = require_issuer("trace_logs_hold_no_secret_real_provider") else {
        return;
    };
    let logs = auth_testkit::logs::global();
    let (launcher, mut outcomes, _) = idp_browser(Arc::new(AtomicBool::new(true)));
    let discovery = auth_oauth2::IssuerDiscovery::new(
        auth_oauth2::HttpClient::new(&auth_oauth2::TransportOptions::new()).unwrap(),
        &issuer,
        "flyte-cli",
    )
    .with_scopes(vec!["openid".into(), "offline_access".into()]);
    let auth = auth_pkce::PkceAuthenticator::builder()
        .config_store(Arc::new(discovery))
        .redirect_uri("http://127.0.0.1:0/callback")
        .require_issuer_in_response(true)
        .launcher(launcher)
        .prompt(|_| {})
        .build()
        .unwrap();
    let creds = auth.credentials().await.unwrap();
    let outcome = outcomes.recv().await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let refreshed = auth.refresh_credentials().await.unwrap();
    let code = outcome.callback_param("code").unwrap();
    let state = outcome.callback_param("state").unwrap();
    let mut secrets = vec![
        code,
        state,
        creds.access_token().secret().to_string(),
        refreshed.access_token().secret().to_string(),
    ];
    secrets.extend(creds.refresh_token().map(|r| r.secret().to_string()));
    secrets.extend(refreshed.refresh_token().map(|r| r.secret().to_string()));
    secrets.extend(creds.id_token().map(|r| r.secret().to_string()));
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    logs.assert_none_of(&refs);
}
