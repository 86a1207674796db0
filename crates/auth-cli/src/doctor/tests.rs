use super::*;

#[test]
fn host_and_port() {
    assert_eq!(
        split_host_port("h:8080", 443),
        Some(("h".to_string(), 8080))
    );
    assert_eq!(split_host_port("h", 443), Some(("h".to_string(), 443)));
    assert_eq!(
        split_host_port("[::1]:53593", 80),
        Some(("::1".to_string(), 53593))
    );
    assert_eq!(split_host_port("", 80), None);
    assert_eq!(split_host_port("h:x", 80), None);
}

#[test]
fn claims_are_shown_never_the_token() {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let jwt = format!(
        "{}.{}.sig-planted-secret",
        b64(r#"{"alg":"none"}"#),
        b64(r#"{"iss":"https://idp","aud":["a","b"],"scope":"openid all","exp":1}"#)
    );
    let creds = flyte_auth::Credentials::new(flyte_auth::AccessToken::new(jwt.clone()));
    let d = describe_token(&creds, SystemTime::now());
    assert!(
        d.contains("iss https://idp") && d.contains("aud a b") && d.contains("scope openid all"),
        "{d}"
    );
    assert!(
        !d.contains("sig-planted-secret") && !d.contains(&jwt),
        "{d}"
    );
    let opaque =
        flyte_auth::Credentials::new(flyte_auth::AccessToken::new("opaque-planted-secret"));
    let d = describe_token(&opaque, SystemTime::now());
    assert!(d.starts_with("an opaque access token"), "{d}");
    assert!(!d.contains("opaque-planted-secret"));
}
