//! Every `FLYTE_*` variable.

use std::path::PathBuf;

use auth_config::{AuthMode, ClientAuthMethod, SecretSource, vars};

use crate::Fixture;

#[test]
fn every_variable() {
    let mut fx = Fixture::new();
    fx.set(vars::PLATFORM_URL, "dns:///flyte.example.com")
        .set(vars::PLATFORM_INSECURE, "True")
        .set(vars::PLATFORM_INSECURE_SKIP_VERIFY, "yes")
        .set(vars::PLATFORM_CA_CERT_FILE_PATH, "/ca.pem")
        .set(vars::PLATFORM_HTTP_PROXY_URL, "http://proxy:3128")
        .set(vars::CREDENTIALS_AUTH_MODE, "external_process")
        .set(vars::CREDENTIALS_CLIENT_ID, "cli")
        .set(vars::CREDENTIALS_CLIENT_SECRET, "  inline secret  ")
        .set(vars::CREDENTIALS_SCOPES, "openid, offline_access,,all")
        .set(vars::CREDENTIALS_AUDIENCE, "aud")
        .set(
            vars::CREDENTIALS_COMMAND,
            "gcloud, auth,print-access-token,",
        )
        .set(vars::CREDENTIALS_PROXY_COMMAND, "proxy-token");
    let s = fx.load_env().expect("loads");
    assert_eq!(s.endpoint.as_deref(), Some("flyte.example.com"));
    assert!(s.insecure);
    assert!(s.insecure_skip_verify);
    assert_eq!(s.ca_cert_file_path, Some(PathBuf::from("/ca.pem")));
    assert_eq!(s.http_proxy_url.as_deref(), Some("http://proxy:3128"));
    assert_eq!(s.auth_mode, AuthMode::ExternalCommand);
    assert_eq!(s.client_id.as_deref(), Some("cli"));
    // The inline secret is taken exactly as given.
    assert_eq!(
        s.client_secret.as_ref().map(|c| c.secret()),
        Some("  inline secret  ")
    );
    assert_eq!(s.client_secret_source, Some(SecretSource::Inline));
    assert_eq!(
        s.scopes,
        Some(vec!["openid".into(), "offline_access".into(), "all".into()])
    );
    assert_eq!(s.audience.as_deref(), Some("aud"));
    assert_eq!(
        s.command,
        Some(vec![
            "gcloud".into(),
            "auth".into(),
            "print-access-token".into()
        ])
    );
    assert_eq!(s.proxy_command, Some(vec!["proxy-token".into()]));
    assert_eq!(s.source_file, None);
}

#[test]
fn secret_location_and_env_var_variables() {
    let mut fx = Fixture::new();
    let file = fx.write("secret.txt", "s-file\n");
    fx.set(
        vars::CREDENTIALS_CLIENT_SECRET_LOCATION,
        file.to_string_lossy(),
    );
    let s = fx.load_env().expect("loads");
    assert_eq!(s.client_secret.as_ref().map(|c| c.secret()), Some("s-file"));
    assert_eq!(s.client_secret_source, Some(SecretSource::File(file)));
    assert_eq!(s.auth_mode, AuthMode::ClientSecret);

    let mut fx = Fixture::new();
    fx.set(vars::CREDENTIALS_CLIENT_SECRET_ENV_VAR, "CI_SECRET")
        .set("CI_SECRET", "s-var");
    let s = fx.load_env().expect("loads");
    assert_eq!(s.client_secret.as_ref().map(|c| c.secret()), Some("s-var"));
    assert_eq!(
        s.client_secret_source,
        Some(SecretSource::Env("CI_SECRET".into()))
    );
    assert_eq!(s.auth_mode, AuthMode::ClientSecret);
}

#[test]
fn boolean_spellings() {
    for (value, want) in [
        ("true", true),
        ("TRUE", true),
        ("1", true),
        ("yes", true),
        ("on", true),
        ("false", false),
        ("False", false),
        ("0", false),
        ("no", false),
        ("OFF", false),
    ] {
        let mut fx = Fixture::new();
        fx.set(vars::PLATFORM_INSECURE_SKIP_VERIFY, value);
        let s = fx.load_env().expect("loads");
        assert_eq!(s.insecure_skip_verify, want, "{value}");
    }
}

#[test]
fn empty_variables_count_as_not_set() {
    let mut fx = Fixture::new();
    let config = fx.write(
        "config.yaml",
        "admin:\n  endpoint: from-file\n  insecure: true\n  scopes: [a]\n",
    );
    for var in [
        vars::PLATFORM_URL,
        vars::PLATFORM_INSECURE,
        vars::CREDENTIALS_SCOPES,
        vars::CREDENTIALS_AUTH_MODE,
        vars::CREDENTIALS_CLIENT_SECRET,
        vars::CREDENTIALS_CLIENT_SECRET_LOCATION,
        vars::CREDENTIALS_CLIENT_SECRET_ENV_VAR,
        vars::CREDENTIALS_COMMAND,
    ] {
        fx.set(var, "");
    }
    fx.set(vars::CREDENTIALS_CLIENT_ID, "   ");
    let s = fx.loader().config_path(Some(config)).load().expect("loads");
    assert_eq!(s.endpoint.as_deref(), Some("from-file"));
    assert!(s.insecure);
    assert_eq!(s.scopes, Some(vec!["a".to_owned()]));
    assert_eq!(s.client_id, None);
    assert!(s.client_secret.is_none());
    assert_eq!(s.auth_mode, AuthMode::Pkce);
    assert_eq!(s.command, None);
}

