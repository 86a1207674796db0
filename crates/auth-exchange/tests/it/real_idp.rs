//! Against the real test identity provider's token-exchange grant (client `exchanger`).
//! Skipped, saying so, when FLYTE_AUTH_TEST_ISSUER is unset (`cargo xtask test` sets it).

use std::path::Path;
use std::sync::Arc;

use auth_core::{Authenticator, ClientSecret, ErrorKind, jwt_claims};
use auth_exchange::{TokenExchangeAuthenticator, token_type};
use auth_oauth2::{ClientAuthMethod, HttpClient, OAuth2Client, TransportOptions};
use auth_testkit::idp::{TestIdp, require_issuer, stats};

const AUDIENCE: &str = "https://flyte.example.com";

/// A subject token: an access token of client `id`, issued by the provider.
async fn subject(issuer: &str, id: &str, secret: &str) -> String {
    oauth2_client(id, secret)
        .client_credentials(&format!("{issuer}/token"), &[], None)
        .await
        .expect("subject token")
        .access_token()
        .secret()
        .to_string()
}

fn oauth2_client(id: &str, secret: &str) -> OAuth2Client {
    let http = HttpClient::new(&TransportOptions::new()).expect("http");
    OAuth2Client::new(http, id)
        .with_client_secret(Some(ClientSecret::new(secret)), ClientAuthMethod::Basic)
}

/// Another authenticator: client credentials of `cc-basic`, through the engine, as a flow
/// crate (auth-clientcreds, auth-command) would give it. Flow crates cannot depend on each
/// other, even in tests, so it is built here from auth-oauth2 and the engine.
#[derive(Debug)]
struct ClientCredentials {
    client: OAuth2Client,
    endpoint: String,
}

#[auth_core::async_trait]
impl auth_core::TokenSource for ClientCredentials {
    async fn fetch(
        &self,
        _: &auth_core::FetchContext<'_>,
    ) -> Result<auth_core::Credentials, auth_core::AuthError> {
        self.client
            .client_credentials(&self.endpoint, &[], None)
            .await
    }
}

fn exchange_from_file(issuer: &str, file: &Path) -> TokenExchangeAuthenticator {
    TokenExchangeAuthenticator::builder()
        .subject_token_file(file)
        .subject_token_type(token_type::ACCESS_TOKEN)
        .client_id("exchanger")
        .client_secret(ClientSecret::new("exchanger-secret"))
        .token_endpoint(format!("{issuer}/token"))
        .audience(AUDIENCE)
        .build()
        .expect("build")
}

/// The `sub` and `aud` of an exchanged token.
fn sub_and_aud(token: &str) -> (String, String) {
    let claims = jwt_claims(token).expect("the exchanged token is a JWT");
    let s = |k: &str| {
        claims
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    (s("sub"), s("aud"))
}

#[tokio::test]
async fn real_file_subject_is_exchanged_for_the_flyte_audience() {
    let Some(iss) = require_issuer("real_file_subject_is_exchanged_for_the_flyte_audience") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("token");
    std::fs::write(&file, subject(&iss, "cc-basic", "cc-basic-secret").await).expect("write");
    let c = exchange_from_file(&iss, &file)
        .credentials()
        .await
        .expect("exchanged");
    assert_eq!(
        sub_and_aud(c.access_token().secret()),
        ("cc-basic".to_owned(), AUDIENCE.to_owned())
    );
    assert!(c.expires_at().is_some(), "expires_in was read");
}

#[tokio::test]
async fn real_rotated_file_is_used_on_the_next_acquisition() {
    let Some(iss) = require_issuer("real_rotated_file_is_used_on_the_next_acquisition") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("token");
    std::fs::write(&file, subject(&iss, "cc-basic", "cc-basic-secret").await).expect("write");
    let auth = exchange_from_file(&iss, &file);
    let first = auth.credentials().await.expect("exchanged");
    assert_eq!(sub_and_aud(first.access_token().secret()).0, "cc-basic");

    // The kubelet rotates the projected token: the file now holds another workload's token.
    std::fs::write(&file, subject(&iss, "cc-special", "p@ss:w+rd/% &=z").await).expect("rotate");
    assert_eq!(
        auth.credentials()
            .await
            .expect("cached")
            .access_token()
            .secret(),
        first.access_token().secret(),
        "a valid token is served from the cache"
    );
    let second = auth.refresh_credentials().await.expect("exchanged again");
    assert_eq!(sub_and_aud(second.access_token().secret()).0, "cc-special");
}

#[tokio::test]
async fn real_subject_from_another_authenticator() {
    let Some(iss) = require_issuer("real_subject_from_another_authenticator") else {
        return;
    };
    let inner = auth_core::TokenEngine::new(
        Arc::new(ClientCredentials {
            client: oauth2_client("cc-basic", "cc-basic-secret"),
            endpoint: format!("{iss}/token"),
        }),
        auth_core::EngineOptions::default(),
    );
    let auth = TokenExchangeAuthenticator::builder()
        .subject_authenticator(Arc::new(inner))
        .client_id("exchanger")
        .client_secret(ClientSecret::new("exchanger-secret"))
        .token_endpoint(format!("{iss}/token"))
        .audience(AUDIENCE)
        .build()
        .expect("build");
    let c = auth.credentials().await.expect("exchanged");
    assert_eq!(sub_and_aud(c.access_token().secret()).0, "cc-basic");
}

#[tokio::test]
async fn real_invalid_subject_is_refused_as_invalid_grant() {
    let Some(iss) = require_issuer("real_invalid_subject_is_refused_as_invalid_grant") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("token");
    std::fs::write(&file, "not-a-token-of-this-issuer").expect("write");
    let err = exchange_from_file(&iss, &file)
        .credentials()
        .await
        .expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::OAuth, "{err:?}");
    assert!(err.is_invalid_grant(), "{err:?}");
    assert!(
        !err.to_string().contains("not-a-token-of-this-issuer"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_one_hundred_concurrent_callers_one_exchange() {
    let name = "real_one_hundred_concurrent_callers_one_exchange";
    let Some(_shared) = require_issuer(name) else {
        return;
    };
    // A provider of its own, so that the exchanger's request count is this test's alone.
    let idp = TestIdp::start().expect("start the identity provider");
    let iss = idp.issuer().to_owned();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("token");
    std::fs::write(&file, subject(&iss, "cc-basic", "cc-basic-secret").await).expect("write");
    let auth = Arc::new(exchange_from_file(&iss, &file));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let a = Arc::clone(&auth);
            tokio::spawn(async move { a.credentials().await })
        })
        .collect();
    let mut tokens = Vec::new();
    for t in tasks {
        let c = t.await.expect("task").expect("exchanged");
        tokens.push(c.access_token().secret().to_owned());
    }
    tokens.dedup();
    assert_eq!(tokens.len(), 1);
    let s = stats(&iss).await.expect("stats");
    assert_eq!(
        s.token_requests("exchanger"),
        1,
        "100 callers, one exchange"
    );
}
