//! Client assertion keys: `clientAssertionKeyFile`, `clientAssertionAlgorithm`,
//! `clientAssertionKeyId`, `federatedTokenFile` and their `FLYTE_CREDENTIALS_*` variables.

use std::path::PathBuf;

use auth_config::{AuthMode, ConfigError};

use crate::Fixture;

#[test]
fn file_keys_select_client_credentials() {
    let fx = Fixture::new();
    let s = fx
        .load_yaml(
            "admin:\n  authType: Pkce\n  clientId: svc\n  clientAssertionKeyFile: /keys/svc.pem\n  clientAssertionAlgorithm: es256\n  clientAssertionKeyId: k1\n",
        )
        .expect("loads");
    assert_eq!(
        s.auth_mode,
        AuthMode::ClientSecret,
        "a key replaces the secret"
    );
    assert_eq!(
        s.client_assertion_key_file,
        Some(PathBuf::from("/keys/svc.pem"))
    );
    assert_eq!(s.client_assertion_algorithm.as_deref(), Some("ES256"));
    assert_eq!(s.client_assertion_key_id.as_deref(), Some("k1"));
    assert_eq!(s.federated_token_file, None);
    assert!(s.to_string().contains("clientAssertionKeyFile:"));
}

#[test]
fn environment_beats_the_file() {
    let mut fx = Fixture::new();
    fx.set(
        "FLYTE_CREDENTIALS_FEDERATED_TOKEN_FILE",
        "/var/run/secrets/tokens/flyte",
    );
    fx.set("FLYTE_CREDENTIALS_CLIENT_ASSERTION_ALGORITHM", "RS256");
    let s = fx
        .load_yaml("admin:\n  federatedTokenFile: /file/token\n  clientAssertionAlgorithm: ES256\n")
        .expect("loads");
    assert_eq!(
        s.federated_token_file,
        Some(PathBuf::from("/var/run/secrets/tokens/flyte"))
    );
    assert_eq!(s.client_assertion_algorithm.as_deref(), Some("RS256"));
    assert_eq!(s.auth_mode, AuthMode::ClientSecret);
}

#[test]
fn an_unknown_algorithm_is_an_error_naming_the_choices() {
    let mut fx = Fixture::new();
    fx.set("FLYTE_CREDENTIALS_CLIENT_ASSERTION_ALGORITHM", "HS256");
    let err = fx.load_env().unwrap_err();
    assert!(matches!(err, ConfigError::InvalidValue { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("FLYTE_CREDENTIALS_CLIENT_ASSERTION_ALGORITHM")
            && text.contains("RS256 or ES256"),
        "{text}"
    );
}
