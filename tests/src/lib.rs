//! End-to-end tests of flyte-auth against real servers: the built `flyte-auth` command, the
//! project's test identity provider and a private Secret Service.
//!
//! This library is the harness; the tests are in `tests/e2e`. `cargo xtask test` builds the
//! binaries (as part of `cargo test --workspace`) and exports `FLYTE_AUTH_TEST_ISSUER`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use auth_testkit::secret_service::SecretService;

/// The directory the test binary's sibling binaries are built into (`target/debug`).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    // target/debug/deps/e2e-<hash> -> target/debug
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// A workspace binary. `cargo xtask test` builds every binary before the tests run; a plain
/// `cargo test` may not, so a missing binary is a failure that says what to run.
pub fn binary(package: &str, name: &str) -> PathBuf {
    let path = target_dir().join(name);
    assert!(
        path.is_file(),
        "{} is not built: run `cargo build -p {package} --bin {name}` (cargo xtask test does)",
        path.display()
    );
    path
}

/// One `flyte-auth` user: a home directory, config files, optionally a private keyring.
#[derive(Debug)]
pub struct User {
    /// Home directory (config files live here).
    pub home: tempfile::TempDir,
    /// The identity provider's issuer; it also plays the Flyte admin endpoint.
    pub issuer: String,
    keyring: Option<SecretService>,
    extra_env: Vec<(String, String)>,
}

/// What a run of the command gave.
#[derive(Debug)]
pub struct Run {
    /// Exit code (-1 if killed by a signal).
    pub code: i32,
    /// stdout.
    pub stdout: String,
    /// stderr.
    pub stderr: String,
}

impl Run {
    /// stdout and stderr together, for secret searches.
    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl User {
    /// A user without a keyring (credentials live in memory only).
    pub fn new(issuer: &str) -> Self {
        let home = tempfile::Builder::new()
            .prefix("flyte-auth-e2e-")
            .tempdir()
            .expect("temp dir");
        Self {
            home,
            issuer: issuer.to_string(),
            keyring: None,
            extra_env: Vec::new(),
        }
    }

    /// A user with a private, unlocked gnome-keyring.
    pub fn with_keyring(issuer: &str) -> Self {
        let mut u = Self::new(issuer);
        u.keyring = Some(SecretService::start().expect("start a private Secret Service"));
        u
    }

    /// The private keyring's `XDG_RUNTIME_DIR` (where the cross-process lock files live),
    /// if this user has a keyring.
    pub fn runtime_dir(&self) -> Option<PathBuf> {
        let keyring = self.keyring.as_ref()?;
        keyring
            .envs()
            .into_iter()
            .find(|(k, _)| *k == "XDG_RUNTIME_DIR")
            .map(|(_, v)| PathBuf::from(v))
    }

    /// `program args...` pointed at this user's home and private keyring (for the Python
    /// side of the shared-keyring tests).
    pub fn other_command(&self, program: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(program);
        c.args(args)
            .stdin(Stdio::null())
            .env("HOME", self.home.path());
        if let Some(k) = &self.keyring {
            k.apply_env(&mut c);
        }
        c
    }

    /// Starts `flyte-auth args...` without waiting, stdout and stderr piped.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn flyte-auth")
    }

    /// Waits for a child started with [`spawn`](Self::spawn) (at most 60 s).
    pub fn wait(&self, child: std::process::Child) -> Run {
        let out = wait_with_timeout(child, Duration::from_secs(60));
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Adds an environment variable to every run.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.extra_env.push((key.to_string(), value.to_string()));
        self
    }

    /// The Flyte endpoint (host:port of the test identity provider).
    pub fn endpoint(&self) -> String {
        self.issuer.trim_start_matches("http://").to_string()
    }

    /// Writes `<name>.yaml` with an `admin:` section for the local endpoint plus `admin`.
    pub fn config(&self, name: &str, admin: &str) -> PathBuf {
        let path = self.home.path().join(format!("{name}.yaml"));
        let text = format!(
            "admin:\n  endpoint: dns:///{}\n  insecure: true\n{admin}",
            self.endpoint()
        );
        std::fs::write(&path, text).expect("write config");
        path
    }

    /// Writes a file in the home directory.
    pub fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.home.path().join(name);
        std::fs::write(&path, contents).expect("write file");
        path
    }

    /// The command with a clean environment: no FLYTE_*, CI or KUBERNETES_SERVICE_HOST from
    /// the outside, this user's home, keyring and $BROWSER.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(binary("auth-cli", "flyte-auth"));
        c.args(args).stdin(Stdio::null());
        for (k, _) in std::env::vars() {
            // CI and KUBERNETES_SERVICE_HOST would make the command refuse browser logins
            // (no terminal here); these tests play the person with auth-test-browser.
            if k.starts_with("FLYTE")
                || k == "BROWSER"
                || k == "DBUS_SESSION_BUS_ADDRESS"
                || k == "CI"
                || k == "KUBERNETES_SERVICE_HOST"
            {
                c.env_remove(k);
            }
        }
        c.env("HOME", self.home.path());
        c.env("BROWSER", binary("auth-testkit", "auth-test-browser"));
        match &self.keyring {
            Some(k) => k.apply_env(&mut c),
            // No session bus: the keyring fails fast and the command keeps tokens in memory.
            None => {
                c.env(
                    "DBUS_SESSION_BUS_ADDRESS",
                    "unix:path=/nonexistent/flyte-auth-e2e",
                );
            }
        }
        c.envs(self.extra_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        c
    }

    /// Runs `flyte-auth args...` to completion (at most 60 s).
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_command(self.command(args))
    }

    /// Runs a prepared command to completion (at most 60 s).
    pub fn run_command(&self, mut c: Command) -> Run {
        let child = c
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn flyte-auth");
        let out = wait_with_timeout(child, Duration::from_secs(60));
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

fn wait_with_timeout(child: std::process::Child, limit: Duration) -> Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => panic!("waiting for flyte-auth failed: {e}"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("flyte-auth did not finish within {limit:?} (killed pid {pid})");
        }
    }
}

/// Whether the keyring tests can run here (prints `skipped` and returns false if not).
pub fn keyring_available(test: &str) -> bool {
    auth_testkit::secret_service::should_run(test, auth_testkit::secret_service::PROGRAMS)
}
