//! A private D-Bus session bus with an unlocked gnome-keyring, for tests of real keyrings.
//!
//! [`SecretService::start`] starts `dbus-daemon` and `gnome-keyring-daemon` as child
//! processes with fresh `XDG_RUNTIME_DIR` and `XDG_DATA_HOME` temporary directories, waits
//! until the Secret Service answers, and kills both (by PID) when dropped.
//!
//! A process cannot point a D-Bus library at another bus without changing its environment,
//! and tests may not change theirs (`set_var` is unsafe, and other tests run in parallel
//! threads). So a test that talks to the private bus in-process runs its body in a child
//! process of the test binary, with the bus in the child's environment: see
//! [`run_in_child`] and [`in_child`].
//!
//! ```no_run
//! use std::time::Duration;
//! use auth_testkit::secret_service::{self, SecretService};
//!
//! #[test]
//! fn round_trip() {
//!     const NAME: &str = "real::round_trip";
//!     if secret_service::in_child(NAME) {
//!         // The body: DBUS_SESSION_BUS_ADDRESS points at the private bus.
//!         return;
//!     }
//!     if !secret_service::should_run(NAME, secret_service::PROGRAMS) {
//!         return;
//!     }
//!     let ss = SecretService::start().unwrap();
//!     secret_service::run_in_child(NAME, &[], |c| ss.apply_env(c), Duration::from_secs(60))
//!         .unwrap();
//! }
//! ```
//!
//! Whether such tests run: when the programs they need are on `PATH` they run; when one is
//! missing they print `skipped <name>: ...` and pass, unless `FLYTE_AUTH_TEST_KEYRING=1` is set
//! (as `cargo xtask test` does), which turns a missing program into a failure.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Set to `1` to make a missing program a failure instead of a skip.
pub const REQUIRE_ENV: &str = "FLYTE_AUTH_TEST_KEYRING";
/// Set by [`run_in_child`] in the child to the name of the test it runs.
pub const CHILD_ENV: &str = "FLYTE_AUTH_TEST_CHILD";
/// Set by [`SecretService::apply_env`] to the PID of `gnome-keyring-daemon`.
pub const KEYRING_PID_ENV: &str = "FLYTE_AUTH_TEST_KEYRING_PID";
/// The password of the private keyring.
pub const PASSWORD: &str = "flyte-auth-test";

/// The programs a Secret Service test needs, with the Debian package of each.
pub const PROGRAMS: &[(&str, &str)] = &[
    ("dbus-daemon", "dbus"),
    ("dbus-send", "dbus"),
    ("gnome-keyring-daemon", "gnome-keyring"),
    ("secret-tool", "libsecret-tools"),
];

/// The programs a keyutils test needs, with the Debian package of each.
pub const KEYUTILS_PROGRAMS: &[(&str, &str)] = &[("keyctl", "keyutils")];

/// How long [`SecretService::start`] waits for the service to answer.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one helper command (`dbus-send`, `kill`) may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether `FLYTE_AUTH_TEST_KEYRING=1` is set.
pub fn required() -> bool {
    std::env::var_os(REQUIRE_ENV).is_some_and(|v| v == "1")
}

/// Whether `program` is an executable file on `PATH`.
pub fn have(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// Whether the test `name` should run, given the programs it needs. When one is missing it
/// prints `skipped <name>: ...` and returns `false`, or panics if [`required`].
pub fn should_run(name: &str, programs: &[(&str, &str)]) -> bool {
    let missing: Vec<String> = programs
        .iter()
        .filter(|(program, _)| !have(program))
        .map(|(program, package)| format!("{program} (Debian package {package})"))
        .collect();
    if missing.is_empty() {
        return true;
    }
    let why = format!("missing {}", missing.join(", "));
    assert!(!required(), "{name}: {REQUIRE_ENV}=1 but {why}");
    println!("skipped {name}: {why}; set {REQUIRE_ENV}=1 to make this a failure");
    false
}

/// Whether this process is the child that [`run_in_child`] started for the test `name`.
pub fn in_child(name: &str) -> bool {
    std::env::var_os(CHILD_ENV).is_some_and(|v| v == name)
}

/// Runs the test `name` (its full path in this test binary, e.g. `real::round_trip`) again,
/// alone, in a child process of this test binary: `configure` sets the child's environment,
/// and `wrapper` (e.g. `["keyctl", "session", "-"]`) is put in front of the command. The child
/// sees [`CHILD_ENV`] set to `name`, so [`in_child`] tells it to run the body.
///
/// Returns the child's output, each line prefixed with `child| `. Fails (with that output)
/// when the child fails, when it did not run exactly one test (a wrong `name`), or when it
/// has not finished after `timeout` (then it is killed).
pub fn run_in_child(
    name: &str,
    wrapper: &[&str],
    configure: impl FnOnce(&mut Command),
    timeout: Duration,
) -> Result<String, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the test binary: {e}"))?;
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    command
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, name)
        .stdin(Stdio::null());
    configure(&mut command);
    let (status, stdout, stderr) = run_with_timeout(&mut command, timeout)?;
    let output = prefix_lines(&stdout, &stderr);
    let ran_one = stdout.contains("1 passed") || stdout.contains("1 failed");
    match status {
        Some(s) if s.success() && ran_one => Ok(output),
        Some(s) if s.success() => Err(format!(
            "the child ran no test called {name:?} (wrong name?):\n{output}"
        )),
        Some(s) => Err(format!("the child running {name} failed ({s}):\n{output}")),
        None => Err(format!(
            "the child running {name} did not finish within {timeout:?} and was killed:\n{output}"
        )),
    }
}

