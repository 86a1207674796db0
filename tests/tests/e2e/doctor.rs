//! `flyte-auth doctor` through the built binary: each check passing, and each failing on
//! purpose with a fix printed.

use std::collections::BTreeMap;

use auth_testkit::idp::require_issuer;
use tests::{Run, User};

const CHECKS: [&str; 8] = [
    "config",
    "endpoint",
    "tls",
    "discovery",
    "metadata",
    "redirect",
    "store",
    "token",
];

/// One check's JSON object: name, status, detail, fix.
type CheckLine = (String, String, String, Option<String>);

/// `doctor -o json`: one (name, status, detail, fix) per check, in order.
fn doctor_json(u: &User, args: &[&str]) -> (Run, Vec<CheckLine>) {
    let mut all = args.to_vec();
    all.extend(["-o", "json", "doctor"]);
    let r = u.run(&all);
    let checks = r
        .stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
            (
                v["check"].as_str().unwrap_or_default().to_string(),
                v["status"].as_str().unwrap_or_default().to_string(),
                v["detail"].as_str().unwrap_or_default().to_string(),
                v["fix"].as_str().map(String::from),
            )
        })
        .collect::<Vec<_>>();
    let names: Vec<&str> = checks.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(names, CHECKS, "one object per check, in order: {r:?}");
    (r, checks)
}

fn statuses(checks: &[CheckLine]) -> BTreeMap<String, String> {
    checks.iter().map(|c| (c.0.clone(), c.1.clone())).collect()
}

/// Asserts that `name` failed with a fix, and returns its detail and fix.
fn failed(checks: &[CheckLine], name: &str) -> (String, String) {
    let c = checks
        .iter()
        .find(|c| c.0 == name)
        .unwrap_or_else(|| panic!("no {name} check"));
    assert_eq!(c.1, "fail", "{name}: {checks:?}");
    let fix = c.3.clone().unwrap_or_else(|| panic!("{name} has no fix"));
    assert!(!fix.is_empty());
    (c.2.clone(), fix)
}

fn cc_config(u: &User, secret: &str, extra: &str) -> String {
    let secret_file = u.file("secret", &format!("{secret}\n"));
    u.config(
        "cc",
        &format!(
            "  authType: ClientSecret\n  clientId: cc-basic\n  clientSecretLocation: {}\n{extra}",
            secret_file.display()
        ),
    )
    .to_str()
    .unwrap()
    .to_string()
}

