//! The built `flyte-auth` command against the real test identity provider and a real
//! Secret Service. Needs `FLYTE_AUTH_TEST_ISSUER` (set by `cargo xtask test`); without it each
//! test prints `skipped` and passes.

mod admin_rpc;
mod cli_ux;
mod doctor;
mod many_processes;
mod providers;
mod pyflyte;

use auth_testkit::idp::{TestIdp, approve_device, client_keys, require_issuer, stats};
use tests::{User, keyring_available};

const CC_SECRET: &str = "cc-basic-secret";

fn client_credentials_config(u: &User, secret: &str) -> std::path::PathBuf {
    let secret_file = u.file("secret", &format!("{secret}\n"));
    u.config(
        "cc",
        &format!(
            "  authType: ClientSecret\n  clientId: cc-basic\n  clientSecretLocation: {}\n",
            secret_file.display()
        ),
    )
}

#[test]
fn client_credentials_token_prints_only_the_token() {
    let Some(issuer) = require_issuer("client_credentials_token_prints_only_the_token") else {
        return;
    };
    let u = User::new(&issuer);
    let cfg = client_credentials_config(&u, CC_SECRET);
    let r = u.run(&["--config", cfg.to_str().unwrap(), "-v", "token"]);
    assert_eq!(r.code, 0, "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "stdout is the token and a newline: {:?}",
        r.stdout
    );
    assert!(r.stdout.ends_with('\n') && lines[0].len() > 10);
    assert!(!r.stderr.contains(lines[0]), "the token appears on stderr");
    assert!(
        !r.all_output().contains(CC_SECRET),
        "the client secret was printed"
    );
}

#[test]
fn external_command_token_and_json_output() {
    let Some(issuer) = require_issuer("external_command_token_and_json_output") else {
        return;
    };
    let u = User::new(&issuer);
    let cfg = u.config(
        "cmd",
        "  authType: ExternalCommand\n  command: [\"printf\", '{\"access_token\": \"tok-from-cmd\", \"expires_in\": 600}']\n",
    );
    let r = u.run(&["--config", cfg.to_str().unwrap(), "token"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "tok-from-cmd\n"), "{r:?}");
    let r = u.run(&["--config", cfg.to_str().unwrap(), "-o", "json", "token"]);
    assert_eq!(r.code, 0, "{r:?}");
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("json on stdout");
    assert_eq!(v["access_token"], "tok-from-cmd");
    assert!(v["expires_at"].is_string());
}

