//! Against the real test identity provider (`oidc-provider`, see
//! crates/auth-testkit/idp/README.md). Skipped, saying so, when FLYTE_AUTH_TEST_ISSUER is unset.

use auth_core::{ClientConfigStore, ClientSecret, ErrorKind, jwt_claims};
use auth_oauth2::{ClientAuthMethod, FlyteDiscovery, HttpClient, IssuerDiscovery, OAuth2Client};

use auth_core::RefreshToken;
use auth_testkit::idp::require_issuer as issuer;

use crate::support::{http, strings};

fn cc(http: HttpClient, id: &str, secret: &str, method: ClientAuthMethod) -> OAuth2Client {
    OAuth2Client::new(http, id).with_client_secret(Some(ClientSecret::new(secret)), method)
}

/// Token-endpoint requests of `client` so far, from the provider's own counters.
async fn token_requests(http: &HttpClient, issuer: &str, client: &str) -> u64 {
    let stats: serde_json::Value = http
        .get_json(&format!("{issuer}/test/stats"))
        .await
        .expect("stats");
    stats["token"][client].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn real_issuer_discovery() {
    let Some(iss) = issuer("real_issuer_discovery") else {
        return;
    };
    let c = IssuerDiscovery::new(http(), &iss, "flyte-cli")
        .client_config()
        .await
        .expect("discovery");
    assert_eq!(c.token_endpoint, format!("{iss}/token"));
    assert_eq!(c.authorization_endpoint, Some(format!("{iss}/auth")));
    assert_eq!(
        c.device_authorization_endpoint,
        Some(format!("{iss}/device/auth"))
    );
    assert_eq!(c.issuer.as_deref(), Some(iss.as_str()));
    // oidc-provider advertises RFC 9207 `iss` in authorization responses.
    assert!(c.authorization_response_iss_parameter_supported);
}

#[tokio::test]
async fn real_flyte_discovery() {
    let Some(iss) = issuer("real_flyte_discovery") else {
        return;
    };
    let c = FlyteDiscovery::new(http(), &iss, true)
        .client_config()
        .await
        .expect("discovery");
    assert_eq!(c.token_endpoint, format!("{iss}/token"));
    assert_eq!(c.client_id, "flyte-cli");
    assert_eq!(c.header_key, "flyte-authorization");
    assert!(!c.scopes.is_empty());
    // The emulated admin serves the provider's own metadata document, flag included.
    assert!(c.authorization_response_iss_parameter_supported);
}

#[tokio::test]
async fn real_client_credentials_basic() {
    let Some(iss) = issuer("real_client_credentials_basic") else {
        return;
    };
    // cc-short (basic, 2 s tokens) is used by this test alone here: the counter is exact.
    let http = http();
    let before = token_requests(&http, &iss, "cc-short").await;
    let c = cc(
        http.clone(),
        "cc-short",
        "cc-short-secret",
        ClientAuthMethod::Basic,
    )
    .client_credentials(&format!("{iss}/token"), &[], None)
    .await
    .expect("token");
    assert!(!c.access_token().secret().is_empty());
    assert!(c.expires_at().is_some());
    assert_eq!(token_requests(&http, &iss, "cc-short").await, before + 1);
}

#[tokio::test]
async fn real_client_credentials_post() {
    let Some(iss) = issuer("real_client_credentials_post") else {
        return;
    };
    let c = cc(http(), "cc-post", "cc-post-secret", ClientAuthMethod::Post)
        .client_credentials(&format!("{iss}/token"), &[], None)
        .await
        .expect("token");
    assert!(!c.access_token().secret().is_empty());
}

#[tokio::test]
async fn real_client_credentials_with_the_other_method_is_invalid_client() {
    let Some(iss) = issuer("real_client_credentials_with_the_other_method_is_invalid_client")
    else {
        return;
    };
    let e = cc(http(), "cc-post", "cc-post-secret", ClientAuthMethod::Basic)
        .client_credentials(&format!("{iss}/token"), &[], None)
        .await
        .unwrap_err();
    assert_eq!(e.oauth_error_code(), Some("invalid_client"), "{e}");
}

#[tokio::test]
async fn real_special_character_secret() {
    let Some(iss) = issuer("real_special_character_secret") else {
        return;
    };
    let url = format!("{iss}/token");
    let c = cc(
        http(),
        "cc-special",
        "p@ss:w+rd/% &=z",
        ClientAuthMethod::Basic,
    )
    .client_credentials(&url, &[], None)
    .await
    .expect("RFC 6749 encoding is accepted");
    assert!(!c.access_token().secret().is_empty());
    // flytekit's encoding (the secret only) decodes to the same secret when the client id
    // has no special characters: accepted too.
    cc(
        http(),
        "cc-special",
        "p@ss:w+rd/% &=z",
        ClientAuthMethod::BasicSecretOnlyEncoded,
    )
    .client_credentials(&url, &[], None)
    .await
    .expect("flytekit encoding");
}

#[tokio::test]
async fn real_invalid_client_is_the_typed_oauth_error() {
    let Some(iss) = issuer("real_invalid_client_is_the_typed_oauth_error") else {
        return;
    };
    let wrong = "wrong-secret-planted-0815";
    let e = cc(http(), "cc-basic", wrong, ClientAuthMethod::Basic)
        .client_credentials(&format!("{iss}/token"), &[], None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OAuth);
    assert_eq!(e.oauth_error_code(), Some("invalid_client"));
    assert_eq!(e.status(), Some(401));
    assert!(
        e.oauth_error()
            .and_then(|o| o.error_description.as_deref())
            .is_some_and(|d| !d.is_empty())
    );
    assert!(!e.is_retryable());
    let text = format!("{e} {e:?}");
    assert!(!text.contains(wrong), "{text}");
}

#[tokio::test]
async fn real_audience_becomes_the_token_audience() {
    let Some(iss) = issuer("real_audience_becomes_the_token_audience") else {
        return;
    };
    let c = cc(
        http(),
        "cc-basic",
        "cc-basic-secret",
        ClientAuthMethod::Basic,
    )
    .client_credentials(&format!("{iss}/token"), &[], Some("https://api.flyte.test"))
    .await
    .expect("token");
    let claims = jwt_claims(c.access_token().secret()).expect("a JWT for a resource");
    let aud = &claims["aud"];
    assert!(
        aud == "https://api.flyte.test"
            || aud
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == "https://api.flyte.test")),
        "aud = {aud}"
    );
}

