//! Inputs found by the fuzz targets in `fuzz/` (`cargo xtask fuzz`), replayed through the real
//! HTTP path.

use auth_core::ErrorKind;
use auth_oauth2::OAuth2Client;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::http;

/// The error of a client credentials grant answered with `status` and `body`.
async fn token_error(status: u16, body: &[u8]) -> auth_core::AuthError {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(status).set_body_raw(body.to_vec(), "application/json"))
        .mount(&server)
        .await;
    OAuth2Client::new(http(), "svc")
        .client_credentials(&format!("{}/token", server.uri()), &[], None)
        .await
        .expect_err("an error answer")
}

fn assert_terminal_safe(e: &auth_core::AuthError) {
    let text = e.to_string();
    assert!(!text.contains('\u{1b}'), "escape sequence in {text:?}");
    let code = e.oauth_error_code().expect("an OAuth error");
    assert!(
        !code.contains('\u{1b}'),
        "escape sequence in the code {code:?}"
    );
}

/// fuzz/artifacts/token_response/crash-fa0084d9: the `error` code of a 2xx answer reached the
/// message with its escape sequence, while the description next to it was sanitized.
#[tokio::test]
async fn an_error_code_with_an_escape_sequence_in_a_2xx_answer_is_sanitized() {
    let body = br#"{"error": "slow_downhhhhhhhhhw \u001b[31mdown","v riental": "11"}"#;
    let e = token_error(200, body).await;
    assert_eq!(e.kind(), ErrorKind::OAuth);
    assert_terminal_safe(&e);
    assert_eq!(e.oauth_error_code(), Some("slow_downhhhhhhhhhw down"));
}

/// The same code in a 400 answer (the error body path).
#[tokio::test]
async fn an_error_code_with_an_escape_sequence_in_a_400_answer_is_sanitized() {
    let body = br#"{"error": "invalid_grant\u001b]0;owned\u0007", "error_description": "x"}"#;
    let e = token_error(400, body).await;
    assert_terminal_safe(&e);
    // The escape and bell become spaces (only `ESC [` sequences are dropped whole).
    assert_eq!(e.oauth_error_code(), Some("invalid_grant ]0;owned"));
}

/// A code of any length was kept whole; it is capped like the description.
#[tokio::test]
async fn a_huge_error_code_is_capped() {
    let body = format!(r#"{{"error": "{}"}}"#, "x".repeat(100_000));
    let e = token_error(400, body.as_bytes()).await;
    let code = e.oauth_error_code().expect("an OAuth error");
    assert!(code.chars().count() <= 103, "{} characters", code.len());
    assert!(e.to_string().chars().count() < 1000);
}

/// Ordinary codes are unchanged, so matching on them still works.
#[tokio::test]
async fn ordinary_error_codes_are_unchanged() {
    let e = token_error(400, br#"{"error": " invalid_client "}"#).await;
    assert_eq!(e.oauth_error_code(), Some("invalid_client"));
}