#[test]
fn auth_mode_aliases_in_the_environment() {
    for (value, want) in [
        ("standard", AuthMode::Pkce),
        ("Pkce", AuthMode::Pkce),
        ("basic", AuthMode::ClientSecret),
        ("client_credentials", AuthMode::ClientSecret),
        ("CLIENTSECRET", AuthMode::ClientSecret),
        ("external_process", AuthMode::ExternalCommand),
        ("ExternalCommand", AuthMode::ExternalCommand),
        ("device_flow", AuthMode::DeviceFlow),
        ("deviceflow", AuthMode::DeviceFlow),
    ] {
        let mut fx = Fixture::new();
        fx.set(vars::CREDENTIALS_AUTH_MODE, value);
        assert_eq!(fx.load_env().expect("loads").auth_mode, want, "{value}");
    }
}

#[test]
fn unrelated_variables_are_ignored() {
    let mut fx = Fixture::new();
    fx.set("FLYTE_PLATFORM_SOMETHING_ELSE", "x")
        .set("FLYTE_INTERNAL_IMAGE", "img")
        .set("HOME", "/nonexistent");
    let s = fx.load_env().expect("loads");
    assert_eq!(s.endpoint, None);
    assert_eq!(s.auth_mode, AuthMode::Pkce);
}

#[test]
fn client_auth_method_and_issuer_from_the_environment_beat_the_file() {
    let mut fx = Fixture::new();
    let yaml =
        "admin:\n  clientAuthMethod: client_secret_basic\n  issuer: https://file.example.com\n";
    let s = fx.load_yaml(yaml).expect("loads");
    assert_eq!(s.client_auth_method, Some(ClientAuthMethod::SecretBasic));
    fx.set(vars::CREDENTIALS_CLIENT_AUTH_METHOD, "POST")
        .set(vars::CREDENTIALS_ISSUER, "https://env.example.com");
    let s = fx.load_yaml(yaml).expect("loads");
    assert_eq!(s.client_auth_method, Some(ClientAuthMethod::SecretPost));
    assert_eq!(s.issuer.as_deref(), Some("https://env.example.com"));
    fx.set(vars::CREDENTIALS_CLIENT_AUTH_METHOD, "private_key_jwt");
    let (_, text) = crate::err_text(fx.load_env());
    assert!(
        text.contains(vars::CREDENTIALS_CLIENT_AUTH_METHOD) && text.contains("client_secret_post"),
        "{text}"
    );
}

#[test]
fn the_discovery_method_from_the_environment_beats_the_file_and_unknown_ones_are_errors() {
    let mut fx = Fixture::new();
    let s = fx
        .load_yaml("admin:\n  discovery: Connect\n")
        .expect("loads");
    assert_eq!(s.discovery.as_deref(), Some("connect"));
    assert!(
        s.entries()
            .contains(&("discovery", Some("connect".to_owned())))
    );
    fx.set(vars::ADMIN_DISCOVERY, "grpc");
    let s = fx
        .load_yaml("admin:\n  discovery: connect\n")
        .expect("loads");
    assert_eq!(s.discovery.as_deref(), Some("grpc"));
    assert_eq!(Fixture::new().load_env().unwrap().discovery, None);
    fx.set(vars::ADMIN_DISCOVERY, "rest");
    let (_, text) = crate::err_text(fx.load_env());
    assert!(
        text.contains("grpc2") && text.contains("connect") && text.contains(vars::ADMIN_DISCOVERY),
        "{text}"
    );
}

#[test]
fn keyring_keys_from_the_environment_beat_the_file_and_bad_layouts_are_errors() {
    let mut fx = Fixture::new();
    let s = fx
        .load_yaml("admin:\n  disableKeyring: true\n  keyringLayout: Flyte2\n")
        .expect("loads");
    assert!(s.disable_keyring);
    assert_eq!(s.keyring_layout.as_deref(), Some("flyte2"));
    fx.set(vars::ADMIN_DISABLE_KEYRING, "false")
        .set(vars::ADMIN_KEYRING_LAYOUT, "both");
    let s = fx
        .load_yaml("admin:\n  disableKeyring: true\n  keyringLayout: flyte2\n")
        .expect("loads");
    assert!(!s.disable_keyring);
    assert_eq!(s.keyring_layout.as_deref(), Some("both"));
    assert!(!Fixture::new().load_env().unwrap().disable_keyring);
    fx.set(vars::ADMIN_KEYRING_LAYOUT, "flyte3");
    let (_, text) = crate::err_text(fx.load_env());
    assert!(
        text.contains("flytekit") && text.contains(vars::ADMIN_KEYRING_LAYOUT),
        "{text}"
    );
}
