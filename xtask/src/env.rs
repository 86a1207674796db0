//! The machine: commands, packages, and the test identity provider process.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::Result;

/// The workspace root.
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Runs a command from the workspace root, inheriting stdio; fails if it fails.
pub(crate) fn step(title: &str, argv: &[&str], vars: &[(&str, &str)]) -> Result {
    eprintln!("\n==> {title}: {}", argv.join(" "));
    let started = Instant::now();
    let status = Command::new(argv[0])
        .args(&argv[1..])
        .envs(vars.iter().copied())
        .current_dir(root())
        .status()
        .map_err(|e| format!("could not run {}: {e}", argv[0]))?;
    eprintln!(
        "<== {title}: {status} in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    if status.success() {
        Ok(())
    } else {
        Err(format!("{title} failed ({status})"))
    }
}

/// Whether a program is on PATH.
pub(crate) fn have(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// Debian packages the tests need, by the program that shows each is installed.
const PACKAGES: &[(&str, &str)] = &[
    ("dbus-daemon", "dbus"),
    ("gnome-keyring-daemon", "gnome-keyring"),
    ("secret-tool", "libsecret-tools"),
    ("keyctl", "keyutils"),
    ("node", "nodejs"),
    ("npm", "npm"),
    // The e2e tests run flyte-auth in a pseudo-terminal through util-linux `script`.
    ("script", "bsdutils"),
];

/// Installs the Debian packages whose programs are missing (the tests run as root on CI).
pub(crate) fn ensure_debian_packages() -> Result {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .filter(|(prog, _)| !have(prog))
        .map(|(_, pkg)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !have("apt-get") {
        return Err(format!(
            "missing programs from packages {missing:?} and no apt-get to install them"
        ));
    }
    eprintln!(
        "xtask: installing missing Debian packages: {}",
        missing.join(" ")
    );
    let sudo: &[&str] = if is_root() { &[] } else { &["sudo"] };
    let update: Vec<&str> = sudo
        .iter()
        .copied()
        .chain(["apt-get", "update", "-qq"])
        .collect();
    step("apt-get update", &update, &[])?;
    let mut install: Vec<&str> = sudo
        .iter()
        .copied()
        .chain(["apt-get", "install", "-y", "-qq", "--no-install-recommends"])
        .collect();
    install.extend(missing.iter());
    step(
        "apt-get install",
        &install,
        &[("DEBIAN_FRONTEND", "noninteractive")],
    )
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The directory of the test identity provider (a Node project).
pub(crate) fn idp_dir() -> PathBuf {
    root().join("crates/auth-testkit/idp")
}

/// `npm ci` for the test identity provider when its dependencies are not installed.
pub(crate) fn ensure_idp_dependencies() -> Result {
    let dir = idp_dir();
    if dir
        .join("node_modules/oidc-provider/package.json")
        .is_file()
    {
        return Ok(());
    }
    let started = Instant::now();
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .status()
        .map_err(|e| format!("could not run npm (install nodejs and npm): {e}"))?;
    if !status.success() {
        return Err(format!("npm ci in {} failed ({status})", dir.display()));
    }
    eprintln!(
        "xtask: installed the identity provider's npm dependencies in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// flytekit, installed without its dependencies: the tests load only its keyring module.
const FLYTEKIT: &str = "flytekit==1.16.31";
/// Flyte 2's SDK, installed without its dependencies, for the same reason.
const FLYTE2: &str = "flyte==2.12.1";

/// A Python virtual environment with Python `keyring`, flytekit and flyte for the shared-keyring
/// tests (`tests/python/`), made (or reused, when its pins are unchanged) under the target
/// directory. Returns its `python`.
pub(crate) fn ensure_python_venv() -> Result<PathBuf> {
    let requirements = root().join("tests/python/requirements.txt");
    let pins = std::fs::read_to_string(&requirements)
        .map_err(|e| format!("could not read {}: {e}", requirements.display()))?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let venv = target.join("pyflyte-venv");
    let python = venv.join("bin/python");
    let stamp = venv.join("flyte-auth-pins.txt");
    let want = format!("{pins}\n{FLYTEKIT}\n{FLYTE2}\n");
    if python.is_file() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == want) {
        return Ok(python);
    }
    let started = Instant::now();
    let python3 = if have("python3") { "python3" } else { "python" };
    let venv_str = venv.to_string_lossy().into_owned();
    step(
        "python venv",
        &[python3, "-m", "venv", "--clear", &venv_str],
        &[],
    )
    .map_err(|e| format!("{e}: install Python 3 with venv (Debian: python3-venv)"))?;
    let pip = venv.join("bin/pip").to_string_lossy().into_owned();
    let req = requirements.to_string_lossy().into_owned();
    let quiet = ["--disable-pip-version-check", "-q"];
    let mut argv = vec![pip.as_str(), "install"];
    argv.extend(quiet);
    argv.extend(["-r", req.as_str()]);
    step("pip install keyring", &argv, &[])?;
    let mut argv = vec![pip.as_str(), "install"];
    argv.extend(quiet);
    argv.extend(["--no-deps", FLYTEKIT, FLYTE2]);
    step("pip install flytekit and flyte (no deps)", &argv, &[])?;
    std::fs::write(&stamp, want)
        .map_err(|e| format!("could not write {}: {e}", stamp.display()))?;
    eprintln!(
        "xtask: made the Python test environment in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(python)
}

/// A running test identity provider, stopped (by PID) when dropped.
pub(crate) struct Idp {
    child: Child,
    /// Its issuer URL.
    pub(crate) issuer: String,
}

impl Idp {
    /// Starts `node server.mjs` and waits (up to 20 s) for the issuer line on stdout.
    pub(crate) fn start() -> Result<Idp> {
        Self::start_with(&[])
    }

    /// Starts it with extra environment variables (the knobs in its README).
    pub(crate) fn start_with(vars: &[(&str, &str)]) -> Result<Idp> {
        let log_path = root().join("target/idp.log");
        let _ = std::fs::create_dir_all(root().join("target"));
        let log =
            std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
        let mut child = Command::new("node")
            .arg("server.mjs")
            .current_dir(idp_dir())
            .envs(vars.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|e| format!("could not start node (install nodejs): {e}"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or("no stdout from the identity provider")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
            // Keep reading so the provider never blocks on a full pipe.
            for _ in lines {}
        });
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(Some(Ok(line))) if line.starts_with("http") => Ok(Idp {
                child,
                issuer: line.trim().to_string(),
            }),
            other => {
                let _ = child.kill();
                let _ = child.wait();
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                Err(format!(
                    "the test identity provider did not start ({other:?}); its log:\n{}",
                    log.lines()
                        .rev()
                        .take(20)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect::<Vec<_>>()
                        .join("\n")
                ))
            }
        }
    }

    /// Its process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until it exits.
    pub(crate) fn wait(mut self) {
        let _ = self.child.wait();
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private D-Bus session bus with an unlocked gnome-keyring, stopped (by PID) when dropped.
pub(crate) struct SecretService {
    bus_pid: String,
    keyring: Child,
    bus_address: String,
    runtime_dir: PathBuf,
    data_dir: PathBuf,
}

impl SecretService {
    /// Starts the bus and the keyring and waits (up to 5 s) until the Secret Service answers.
    pub(crate) fn start() -> Result<SecretService> {
        let base = std::env::temp_dir().join(format!("flyte-auth-keyring-{}", std::process::id()));
        let runtime_dir = base.join("run");
        let data_dir = base.join("data");
        for d in [&runtime_dir, &data_dir] {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        let out = Command::new("dbus-daemon")
            .args([
                "--session",
                "--fork",
                "--nopidfile",
                "--print-address=1",
                "--print-pid=1",
            ])
            .env("XDG_RUNTIME_DIR", &runtime_dir)
            .output()
            .map_err(|e| format!("could not start dbus-daemon (install dbus): {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        let (Some(bus_address), Some(bus_pid)) = (lines.next(), lines.next()) else {
            return Err(format!(
                "dbus-daemon printed no address: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        };
        let (bus_address, bus_pid) = (bus_address.trim().to_string(), bus_pid.trim().to_string());
        let spawned = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", &bus_address)
            .env("XDG_RUNTIME_DIR", &runtime_dir)
            .env("XDG_DATA_HOME", &data_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let mut keyring = match spawned {
            Ok(child) => child,
            Err(e) => {
                let _ = Command::new("kill").arg(&bus_pid).status();
                return Err(format!(
                    "could not start gnome-keyring-daemon (install gnome-keyring): {e}"
                ));
            }
        };
        if let Some(mut stdin) = keyring.stdin.take() {
            use std::io::Write;
            let _ = stdin.write_all(b"flyte-auth-demo");
        }
        let service = SecretService {
            bus_pid,
            keyring,
            bus_address,
            runtime_dir,
            data_dir,
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let owned = Command::new("dbus-send")
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.freedesktop.secrets",
                ])
                .env("DBUS_SESSION_BUS_ADDRESS", &service.bus_address)
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("boolean true"));
            if owned {
                return Ok(service);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err("the Secret Service did not appear on the private bus within 5 s".into())
    }

    /// The environment that points a program at this keyring.
    pub(crate) fn vars(&self) -> Vec<(String, String)> {
        vec![
            ("DBUS_SESSION_BUS_ADDRESS".into(), self.bus_address.clone()),
            (
                "XDG_RUNTIME_DIR".into(),
                self.runtime_dir.display().to_string(),
            ),
            ("XDG_DATA_HOME".into(), self.data_dir.display().to_string()),
        ]
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        let _ = self.keyring.kill();
        let _ = self.keyring.wait();
        let _ = Command::new("kill").arg(&self.bus_pid).status();
        if let Some(base) = self.runtime_dir.parent() {
            let _ = std::fs::remove_dir_all(base);
        }
    }
}