#[test]
fn exit_codes() {
    let Some(issuer) = require_issuer("exit_codes") else {
        return;
    };
    let u = User::new(&issuer);
    // 2: usage error, unknown auth mode (the message lists the valid names).
    assert_eq!(u.run(&["--no-such-flag", "token"]).code, 2);
    let cfg = client_credentials_config(&u, CC_SECRET);
    let r = u.run(&[
        "--config",
        cfg.to_str().unwrap(),
        "--auth-mode",
        "Kerberos",
        "token",
    ]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("DeviceFlow") && r.stderr.contains("Pkce"),
        "{}",
        r.stderr
    );
    // 3: the identity provider refused (wrong client secret), with its description.
    let wrong = client_credentials_config(&u, "not-the-secret");
    let r = u.run(&["--config", wrong.to_str().unwrap(), "token"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("invalid_client"), "{}", r.stderr);
    assert!(
        !r.all_output().contains("not-the-secret"),
        "the secret was printed"
    );
    // 4: network error (nothing listens on port 9 here).
    let r = u.run(&[
        "--endpoint",
        "127.0.0.1:9",
        "--insecure",
        "--auth-mode",
        "DeviceFlow",
        "token",
    ]);
    assert_eq!(r.code, 4, "{r:?}");
    // 1: a login would be needed but interaction is off.
    let pkce = u.config(
        "pkce",
        "  authType: Pkce\n  clientId: flyte-cli\n  redirectUri: http://127.0.0.1:0/callback\n",
    );
    let r = u.run(&[
        "--config",
        pkce.to_str().unwrap(),
        "--non-interactive",
        "token",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("flyte-auth login"), "{}", r.stderr);
    // 1: status without stored credentials.
    let r = u.run(&["--config", pkce.to_str().unwrap(), "status"]);
    assert_eq!(r.code, 1, "{r:?}");
}

#[test]
fn configuration_precedence_flags_over_environment_over_file() {
    let Some(issuer) = require_issuer("configuration_precedence_flags_over_environment_over_file")
    else {
        return;
    };
    let u = User::new(&issuer)
        .env("FLYTE_CREDENTIALS_CLIENT_ID", "from-env")
        .env("FLYTE_CREDENTIALS_AUTH_MODE", "DeviceFlow")
        .env("FLYTE_CREDENTIALS_CLIENT_SECRET", "env-secret-value");
    let cfg = u.config(
        "p",
        "  authType: Pkce\n  clientId: from-file\n  scopes: [openid]\n",
    );
    let r = u.run(&["--config", cfg.to_str().unwrap(), "-o", "json", "config"]);
    assert_eq!(r.code, 0, "{r:?}");
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("json");
    assert_eq!(v["client_id"], "from-env");
    assert_eq!(v["auth_mode"], "DeviceFlow");
    assert_eq!(v["scopes"], serde_json::json!(["openid"]));
    assert_eq!(v["client_secret"], "[redacted]");
    assert!(!r.all_output().contains("env-secret-value"));
    // The discovered endpoints come from the Flyte endpoint.
    assert!(
        v["discovered"]["token_endpoint"]
            .as_str()
            .unwrap_or_default()
            .starts_with(&issuer),
        "{v}"
    );
    let r = u.run(&[
        "--config",
        cfg.to_str().unwrap(),
        "--auth-mode",
        "pkce",
        "-o",
        "json",
        "config",
    ]);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("json");
    assert_eq!(v["auth_mode"], "Pkce", "the flag beats the environment");
}

#[test]
fn pkce_login_status_token_logout_across_processes() {
    let name = "pkce_login_status_token_logout_across_processes";
    let Some(_shared) = require_issuer(name) else {
        return;
    };
    if !keyring_available(name) {
        return;
    }
    // A provider of its own, so that request counts are this test's alone.
    let idp = TestIdp::start().expect("start the identity provider");
    let u = User::with_keyring(idp.issuer());
    let cfg = u.config(
        "pkce",
        "  authType: Pkce\n  clientId: flyte-cli\n  redirectUri: http://127.0.0.1:0/callback\n",
    );
    let cfg = cfg.to_str().unwrap();
    let r = u.run(&["--config", cfg, "login"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.is_empty(),
        "login prints nothing on stdout: {:?}",
        r.stdout
    );

    let r = u.run(&["--config", cfg, "status"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("subject:   alice") && r.stdout.contains("in "),
        "{}",
        r.stdout
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    let before = rt
        .block_on(stats(idp.issuer()))
        .unwrap()
        .token_requests("flyte-cli");
    let mut c = u.command(&["--config", cfg, "token"]);
    c.env("BROWSER", "false");
    let r = u.run_command(c);
    assert_eq!(r.code, 0, "{r:?}");
    let after = rt
        .block_on(stats(idp.issuer()))
        .unwrap()
        .token_requests("flyte-cli");
    assert_eq!(
        after, before,
        "the second process used the keyring: no request to the provider"
    );

    let r = u.run(&["--config", cfg, "logout"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = u.run(&["--config", cfg, "status"]);
    assert_eq!(r.code, 1, "{r:?}");
}

#[test]
fn device_flow_login_then_refresh_after_expiry_without_prompt() {
    let name = "device_flow_login_then_refresh_after_expiry_without_prompt";
    let Some(issuer) = require_issuer(name) else {
        return;
    };
    if !keyring_available(name) {
        return;
    }
    let u = User::with_keyring(&issuer);
    let cfg = u.config(
        "device",
        "  authType: DeviceFlow\n  clientId: flyte-cli-short\n",
    );
    let cfg = cfg.to_str().unwrap().to_string();
    let mut child = u
        .command(&["--config", &cfg, "-o", "json", "login"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push(line.clone());
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if v["event"] == "device_authorization" {
            let uri = v["verification_uri_complete"]
                .as_str()
                .expect("complete uri")
                .to_string();
            rt.block_on(approve_device(&uri, true)).expect("approve");
            break;
        }
    }
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert!(status.success(), "login failed: {seen:?} {rest:?}");

    let first = u.run(&["--config", &cfg, "token"]);
    assert_eq!(first.code, 0, "{first:?}");
    std::thread::sleep(std::time::Duration::from_secs(3));
    let second = u.run(&["--config", &cfg, "--non-interactive", "token"]);
    assert_eq!(second.code, 0, "refreshed without a prompt: {second:?}");
    assert_ne!(
        first.stdout, second.stdout,
        "a new access token after expiry"
    );
}

#[test]
fn file_store_carries_credentials_without_a_keyring() {
    let Some(issuer) = require_issuer("file_store_carries_credentials_without_a_keyring") else {
        return;
    };
    // No Secret Service at all: the file store is the explicit choice.
    let u = User::new(&issuer).env("FLYTE_AUTH_STORE", "file");
    let cfg = u.config(
        "pkce",
        "  authType: Pkce\n  clientId: flyte-cli\n  redirectUri: http://127.0.0.1:0/callback\n",
    );
    let cfg = cfg.to_str().unwrap();
    let r = u.run(&["--config", cfg, "login"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        !r.stderr.contains("keyring"),
        "no keyring warning with --store file: {}",
        r.stderr
    );
    let r = u.run(&["--config", cfg, "--non-interactive", "token"]);
    assert_eq!(r.code, 0, "the second process read the file store: {r:?}");
    let dir = u.home.path().join(".local/state/flyte-auth/credentials");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .expect("credentials dir")
        .flatten()
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    use std::os::unix::fs::PermissionsExt;
    let mode = files[0].metadata().unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "only the user can read the credentials file");
    let r = u.run(&["--config", cfg, "--store", "memory", "status"]);
    assert_eq!(
        r.code, 1,
        "memory store sees nothing from earlier processes: {r:?}"
    );
}

#[test]
fn a_broken_keyring_never_fails_a_login() {
    let Some(issuer) = require_issuer("a_broken_keyring_never_fails_a_login") else {
        return;
    };
    // User::new points DBUS_SESSION_BUS_ADDRESS at a socket that does not exist.
    let u = User::new(&issuer);
    let cfg = u.config(
        "pkce",
        "  authType: Pkce\n  clientId: flyte-cli\n  redirectUri: http://127.0.0.1:0/callback\n",
    );
    let r = u.run(&["--config", cfg.to_str().unwrap(), "login"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains("warning: ") && r.stderr.contains("--store file"),
        "a warning that says what to do: {}",
        r.stderr
    );
    let r = u.run(&["--config", cfg.to_str().unwrap(), "-o", "json", "token"]);
    assert_eq!(
        r.code, 0,
        "token still works (after a new login, in memory): {r:?}"
    );
}

#[test]
fn a_pod_without_a_terminal_never_starts_a_browser_login() {
    let Some(issuer) = require_issuer("a_pod_without_a_terminal_never_starts_a_browser_login")
    else {
        return;
    };
    let u = User::new(&issuer);
    let cfg = u.config("pkce-pod", "  authType: Pkce\n  clientId: flyte-cli\n");
    // $BROWSER is the test browser, which would finish the login: an exit code other than 0
    // shows that no login was started.
    let mut c = u.command(&["--config", cfg.to_str().unwrap(), "token"]);
    c.env("KUBERNETES_SERVICE_HOST", "10.96.0.1");
    let r = u.run_command(c);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.is_empty(), "{r:?}");
    for needle in ["Kubernetes pod", "ClientSecret", "ExternalCommand"] {
        assert!(r.stderr.contains(needle), "{needle} missing: {}", r.stderr);
    }
}

#[test]
fn private_key_jwt_from_the_config_file() {
    let Some(issuer) = require_issuer("private_key_jwt_from_the_config_file") else {
        return;
    };
    let u = User::new(&issuer);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let keys = rt.block_on(client_keys(&issuer)).expect("client keys");
    let key = u.file("client.pem", &keys.es256);
    let cfg = u.config(
        "pkjwt",
        &format!(
            "  clientId: pkjwt-es256\n  clientAssertionKeyFile: {}\n  clientAssertionAlgorithm: ES256\n  clientAssertionKeyId: client-es256\n",
            key.display()
        ),
    );
    let r = u.run(&["--config", cfg.to_str().unwrap(), "token"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout.lines().count(), 1, "{r:?}");
    let key_line = keys.es256.lines().nth(1).unwrap_or_default();
    assert!(!r.all_output().contains(key_line), "the key was printed");
}
