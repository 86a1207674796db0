//! Many `flyte-auth` processes at once for one endpoint (issue 14): one refresh, one login,
//! and a killed lock holder that blocks nobody.

use std::path::{Path, PathBuf};
use std::time::Duration;

use auth_testkit::idp::{TestIdp, require_issuer, stats};
use tests::{Run, User, keyring_available};

/// Access tokens of the rotating client live 20 s; the hard skew is min(10 s, a quarter of
/// the lifetime) = 5 s, so a stored one stops being handed out 15 s after it was issued.
const ROTATING_EXPIRED_AFTER: Duration = Duration::from_secs(16);

fn token_requests(idp: &TestIdp, client: &str) -> u64 {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(stats(idp.issuer()))
        .expect("read /test/stats")
        .token_requests(client)
}

/// A test identity provider of the test's own (its request counters are this test's alone)
/// and a user with a private keyring; `None` (the test is skipped) where either cannot run.
fn own_provider_and_keyring(name: &str) -> Option<(TestIdp, User)> {
    let _shared = require_issuer(name)?;
    if !keyring_available(name) {
        return None;
    }
    let idp = TestIdp::start().expect("start the identity provider");
    let u = User::with_keyring(idp.issuer());
    Some((idp, u))
}

/// Starts `n` processes of `flyte-auth args...` at once and waits for all of them.
fn run_many(u: &User, n: usize, args: &[&str]) -> Vec<Run> {
    let children: Vec<_> = (0..n).map(|_| u.spawn(args)).collect();
    children.into_iter().map(|c| u.wait(c)).collect()
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .count()
}

