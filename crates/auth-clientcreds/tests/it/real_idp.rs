//! Against the real test identity provider. Skipped, saying so, when FLYTE_AUTH_TEST_ISSUER is
//! unset (`cargo xtask test` sets it).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use auth_clientcreds::ClientCredentialsAuthenticator;
use auth_core::{Authenticator, ClientSecret, ErrorKind};
use auth_oauth2::{ClientAuthMethod, FlyteDiscovery, HttpClient, TransportOptions};
use auth_testkit::idp::{require_issuer, stats};

fn auth(
    issuer: &str,
    id: &str,
    secret: &str,
    method: ClientAuthMethod,
) -> ClientCredentialsAuthenticator {
    ClientCredentialsAuthenticator::builder()
        .client_id(id)
        .client_secret(ClientSecret::new(secret))
        .token_endpoint(format!("{issuer}/token"))
        .auth_method(method)
        .build()
        .expect("build")
}

async fn token_requests(issuer: &str, client: &str) -> u64 {
    stats(issuer).await.expect("stats").token_requests(client)
}

#[tokio::test]
async fn real_basic() {
    let Some(iss) = require_issuer("real_basic") else {
        return;
    };
    let c = auth(&iss, "cc-basic", "cc-basic-secret", ClientAuthMethod::Basic)
        .credentials()
        .await
        .expect("token");
    assert!(!c.access_token().secret().is_empty());
}

#[tokio::test]
async fn real_special_character_secret() {
    let Some(iss) = require_issuer("real_special_character_secret") else {
        return;
    };
    let c = auth(
        &iss,
        "cc-special",
        "p@ss:w+rd/% &=z",
        ClientAuthMethod::Basic,
    )
    .credentials()
    .await
    .expect("token");
    assert!(!c.access_token().secret().is_empty());
}

#[tokio::test]
async fn real_flyte_discovery_as_config_store() {
    let Some(iss) = require_issuer("real_flyte_discovery_as_config_store") else {
        return;
    };
    let http = HttpClient::new(&TransportOptions::new()).expect("http");
    let a = ClientCredentialsAuthenticator::builder()
        .client_id("cc-basic")
        .client_secret(ClientSecret::new("cc-basic-secret"))
        .config_store(Arc::new(FlyteDiscovery::new(http.clone(), &iss, true)))
        .http_client(http)
        // The server's public-client scopes (openid, offline_access) are for people.
        .scopes(Vec::<String>::new())
        .build()
        .expect("build");
    let (key, _value) = a.authorization_header().await.expect("header");
    assert_eq!(key, "flyte-authorization", "discovered header key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_post_one_hundred_concurrent_callers_one_request() {
    let Some(iss) = require_issuer("real_post_one_hundred_concurrent_callers_one_request") else {
        return;
    };
    // cc-post (client_secret_post) is used by this test alone, so the counter is exact.
    let a = Arc::new(auth(
        &iss,
        "cc-post",
        "cc-post-secret",
        ClientAuthMethod::Post,
    ));
    let before = token_requests(&iss, "cc-post").await;
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let a = Arc::clone(&a);
            tokio::spawn(async move { a.credentials().await })
        })
        .collect();
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(
            t.await
                .expect("task")
                .expect("token")
                .access_token()
                .secret()
                .to_string(),
        );
    }
    tokens.dedup();
    assert_eq!(tokens.len(), 1);
    assert_eq!(
        token_requests(&iss, "cc-post").await - before,
        1,
        "100 callers, one request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_short_tokens_are_renewed_ahead_and_never_expired() {
    let Some(iss) = require_issuer("real_short_tokens_are_renewed_ahead_and_never_expired") else {
        return;
    };
    let a = auth(&iss, "cc-short", "cc-short-secret", ClientAuthMethod::Basic);
    let before = token_requests(&iss, "cc-short").await;
    // token -> (first seen, expires at)
    let mut seen: HashMap<String, (SystemTime, SystemTime)> = HashMap::new();
    let mut order = Vec::new();
    for _ in 0..60 {
        let c = a.credentials().await.expect("token");
        let now = SystemTime::now();
        let expires_at = c.expires_at().expect("2 s tokens carry expires_in");
        assert!(expires_at > now, "a caller received an expired token");
        let token = c.access_token().secret().to_string();
        if let std::collections::hash_map::Entry::Vacant(slot) = seen.entry(token.clone()) {
            slot.insert((now, expires_at));
            order.push(token);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        order.len() >= 3,
        "6 s of 2 s tokens: renewed {} times",
        order.len() - 1
    );
    for pair in order.windows(2) {
        let (_, old_expiry) = seen[&pair[0]];
        let (new_first_seen, _) = seen[&pair[1]];
        assert!(
            new_first_seen < old_expiry,
            "the token was renewed ahead of its expiry"
        );
    }
    let requests = token_requests(&iss, "cc-short").await - before;
    assert!(
        requests <= order.len() as u64 + 1,
        "one request per token, not a busy loop: {requests} requests for {} tokens",
        order.len()
    );
}

#[tokio::test]
async fn real_invalid_client_is_typed_without_the_secret() {
    let Some(iss) = require_issuer("real_invalid_client_is_typed_without_the_secret") else {
        return;
    };
    let wrong = "wrong-planted-secret-31337";
    let e = auth(&iss, "cc-basic", wrong, ClientAuthMethod::Basic)
        .credentials()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OAuth);
    assert_eq!(e.oauth_error_code(), Some("invalid_client"));
    let description = e
        .oauth_error()
        .and_then(|o| o.error_description.clone())
        .unwrap_or_default();
    assert!(
        !description.is_empty(),
        "the provider's description is kept"
    );
    assert!(e.to_string().contains(&description), "{e}");
    let text = format!("{e} {e:?}");
    assert!(!text.contains(wrong), "{text}");
}

/// The real provider refuses a client registered for `client_secret_post` that sends Basic
/// (401 invalid_client): a client that negotiates falls back to post and keeps it (the
/// request counts are asserted against wiremock in wire.rs; cc-post's counter belongs to the
/// concurrency test above).
#[tokio::test]
async fn real_negotiated_post_client_falls_back_to_post() {
    let Some(iss) = require_issuer("real_negotiated_post_client_falls_back_to_post") else {
        return;
    };
    let auth = ClientCredentialsAuthenticator::builder()
        .client_id("cc-post")
        .client_secret(ClientSecret::new("cc-post-secret"))
        .token_endpoint(format!("{iss}/token"))
        .build()
        .expect("build");
    let first = auth.credentials().await.expect("token after the fallback");
    let second = auth.refresh_credentials().await.expect("token with post");
    assert_ne!(
        first.access_token().secret(),
        second.access_token().secret()
    );
}
