//! The command as people use it (issue 18): `token --header`, human warnings, logout that
//! revokes, `doctor`, PKCE progress and Ctrl-C, the paste login from a remote shell.

use auth_testkit::idp::require_issuer;
use tests::User;

/// A PKCE client on a port of its own (`:0`), so that parallel tests never share one.
pub(crate) const PKCE: &str =
    "  authType: Pkce\n  clientId: flyte-cli\n  redirectUri: http://127.0.0.1:0/callback\n";

fn command_config(u: &User, header: &str) -> std::path::PathBuf {
    u.config(
        "cmd",
        &format!(
            "{header}  authType: ExternalCommand\n  command: [\"printf\", '{{\"access_token\": \"tok-from-cmd\", \"expires_in\": 600}}']\n"
        ),
    )
}

#[test]
fn token_header_prints_the_header_line() {
    let Some(issuer) = require_issuer("token_header_prints_the_header_line") else {
        return;
    };
    let u = User::new(&issuer);
    let cfg = command_config(&u, "");
    let r = u.run(&["--config", cfg.to_str().unwrap(), "token", "--header"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "authorization: Bearer tok-from-cmd\n"),
        "{r:?}"
    );
    let cfg = command_config(&u, "  authorizationHeader: flyte-authorization\n");
    let r = u.run(&["--config", cfg.to_str().unwrap(), "token", "--header"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "flyte-authorization: Bearer tok-from-cmd\n"),
        "{r:?}"
    );
    // Without --header: the token alone, as before.
    let r = u.run(&["--config", cfg.to_str().unwrap(), "token"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "tok-from-cmd\n"), "{r:?}");
}

#[test]
fn a_browser_that_cannot_open_is_one_human_warning() {
    let Some(issuer) = require_issuer("a_browser_that_cannot_open_is_one_human_warning") else {
        return;
    };
    let u = User::new(&issuer).env("BROWSER", "/nonexistent/flyte-auth-browser");
    let cfg = u.config("pkce", &format!("{PKCE}  pkceConfig:\n    timeout: 2s\n"));
    let cfg = cfg.to_str().unwrap();
    let r = u.run(&["--config", cfg, "--store", "memory", "login"]);
    assert_eq!(r.code, 4, "the login timed out: {r:?}");
    let warnings: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.contains("could not open a browser"))
        .collect();
    assert_eq!(
        warnings,
        ["warning: could not open a browser; open the URL above"],
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains(" WARN "),
        "no tracing record: {}",
        r.stderr
    );
    // -v keeps the detailed log; -o json keeps JSON lines.
    let r = u.run(&["--config", cfg, "--store", "memory", "-v", "login"]);
    assert!(
        r.stderr.contains(" WARN ") && r.stderr.contains("could not open a browser"),
        "{}",
        r.stderr
    );
    let r = u.run(&["--config", cfg, "--store", "memory", "-o", "json", "login"]);
    let warning = r
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["level"] == "WARN")
        .unwrap_or_else(|| panic!("a JSON warning line: {}", r.stderr));
    assert_eq!(
        warning["fields"]["message"],
        "could not open a browser; open the URL above"
    );
}
