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

/// The single credentials file of the file store.
fn credentials_file(u: &User) -> std::path::PathBuf {
    let dir = u.home.path().join(".local/state/flyte-auth/credentials");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert_eq!(files.len(), 1, "one credentials file in {}", dir.display());
    files.remove(0)
}

/// PKCE with 2-second access tokens and the file store, so that a copy of the stored
/// credentials can be put back after logout.
fn short_pkce(u: &User) -> String {
    let cfg = u.config(
        "short",
        "  authType: Pkce\n  clientId: flyte-cli-short\n  redirectUri: http://127.0.0.1:0/callback\n",
    );
    cfg.to_str().unwrap().to_string()
}

#[test]
fn logout_revokes_the_refresh_token() {
    let Some(issuer) = require_issuer("logout_revokes_the_refresh_token") else {
        return;
    };
    let u = User::new(&issuer).env("FLYTE_AUTH_STORE", "file");
    let cfg = short_pkce(&u);
    let login = |u: &User| {
        let r = u.run(&["--config", &cfg, "login"]);
        assert_eq!(r.code, 0, "{r:?}");
        let file = credentials_file(u);
        (
            file.clone(),
            std::fs::read(&file).expect("read credentials"),
        )
    };
    let token_after_expiry = |u: &User| {
        std::thread::sleep(std::time::Duration::from_secs(3));
        u.run(&["--config", &cfg, "--non-interactive", "token"])
    };

    // Control: deleting the file alone leaves the refresh token valid at the provider.
    let (file, saved) = login(&u);
    std::fs::remove_file(&file).unwrap();
    std::fs::write(&file, &saved).unwrap();
    let r = token_after_expiry(&u);
    assert_eq!(r.code, 0, "an unrevoked refresh token still works: {r:?}");

    // logout revokes it: the same copy put back is refused at the next refresh.
    let (file, saved) = login(&u);
    let r = u.run(&["--config", &cfg, "logout"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr
            .contains("refresh token revoked, stored credentials deleted"),
        "{}",
        r.stderr
    );
    assert!(!file.exists(), "the credentials were deleted locally");
    std::fs::write(&file, &saved).unwrap();
    let r = token_after_expiry(&u);
    assert_eq!(r.code, 1, "the revoked refresh token is refused: {r:?}");
    assert!(r.stderr.contains("flyte-auth login"), "{}", r.stderr);
}

#[test]
fn a_failed_revocation_is_a_warning_not_a_failed_logout() {
    let Some(_shared) = require_issuer("a_failed_revocation_is_a_warning_not_a_failed_logout")
    else {
        return;
    };
    let idp = auth_testkit::idp::TestIdp::start().expect("start the identity provider");
    let u = User::new(idp.issuer()).env("FLYTE_AUTH_STORE", "file");
    let cfg = short_pkce(&u);
    let r = u.run(&["--config", &cfg, "login"]);
    assert_eq!(r.code, 0, "{r:?}");
    let file = credentials_file(&u);
    let saved = std::fs::read(&file).unwrap();
    // The provider goes away: revocation cannot reach it.
    drop(idp);
    let r = u.run(&["--config", &cfg, "logout"]);
    assert_eq!(r.code, 0, "{r:?}");
    let warnings: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", r.stderr);
    assert!(
        warnings[0].starts_with("warning: could not revoke the refresh token at the provider")
            && warnings[0].ends_with("deleting it here anyway"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("stored credentials deleted"),
        "{}",
        r.stderr
    );
    assert!(!file.exists(), "deleted locally although revocation failed");
    std::fs::write(&file, &saved).unwrap();
    let r = u.run(&["--config", &cfg, "-o", "json", "logout"]);
    assert_eq!(r.code, 0, "{r:?}");
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("json");
    assert_eq!(v["logged_out"], true, "{v}");
    assert_eq!(v["revocation"]["revoked"], false, "{v}");
    assert!(!file.exists(), "deleted locally although revocation failed");
}

/// `flyte-auth` in a pseudo-terminal, through util-linux `script` (in Debian's essential
/// `bsdutils`): what a person at a terminal sees, and a way to type into it.
pub(crate) struct Terminal {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    output: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl Terminal {
    /// Starts `u.command(args)` on a pseudo-terminal.
    pub(crate) fn start(u: &User, args: &[&str], env: &[(&str, &str)]) -> Terminal {
        let mut inner = u.command(args);
        for (k, v) in env {
            inner.env(k, v);
        }
        let quote =
            |s: &std::ffi::OsStr| format!("'{}'", s.to_string_lossy().replace('\'', r"'\''"));
        let mut line = quote(inner.get_program());
        for a in inner.get_args() {
            line.push(' ');
            line.push_str(&quote(a));
        }
        let mut c = std::process::Command::new("script");
        c.args(["-q", "-e", "-c", &line, "/dev/null"]);
        for (k, v) in inner.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        let mut child = c
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn script (util-linux)");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let output = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = output.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut stdout, &mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Terminal {
            child,
            stdin,
            output,
        }
    }

    /// Everything the terminal showed so far.
    pub(crate) fn screen(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// Waits (at most 30 s) until the screen shows `text`.
    pub(crate) fn wait_for(&self, text: &str) {
        let start = std::time::Instant::now();
        while !self.screen().contains(text) {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(30),
                "the terminal never showed {text:?}: {:?}",
                self.screen()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Types `bytes` on the terminal.
    pub(crate) fn type_in(&mut self, bytes: &[u8]) {
        std::io::Write::write_all(&mut self.stdin, bytes).expect("type on the terminal");
        std::io::Write::flush(&mut self.stdin).expect("flush");
    }

    /// Waits (at most 30 s) for the command to end: its exit code and the whole screen.
    pub(crate) fn finish(mut self) -> (i32, String) {
        let start = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                // Let the reader drain the rest.
                std::thread::sleep(std::time::Duration::from_millis(100));
                return (status.code().unwrap_or(-1), self.screen());
            }
            if start.elapsed() > std::time::Duration::from_secs(30) {
                let _ = self.child.kill();
                panic!("the command did not end: {:?}", self.screen());
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

#[test]
fn pkce_progress_then_ctrl_c_cancels_and_keeps_stored_credentials() {
    let name = "pkce_progress_then_ctrl_c_cancels_and_keeps_stored_credentials";
    let Some(issuer) = require_issuer(name) else {
        return;
    };
    let u = User::new(&issuer).env("FLYTE_AUTH_STORE", "file");
    let cfg = short_pkce(&u);
    let r = u.run(&["--config", &cfg, "login"]);
    assert_eq!(r.code, 0, "{r:?}");
    // Stored: an expired token without a refresh token, so `token` needs a browser login.
    let file = credentials_file(&u);
    let stored = format!(
        r#"{{"version":1,"endpoint":"{}","access_token":"expired-token","token_type":"Bearer","expires_at":1000}}"#,
        u.endpoint()
    );
    std::fs::write(&file, &stored).unwrap();

    // A browser that opens nothing: the login waits.
    let mut t = Terminal::start(&u, &["--config", &cfg, "token"], &[("BROWSER", "true")]);
    t.wait_for("Open this URL in your browser to log in: ");
    t.wait_for(" left (Ctrl-C to cancel)");
    let screen = t.screen();
    assert!(
        screen.contains("Waiting for the login in the browser… 1:5")
            || screen.contains("Waiting for the login in the browser… 2:00"),
        "a countdown from the 2-minute limit: {screen:?}"
    );
    t.type_in(b"\x03");
    let (code, screen) = t.finish();
    assert_eq!(code, 130, "{screen:?}");
    assert!(
        screen.contains("\r\x1b[2KLogin cancelled.\r\n"),
        "the progress line is cleared, then one line: {screen:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        stored,
        "the stored credentials are untouched"
    );
}

/// The login URL the terminal shows in a paste login.
fn login_url(t: &Terminal) -> String {
    t.wait_for("paste it here and press Enter.");
    let screen = t.screen();
    let start = screen.find("  http").expect("the URL line") + 2;
    screen[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// Replaces the value of one query parameter of `url`.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut u = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name {
                value.to_string()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    u.query_pairs_mut().clear().extend_pairs(pairs);
    u.to_string()
}

#[test]
fn paste_login_from_a_remote_shell() {
    let Some(issuer) = require_issuer("paste_login_from_a_remote_shell") else {
        return;
    };
    let u = User::new(&issuer).env("FLYTE_AUTH_STORE", "file");
    let cfg = u.config("pkce", PKCE);
    let cfg = cfg.to_str().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();

    let mut t = Terminal::start(&u, &["--config", cfg, "--no-browser", "login"], &[]);
    let url = login_url(&t);
    // The browser on the other machine ends on the loopback address, which does not load there.
    let landed = rt
        .block_on(auth_testkit::idp::remote_browser(&url))
        .expect("the remote browser logs in")
        .to_string();
    assert!(
        landed.contains("code=") && landed.contains("iss="),
        "{landed}"
    );
    // An address from another attempt is refused, and the login goes on.
    t.type_in(format!("{}\n", with_param(&landed, "state", "another-attempt")).as_bytes());
    t.wait_for("does not belong to this login");
    t.type_in(format!("{landed}\n").as_bytes());
    let (code, screen) = t.finish();
    assert_eq!(code, 0, "{screen:?}");
    assert!(screen.contains("Logged in to"), "{screen:?}");
    assert!(
        !screen.contains("Waiting for the login"),
        "no spinner over the typing: {screen:?}"
    );
    let r = u.run(&["--config", cfg, "status"]);
    assert_eq!(r.code, 0, "stored: {r:?}");

    // A bare code works too.
    let mut t = Terminal::start(&u, &["--config", cfg, "--no-browser", "login"], &[]);
    let url = login_url(&t);
    let landed = rt
        .block_on(auth_testkit::idp::remote_browser(&url))
        .unwrap();
    let code_param = landed
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    t.type_in(format!("{code_param}\n").as_bytes());
    let (code, screen) = t.finish();
    assert_eq!(code, 0, "{screen:?}");
}

#[test]
fn a_pasted_address_from_another_issuer_is_refused() {
    let Some(issuer) = require_issuer("a_pasted_address_from_another_issuer_is_refused") else {
        return;
    };
    let u = User::new(&issuer);
    let cfg = u.config("pkce", PKCE);
    let cfg = cfg.to_str().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut t = Terminal::start(
        &u,
        &[
            "--config",
            cfg,
            "--store",
            "memory",
            "--no-browser",
            "login",
        ],
        &[],
    );
    let url = login_url(&t);
    let landed = rt
        .block_on(auth_testkit::idp::remote_browser(&url))
        .unwrap()
        .to_string();
    t.type_in(format!("{}\n", with_param(&landed, "iss", "https://evil.example")).as_bytes());
    let (code, screen) = t.finish();
    assert_eq!(code, 1, "{screen:?}");
    assert!(screen.contains("mix-up"), "{screen:?}");
}

#[test]
fn the_loopback_redirect_still_wins_when_nothing_is_pasted() {
    let Some(issuer) = require_issuer("the_loopback_redirect_still_wins_when_nothing_is_pasted")
    else {
        return;
    };
    let u = User::new(&issuer);
    let cfg = u.config("pkce", PKCE);
    let cfg = cfg.to_str().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let t = Terminal::start(
        &u,
        &[
            "--config",
            cfg,
            "--store",
            "memory",
            "--no-browser",
            "login",
        ],
        &[],
    );
    let url = login_url(&t);
    let outcome = rt
        .block_on(auth_testkit::idp::play_browser(&url))
        .expect("the local browser reaches the listener");
    assert_eq!(outcome.status, 200, "{}", outcome.body);
    let (code, screen) = t.finish();
    assert_eq!(code, 0, "{screen:?}");
}