fn prefix_lines(stdout: &str, stderr: &str) -> String {
    stdout
        .lines()
        .chain(stderr.lines())
        .map(|l| format!("child| {l}\n"))
        .collect()
}

/// Runs `command` with piped output; `None` status when it was killed at the timeout.
fn run_with_timeout(
    command: &mut Command,
    timeout: Duration,
) -> Result<(Option<std::process::ExitStatus>, String, String), String> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {:?}: {e}", command.get_program()))?;
    let out = reader(child.stdout.take());
    let err = reader(child.stderr.take());
    let status = wait_or_kill(&mut child, timeout);
    let join = |h: std::thread::JoinHandle<String>| h.join().unwrap_or_default();
    Ok((status, join(out), join(err)))
}

/// Waits for `child` up to `timeout`; kills it then (`None`).
fn wait_or_kill(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

fn reader<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut p) = pipe {
            let mut bytes = Vec::new();
            let _ = p.read_to_end(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        text
    })
}

/// Runs a short helper command and returns its stdout, failing on a non-zero exit.
fn helper(command: &mut Command) -> Result<String, String> {
    let program = command.get_program().to_string_lossy().into_owned();
    match run_with_timeout(command, COMMAND_TIMEOUT)? {
        (Some(s), out, _) if s.success() => Ok(out),
        (Some(s), out, err) => Err(format!("{program} failed ({s}): {out}{err}")),
        (None, _, _) => Err(format!(
            "{program} did not finish within {COMMAND_TIMEOUT:?}"
        )),
    }
}

/// Sends SIGSTOP to `pid`: the process keeps its bus name but answers nothing.
pub fn pause_process(pid: u32) -> Result<(), String> {
    signal(pid, rustix::process::Signal::STOP)
}

/// Sends SIGCONT to `pid`.
pub fn resume_process(pid: u32) -> Result<(), String> {
    signal(pid, rustix::process::Signal::CONT)
}

/// Sends SIGTERM to `pid`.
pub fn terminate_process(pid: u32) -> Result<(), String> {
    signal(pid, rustix::process::Signal::TERM)
}

