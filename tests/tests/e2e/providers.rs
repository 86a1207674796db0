//! The command against what real providers do (issue 12): a login that fails keeps what was
//! stored, `status` agrees with `token` for short-lived tokens, a plain issuer instead of a
//! Flyte endpoint, and the client authentication method from configuration.

use auth_testkit::idp::{TestIdp, require_issuer, stats};
use tests::User;

/// A user whose logins persist in a file (no keyring needed).
fn file_user(issuer: &str) -> User {
    User::new(issuer).env("FLYTE_AUTH_STORE", "file")
}

#[test]
fn a_failed_login_keeps_the_stored_credentials() {
    let Some(issuer) = require_issuer("a_failed_login_keeps_the_stored_credentials") else {
        return;
    };
    let u = file_user(&issuer);
    let cfg = u.config(
        "pkce",
        "  authType: Pkce\n  clientId: flyte-cli\n  redirectUri: http://127.0.0.1:0/callback\n  pkceConfig:\n    timeout: 2s\n",
    );
    let cfg = cfg.to_str().unwrap();
    assert_eq!(u.run(&["--config", cfg, "login"]).code, 0);
    let before = u.run(&["--config", cfg, "--non-interactive", "token"]);
    assert_eq!(before.code, 0, "{before:?}");

    // A browser that never finishes the login: the login times out.
    let mut c = u.command(&["--config", cfg, "login"]);
    c.env("BROWSER", "true");
    let failed = u.run_command(c);
    assert_ne!(failed.code, 0, "{failed:?}");
    assert!(failed.stderr.contains("timed out"), "{}", failed.stderr);

    let after = u.run(&["--config", cfg, "--non-interactive", "token"]);
    assert_eq!(after.code, 0, "the earlier login survived: {after:?}");
    assert_eq!(after.stdout, before.stdout);
    let status = u.run(&["--config", cfg, "status"]);
    assert_eq!(status.code, 0, "{status:?}");
}

#[test]
fn status_agrees_with_token_right_after_a_short_lived_login() {
    let Some(issuer) = require_issuer("status_agrees_with_token_right_after_a_short_lived_login")
    else {
        return;
    };
    let u = file_user(&issuer);
    // flyte-cli-short: access tokens live 2 s, less than the 10 s skew.
    let cfg = u.config(
        "short",
        "  authType: Pkce\n  clientId: flyte-cli-short\n  redirectUri: http://127.0.0.1:0/callback\n",
    );
    let cfg = cfg.to_str().unwrap();
    assert_eq!(u.run(&["--config", cfg, "login"]).code, 0);
    let r = u.run(&["--config", cfg, "-o", "json", "status"]);
    assert_eq!(r.code, 0, "logged in, not expired: {r:?}");
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("json");
    assert_eq!(v["logged_in"], true, "{v}");
}

#[test]
fn a_plain_issuer_instead_of_a_flyte_endpoint() {
    let Some(_) = require_issuer("a_plain_issuer_instead_of_a_flyte_endpoint") else {
        return;
    };
    // A provider of its own, so that request counts are this test's alone.
    let idp = TestIdp::start().expect("start the identity provider");
    let issuer = idp.issuer().to_string();
    let u = file_user(&issuer);
    // No admin.endpoint at all: a config file with only the client.
    let pkce = u.file(
        "issuer.yaml",
        "admin:\n  authType: Pkce\n  clientId: flyte-cli\n  insecure: true\n  redirectUri: http://127.0.0.1:0/callback\n",
    );
    let pkce = pkce.to_str().unwrap();
    let r = u.run(&["--config", pkce, "--issuer", &issuer, "login"]);
    assert_eq!(r.code, 0, "{r:?}");
    // openid offline_access by default for a plain issuer: an id_token (with the nonce this
    // login sent, checked) and a refresh token.
    let r = u.run(&[
        "--config", pkce, "--issuer", &issuer, "-o", "json", "status",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("json");
    assert_eq!(v["subject"], "alice", "{v}");
    assert_eq!(v["has_refresh_token"], true, "{v}");
    assert_eq!(
        v["endpoint"],
        issuer.as_str(),
        "stored under the issuer: {v}"
    );

    // Client credentials from the issuer too, configured by environment.
    let secret = u.file("secret", "cc-basic-secret\n");
    let mut c = u.command(&["token"]);
    c.env("FLYTE_CREDENTIALS_ISSUER", &issuer)
        .env("FLYTE_CREDENTIALS_CLIENT_ID", "cc-basic")
        .env("FLYTE_CREDENTIALS_CLIENT_SECRET_LOCATION", &secret)
        .env("FLYTE_PLATFORM_INSECURE", "true");
    let r = u.run_command(c);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.trim().len() > 10, "{r:?}");
}

#[test]
fn client_secret_post_from_configuration_and_by_fallback() {
    let Some(_) = require_issuer("client_secret_post_from_configuration_and_by_fallback") else {
        return;
    };
    let idp = TestIdp::start().expect("start the identity provider");
    let u = User::new(idp.issuer());
    let secret = u.file("secret", "cc-post-secret\n");
    let config = |name: &str, extra: &str| {
        u.config(
            name,
            &format!(
                "  authType: ClientSecret\n  clientId: cc-post\n  clientSecretLocation: {}\n{extra}",
                secret.display()
            ),
        )
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let count = || {
        rt.block_on(stats(idp.issuer()))
            .unwrap()
            .token_requests("cc-post")
    };

    // Configured: one request, with post (the provider refuses Basic for this client).
    let forced = config("forced", "  clientAuthMethod: client_secret_post\n");
    let r = u.run(&["--config", forced.to_str().unwrap(), "token"]);
    assert_eq!((r.code, count()), (0, 1), "{r:?}");

    // Not configured: Basic is refused (the discovery document advertises both), post works.
    let negotiated = config("negotiated", "");
    let r = u.run(&["--config", negotiated.to_str().unwrap(), "token"]);
    assert_eq!((r.code, count()), (0, 3), "{r:?}");

    // Forced to Basic: refused, exit 3, and the message says what to check.
    let basic = config("basic", "  clientAuthMethod: client_secret_basic\n");
    let r = u.run(&["--config", basic.to_str().unwrap(), "token"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("client `cc-post`"), "{}", r.stderr);
    assert!(r.stderr.contains("client_secret_basic"), "{}", r.stderr);
    assert!(!r.all_output().contains("cc-post-secret"), "{r:?}");

    // An unknown method is a configuration error naming the valid ones.
    let bad = config("bad", "  clientAuthMethod: private_key_jwt\n");
    let r = u.run(&["--config", bad.to_str().unwrap(), "token"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("client_secret_post"), "{}", r.stderr);
}
