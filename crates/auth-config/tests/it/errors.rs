//! Errors name the file or variable, the key and the bad value.

use auth_config::{ConfigError, Origin, vars};

use crate::{Fixture, err_text};

#[test]
fn bad_boolean_in_the_file() {
    let fx = Fixture::new();
    let (err, text) = err_text(fx.load_yaml("admin:\n  insecureSkipVerify: maybe\n"));
    assert!(
        matches!(&err, ConfigError::InvalidValue { value, .. } if value == "maybe"),
        "{err:?}"
    );
    assert!(text.contains("admin.insecureSkipVerify"), "{text}");
    assert!(text.contains("config.yaml"), "{text}");
    assert!(text.contains("\"maybe\""), "{text}");
    assert!(text.contains("true or false"), "{text}");
}

#[test]
fn bad_boolean_in_the_environment() {
    let mut fx = Fixture::new();
    fx.set(vars::PLATFORM_INSECURE, "ture");
    let (err, text) = err_text(fx.load_env());
    assert_eq!(
        err.origin(),
        Some(&Origin::Env {
            var: vars::PLATFORM_INSECURE.to_owned()
        })
    );
    assert_eq!(
        text,
        "environment variable FLYTE_PLATFORM_INSECURE: invalid value \"ture\": expected true or \
         false (also yes/no, on/off, 1/0; case-insensitive)"
    );
}

#[test]
fn bad_durations_name_the_key() {
    let fx = Fixture::new();
    for (yaml, key, value) in [
        (
            "admin:\n  tokenRefreshWindow: 5 minutes\n",
            "admin.tokenRefreshWindow",
            "5 minutes",
        ),
        (
            "admin:\n  pkceConfig:\n    timeout: 30\n",
            "admin.pkceConfig.timeout",
            "30",
        ),
        (
            "admin:\n  deviceFlowConfig:\n    timeout: -1m\n",
            "admin.deviceFlowConfig.timeout",
            "-1m",
        ),
        (
            "admin:\n  deviceFlowConfig:\n    pollInterval: 5x\n",
            "admin.deviceFlowConfig.pollInterval",
            "5x",
        ),
    ] {
        let (err, text) = err_text(fx.load_yaml(yaml));
        assert!(
            matches!(&err, ConfigError::InvalidValue { value: v, .. } if v == value),
            "{err:?}"
        );
        assert!(text.contains(key), "{text}");
        assert!(text.contains(&format!("{value:?}")), "{text}");
        assert!(text.contains("30s"), "{text}");
    }
    let (_, text) = err_text(fx.load_yaml("admin:\n  pkceConfig:\n    timeout: 30\n"));
    assert!(text.contains("missing unit"), "{text}");
}

#[test]
fn unknown_auth_mode_lists_the_valid_names() {
    let fx = Fixture::new();
    let (err, text) = err_text(fx.load_yaml("admin:\n  authType: oauth2\n"));
    assert!(
        matches!(err, ConfigError::UnknownAuthMode { .. }),
        "{err:?}"
    );
    assert!(text.contains("admin.authType"), "{text}");
    assert!(text.contains("\"oauth2\""), "{text}");
    for name in [
        "Pkce",
        "DeviceFlow",
        "ClientSecret",
        "ExternalCommand",
        "standard",
        "basic",
        "client_credentials",
        "external_process",
    ] {
        assert!(text.contains(name), "{text} lacks {name}");
    }

    let mut fx = Fixture::new();
    fx.set(vars::CREDENTIALS_AUTH_MODE, "password");
    let (_, text) = err_text(fx.load_env());
    assert!(
        text.starts_with(
            "environment variable FLYTE_CREDENTIALS_AUTH_MODE: unknown auth mode \"password\""
        ),
        "{text}"
    );
}

#[test]
fn wrong_types_name_the_file_and_key() {
    let fx = Fixture::new();
    let path = fx.missing("config.yaml").display().to_string();
    for (yaml, key) in [
        ("admin:\n  endpoint:\n    host: x\n", "admin.endpoint"),
        ("admin:\n  clientId: [a, b]\n", "admin.clientId"),
        ("admin:\n  insecure: [true]\n", "admin.insecure"),
        ("admin:\n  insecure: 2\n", "admin.insecure"),
        ("admin:\n  scopes: {a: b}\n", "admin.scopes"),
        ("admin:\n  command: {a: b}\n", "admin.command"),
        ("admin:\n  command: [[nested]]\n", "admin.command"),
        ("admin:\n  pkceConfig: 5m\n", "admin.pkceConfig"),
    ] {
        let (err, text) = err_text(fx.load_yaml(yaml));
        assert!(
            matches!(&err, ConfigError::Parse { key: Some(k), .. } | ConfigError::InvalidValue { origin: Origin::File { key: k, .. }, .. } if k == key),
            "{yaml:?}: {err:?}"
        );
        assert!(text.contains(&path), "{text}");
        assert!(text.contains(key), "{text}");
    }
}

#[test]
fn a_command_string_in_the_file_is_refused() {
    let fx = Fixture::new();
    let (err, text) = err_text(fx.load_yaml("admin:\n  command: gcloud auth print-access-token\n"));
    assert!(matches!(err, ConfigError::InvalidValue { .. }), "{err:?}");
    assert!(text.contains("admin.command"), "{text}");
    assert!(text.contains("expected a list"), "{text}");
}

#[test]
fn syntax_errors_name_the_file_and_line() {
    let fx = Fixture::new();
    let (err, text) = err_text(fx.load_yaml("admin:\n  endpoint: x\n  insecure: [\n"));
    assert!(matches!(err, ConfigError::Parse { .. }), "{err:?}");
    assert!(text.contains("config.yaml"), "{text}");
    assert!(text.contains("line"), "{text}");

    let (err, _) = err_text(fx.load_yaml("admin:\n\tendpoint: tab-indented\n"));
    assert!(matches!(err, ConfigError::Parse { .. }), "{err:?}");

    let (err, text) = err_text(fx.load_yaml("admin:\n  endpoint: a\n  Endpoint: b\n"));
    assert!(matches!(err, ConfigError::Parse { .. }), "{err:?}");
    assert!(text.contains("twice"), "{text}");
}

#[test]
fn files_that_are_not_text_or_too_big() {
    let fx = Fixture::new();
    let binary = fx.write("binary.yaml", b"admin:\n  endpoint: \xff\xfe\n");
    let (err, text) = err_text(fx.loader().config_path(Some(binary)).load());
    assert!(matches!(err, ConfigError::ReadFile { .. }), "{err:?}");
    assert!(text.contains("UTF-8"), "{text}");

    let dir = fx.home();
    let (err, _) = err_text(fx.loader().config_path(Some(dir)).load());
    assert!(matches!(err, ConfigError::ReadFile { .. }), "{err:?}");

    let mut big = b"admin:\n  endpoint: x\n".to_vec();
    big.extend(std::iter::repeat_n(b'#', 5 * 1024 * 1024));
    let big = fx.write("big.yaml", big);
    let (err, text) = err_text(fx.loader().config_path(Some(big)).load());
    assert!(matches!(err, ConfigError::ReadFile { .. }), "{err:?}");
    assert!(text.contains("larger than"), "{text}");
}

#[test]
fn long_values_are_shortened_in_errors() {
    let mut fx = Fixture::new();
    fx.set(vars::PLATFORM_INSECURE, "x".repeat(10_000));
    let (_, text) = err_text(fx.load_env());
    assert!(text.len() < 400, "{} bytes: {text}", text.len());
}