/// Starts another `gnome-keyring-daemon` on the bus and directories of this process's
/// environment (after the first one was stopped), unlocking the keyring with [`PASSWORD`].
/// The returned child is killed when dropped.
pub fn start_keyring_daemon() -> Result<KeyringDaemon, String> {
    let mut child = Command::new("gnome-keyring-daemon")
        .args(["--foreground", "--unlock", "--components=secrets"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start gnome-keyring-daemon: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(PASSWORD.as_bytes());
    }
    let daemon = KeyringDaemon(child);
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        match default_collection() {
            Ok(_) => return Ok(daemon),
            Err(e) if Instant::now() >= deadline => {
                return Err(format!("the new gnome-keyring-daemon did not answer: {e}"));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// A `gnome-keyring-daemon` started by [`start_keyring_daemon`], killed when dropped.
#[derive(Debug)]
pub struct KeyringDaemon(Child);

impl Drop for KeyringDaemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn signal(pid: u32, signal: rustix::process::Signal) -> Result<(), String> {
    let raw = i32::try_from(pid).map_err(|_| format!("bad pid {pid}"))?;
    let pid = rustix::process::Pid::from_raw(raw).ok_or_else(|| format!("bad pid {raw}"))?;
    rustix::process::kill_process(pid, signal).map_err(|e| format!("kill({raw}): {e}"))
}

/// A private D-Bus session bus with an unlocked gnome-keyring. Both processes are killed
/// (by PID) and the temporary directories removed when this is dropped.
#[derive(Debug)]
pub struct SecretService {
    bus: Child,
    keyring: Child,
    address: String,
    runtime_dir: tempfile::TempDir,
    data_dir: tempfile::TempDir,
    paused: AtomicBool,
}

impl SecretService {
    /// Starts the bus and an unlocked keyring (password [`PASSWORD`]) and waits until the
    /// default collection answers.
    pub fn start() -> Result<SecretService, String> {
        let runtime_dir = temp_dir("flyte-auth-run-")?;
        let data_dir = temp_dir("flyte-auth-data-")?;
        // Our own bus configuration: the system's session.conf lets the bus start a second
        // gnome-keyring by D-Bus activation when a client asks for the Secret Service before
        // ours has taken the name, and that one is locked.
        let config = runtime_dir.path().join("bus.conf");
        std::fs::write(&config, bus_config(runtime_dir.path()))
            .map_err(|e| format!("cannot write {}: {e}", config.display()))?;
        let mut bus = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--nopidfile", "--print-address=1"])
            .env("XDG_RUNTIME_DIR", runtime_dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start dbus-daemon (install dbus): {e}"))?;
        let address = match read_first_line(&mut bus) {
            Ok(a) => a,
            Err(e) => {
                let _ = bus.kill();
                let _ = bus.wait();
                return Err(e);
            }
        };
        let log = data_dir.path().join("gnome-keyring.log");
        let log_file = std::fs::File::create(&log)
            .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let keyring = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env("XDG_RUNTIME_DIR", runtime_dir.path())
            .env("XDG_DATA_HOME", data_dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn();
        let mut keyring = match keyring {
            Ok(k) => k,
            Err(e) => {
                let _ = bus.kill();
                let _ = bus.wait();
                return Err(format!(
                    "cannot start gnome-keyring-daemon (install gnome-keyring): {e}"
                ));
            }
        };
        if let Some(mut stdin) = keyring.stdin.take() {
            // The password on stdin, then end of file: --unlock reads until EOF.
            let _ = stdin.write_all(PASSWORD.as_bytes());
        }
        let service = SecretService {
            bus,
            keyring,
            address,
            runtime_dir,
            data_dir,
            paused: AtomicBool::new(false),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match service
                .name_has_owner()
                .and_then(|()| service.default_collection())
            {
                Ok(_) => return Ok(service),
                Err(e) if Instant::now() >= deadline => {
                    let log = std::fs::read_to_string(&log).unwrap_or_default();
                    return Err(format!(
                        "the Secret Service did not answer within {START_TIMEOUT:?}: {e}\n\
                         gnome-keyring-daemon said:\n{log}"
                    ));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    /// The bus address (`DBUS_SESSION_BUS_ADDRESS`).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The PID of `gnome-keyring-daemon`.
    pub fn keyring_pid(&self) -> u32 {
        self.keyring.id()
    }

    /// The PID of `dbus-daemon`.
    pub fn bus_pid(&self) -> u32 {
        self.bus.id()
    }

    /// The environment that points a program at this keyring: `DBUS_SESSION_BUS_ADDRESS`,
    /// `XDG_RUNTIME_DIR`, `XDG_DATA_HOME`, and [`KEYRING_PID_ENV`].
    pub fn envs(&self) -> Vec<(&'static str, OsString)> {
        vec![
            ("DBUS_SESSION_BUS_ADDRESS", OsString::from(&self.address)),
            (
                "XDG_RUNTIME_DIR",
                self.runtime_dir.path().as_os_str().to_owned(),
            ),
            ("XDG_DATA_HOME", self.data_dir.path().as_os_str().to_owned()),
            (
                KEYRING_PID_ENV,
                OsString::from(self.keyring_pid().to_string()),
            ),
        ]
    }

    /// Adds [`envs`](Self::envs) to `command`.
    pub fn apply_env(&self, command: &mut Command) {
        for (k, v) in self.envs() {
            command.env(k, v);
        }
    }

    /// A command for `program` pointed at this keyring.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new(program);
        self.apply_env(&mut c);
        c
    }

    /// Whether `org.freedesktop.secrets` has an owner on the bus (asking the bus itself, so
    /// that the question cannot start a service).
    fn name_has_owner(&self) -> Result<(), String> {
        let out = helper(self.command("dbus-send").args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            "string:org.freedesktop.secrets",
        ]))?;
        if out.contains("boolean true") {
            Ok(())
        } else {
            Err("org.freedesktop.secrets has no owner yet".into())
        }
    }

    /// The object path of the default collection (`ReadAlias("default")`).
    pub fn default_collection(&self) -> Result<String, String> {
        default_collection_with(|c| self.apply_env(c))
    }

    /// Locks the default collection, as a screen lock or a timeout would.
    pub fn lock(&self) -> Result<(), String> {
        lock_with(|c| self.apply_env(c))
    }

    /// Stops `gnome-keyring-daemon` with SIGSTOP: it keeps its bus name and answers nothing.
    pub fn pause(&self) -> Result<(), String> {
        pause_process(self.keyring_pid())?;
        self.paused.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Lets a paused `gnome-keyring-daemon` go on (SIGCONT).
    pub fn resume(&self) -> Result<(), String> {
        resume_process(self.keyring_pid())?;
        self.paused.store(false, Ordering::SeqCst);
        Ok(())
    }

    /// Runs `secret-tool` with `args` against this keyring, `stdin` as its input, and returns
    /// its stdout. `secret-tool lookup` of a missing item is an error.
    pub fn secret_tool(&self, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
        secret_tool_with(|c| self.apply_env(c), args, stdin)
    }
}

/// The object path of the default collection of the Secret Service on the bus of this
/// process's environment (for a test body running in a child).
pub fn default_collection() -> Result<String, String> {
    default_collection_with(|_| {})
}

/// Locks the default collection of the Secret Service on the bus of this process's
/// environment.
pub fn lock() -> Result<(), String> {
    lock_with(|_| {})
}

/// Runs `secret-tool` on the bus of this process's environment; see
/// [`SecretService::secret_tool`].
pub fn secret_tool(args: &[&str], stdin: Option<&str>) -> Result<String, String> {
    secret_tool_with(|_| {}, args, stdin)
}

fn default_collection_with(configure: impl FnOnce(&mut Command)) -> Result<String, String> {
    let mut command = Command::new("dbus-send");
    configure(&mut command);
    let out = helper(command.args([
        "--session",
        "--print-reply",
        "--dest=org.freedesktop.secrets",
        "/org/freedesktop/secrets",
        "org.freedesktop.Secret.Service.ReadAlias",
        "string:default",
    ]))?;
    out.lines()
        .filter_map(|l| l.trim().strip_prefix("object path "))
        .map(|p| p.trim_matches('"').to_string())
        .find(|p| p != "/")
        .ok_or_else(|| format!("no default collection yet: {out}"))
}

fn lock_with(configure: impl Fn(&mut Command)) -> Result<(), String> {
    let collection = default_collection_with(&configure)?;
    let mut command = Command::new("dbus-send");
    configure(&mut command);
    helper(command.args([
        "--session",
        "--print-reply",
        "--dest=org.freedesktop.secrets",
        "/org/freedesktop/secrets",
        "org.freedesktop.Secret.Service.Lock",
        &format!("array:objpath:{collection}"),
    ]))
    .map(drop)
}

fn secret_tool_with(
    configure: impl FnOnce(&mut Command),
    args: &[&str],
    stdin: Option<&str>,
) -> Result<String, String> {
    let mut command = Command::new("secret-tool");
    configure(&mut command);
    command.args(args);
    let Some(input) = stdin else {
        return helper(command.stdin(Stdio::null()));
    };
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start secret-tool: {e}"))?;
    if let Some(mut s) = child.stdin.take() {
        s.write_all(input.as_bytes())
            .map_err(|e| format!("secret-tool stdin: {e}"))?;
    }
    let out = reader(child.stdout.take());
    let err = reader(child.stderr.take());
    let status = wait_or_kill(&mut child, COMMAND_TIMEOUT);
    let (out, err) = (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    );
    match status {
        Some(s) if s.success() => Ok(out),
        Some(s) => Err(format!("secret-tool failed ({s}): {err}")),
        None => Err(format!(
            "secret-tool did not finish within {COMMAND_TIMEOUT:?}"
        )),
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        if self.paused.load(Ordering::SeqCst) {
            let _ = resume_process(self.keyring_pid());
        }
        for child in [&mut self.keyring, &mut self.bus] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A session bus configuration without service activation, listening in `dir`.
fn bus_config(dir: &std::path::Path) -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:dir={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
        dir.display()
    )
}

fn temp_dir(prefix: &str) -> Result<tempfile::TempDir, String> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))
}

/// Reads the first line a child prints on stdout (the bus address), with a timeout.
fn read_first_line(child: &mut Child) -> Result<String, String> {
    let Some(mut stdout) = child.stdout.take() else {
        return Err("dbus-daemon has no stdout".into());
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while let Ok(1) = stdout.read(&mut byte) {
            if byte[0] == b'\n' {
                break;
            }
            line.push(byte[0]);
        }
        let _ = tx.send(String::from_utf8_lossy(&line).trim().to_string());
        // Keep reading (and discarding) so dbus-daemon never blocks on a full pipe.
        let _ = std::io::copy(&mut stdout, &mut std::io::sink());
    });
    match rx.recv_timeout(START_TIMEOUT) {
        Ok(address) if !address.is_empty() => Ok(address),
        Ok(_) => Err("dbus-daemon printed no address".into()),
        Err(_) => Err(format!(
            "dbus-daemon printed no address within {START_TIMEOUT:?}"
        )),
    }
}
