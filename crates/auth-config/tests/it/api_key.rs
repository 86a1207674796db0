//! Flyte 2 API keys: the real SDK's decoding replayed from `tests/data/api-key-vectors.json`
//! (written by `vectors/gen.sh` with flyte 2.12.1), and how the loader applies them.

use std::collections::HashMap;

use auth_config::{ApiKey, ApiKeyError, AuthMode, ConfigError, Overrides, SecretSource};
use serde::Deserialize;

use crate::Fixture;

#[derive(Debug, Deserialize)]
struct Vectors {
    flyte: String,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
struct Case {
    name: String,
    encoded: String,
    flyte: Outcome,
    flyte_padded: Option<Outcome>,
    flyte_standard_alphabet: Option<Outcome>,
}

#[derive(Debug, Deserialize)]
struct Outcome {
    endpoint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    org: Option<String>,
    sanitized_endpoint: Option<String>,
    error: Option<String>,
}

type Fields = (String, String, String, Option<String>);

/// What Flyte's fields become here: the sanitised endpoint without `dns:///`, "None" as no
/// organization. `None` when Flyte raised, or left a field empty (refused here).
fn expected(o: &Outcome) -> Option<Fields> {
    o.error.as_ref().map_or(Some(()), |_| None)?;
    let endpoint = o.sanitized_endpoint.as_deref()?;
    let (client_id, secret) = (o.client_id.clone()?, o.client_secret.clone()?);
    if client_id.is_empty() || secret.is_empty() || o.endpoint.as_deref() == Some("") {
        return None;
    }
    let org = o.org.clone().filter(|org| org != "None");
    Some((
        endpoint.trim_start_matches("dns:///").to_owned(),
        client_id,
        secret,
        org,
    ))
}

fn fields(k: &ApiKey) -> Fields {
    (
        k.endpoint().to_owned(),
        k.client_id().to_owned(),
        k.client_secret().secret().to_owned(),
        k.org().map(str::to_owned),
    )
}

fn owned(e: &str, c: &str, s: &str, o: Option<&str>) -> Fields {
    (
        e.to_owned(),
        c.to_owned(),
        s.to_owned(),
        o.map(str::to_owned),
    )
}

#[test]
fn flyte2_decode_api_key_vectors() {
    let v: Vectors = serde_json::from_str(include_str!("../data/api-key-vectors.json"))
        .expect("the vector file parses");
    assert_eq!(v.flyte, "2.12.1");
    // Where Flyte's split on the first three colons is wrong, this is what the key means.
    let fixed: HashMap<&str, Fields> = HashMap::from([
        (
            "https-endpoint",
            owned("flyte.example.com", "my-app", "s3cr3t", Some("acme")),
        ),
        (
            "dns-endpoint",
            owned("flyte.example.com", "my-app", "s3cr3t", Some("acme")),
        ),
        (
            "port",
            owned("flyte.example.com:8443", "my-app", "s3cr3t", Some("acme")),
        ),
        (
            "secret-with-colon",
            owned("flyte.example.com", "my-app", "s3:cr:et", Some("acme")),
        ),
    ]);
    let mut failures = Vec::new();
    for case in &v.cases {
        let ours = ApiKey::decode(&case.encoded);
        // Keys Flyte refuses only for their padding or alphabet are read as Flyte reads the
        // padded or standard-alphabet key.
        let want = fixed.get(case.name.as_str()).cloned().or_else(|| {
            expected(&case.flyte)
                .or_else(|| case.flyte_padded.as_ref().and_then(expected))
                .or_else(|| case.flyte_standard_alphabet.as_ref().and_then(expected))
        });
        match (&ours, &want) {
            (Ok(key), Some(want)) if &fields(key) == want => {}
            (Err(_), None) => {}
            _ => failures.push(format!(
                "{}: ours {:?}, expected {want:?} (flyte: {:?})",
                case.name,
                ours.as_ref().map(fields),
                case.flyte
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn errors_name_the_problem_but_never_the_secret() {
    // base64("flyte.example.com::planted-secret:acme"): empty client id.
    let err = ApiKey::decode("Zmx5dGUuZXhhbXBsZS5jb206OnBsYW50ZWQtc2VjcmV0OmFjbWU=").unwrap_err();
    assert_eq!(err, ApiKeyError::EmptyField { field: "client id" });
    assert!(!format!("{err} {err:?}").contains("planted"));
    // base64("planted-secret:x")
    let err = ApiKey::decode("cGxhbnRlZC1zZWNyZXQ6eA==").unwrap_err();
    assert_eq!(err, ApiKeyError::Format { parts: 2 });
    assert!(
        err.to_string()
            .contains("endpoint:client_id:client_secret:org"),
        "{err}"
    );
}

// base64("flyte.example.com:my-app:s3:cr:et:acme")
const KEY: &str = "Zmx5dGUuZXhhbXBsZS5jb206bXktYXBwOnMzOmNyOmV0OmFjbWU=";
// base64("other.example.com:injected:inj-secret:acme")
const INJECTED: &str = "b3RoZXIuZXhhbXBsZS5jb206aW5qZWN0ZWQ6aW5qLXNlY3JldDphY21l";

#[test]
fn flyte_api_key_selects_client_credentials_over_the_file() {
    let mut fx = Fixture::new();
    fx.set("FLYTE_API_KEY", KEY);
    let s = fx
        .load_yaml(
            "admin:\n  endpoint: dns:///file.example.com\n  authType: Pkce\n  clientId: file-app\n",
        )
        .expect("loads");
    assert_eq!(s.endpoint.as_deref(), Some("flyte.example.com"));
    assert_eq!(s.client_id.as_deref(), Some("my-app"));
    assert_eq!(
        s.client_secret.as_ref().map(|c| c.secret()),
        Some("s3:cr:et")
    );
    assert_eq!(s.auth_mode, AuthMode::ClientSecret);
    assert_eq!(
        s.client_secret_source,
        Some(SecretSource::ApiKey("FLYTE_API_KEY".into()))
    );
    let shown = s.to_string();
    assert!(!shown.contains("s3:cr:et"), "{shown}");
    assert!(
        shown.contains("API key in environment variable FLYTE_API_KEY"),
        "{shown}"
    );
}

#[test]
fn injected_key_is_used_in_a_pod_without_a_config_file() {
    let mut fx = Fixture::new();
    fx.set("EAGER_API_KEY", INJECTED);
    let s = fx.load_env().expect("loads");
    assert_eq!(s.client_id.as_deref(), Some("injected"));
    assert_eq!(s.auth_mode, AuthMode::ClientSecret);
    // _UNION_EAGER_API_KEY is read first, FLYTE_API_KEY before both.
    fx.set("_UNION_EAGER_API_KEY", KEY);
    assert_eq!(
        fx.load_env().expect("loads").client_id.as_deref(),
        Some("my-app")
    );
}

#[test]
fn a_mounted_config_file_wins_over_the_injected_key() {
    let mut fx = Fixture::new();
    let path = fx.write(
        "mounted.yaml",
        "admin:\n  endpoint: dns:///file.example.com\n",
    );
    fx.set("FLYTECTL_CONFIG", path.to_str().expect("utf-8"));
    fx.set("EAGER_API_KEY", INJECTED);
    let s = fx.load_env().expect("loads");
    assert_eq!(s.endpoint.as_deref(), Some("file.example.com"));
    assert_eq!(s.client_id, None);
    // An explicit FLYTE_API_KEY still applies.
    fx.set("FLYTE_API_KEY", KEY);
    assert_eq!(
        fx.load_env().expect("loads").client_id.as_deref(),
        Some("my-app")
    );
}

#[test]
fn an_explicit_auth_mode_switches_api_keys_off() {
    let mut fx = Fixture::new();
    fx.set("FLYTE_API_KEY", KEY);
    fx.set("FLYTE_CREDENTIALS_AUTH_MODE", "ExternalCommand");
    let s = fx.load_env().expect("loads");
    assert_eq!(s.auth_mode, AuthMode::ExternalCommand);
    assert_eq!(s.client_id, None);

    let mut fx = Fixture::new();
    fx.set("FLYTE_API_KEY", KEY);
    let s = fx
        .loader()
        .overrides(Overrides::new().with_auth_mode(AuthMode::DeviceFlow))
        .load()
        .expect("loads");
    assert_eq!(s.auth_mode, AuthMode::DeviceFlow);
    assert_eq!(s.client_id, None);
}

#[test]
fn a_bad_key_is_an_error_naming_the_variable() {
    let mut fx = Fixture::new();
    fx.set("FLYTE_API_KEY", "cGxhbnRlZC1zZWNyZXQ6eA==");
    let err = fx.load_env().unwrap_err();
    assert!(matches!(err, ConfigError::InvalidApiKey { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with("environment variable FLYTE_API_KEY: "),
        "{text}"
    );
    assert!(!text.contains("planted"), "{text}");
}
