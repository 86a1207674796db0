//! What commands print: raw tokens and each JSON shape, through real child processes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth_core::Authenticator;

use crate::support::auth;

async fn token_of(argv: &[&str]) -> auth_core::Credentials {
    auth(argv).credentials().await.expect("credentials")
}

#[tokio::test]
async fn raw_token_with_trailing_newline() {
    let c = token_of(&["printf", "tok-abc\\n"]).await;
    assert_eq!(c.access_token().secret(), "tok-abc");
    assert_eq!(c.expires_at(), None);
}

#[tokio::test]
async fn argv_is_not_interpreted_by_a_shell() {
    let c = token_of(&["printf", "%s", "$HOME;`id`|*"]).await;
    assert_eq!(c.access_token().secret(), "$HOME;`id`|*");
}

#[tokio::test]
async fn json_access_token_with_expires_in() {
    let before = SystemTime::now();
    let c = token_of(&[
        "printf",
        "%s",
        r#"{"access_token":"json-at","token_type":"Bearer","expires_in":3600}"#,
    ])
    .await;
    assert_eq!(c.access_token().secret(), "json-at");
    let at = c.expires_at().expect("expiry");
    assert!(
        at >= before + Duration::from_secs(3600)
            && at <= SystemTime::now() + Duration::from_secs(3600)
    );
}

#[tokio::test]
async fn json_token_with_expires_at_and_expiry() {
    let c = token_of(&[
        "printf",
        "%s",
        r#"{"token":"json-t","expires_at":"2033-05-18T03:33:20Z"}"#,
    ])
    .await;
    assert_eq!(c.access_token().secret(), "json-t");
    assert_eq!(
        c.expires_at(),
        Some(UNIX_EPOCH + Duration::from_secs(2_000_000_000))
    );
    let c = token_of(&[
        "printf",
        "%s",
        r#"{"access_token":"go-t","expiry":"2033-05-18T05:33:20+02:00"}"#,
    ])
    .await;
    assert_eq!(
        c.expires_at(),
        Some(UNIX_EPOCH + Duration::from_secs(2_000_000_000))
    );
}

#[tokio::test]
async fn kubernetes_exec_credential() {
    let json = r#"{
      "kind": "ExecCredential",
      "apiVersion": "client.authentication.k8s.io/v1beta1",
      "spec": {},
      "status": {"token": "k8s-t", "expirationTimestamp": "2033-05-18T03:33:20Z"}
    }"#;
    let c = token_of(&["printf", "%s\\n", json]).await;
    assert_eq!(c.access_token().secret(), "k8s-t");
    assert_eq!(
        c.expires_at(),
        Some(UNIX_EPOCH + Duration::from_secs(2_000_000_000))
    );
}

#[tokio::test]
async fn az_account_get_access_token() {
    let json = r#"{
      "accessToken": "az-t",
      "expiresOn": "2033-05-18 03:33:20.000000",
      "expires_on": 2000000000,
      "subscription": "00000000-0000-0000-0000-000000000000",
      "tenant": "00000000-0000-0000-0000-000000000000",
      "tokenType": "Bearer"
    }"#;
    let c = token_of(&["printf", "%s\\n", json]).await;
    assert_eq!(c.access_token().secret(), "az-t");
    assert_eq!(
        c.expires_at(),
        Some(UNIX_EPOCH + Duration::from_secs(2_000_000_000))
    );
}

#[tokio::test]
async fn header_uses_the_configured_key() {
    let a = auth_command::CommandAuthenticator::proxy_authorization(["printf", "proxy-t"])
        .build()
        .expect("build");
    let (key, value) = a.authorization_header().await.expect("header");
    assert_eq!(key, "proxy-authorization");
    assert_eq!(value.secret(), "Bearer proxy-t");
}

#[tokio::test]
async fn the_child_inherits_the_environment() {
    // PATH is set in every test environment; the child sees the same value.
    let path = std::env::var("PATH").expect("PATH");
    let c = token_of(&["sh", "-c", "printf %s \"$PATH\" | tr ':' ','"]).await;
    assert_eq!(c.access_token().secret(), path.replace(':', ","));
}

#[tokio::test]
async fn stdin_is_closed() {
    // `cat` reads the closed stdin and ends at once, so the token printed after it arrives;
    // with an inherited stdin it would wait for input until the time limit.
    let c = auth(&["sh", "-c", "cat; echo after-cat"])
        .credentials()
        .await
        .expect("credentials");
    assert_eq!(c.access_token().secret(), "after-cat");
}
