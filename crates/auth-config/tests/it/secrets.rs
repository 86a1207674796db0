//! The client secret: FLYTE_CREDENTIALS_CLIENT_SECRET, clientSecretLocation, clientSecretEnvVar,
//! and the rule that the latter two select ClientSecret mode.

use auth_config::{AuthMode, ConfigError, Origin, Overrides, SecretSource, vars};

use crate::{Fixture, err_text};

fn secret(s: &auth_config::Settings) -> Option<&str> {
    s.client_secret.as_ref().map(|c| c.secret())
}

#[test]
fn inline_secret_does_not_change_the_mode() {
    let mut fx = Fixture::new();
    fx.set(vars::CREDENTIALS_CLIENT_SECRET, "inline");
    let s = fx
        .load_yaml("admin:\n  authType: DeviceFlow\n")
        .expect("loads");
    assert_eq!(secret(&s), Some("inline"));
    assert_eq!(s.client_secret_source, Some(SecretSource::Inline));
    assert_eq!(s.auth_mode, AuthMode::DeviceFlow);

    let s = fx.load_env().expect("loads");
    assert_eq!(s.auth_mode, AuthMode::Pkce);
}

#[test]
fn location_replaces_the_inline_secret_and_selects_client_secret() {
    let mut fx = Fixture::new();
    let file = fx.write("secrets/client_secret", "from-file\n");
    fx.set(vars::CREDENTIALS_CLIENT_SECRET, "inline");
    let s = fx
        .load_yaml(&format!(
            "admin:\n  clientSecretLocation: {}\n",
            file.display()
        ))
        .expect("loads");
    assert_eq!(secret(&s), Some("from-file"));
    assert_eq!(s.client_secret_source, Some(SecretSource::File(file)));
    assert_eq!(s.auth_mode, AuthMode::ClientSecret);
}

#[test]
fn env_var_replaces_the_inline_secret_and_selects_client_secret() {
    let mut fx = Fixture::new();
    fx.set(vars::CREDENTIALS_CLIENT_SECRET, "inline")
        .set("MY_SECRET", "from-var");
    let s = fx
        .load_yaml("admin:\n  clientSecretEnvVar: MY_SECRET\n")
        .expect("loads");
    assert_eq!(secret(&s), Some("from-var"));
    assert_eq!(
        s.client_secret_source,
        Some(SecretSource::Env("MY_SECRET".into()))
    );
    assert_eq!(s.auth_mode, AuthMode::ClientSecret);
}

#[test]
fn the_secret_rule_overrides_an_explicit_auth_type() {
    // As in flytekit: a configured secret location wins over authType and over
    // FLYTE_CREDENTIALS_AUTH_MODE.
    let mut fx = Fixture::new();
    let file = fx.write("secret", "s");
    let yaml = format!(
        "admin:\n  authType: DeviceFlow\n  clientSecretLocation: {}\n",
        file.display()
    );
    assert_eq!(
        fx.load_yaml(&yaml).expect("loads").auth_mode,
        AuthMode::ClientSecret
    );

    fx.set(vars::CREDENTIALS_AUTH_MODE, "external_process");
    assert_eq!(
        fx.load_yaml(&yaml).expect("loads").auth_mode,
        AuthMode::ClientSecret
    );

    fx.set("V", "s");
    let yaml = "admin:\n  authType: Pkce\n  clientSecretEnvVar: V\n";
    assert_eq!(
        fx.load_yaml(yaml).expect("loads").auth_mode,
        AuthMode::ClientSecret
    );
}

#[test]
fn only_the_command_line_wins_over_the_secret_rule() {
    let mut fx = Fixture::new();
    fx.set("V", "s");
    let config = fx.write("config.yaml", "admin:\n  clientSecretEnvVar: V\n");
    let s = fx
        .loader()
        .config_path(Some(config))
        .overrides(Overrides::new().with_auth_mode(AuthMode::DeviceFlow))
        .load()
        .expect("loads");
    assert_eq!(s.auth_mode, AuthMode::DeviceFlow);
    // The secret is still loaded, and still says where it came from.
    assert_eq!(secret(&s), Some("s"));
    assert_eq!(s.client_secret_source, Some(SecretSource::Env("V".into())));
}

#[test]
fn env_var_wins_over_location_and_the_file_is_not_read() {
    let mut fx = Fixture::new();
    fx.set("V", "from-var");
    let missing = fx.missing("no-such-secret");
    let yaml = format!(
        "admin:\n  clientSecretLocation: {}\n  clientSecretEnvVar: V\n",
        missing.display()
    );
    let s = fx.load_yaml(&yaml).expect("the unused file is not read");
    assert_eq!(secret(&s), Some("from-var"));
    assert_eq!(s.client_secret_source, Some(SecretSource::Env("V".into())));
}