/// A refresh token from a device login of the public client `flyte-cli`, then the refresh
/// grant: the refresh token rotates, and the spent one is refused with `invalid_grant`.
#[tokio::test]
async fn real_refresh_grant() {
    let Some(iss) = issuer("real_refresh_grant") else {
        return;
    };
    let client = OAuth2Client::new(http(), "flyte-cli");
    let token_url = format!("{iss}/token");
    let first = device_login(&client, &iss).await;
    let refresh_token = first.refresh_token().expect("a refresh token").clone();
    let second = client
        .refresh(&token_url, &refresh_token, &[])
        .await
        .expect("refresh grant");
    assert_ne!(second.access_token(), first.access_token());
    let rotated = second.refresh_token().expect("a rotated refresh token");
    assert_ne!(rotated, &refresh_token);
    let e = client
        .refresh(&token_url, &RefreshToken::new(refresh_token.secret()), &[])
        .await
        .unwrap_err();
    assert!(e.is_invalid_grant(), "{e}");
    assert!(!e.is_retryable());
}

/// A device login of `client`, approved headlessly: its first credentials.
async fn device_login(client: &OAuth2Client, iss: &str) -> auth_core::Credentials {
    let scopes = strings(&["openid", "offline_access"]);
    let device = client
        .device_authorization(&format!("{iss}/device/auth"), &scopes, None, &[])
        .await
        .expect("device authorization");
    let complete = device
        .verification_uri_complete
        .clone()
        .expect("verification_uri_complete");
    auth_testkit::idp::approve_device(&complete, true)
        .await
        .expect("approve");
    let token_url = format!("{iss}/token");
    let interval = device.interval.unwrap_or(std::time::Duration::from_secs(1));
    let mut first = None;
    for _ in 0..30 {
        match client
            .poll_device_token(&token_url, &device.device_code, &[])
            .await
        {
            Ok(c) => {
                first = Some(c);
                break;
            }
            Err(e)
                if matches!(
                    e.oauth_error_code(),
                    Some("authorization_pending" | "slow_down")
                ) =>
            {
                tokio::time::sleep(interval).await;
            }
            Err(e) => panic!("device token: {e}"),
        }
    }
    first.expect("approved within 30 polls")
}

/// RFC 7009: the discovered revocation endpoint revokes the refresh token, and the next
/// refresh grant with it is refused.
#[tokio::test]
async fn real_revocation_refuses_the_next_refresh() {
    let Some(iss) = issuer("real_revocation_refuses_the_next_refresh") else {
        return;
    };
    let c = FlyteDiscovery::new(http(), &iss, true)
        .client_config()
        .await
        .expect("discovery");
    let revocation = c
        .revocation_endpoint
        .expect("the provider advertises revocation_endpoint");
    let client = OAuth2Client::new(http(), "flyte-cli");
    let first = device_login(&client, &iss).await;
    let refresh_token = first.refresh_token().expect("a refresh token").clone();
    client
        .revoke_refresh_token(&revocation, &refresh_token)
        .await
        .expect("revoked");
    let e = client
        .refresh(&c.token_endpoint, &refresh_token, &[])
        .await
        .unwrap_err();
    assert!(e.is_invalid_grant(), "{e}");
    // Revoking an unknown token is a success too (RFC 7009 §2.2).
    client
        .revoke_refresh_token(&revocation, &RefreshToken::new("not-a-token"))
        .await
        .expect("unknown tokens are revoked as well");
    // A failure is an error (here: nothing listens), never a panic.
    let e = client
        .revoke_refresh_token("http://127.0.0.1:9/revoke", &refresh_token)
        .await
        .unwrap_err();
    assert!(!e.is_retryable(), "{e}");
}