#[test]
fn doctor_passes_and_shows_claims_never_the_token() {
    let Some(issuer) = require_issuer("doctor_passes_and_shows_claims_never_the_token") else {
        return;
    };
    let u = User::new(&issuer);
    let cfg = cc_config(
        &u,
        "cc-basic-secret",
        "  audience: https://api.flyte.test\n  scopes: [all]\n",
    );
    let r = u.run(&["--config", &cfg, "doctor"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout.lines().filter(|l| l.starts_with("ok  ")).count(),
        8,
        "{}",
        r.stdout
    );
    assert!(r.stdout.ends_with("All 8 checks passed.\n"), "{}", r.stdout);
    let token_line = r
        .stdout
        .lines()
        .find(|l| l.starts_with("ok    token "))
        .unwrap();
    assert!(
        token_line.contains(&format!("iss {issuer}"))
            && token_line.contains("aud https://api.flyte.test")
            && token_line.contains("scope all")
            && token_line.contains("exp "),
        "{token_line}"
    );
    let (r2, checks) = doctor_json(&u, &["--config", &cfg]);
    assert_eq!(r2.code, 0, "{r2:?}");
    assert!(
        checks.iter().all(|c| c.1 == "pass" && c.3.is_none()),
        "{checks:?}"
    );
    // The token itself never appears.
    let t = u.run(&["--config", &cfg, "token"]);
    let token = t.stdout.trim();
    assert!(token.len() > 20, "{t:?}");
    for out in [r.all_output(), r2.all_output()] {
        assert!(!out.contains(token), "doctor printed the token");
        assert!(
            !out.contains("cc-basic-secret"),
            "doctor printed the secret"
        );
    }
}

#[test]
fn doctor_config_and_token_fail_with_a_fix() {
    let Some(issuer) = require_issuer("doctor_config_and_token_fail_with_a_fix") else {
        return;
    };
    let u = User::new(&issuer);
    // No such file: config fails, everything else is skipped.
    let (r, checks) = doctor_json(&u, &["--config", "/nonexistent/flyte.yaml"]);
    assert_eq!(r.code, 1, "{r:?}");
    let (detail, fix) = failed(&checks, "config");
    assert!(detail.contains("/nonexistent/flyte.yaml"), "{detail}");
    assert!(fix.contains("--config"), "{fix}");
    assert!(checks[1..].iter().all(|c| c.1 == "skip"), "{checks:?}");
    // A service client without a secret: config fails.
    let cfg = u.config(
        "nosecret",
        "  authType: ClientSecret\n  clientId: cc-basic\n",
    );
    let (_, checks) = doctor_json(&u, &["--config", cfg.to_str().unwrap()]);
    let (_, fix) = failed(&checks, "config");
    assert!(fix.contains("clientSecretLocation"), "{fix}");
    // The wrong secret: every check passes but the token request, refused.
    let cfg = cc_config(&u, "not-the-secret", "");
    let (r, checks) = doctor_json(&u, &["--config", &cfg]);
    assert_eq!(r.code, 1, "{r:?}");
    let (detail, fix) = failed(&checks, "token");
    assert!(detail.contains("invalid_client"), "{detail}");
    assert!(fix.contains("client secret"), "{fix}");
    let s = statuses(&checks);
    assert!(
        CHECKS[..7].iter().all(|c| s[*c] == "pass"),
        "only the token failed: {checks:?}"
    );
    assert!(!r.all_output().contains("not-the-secret"));
    // A browser login that was never made: the token check says to log in, and never
    // opens a browser.
    let u = User::new(&issuer).env("BROWSER", "/nonexistent/browser-must-not-run");
    let cfg = u.config("pkce", crate::cli_ux::PKCE);
    let (_, checks) = doctor_json(
        &u,
        &["--config", cfg.to_str().unwrap(), "--store", "memory"],
    );
    let (_, fix) = failed(&checks, "token");
    assert!(fix.contains("flyte-auth login"), "{fix}");
}

#[test]
fn doctor_endpoint_and_discovery_fail_with_a_fix() {
    let Some(issuer) = require_issuer("doctor_endpoint_and_discovery_fail_with_a_fix") else {
        return;
    };
    let u = User::new(&issuer);
    // Nothing listens on port 9.
    let (r, checks) = doctor_json(
        &u,
        &[
            "--endpoint",
            "127.0.0.1:9",
            "--insecure",
            "--store",
            "memory",
        ],
    );
    assert_eq!(r.code, 1);
    let (detail, fix) = failed(&checks, "endpoint");
    assert!(detail.contains("127.0.0.1:9"), "{detail}");
    assert!(fix.contains("admin.endpoint"), "{fix}");
    let s = statuses(&checks);
    assert_eq!(
        (
            s["tls"].as_str(),
            s["discovery"].as_str(),
            s["metadata"].as_str()
        ),
        ("skip", "skip", "skip")
    );
    // Reachable, but not a Flyte endpoint: each document tried and what answered.
    let endpoint = format!("{}/not-flyte", u.endpoint());
    let (_, checks) = doctor_json(
        &u,
        &[
            "--endpoint",
            &endpoint,
            "--insecure",
            "--auth-mode",
            "DeviceFlow",
            "--store",
            "memory",
        ],
    );
    let (detail, fix) = failed(&checks, "discovery");
    assert!(
        detail.contains("/not-flyte/.well-known/oauth-authorization-server -> HTTP 404")
            && detail.contains("/not-flyte/config/v1/flyte_client -> HTTP 404"),
        "{detail}"
    );
    assert!(fix.contains("tokenUrl"), "{fix}");
}

#[test]
fn doctor_metadata_redirect_and_store_fail_with_a_fix() {
    let Some(issuer) = require_issuer("doctor_metadata_redirect_and_store_fail_with_a_fix") else {
        return;
    };
    let u = User::new(&issuer);
    // Static endpoints for the device flow without a device endpoint.
    let cfg = u.config(
        "static",
        &format!("  authType: DeviceFlow\n  clientId: flyte-cli\n  tokenUrl: {issuer}/token\n"),
    );
    let (_, checks) = doctor_json(
        &u,
        &["--config", cfg.to_str().unwrap(), "--store", "memory"],
    );
    let (detail, fix) = failed(&checks, "metadata");
    assert!(detail.contains("device endpoint no"), "{detail}");
    assert!(fix.contains("deviceAuthorizationEndpoint"), "{fix}");

    // The redirect port is taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let cfg = u.config(
        "busy",
        &format!(
            "  authType: Pkce\n  clientId: flyte-cli\n  redirectUri: http://127.0.0.1:{port}/callback\n"
        ),
    );
    let (_, checks) = doctor_json(
        &u,
        &["--config", cfg.to_str().unwrap(), "--store", "memory"],
    );
    let (detail, fix) = failed(&checks, "redirect");
    assert!(detail.contains(&format!("127.0.0.1:{port}")), "{detail}");
    assert!(fix.contains(&format!("port {port}")), "{fix}");
    drop(taken);
    let (_, checks) = doctor_json(
        &u,
        &["--config", cfg.to_str().unwrap(), "--store", "memory"],
    );
    assert_eq!(statuses(&checks)["redirect"], "pass", "{checks:?}");

    // No Secret Service (User::new points the bus at nothing): the keyring fails.
    let cfg = u.config("pkce", crate::cli_ux::PKCE);
    let cfg = cfg.to_str().unwrap();
    let (_, checks) = doctor_json(&u, &["--config", cfg, "--store", "keyring"]);
    let (_, fix) = failed(&checks, "store");
    assert!(fix.contains("--store file"), "{fix}");
    // The file store: passes after a login, fails when others can read the file.
    let r = u.run(&["--config", cfg, "--store", "file", "login"]);
    assert_eq!(r.code, 0, "{r:?}");
    let (r, checks) = doctor_json(&u, &["--config", cfg, "--store", "file"]);
    assert_eq!(r.code, 0, "all pass after a login: {checks:?}");
    let dir = u.home.path().join(".local/state/flyte-auth/credentials");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (_, checks) = doctor_json(&u, &["--config", cfg, "--store", "file"]);
    let (detail, fix) = failed(&checks, "store");
    assert!(detail.contains("644"), "{detail}");
    assert_eq!(fix, format!("chmod 600 {}", file.display()));
}