#[test]
fn trailing_newline_and_surrounding_whitespace_are_stripped() {
    for (contents, want) in [
        ("abc\n", "abc"),
        ("abc\r\n", "abc"),
        ("abc\n\n", "abc"),
        ("  abc  \n", "abc"),
        ("abc", "abc"),
        ("a b\tc\n", "a b\tc"),
    ] {
        let mut fx = Fixture::new();
        let file = fx.write("secret", contents);
        fx.set(
            vars::CREDENTIALS_CLIENT_SECRET_LOCATION,
            file.to_string_lossy(),
        );
        let s = fx.load_env().expect("loads");
        assert_eq!(secret(&s), Some(want), "{contents:?}");
    }
}

#[test]
fn env_var_secret_is_taken_as_is() {
    let mut fx = Fixture::new();
    fx.set(vars::CREDENTIALS_CLIENT_SECRET_ENV_VAR, "V")
        .set("V", "p@ss:w+rd/% &=z\n");
    assert_eq!(
        secret(&fx.load_env().expect("loads")),
        Some("p@ss:w+rd/% &=z\n")
    );
}

#[test]
fn missing_secret_variable_is_an_error_naming_it() {
    let fx = Fixture::new();
    let (err, text) = err_text(fx.load_yaml("admin:\n  clientSecretEnvVar: NOT_THERE\n"));
    match &err {
        ConfigError::SecretEnvVarMissing { var, origin, .. } => {
            assert_eq!(var, "NOT_THERE");
            assert!(
                matches!(origin, Origin::File { key, .. } if key == "admin.clientSecretEnvVar")
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(text.contains("NOT_THERE"), "{text}");
    assert!(text.contains("admin.clientSecretEnvVar"), "{text}");
    assert!(text.contains("config.yaml"), "{text}");

    // Set but empty counts as missing.
    let mut fx = Fixture::new();
    fx.set(vars::CREDENTIALS_CLIENT_SECRET_ENV_VAR, "EMPTY")
        .set("EMPTY", "");
    let (_, text) = err_text(fx.load_env());
    assert!(text.contains("EMPTY"), "{text}");
    assert!(
        text.contains("FLYTE_CREDENTIALS_CLIENT_SECRET_ENV_VAR"),
        "{text}"
    );
}

#[test]
fn unreadable_secret_file_is_an_error_naming_the_path() {
    let mut fx = Fixture::new();
    let missing = fx.missing("absent/client_secret");
    fx.set(
        vars::CREDENTIALS_CLIENT_SECRET_LOCATION,
        missing.to_string_lossy(),
    );
    let (err, text) = err_text(fx.load_env());
    assert!(matches!(err, ConfigError::SecretFile { .. }), "{err:?}");
    assert!(text.contains(&missing.display().to_string()), "{text}");
    assert!(
        text.contains("FLYTE_CREDENTIALS_CLIENT_SECRET_LOCATION"),
        "{text}"
    );

    // A directory is not a secret file either.
    let mut fx = Fixture::new();
    fx.set(
        vars::CREDENTIALS_CLIENT_SECRET_LOCATION,
        fx.home().to_string_lossy(),
    );
    let (err, _) = err_text(fx.load_env());
    assert!(matches!(err, ConfigError::SecretFile { .. }), "{err:?}");
}

#[test]
fn empty_or_oversized_secret_files_are_errors() {
    let mut fx = Fixture::new();
    let empty = fx.write("empty", " \n\n");
    fx.set(
        vars::CREDENTIALS_CLIENT_SECRET_LOCATION,
        empty.to_string_lossy(),
    );
    let (err, text) = err_text(fx.load_env());
    assert!(
        matches!(err, ConfigError::EmptySecretFile { .. }),
        "{err:?}"
    );
    assert!(text.contains("empty"), "{text}");

    let mut fx = Fixture::new();
    let big = fx.write("big", vec![b'x'; 65 * 1024]);
    fx.set(
        vars::CREDENTIALS_CLIENT_SECRET_LOCATION,
        big.to_string_lossy(),
    );
    let (err, text) = err_text(fx.load_env());
    assert!(matches!(err, ConfigError::SecretFile { .. }), "{err:?}");
    assert!(text.contains("larger than"), "{text}");
}

#[test]
fn secret_errors_never_show_the_secret() {
    let mut fx = Fixture::new();
    let bad = fx.write("latin1", b"s3cr3t-\xff-value\n");
    fx.set(
        vars::CREDENTIALS_CLIENT_SECRET_LOCATION,
        bad.to_string_lossy(),
    )
    .set(vars::CREDENTIALS_CLIENT_SECRET, "inline-s3cr3t");
    let (err, text) = err_text(fx.load_env());
    assert!(matches!(err, ConfigError::SecretFile { .. }), "{err:?}");
    let debug = format!("{err:?}");
    for shown in [&text, &debug] {
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
}
