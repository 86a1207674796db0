use super::errors::{parse_oauth_error, retry_after};
use super::*;

#[test]
fn excerpt_strips_markup_and_control_characters() {
    let page = b"<html><head><title>502 Bad Gateway</title></head>\r\n<body>\x1b[31mnginx\x07</body></html>";
    assert_eq!(excerpt(page), "502 Bad Gateway nginx");
    let long = "x".repeat(500);
    assert_eq!(excerpt(long.as_bytes()).len(), 203);
}

#[test]
fn a_huge_slow_down_interval_is_capped() {
    let e = parse_oauth_error(br#"{"error":"slow_down","interval":9999999999999}"#).unwrap();
    assert_eq!(e.interval, Some(crate::MAX_POLL_INTERVAL));
    let e = parse_oauth_error(br#"{"error":"slow_down","interval":1e30}"#).unwrap();
    assert_eq!(e.interval, Some(crate::MAX_POLL_INTERVAL));
    let e = parse_oauth_error(br#"{"error":"slow_down","interval":7}"#).unwrap();
    assert_eq!(e.interval, Some(Duration::from_secs(7)));
}

#[test]
fn durations_read_naturally() {
    assert_eq!(fmt_duration(Duration::from_secs(30)), "30s");
    assert_eq!(fmt_duration(Duration::from_millis(250)), "250ms");
    assert_eq!(fmt_duration(Duration::from_millis(1500)), "1.5s");
}

#[test]
fn proxy_auth_matches_host_and_port() {
    #[derive(Debug)]
    struct Never;
    #[auth_core::async_trait]
    impl Authenticator for Never {
        async fn credentials(&self) -> Result<auth_core::Credentials, AuthError> {
            Err(AuthError::configuration("unused"))
        }
        async fn refresh_credentials(&self) -> Result<auth_core::Credentials, AuthError> {
            Err(AuthError::configuration("unused"))
        }
    }
    let url = |s: &str| Url::parse(s).unwrap();
    let p = ProxyAuth::parse("dns:///Flyte.example.com:443", Arc::new(Never)).unwrap();
    assert!(p.applies_to(&url("https://flyte.example.com/config")));
    assert!(!p.applies_to(&url("http://flyte.example.com/config")));
    assert!(!p.applies_to(&url("https://idp.example.com/token")));
    let any_port = ProxyAuth::parse("flyte.example.com", Arc::new(Never)).unwrap();
    assert!(any_port.applies_to(&url("http://flyte.example.com:8080/")));
    let with_scheme = ProxyAuth::parse("https://flyte.example.com", Arc::new(Never)).unwrap();
    assert_eq!(with_scheme.port, Some(443));
    assert!(ProxyAuth::parse("", Arc::new(Never)).is_err());
}

#[test]
fn retry_after_seconds_only() {
    let mut h = HeaderMap::new();
    h.insert(header::RETRY_AFTER, HeaderValue::from_static("7"));
    assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
    h.insert(
        header::RETRY_AFTER,
        HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
    );
    assert_eq!(retry_after(&h), None);
}

#[test]
fn proxy_url_credentials_are_not_printed() {
    let o = TransportOptions::new().with_proxy_url(Some("http://user:pw@proxy:3128".into()));
    let d = format!("{o:?}");
    assert!(!d.contains("pw") && !d.contains("user:"), "{d}");
    assert!(d.contains("http://redacted@proxy:3128/"), "{d}");
}