#[test]
fn doctor_tls_fails_for_a_self_signed_server_and_passes_with_its_ca() {
    let Some(issuer) =
        require_issuer("doctor_tls_fails_for_a_self_signed_server_and_passes_with_its_ca")
    else {
        return;
    };
    let u = User::new(&issuer);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (endpoint, pem) = rt.block_on(tls_server::start());
    let ca = u.file("ca.pem", &pem);
    // DeviceFlow: no redirect port to bind (parallel tests log in on the default one).
    let base = [
        "--endpoint",
        endpoint.as_str(),
        "--auth-mode",
        "DeviceFlow",
        "--store",
        "memory",
    ];
    let (_, checks) = doctor_json(&u, &base);
    let (detail, fix) = failed(&checks, "tls");
    assert!(detail.contains("TLS handshake"), "{detail}");
    assert!(fix.contains("caCertFilePath"), "{fix}");

    let mut with_ca = base.to_vec();
    with_ca.extend(["--ca-cert", ca.to_str().unwrap()]);
    let (_, checks) = doctor_json(&u, &with_ca);
    let tls = &checks[2];
    assert_eq!(tls.1, "pass", "{checks:?}");
    assert!(tls.2.contains("caCertFilePath"), "{}", tls.2);

    let mut skip = base.to_vec();
    skip.push("--insecure-skip-verify");
    let (_, checks) = doctor_json(&u, &skip);
    assert_eq!(checks[2].1, "pass", "{checks:?}");
    assert!(checks[2].2.contains("NOT verified"), "{}", checks[2].2);

    // A CA bundle that is not PEM.
    let bad = u.file("bad.pem", "not a certificate");
    let mut bad_ca = base.to_vec();
    bad_ca.extend(["--ca-cert", bad.to_str().unwrap()]);
    let (_, checks) = doctor_json(&u, &bad_ca);
    let (_, fix) = failed(&checks, "tls");
    assert!(fix.contains("PEM"), "{fix}");
    drop(rt);
}

/// A TLS server with a self-signed certificate for 127.0.0.1 (and localhost) that answers 404
/// to everything.
mod tls_server {
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio_rustls::TlsAcceptor;

    /// Returns `127.0.0.1:<port>` and the certificate's PEM; serves until the runtime stops.
    pub(super) async fn start() -> (String, String) {
        let (config, pem) = auth_testkit::tls::self_signed_server_config();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let endpoint = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut buf = vec![0u8; 8192];
                    let mut read = 0;
                    while !buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut buf[read..]).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => read += n,
                        }
                    }
                    let _ = tls
                        .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        (endpoint, pem)
    }
}

#[test]
fn doctor_passes_with_a_plain_issuer_instead_of_a_flyte_endpoint() {
    let Some(issuer) =
        require_issuer("doctor_passes_with_a_plain_issuer_instead_of_a_flyte_endpoint")
    else {
        return;
    };
    let u = User::new(&issuer);
    let secret = u.file("secret", "cc-basic-secret\n");
    // No admin.endpoint: the provider is named by --issuer alone.
    let cfg = u.file(
        "issuer.yaml",
        &format!(
            "admin:\n  authType: ClientSecret\n  clientId: cc-basic\n  insecure: true\n  \
             clientSecretLocation: {}\n",
            secret.display()
        ),
    );
    let (r, checks) = doctor_json(
        &u,
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--issuer",
            &issuer,
            "--store",
            "memory",
        ],
    );
    let s = statuses(&checks);
    for name in ["config", "endpoint", "discovery", "metadata", "token"] {
        assert_eq!(s[name], "pass", "{name}: {checks:?}");
    }
    assert_eq!(r.code, 0, "{r:?}");
}
