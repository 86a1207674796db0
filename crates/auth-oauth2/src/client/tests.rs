use super::*;
use serde_json::json;

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn scope_cleanup() {
    assert_eq!(
        scope_param(&strings(&["['offline', 'all']"])).as_deref(),
        Some("offline all")
    );
    assert_eq!(
        scope_param(&strings(&["[\"a\",\"b\"]", "c"])).as_deref(),
        Some("a b c")
    );
    assert_eq!(
        scope_param(&strings(&["openid profile", "openid"])).as_deref(),
        Some("openid profile")
    );
    assert_eq!(scope_param(&strings(&["", "  "])), None);
    assert_eq!(scope_param(&strings(&["[]"])), None);
}

fn body(v: Value) -> TokenBody {
    serde_json::from_value(v).unwrap()
}

#[test]
fn token_response_quirks() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
    let c = parse_token_response(
        body(json!({"access_token": "at", "token_type": "bearer", "expires_in": "3600", "extra": {"x": [1]}})),
        200,
        &strings(&["all"]),
        now,
    )
    .unwrap();
    assert_eq!(c.token_type(), "Bearer");
    assert_eq!(c.expires_at(), Some(now + Duration::from_secs(3600)));
    assert_eq!(c.scopes(), ["all".to_string()]);

    let c = parse_token_response(
        body(
            json!({"access_token": "at", "expires_on": "5000", "scope": "a b", "expires_in": null}),
        ),
        200,
        &[],
        now,
    )
    .unwrap();
    assert_eq!(
        c.expires_at(),
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(5000))
    );
    assert_eq!(c.scopes(), strings(&["a", "b"]));

    let c = parse_token_response(
        body(json!({"access_token": "at", "expires_in": 59.6, "scope": ["x", "y"]})),
        200,
        &[],
        now,
    )
    .unwrap();
    assert_eq!(c.expires_at(), Some(now + Duration::from_secs(60)));
    assert_eq!(c.scopes(), strings(&["x", "y"]));

    let e = parse_token_response(body(json!({"token_type": "Bearer"})), 200, &[], now).unwrap_err();
    assert_eq!(e.kind(), auth_core::ErrorKind::InvalidResponse);
    assert!(e.to_string().contains("`access_token`"), "{e}");

    let e = parse_token_response(body(json!({"access_token": 5})), 200, &[], now).unwrap_err();
    assert_eq!(e.kind(), auth_core::ErrorKind::InvalidResponse);

    let e = parse_token_response(
        body(json!({"error": "invalid_scope", "error_description": "no\u{7} such scope"})),
        200,
        &[],
        now,
    )
    .unwrap_err();
    assert_eq!(e.oauth_error_code(), Some("invalid_scope"));
    assert_eq!(
        e.oauth_error().and_then(|o| o.error_description.as_deref()),
        Some("no such scope")
    );
}

#[test]
fn device_authorization_accepts_google_names() {
    let d = parse_device_authorization(obj(json!({
        "device_code": "dc", "user_code": "ABCD", "verification_url": "https://g/device",
        "expires_in": 1800, "interval": "5"
    })))
    .unwrap();
    assert_eq!(d.verification_uri, "https://g/device");
    assert_eq!(d.interval, Some(Duration::from_secs(5)));
    assert_eq!(d.expires_in, Duration::from_secs(1800));
    assert_eq!(format!("{:?}", d.device_code), "DeviceCode([redacted])");
}

#[test]
fn huge_device_lifetimes_and_intervals_are_capped() {
    for (expires_in, interval) in [
        (json!(1e30), json!(9_999_999_999_999u64)),
        (json!(u64::MAX), json!("18446744073709551615")),
    ] {
        let d = parse_device_authorization(obj(json!({
            "device_code": "dc", "user_code": "ABCD", "verification_uri": "https://i/d",
            "expires_in": expires_in, "interval": interval
        })))
        .unwrap();
        assert_eq!(d.expires_in, MAX_DEVICE_CODE_LIFETIME);
        assert_eq!(d.interval, Some(MAX_POLL_INTERVAL));
    }
    let e = parse_token_response(
        body(json!({"error": "slow_down", "interval": 9_999_999_999_999u64})),
        200,
        &[],
        SystemTime::now(),
    )
    .unwrap_err();
    assert_eq!(
        e.oauth_error().and_then(|o| o.interval),
        Some(MAX_POLL_INTERVAL)
    );
}

#[test]
fn client_secret_basic_encodes_both_parts() {
    let http = HttpClient::new(&crate::TransportOptions::new()).unwrap();
    let client = OAuth2Client::new(http, "my client").with_client_secret(
        Some(ClientSecret::new("p@ss:w+rd/% &=z")),
        ClientAuthMethod::Basic,
    );
    let mut params = Vec::new();
    let header = client
        .client_authentication(client.auth_method(), &mut params)
        .unwrap()
        .unwrap();
    let header = header.to_str().unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(header.strip_prefix("Basic ").unwrap())
        .unwrap();
    assert_eq!(
        String::from_utf8(decoded).unwrap(),
        "my+client:p%40ss%3Aw%2Brd%2F%25+%26%3Dz"
    );
    assert!(params.is_empty());

    let flytekit = client.clone().with_client_secret(
        Some(ClientSecret::new("p@ss:w+rd/% &=z")),
        ClientAuthMethod::BasicSecretOnlyEncoded,
    );
    let header = flytekit
        .client_authentication(flytekit.auth_method(), &mut params)
        .unwrap()
        .unwrap();
    let header = header.to_str().unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(header.strip_prefix("Basic ").unwrap())
        .unwrap();
    assert_eq!(
        String::from_utf8(decoded).unwrap(),
        "my client:p%40ss%3Aw%2Brd/%25%20%26%3Dz"
    );
}
