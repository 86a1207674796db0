use super::*;
use auth_core::Authenticator as _;

fn base() -> PkceAuthenticatorBuilder {
    PkceAuthenticator::builder()
        .client_id("flyte-cli")
        .authorization_endpoint("https://idp.example/auth")
        .token_endpoint("https://idp.example/token")
}

#[test]
fn builds_with_static_endpoints() {
    let a = base().build().unwrap();
    assert_eq!(a.header_key(), "authorization");
    assert!(a.engine().source().is_interactive());
}

#[test]
fn missing_values_are_named() {
    let e = PkceAuthenticator::builder().build().unwrap_err();
    assert!(e.to_string().starts_with("client id is missing"), "{e}");
    let e = PkceAuthenticator::builder()
        .client_id("c")
        .build()
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("authorization and token endpoints"),
        "{e}"
    );
    let e = PkceAuthenticator::builder()
        .client_id("c")
        .token_endpoint("https://idp/token")
        .build()
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("authorization and token endpoints"),
        "{e}"
    );
    let as_auth: AuthError = e.into();
    assert_eq!(as_auth.kind(), auth_core::ErrorKind::Configuration);
}

#[test]
fn config_store_alone_is_enough() {
    let store = auth_core::StaticClientConfigStore::new(auth_core::ClientConfig::new(
        "https://idp/token",
        "c",
    ));
    PkceAuthenticator::builder()
        .config_store(Arc::new(store))
        .build()
        .unwrap();
}

#[test]
fn bad_settings_are_refused() {
    for b in [
        base().redirect_uri("https://localhost:1/cb"),
        base().redirect_uri("http://example.com:1/cb"),
        base().authorization_endpoint("http://idp.example/auth"),
        base().token_endpoint("ftp://idp.example/token"),
        base().extra_param("state", "x"),
        base().extra_param("code_challenge_method", "plain"),
        base().timeout(Duration::ZERO),
    ] {
        let e = b.build().unwrap_err();
        assert_eq!(e.kind(), auth_oauth2::BuildErrorKind::Invalid, "{e}");
    }
    base()
        .authorization_endpoint("http://idp.example/auth")
        .allow_http(true)
        .build()
        .unwrap();
    base()
        .authorization_endpoint("http://127.0.0.1:8080/auth")
        .build()
        .unwrap();
    base()
        .redirect_uri("http://[::1]:0/cb")
        .extra_param("prompt", "login")
        .build()
        .unwrap();
}

#[test]
fn builder_debug_hides_the_secret() {
    let b = base().client_secret(auth_core::ClientSecret::new("hunter2-planted"));
    let d = format!("{b:?} {b:#?}");
    assert!(!d.contains("hunter2-planted"), "{d}");
    assert!(d.contains("[redacted]"), "{d}");
    let a = b.build().unwrap();
    let d = format!("{a:?} {a:#?}");
    assert!(!d.contains("hunter2-planted"), "{d}");
}
