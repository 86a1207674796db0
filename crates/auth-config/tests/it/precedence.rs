//! CLI overrides > environment > file > defaults.

use std::path::PathBuf;

use auth_config::{AuthMode, Overrides, vars};

use crate::Fixture;

const FILE: &str = "\
admin:
  endpoint: dns:///file.example.com
  insecure: false
  insecureSkipVerify: false
  caCertFilePath: /file/ca.pem
  httpProxyURL: http://file-proxy
  authType: Pkce
  clientId: file-client
  scopes: [file-scope]
  audience: file-aud
  command: [file-cmd]
  proxyCommand: [file-proxy-cmd]
";

#[test]
fn defaults() {
    let fx = Fixture::new();
    let s = fx.load_env().expect("loads");
    assert_eq!(s.endpoint, None);
    assert!(!s.insecure);
    assert!(!s.insecure_skip_verify);
    assert_eq!(s.auth_mode, AuthMode::Pkce);
    assert_eq!(s.scopes, None);
    assert!(s.client_secret.is_none());
    assert_eq!(s.token_refresh_window, None);
    assert_eq!(s.source_file, None);
}

#[test]
fn the_file_over_defaults_and_the_environment_over_the_file() {
    let mut fx = Fixture::new();
    let s = fx.load_yaml(FILE).expect("loads");
    assert_eq!(s.endpoint.as_deref(), Some("file.example.com"));
    assert_eq!(s.client_id.as_deref(), Some("file-client"));

    fx.set(vars::PLATFORM_URL, "dns:///env.example.com")
        .set(vars::PLATFORM_INSECURE, "true")
        .set(vars::PLATFORM_INSECURE_SKIP_VERIFY, "true")
        .set(vars::PLATFORM_CA_CERT_FILE_PATH, "/env/ca.pem")
        .set(vars::PLATFORM_HTTP_PROXY_URL, "http://env-proxy")
        .set(vars::CREDENTIALS_AUTH_MODE, "DeviceFlow")
        .set(vars::CREDENTIALS_CLIENT_ID, "env-client")
        .set(vars::CREDENTIALS_SCOPES, "env-scope")
        .set(vars::CREDENTIALS_AUDIENCE, "env-aud")
        .set(vars::CREDENTIALS_COMMAND, "env-cmd")
        .set(vars::CREDENTIALS_PROXY_COMMAND, "env-proxy-cmd");
    let s = fx.load_yaml(FILE).expect("loads");
    assert_eq!(s.endpoint.as_deref(), Some("env.example.com"));
    assert!(s.insecure);
    assert!(s.insecure_skip_verify);
    assert_eq!(s.ca_cert_file_path, Some(PathBuf::from("/env/ca.pem")));
    assert_eq!(s.http_proxy_url.as_deref(), Some("http://env-proxy"));
    assert_eq!(s.auth_mode, AuthMode::DeviceFlow);
    assert_eq!(s.client_id.as_deref(), Some("env-client"));
    assert_eq!(s.scopes, Some(vec!["env-scope".to_owned()]));
    assert_eq!(s.audience.as_deref(), Some("env-aud"));
    assert_eq!(s.command, Some(vec!["env-cmd".to_owned()]));
    assert_eq!(s.proxy_command, Some(vec!["env-proxy-cmd".to_owned()]));
}

#[test]
fn the_environment_can_turn_a_file_boolean_off() {
    let mut fx = Fixture::new();
    fx.set(vars::PLATFORM_INSECURE, "false");
    let s = fx.load_yaml("admin:\n  insecure: true\n").expect("loads");
    assert!(!s.insecure);
}

#[test]
fn command_line_overrides_win() {
    let mut fx = Fixture::new();
    fx.set(vars::PLATFORM_URL, "env.example.com")
        .set(vars::CREDENTIALS_AUTH_MODE, "DeviceFlow")
        .set(vars::PLATFORM_INSECURE, "true")
        .set(vars::PLATFORM_CA_CERT_FILE_PATH, "/env/ca.pem");
    let config = fx.write("config.yaml", FILE);
    let overrides = Overrides::new()
        .with_endpoint("dns:///cli.example.com")
        .with_auth_mode(AuthMode::ExternalCommand)
        .with_insecure(false)
        .with_ca_cert_file_path("/cli/ca.pem")
        .with_insecure_skip_verify(true);
    let s = fx
        .loader()
        .config_path(Some(config))
        .overrides(overrides)
        .load()
        .expect("loads");
    assert_eq!(s.endpoint.as_deref(), Some("cli.example.com"));
    assert_eq!(s.auth_mode, AuthMode::ExternalCommand);
    assert!(!s.insecure);
    assert_eq!(s.ca_cert_file_path, Some(PathBuf::from("/cli/ca.pem")));
    assert!(s.insecure_skip_verify);
    // Everything not overridden still comes from the environment and the file.
    assert_eq!(s.client_id.as_deref(), Some("file-client"));
}

#[test]
fn an_empty_override_changes_nothing() {
    let fx = Fixture::new();
    let config = fx.write("config.yaml", FILE);
    let s = fx
        .loader()
        .config_path(Some(config))
        .overrides(Overrides::default())
        .load()
        .expect("loads");
    assert_eq!(s.endpoint.as_deref(), Some("file.example.com"));
    assert_eq!(s.auth_mode, AuthMode::Pkce);
}

#[test]
fn dns_prefix_is_stripped_from_every_source() {
    let fx = Fixture::new();
    assert_eq!(
        fx.load_yaml("admin:\n  endpoint: dns:///a.example.com:443\n")
            .expect("loads")
            .endpoint
            .as_deref(),
        Some("a.example.com:443")
    );
    let mut fx = Fixture::new();
    fx.set(vars::PLATFORM_URL, "dns:///b.example.com");
    assert_eq!(
        fx.load_env().expect("loads").endpoint.as_deref(),
        Some("b.example.com")
    );
    let fx = Fixture::new();
    let s = fx
        .loader()
        .overrides(Overrides::new().with_endpoint("dns:///c.example.com"))
        .load()
        .expect("loads");
    assert_eq!(s.endpoint.as_deref(), Some("c.example.com"));
    // Anything else is kept as written.
    let fx = Fixture::new();
    assert_eq!(
        fx.load_yaml("admin:\n  endpoint: https://d.example.com\n")
            .expect("loads")
            .endpoint
            .as_deref(),
        Some("https://d.example.com")
    );
}