/// The lock files in the user's runtime directory.
fn lock_files(u: &User) -> Vec<PathBuf> {
    let dir = u
        .runtime_dir()
        .expect("a keyring user")
        .join("flyte-auth/locks");
    std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// Whether some process holds an flock on `path` (util-linux `flock -n`).
fn is_locked(path: &Path) -> bool {
    let status = std::process::Command::new("flock")
        .args(["-n", "-E", "75"])
        .arg(path)
        .arg("true")
        .status()
        .expect("run flock");
    status.code() == Some(75)
}

#[test]
fn sixteen_token_processes_after_expiry_make_one_refresh_request() {
    let name = "sixteen_token_processes_after_expiry_make_one_refresh_request";
    let Some((idp, u)) = own_provider_and_keyring(name) else {
        return;
    };
    let cfg = u.config(
        "rotating",
        "  authType: Pkce\n  redirectUri: http://localhost:0/callback\n  clientId: flyte-cli-rotating\n",
    );
    let cfg = cfg.to_str().unwrap();
    let r = u.run(&["--config", cfg, "login"]);
    assert_eq!(r.code, 0, "{r:?}");

    std::thread::sleep(ROTATING_EXPIRED_AFTER);
    let before = token_requests(&idp, "flyte-cli-rotating");
    let runs = run_many(&u, 16, &["--config", cfg, "--non-interactive", "token"]);
    let after = token_requests(&idp, "flyte-cli-rotating");
    for r in &runs {
        assert_eq!(r.code, 0, "every process got a token: {r:?}");
    }
    assert_eq!(
        after - before,
        1,
        "16 processes, one refresh request at the provider"
    );
    let first = &runs[0].stdout;
    assert!(
        runs.iter().all(|r| &r.stdout == first),
        "all 16 printed the same token"
    );

    // The refresh token stored by that one refresh is the live one: the next refresh works.
    std::thread::sleep(ROTATING_EXPIRED_AFTER);
    let r = u.run(&["--config", cfg, "--non-interactive", "token"]);
    assert_eq!(r.code, 0, "the next refresh works: {r:?}");
    assert_ne!(&r.stdout, first, "a new access token");
    assert_eq!(token_requests(&idp, "flyte-cli-rotating"), after + 1);
}

/// 8 processes running `flyte-auth <subcommand>` at once with no stored login: one browser
/// launch, one code exchange, every process succeeds; returns their runs and the user.
fn eight_at_once_open_one_browser(
    name: &str,
    subcommand: &str,
) -> Option<(Vec<Run>, User, String)> {
    let (idp, u0) = own_provider_and_keyring(name)?;
    let log = u0.home.path().join("browser.log");
    let u = u0.env("AUTH_TEST_BROWSER_LOG", log.to_str().unwrap());
    let cfg = u.config(
        "pkce",
        "  authType: Pkce\n  redirectUri: http://localhost:0/callback\n  clientId: flyte-cli\n",
    );
    let cfg = cfg.to_str().unwrap().to_string();
    let runs = run_many(&u, 8, &["--config", &cfg, subcommand]);
    for r in &runs {
        assert_eq!(r.code, 0, "every `{subcommand}` succeeded: {r:?}");
    }
    assert_eq!(lines(&log), 1, "one browser launch for 8 processes");
    assert_eq!(token_requests(&idp, "flyte-cli"), 1, "one code exchange");
    Some((runs, u, cfg))
}

#[test]
fn eight_processes_that_need_a_login_open_one_browser() {
    let name = "eight_processes_that_need_a_login_open_one_browser";
    let Some((runs, _, _)) = eight_at_once_open_one_browser(name, "token") else {
        return;
    };
    assert!(runs.iter().all(|r| r.stdout == runs[0].stdout));
}

/// The same with `flyte-auth login` itself: logins run one at a time under the store's lock,
/// and a login another process finished while one waited is used.
#[test]
fn eight_parallel_logins_open_one_browser() {
    let name = "eight_parallel_logins_open_one_browser";
    let Some((_, u, cfg)) = eight_at_once_open_one_browser(name, "login") else {
        return;
    };
    let r = u.run(&["--config", &cfg, "--non-interactive", "status"]);
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn a_process_killed_while_it_holds_the_lock_blocks_nobody() {
    let name = "a_process_killed_while_it_holds_the_lock_blocks_nobody";
    let Some((_idp, u0)) = own_provider_and_keyring(name) else {
        return;
    };
    let log = u0.home.path().join("browser.log");
    let u = u0.env("AUTH_TEST_BROWSER_LOG", log.to_str().unwrap());
    let cfg = u.config(
        "pkce",
        "  authType: Pkce\n  redirectUri: http://localhost:0/callback\n  clientId: flyte-cli\n",
    );
    let cfg = cfg.to_str().unwrap();

    // A "browser" that never finishes the login: the process waits for its callback while it
    // holds the lock. The script records its pid (it becomes `sleep`) so the test can end it.
    let marker = u.home.path().join("hung-browser.pid");
    let script = u.file(
        "hung-browser.sh",
        &format!(
            "#!/bin/sh\necho $$ > {}.tmp && mv {0}.tmp {0}\nexec sleep 120\n",
            marker.display()
        ),
    );
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut c = u.command(&["--config", cfg, "token"]);
    c.env("BROWSER", &script);
    let holder = c.spawn().expect("spawn");
    let mut browser_pid = None;
    for _ in 0..600 {
        if let Ok(pid) = std::fs::read_to_string(&marker) {
            browser_pid = Some(pid.trim().to_string());
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let browser_pid = browser_pid.expect("the hung browser was started");
    let locks = lock_files(&u);
    assert_eq!(locks.len(), 1, "{locks:?}");
    assert!(is_locked(&locks[0]), "the waiting process holds the lock");

    let kill = |pid: &str| {
        std::process::Command::new("kill")
            .args(["-9", pid])
            .status()
            .expect("kill");
    };
    kill(&holder.id().to_string());
    let out = holder.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), None, "killed by a signal");
    kill(&browser_pid);
    assert!(!is_locked(&locks[0]), "the kernel released the lock");

    // The next process logs in at once (well within the lock deadline), and the store works.
    let r = u.run(&["--config", cfg, "token"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(lines(&log), 1, "one completed browser login");
    let r = u.run(&["--config", cfg, "--non-interactive", "token"]);
    assert_eq!(r.code, 0, "the login was stored: {r:?}");
}

#[test]
fn disable_keyring_makes_no_keyring_call() {
    let name = "disable_keyring_makes_no_keyring_call";
    let Some(issuer) = require_issuer(name) else {
        return;
    };
    // User::new points DBUS_SESSION_BUS_ADDRESS at a socket that does not exist: any keyring
    // call would log a warning (see a_broken_keyring_never_fails_a_login).
    for (how, u) in [
        (
            "env",
            User::new(&issuer).env("FLYTE_ADMIN_DISABLEKEYRING", "true"),
        ),
        ("file", User::new(&issuer)),
    ] {
        let extra = if how == "file" {
            "  authType: Pkce\n  redirectUri: http://localhost:0/callback\n  clientId: flyte-cli\n  disableKeyring: true\n"
        } else {
            "  authType: Pkce\n  redirectUri: http://localhost:0/callback\n  clientId: flyte-cli\n"
        };
        let cfg = u.config("pkce", extra);
        let r = u.run(&["--config", cfg.to_str().unwrap(), "-v", "login"]);
        assert_eq!(r.code, 0, "{how}: {r:?}");
        assert!(
            !r.stderr.to_lowercase().contains("keyring") && !r.stderr.contains("D-Bus"),
            "{how}: no keyring call, so no keyring message: {}",
            r.stderr
        );
    }
}

/// 8 `flyte-auth token` processes at once with the device flow and nothing stored: one
/// device authorization (one prompt, approved once), and every process prints the same token.
#[test]
fn eight_processes_that_need_a_device_login_show_one_prompt() {
    use std::io::BufRead;

    let name = "eight_processes_that_need_a_device_login_show_one_prompt";
    let Some((idp, u)) = own_provider_and_keyring(name) else {
        return;
    };
    let cfg = u.config("device", "  authType: DeviceFlow\n  clientId: flyte-cli\n");
    let cfg = cfg.to_str().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let mut children = Vec::new();
    let mut readers = Vec::new();
    for _ in 0..8 {
        let mut child = u.spawn(&["--config", cfg, "-o", "json", "token"]);
        let stderr = child.stderr.take().expect("stderr");
        let tx = tx.clone();
        readers.push(std::thread::spawn(move || {
            let mut seen = Vec::new();
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                    && v["event"] == "device_authorization"
                    && let Some(uri) = v["verification_uri_complete"].as_str()
                {
                    let _ = tx.send(uri.to_string());
                }
                seen.push(line);
            }
            seen
        }));
        children.push(child);
    }
    drop(tx);
    let uri = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("one process shows a device prompt");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(auth_testkit::idp::approve_device(&uri, true))
        .expect("approve");
    let mut tokens = Vec::new();
    for (child, reader) in children.into_iter().zip(readers) {
        let r = u.wait(child);
        let stderr = reader.join().expect("reader");
        assert_eq!(r.code, 0, "every process got a token: {r:?} {stderr:?}");
        let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("json");
        tokens.push(v["access_token"].as_str().unwrap_or_default().to_string());
    }
    assert!(
        rx.try_recv().is_err(),
        "only one process showed a device prompt"
    );
    assert!(
        tokens.iter().all(|t| !t.is_empty() && t == &tokens[0]),
        "one token for all"
    );
    let stats = rt.block_on(stats(idp.issuer())).expect("stats");
    assert_eq!(
        stats.device_authorization_requests("flyte-cli"),
        1,
        "one device authorization for 8 processes"
    );
}
