//! Every key read from config.yaml.

use std::path::PathBuf;
use std::time::Duration;

use auth_config::{AuthMode, SecretSource};

use crate::Fixture;

#[test]
fn every_admin_key_from_the_file() {
    let fx = Fixture::new();
    let yaml = "\
admin:
  endpoint: dns:///flyte.example.com:443
  insecure: true
  insecureSkipVerify: true
  caCertFilePath: /etc/ssl/flyte-ca.pem
  httpProxyURL: http://proxy.internal:3128
  authType: DeviceFlow
  clientId: flytectl
  scopes:
    - openid
    - offline_access
  audience: https://flyte.example.com/api
  command: [\"gcloud\", \"auth\", \"print-identity-token\"]
  proxyCommand:
    - iap-token
    - --audience
    - \"1234\"
  tokenUrl: https://idp.example.com/token
  authorizationEndpoint: https://idp.example.com/authorize
  deviceAuthorizationEndpoint: https://idp.example.com/device
  authorizationHeader: flyte-authorization
  redirectUri: http://localhost:53593/callback
  tokenRefreshWindow: 2m
  pkceConfig:
    timeout: 1h30m
    refreshTime: 5m
  deviceFlowConfig:
    timeout: 10m
    pollInterval: 500ms
    refreshTime: 5m
";
    let s = fx.load_yaml(yaml).expect("loads");
    assert_eq!(s.endpoint.as_deref(), Some("flyte.example.com:443"));
    assert!(s.insecure);
    assert!(s.insecure_skip_verify);
    assert_eq!(
        s.ca_cert_file_path,
        Some(PathBuf::from("/etc/ssl/flyte-ca.pem"))
    );
    assert_eq!(
        s.http_proxy_url.as_deref(),
        Some("http://proxy.internal:3128")
    );
    assert_eq!(s.auth_mode, AuthMode::DeviceFlow);
    assert_eq!(s.client_id.as_deref(), Some("flytectl"));
    assert!(s.client_secret.is_none());
    assert_eq!(s.client_secret_source, None);
    assert_eq!(
        s.scopes,
        Some(vec!["openid".to_owned(), "offline_access".to_owned()])
    );
    assert_eq!(s.audience.as_deref(), Some("https://flyte.example.com/api"));
    assert_eq!(
        s.command,
        Some(vec![
            "gcloud".into(),
            "auth".into(),
            "print-identity-token".into()
        ])
    );
    assert_eq!(
        s.proxy_command,
        Some(vec!["iap-token".into(), "--audience".into(), "1234".into()])
    );
    assert_eq!(
        s.token_url.as_deref(),
        Some("https://idp.example.com/token")
    );
    assert_eq!(
        s.authorization_endpoint.as_deref(),
        Some("https://idp.example.com/authorize")
    );
    assert_eq!(
        s.device_authorization_endpoint.as_deref(),
        Some("https://idp.example.com/device")
    );
    assert_eq!(
        s.authorization_header.as_deref(),
        Some("flyte-authorization")
    );
    assert_eq!(
        s.redirect_uri.as_deref(),
        Some("http://localhost:53593/callback")
    );
    assert_eq!(s.token_refresh_window, Some(Duration::from_secs(120)));
    assert_eq!(s.pkce_timeout, Some(Duration::from_secs(5400)));
    assert_eq!(s.device_flow_timeout, Some(Duration::from_secs(600)));
    assert_eq!(
        s.device_flow_poll_interval,
        Some(Duration::from_millis(500))
    );
    assert_eq!(s.source_file, Some(fx.missing("config.yaml")));
}

#[test]
fn secret_keys_from_the_file() {
    let mut fx = Fixture::new();
    let secret = fx.write("secret", "from-file\n");
    let s = fx
        .load_yaml(&format!(
            "admin:\n  clientSecretLocation: {}\n",
            secret.display()
        ))
        .expect("loads");
    assert_eq!(
        s.client_secret.as_ref().map(|c| c.secret()),
        Some("from-file")
    );
    assert_eq!(s.client_secret_source, Some(SecretSource::File(secret)));

    fx.set("APP_SECRET", "from-var");
    let s = fx
        .load_yaml("admin:\n  clientSecretEnvVar: APP_SECRET\n")
        .expect("loads");
    assert_eq!(
        s.client_secret.as_ref().map(|c| c.secret()),
        Some("from-var")
    );
    assert_eq!(
        s.client_secret_source,
        Some(SecretSource::Env("APP_SECRET".into()))
    );
}

#[test]
fn a_typical_flytectl_sandbox_config() {
    // What `flytectl config init` writes, with the other sections flytectl keeps there.
    let fx = Fixture::new();
    let yaml = "\
admin:
  # For GRPC endpoints you might want to use dns:///flyte.myexample.com
  endpoint: dns:///localhost:30080
  authType: Pkce
  insecure: true
console:
  endpoint: http://localhost:30080
logger:
  show-source: true
  level: 0
storage:
  connection:
    access-key: minio
    auth-type: accesskey
    disable-ssl: true
    endpoint: http://localhost:30002
    region: us-east-1
    secret-key: miniostorage
  type: minio
  container: \"my-s3-bucket\"
  enable-multicontainer: true
";
    let s = fx.load_yaml(yaml).expect("loads");
    assert_eq!(s.endpoint.as_deref(), Some("localhost:30080"));
    assert_eq!(s.auth_mode, AuthMode::Pkce);
    assert!(s.insecure);
    assert!(!s.insecure_skip_verify);
    assert_eq!(s.scopes, None);
}

#[test]
fn keys_ignore_case_and_unknown_keys_are_skipped() {
    let fx = Fixture::new();
    let yaml = "\
ADMIN:
  Endpoint: flyte.example.com
  AUTHTYPE: clientsecret
  clientid: app
  maxRetries: 4
  useAuth: true
  perRetryTimeout: not-a-duration-but-not-ours
  DeviceFlowConfig: {PollInterval: 3s}
other: [1, 2, 3]
";
    let s = fx.load_yaml(yaml).expect("loads");
    assert_eq!(s.endpoint.as_deref(), Some("flyte.example.com"));
    assert_eq!(s.auth_mode, AuthMode::ClientSecret);
    assert_eq!(s.client_id.as_deref(), Some("app"));
    assert_eq!(s.device_flow_poll_interval, Some(Duration::from_secs(3)));
}

#[test]
fn empty_files_and_values_mean_not_set() {
    let fx = Fixture::new();
    for yaml in [
        "",
        "# nothing\n",
        "admin:\n",
        "admin: ~\n",
        "admin:\n  endpoint:\n  clientId: \"\"\n  insecure:\n  scopes:\n  command: []\n",
    ] {
        let s = fx
            .load_yaml(yaml)
            .unwrap_or_else(|e| panic!("{yaml:?}: {e}"));
        assert_eq!(s.endpoint, None, "{yaml:?}");
        assert_eq!(s.client_id, None, "{yaml:?}");
        assert!(!s.insecure, "{yaml:?}");
        assert_eq!(s.scopes, None, "{yaml:?}");
        assert_eq!(s.command, None, "{yaml:?}");
        assert_eq!(s.auth_mode, AuthMode::Pkce, "{yaml:?}");
    }
}

#[test]
fn scopes_forms() {
    let fx = Fixture::new();
    let cases: [(&str, Option<Vec<&str>>); 5] = [
        ("scopes: []", Some(vec![])),
        ("scopes: [all]", Some(vec!["all"])),
        (
            "scopes: \"openid offline_access\"",
            Some(vec!["openid", "offline_access"]),
        ),
        ("scopes: openid,all", Some(vec!["openid", "all"])),
        (
            "scopes: [\"openid email\", profile]",
            Some(vec!["openid", "email", "profile"]),
        ),
    ];
    for (line, want) in cases {
        let s = fx.load_yaml(&format!("admin:\n  {line}\n")).expect("loads");
        let want = want.map(|v| v.into_iter().map(String::from).collect::<Vec<_>>());
        assert_eq!(s.scopes, want, "{line}");
    }
}

#[test]
fn booleans_in_the_file() {
    let fx = Fixture::new();
    for (value, want) in [
        ("true", true),
        ("false", false),
        ("yes", true),
        ("no", false),
        ("True", true),
        ("\"false\"", false),
        ("'on'", true),
        ("1", true),
        ("0", false),
    ] {
        let s = fx
            .load_yaml(&format!("admin:\n  insecure: {value}\n"))
            .expect("loads");
        assert_eq!(s.insecure, want, "{value}");
    }
}

#[test]
fn zero_timeouts_mean_the_default_but_a_zero_refresh_window_is_kept() {
    let fx = Fixture::new();
    let yaml = "\
admin:
  tokenRefreshWindow: 0s
  pkceConfig: {timeout: 0s}
  deviceFlowConfig: {timeout: \"0\", pollInterval: 0ms}
";
    let s = fx.load_yaml(yaml).expect("loads");
    assert_eq!(s.token_refresh_window, Some(Duration::ZERO));
    assert_eq!(s.pkce_timeout, None);
    assert_eq!(s.device_flow_timeout, None);
    assert_eq!(s.device_flow_poll_interval, None);
}

#[test]
fn anchors_and_aliases_work() {
    let fx = Fixture::new();
    let yaml = "\
defaults: &timeouts
  timeout: 3m
admin:
  pkceConfig: *timeouts
  deviceFlowConfig: *timeouts
";
    let s = fx.load_yaml(yaml).expect("loads");
    assert_eq!(s.pkce_timeout, Some(Duration::from_secs(180)));
    assert_eq!(s.device_flow_timeout, Some(Duration::from_secs(180)));
}
