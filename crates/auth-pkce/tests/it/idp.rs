//! End to end against the real test identity provider (`FLYTE_AUTH_TEST_ISSUER`), with a
//! launcher that plays the browser over HTTP.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use auth_core::{Authenticator, ErrorKind, jwt_claims};
use auth_oauth2::{FlyteDiscovery, HttpClient, IssuerDiscovery, TransportOptions};
use auth_pkce::PkceAuthenticator;
use auth_testkit::idp::require_issuer;

use crate::support::idp_browser;

fn http() -> HttpClient {
    HttpClient::new(&TransportOptions::new()).unwrap()
}

fn builder(issuer: &str, client_id: &str, redirect: &str) -> auth_pkce::PkceAuthenticatorBuilder {
    let discovery = IssuerDiscovery::new(http(), issuer, client_id)
        .with_scopes(vec!["openid".into(), "offline_access".into()]);
    PkceAuthenticator::builder()
        .config_store(Arc::new(discovery))
        .redirect_uri(redirect)
        // No require_issuer_in_response: the provider's discovery document advertises RFC 9207
        // `iss`, and that alone makes the flow require it.
        .timeout(Duration::from_secs(60))
        .prompt(|_| {})
}

#[tokio::test]
async fn login_end_to_end_with_the_real_provider() {
    let Some(issuer) = require_issuer("login_end_to_end_with_the_real_provider") else {
        return;
    };
    let allowed = Arc::new(AtomicBool::new(true));
    let (launcher, mut outcomes, calls) = idp_browser(allowed);
    let auth = builder(&issuer, "flyte-cli", "http://127.0.0.1:0/callback")
        .launcher(launcher)
        .build()
        .unwrap();
    let creds = auth.credentials().await.unwrap();
    let outcome = outcomes.recv().await.unwrap().unwrap();
    assert_eq!(outcome.status, 200, "{}", outcome.body);
    assert!(outcome.body.contains("Login complete"), "{}", outcome.body);
    // RFC 9207: the provider names itself, and it was checked (and required: discovery says
    // the provider advertises it).
    assert_eq!(
        outcome.callback_param("iss").as_deref(),
        Some(issuer.as_str())
    );
    assert!(outcome.callback_param("code").is_some());
    assert!(
        creds.refresh_token().is_some(),
        "a refresh token for the offline grant"
    );
    let id = creds.id_token().expect("an ID token for the openid scope");
    let claims = jwt_claims(id.secret()).unwrap();
    assert_eq!(claims.get("sub").and_then(|s| s.as_str()), Some("alice"));
    assert!(creds.expires_at().is_some());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // Cached: no second login.
    let again = auth.credentials().await.unwrap();
    assert_eq!(again.access_token(), creds.access_token());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn login_with_a_localhost_redirect() {
    let Some(issuer) = require_issuer("login_with_a_localhost_redirect") else {
        return;
    };
    let (launcher, mut outcomes, _) = idp_browser(Arc::new(AtomicBool::new(true)));
    let auth = builder(&issuer, "flyte-cli", "http://localhost:0/callback")
        .launcher(launcher)
        .build()
        .unwrap();
    auth.credentials().await.unwrap();
    let outcome = outcomes.recv().await.unwrap().unwrap();
    assert_eq!(outcome.callback_url.host_str(), Some("localhost"));
    assert_eq!(outcome.status, 200, "{}", outcome.body);
}

#[tokio::test]
async fn refresh_after_two_second_tokens_never_opens_the_browser_again() {
    let Some(issuer) =
        require_issuer("refresh_after_two_second_tokens_never_opens_the_browser_again")
    else {
        return;
    };
    let allowed = Arc::new(AtomicBool::new(true));
    let (launcher, mut outcomes, calls) = idp_browser(Arc::clone(&allowed));
    let auth = builder(&issuer, "flyte-cli-short", "http://127.0.0.1:0/callback")
        .launcher(launcher)
        .build()
        .unwrap();
    let first = auth.credentials().await.unwrap();
    assert_eq!(outcomes.recv().await.unwrap().unwrap().status, 200);
    // From now on a browser would fail the test.
    allowed.store(false, Ordering::SeqCst);
    let mut previous = first.clone();
    for _ in 0..2 {
        // Let the 2 s token expire.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let next = auth.credentials().await.unwrap();
        assert_ne!(
            next.access_token(),
            previous.access_token(),
            "a new access token"
        );
        assert!(!next.is_expired_at(std::time::SystemTime::now(), Duration::ZERO));
        previous = next;
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the browser opened once only"
    );
    assert!(outcomes.try_recv().is_err(), "no further browser outcome");
    // A rejection by the API also refreshes rather than logging in again (after the engine's
    // minimum interval between two acquisitions).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let after_reject = auth.refresh_credentials().await.unwrap();
    assert_ne!(after_reject.access_token(), previous.access_token());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn flyte_discovery_supplies_client_and_header_key() {
    let Some(issuer) = require_issuer("flyte_discovery_supplies_client_and_header_key") else {
        return;
    };
    let (launcher, mut outcomes, _) = idp_browser(Arc::new(AtomicBool::new(true)));
    // The provider emulates a Flyte admin: public client flyte-cli, header flyte-authorization,
    // redirect http://localhost:53593/callback (overridden here: tests run in parallel).
    let discovery = FlyteDiscovery::new(http(), &issuer, true);
    let auth = PkceAuthenticator::builder()
        .config_store(Arc::new(discovery))
        .redirect_uri("http://localhost:0/callback")
        .prompt(|_| {})
        .launcher(launcher)
        .build()
        .unwrap();
    let (key, value) = auth.authorization_header().await.unwrap();
    assert_eq!(key, "flyte-authorization");
    assert!(value.secret().starts_with("Bearer "));
    let outcome = outcomes.recv().await.unwrap().unwrap();
    assert_eq!(outcome.status, 200, "{}", outcome.body);
}

#[tokio::test]
async fn unregistered_redirect_uri_is_refused_by_the_provider() {
    let Some(issuer) = require_issuer("unregistered_redirect_uri_is_refused_by_the_provider")
    else {
        return;
    };
    let (launcher, mut outcomes, _) = idp_browser(Arc::new(AtomicBool::new(true)));
    let auth = builder(&issuer, "flyte-cli", "http://127.0.0.1:0/not-registered")
        .launcher(launcher)
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let err = auth.credentials().await.unwrap_err();
    // The provider shows an error page instead of redirecting; the login times out.
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(outcomes.recv().await.unwrap().is_err());
}
