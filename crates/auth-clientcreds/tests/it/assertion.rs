//! Client assertions (RFC 7523) against the real test identity provider: `private_key_jwt`
//! with RS256 and ES256 keys, and a federated token file (service-account-like JWTs minted with
//! the provider's "cluster issuer" key) rotated mid-test. Skipped without FLYTE_AUTH_TEST_ISSUER.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth_clientcreds::ClientCredentialsAuthenticator;
use auth_core::{Authenticator, EngineOptions};
use auth_oauth2::{AssertionAlgorithm, ClientAssertion};
use auth_testkit::idp::{client_keys, require_issuer};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

fn authenticator(
    issuer: &str,
    client_id: &str,
    assertion: ClientAssertion,
) -> ClientCredentialsAuthenticator {
    ClientCredentialsAuthenticator::builder()
        .client_id(client_id)
        .client_assertion(assertion)
        .token_endpoint(format!("{issuer}/token"))
        // Every refresh below must reach the provider.
        .engine_options(EngineOptions::default().with_min_refresh_interval(Duration::ZERO))
        .build()
        .expect("build")
}

#[tokio::test]
async fn real_private_key_jwt_rs256_and_es256_with_a_fresh_jti_per_request() {
    let Some(iss) =
        require_issuer("real_private_key_jwt_rs256_and_es256_with_a_fresh_jti_per_request")
    else {
        return;
    };
    let logs = auth_testkit::logs::global();
    let keys = client_keys(&iss).await.expect("client keys");
    let dir = tempfile::tempdir().expect("temp dir");
    for (client, pem, alg, kid) in [
        (
            "pkjwt-rs256",
            &keys.rs256,
            AssertionAlgorithm::Rs256,
            "client-rs256",
        ),
        (
            "pkjwt-es256",
            &keys.es256,
            AssertionAlgorithm::Es256,
            "client-es256",
        ),
    ] {
        let path = dir.path().join(format!("{client}.pem"));
        std::fs::write(&path, pem).expect("write key");
        let assertion =
            ClientAssertion::private_key_jwt(&path, alg, Some(kid.to_owned())).expect("key");
        let auth = authenticator(&iss, client, assertion);
        let first = auth
            .credentials()
            .await
            .expect("token with a signed assertion");
        // The provider refuses a replayed jti: two more acquisitions prove each request
        // signed a new one.
        let second = auth.refresh_credentials().await.expect("second assertion");
        let third = auth.refresh_credentials().await.expect("third assertion");
        assert_ne!(
            first.access_token().secret(),
            second.access_token().secret()
        );
        assert_ne!(
            second.access_token().secret(),
            third.access_token().secret()
        );
    }
    // No key material in the logs: a line of each PEM body.
    let lines: Vec<&str> = [&keys.rs256, &keys.es256]
        .iter()
        .filter_map(|pem| pem.lines().nth(2))
        .collect();
    logs.assert_none_of(&lines);
}

#[derive(Serialize)]
struct ServiceAccountClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: String,
    jti: &'a str,
    iat: u64,
    exp: u64,
}

/// A service-account-like JWT, as a cluster's token issuer would mint it for the workload.
fn mint(issuer: &str, cluster_key: &str, jti: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("cluster-issuer".to_owned());
    let claims = ServiceAccountClaims {
        iss: "federated",
        sub: "federated",
        aud: format!("{issuer}/token"),
        jti,
        iat: now,
        exp: now + 300,
    };
    let key = EncodingKey::from_rsa_pem(cluster_key.as_bytes()).expect("cluster key");
    jsonwebtoken::encode(&header, &claims, &key).expect("sign")
}

fn rotate(path: &Path, token: &str) {
    // As the kubelet does: write a new file and move it into place.
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, token).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

#[tokio::test]
async fn real_federated_token_file_is_reread_and_a_replayed_jti_is_refused() {
    let Some(iss) =
        require_issuer("real_federated_token_file_is_reread_and_a_replayed_jti_is_refused")
    else {
        return;
    };
    let logs = auth_testkit::logs::global();
    let keys = client_keys(&iss).await.expect("client keys");
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("token");
    let run = format!("{:?}", SystemTime::now());
    let (jti1, jti2) = (format!("sa-1-{run}"), format!("sa-2-{run}"));
    let first = mint(&iss, &keys.cluster_issuer, &jti1);
    let second = mint(&iss, &keys.cluster_issuer, &jti2);
    rotate(&file, &first);

    let auth = authenticator(&iss, "federated", ClientAssertion::token_file(&file));
    auth.credentials()
        .await
        .expect("token with the projected JWT");

    // Rotated: the next acquisition must read the new file (the old jti would be a replay).
    rotate(&file, &second);
    auth.refresh_credentials()
        .await
        .expect("token with the rotated JWT");

    // The old token again: the provider refuses the replayed jti.
    rotate(&file, &first);
    let err = auth
        .refresh_credentials()
        .await
        .expect_err("replay refused");
    assert_eq!(err.oauth_error_code(), Some("invalid_client"), "{err:?}");
    assert!(!err.to_string().contains(&first), "{err}");

    logs.assert_none_of(&[first.as_str(), second.as_str()]);
}
