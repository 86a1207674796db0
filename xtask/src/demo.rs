//! `cargo xtask demo`: the `flyte-auth` command through every flow against the local test
//! identity provider, as a newcomer would run it. Tokens are never shown: the demo prints
//! their length instead.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::Result;
use crate::env::{self, Idp, SecretService, root};

struct Demo {
    bin: PathBuf,
    browser: PathBuf,
    dir: PathBuf,
    issuer: String,
    started: Instant,
    vars: Vec<(String, String)>,
}

pub(crate) fn run() -> Result {
    env::ensure_debian_packages()?;
    env::ensure_idp_dependencies()?;
    env::step(
        "build flyte-auth",
        &[
            "cargo",
            "build",
            "--locked",
            "-p",
            "auth-cli",
            "-p",
            "auth-testkit",
            "--bins",
        ],
        &[],
    )?;
    // The clock starts after the build: the demo's own time is what a newcomer waits for.
    let started = Instant::now();
    let target = root().join("target/debug");
    let t0 = Instant::now();
    let idp = Idp::start()?;
    say(&format!(
        "Test identity provider (oidc-provider) at {} (started in {} ms)",
        idp.issuer,
        t0.elapsed().as_millis()
    ));
    let t0 = Instant::now();
    let keyring = SecretService::start()?;
    say(&format!(
        "Private Secret Service (gnome-keyring) on its own D-Bus session (started in {} ms)",
        t0.elapsed().as_millis()
    ));

    let dir = std::env::temp_dir().join(format!("flyte-auth-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut vars = keyring.vars();
    // Keep the user's own config and keyring out of the demo.
    vars.push(("HOME".into(), dir.display().to_string()));
    let demo = Demo {
        bin: target.join("flyte-auth"),
        browser: target.join("auth-test-browser"),
        dir: dir.clone(),
        issuer: idp.issuer.clone(),
        started,
        vars,
    };
    let result = demo.all();
    drop(keyring);
    drop(idp);
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    say(&format!(
        "Every flow worked. The demo took {:.1} s after the build.",
        demo.started.elapsed().as_secs_f64()
    ));
    Ok(())
}

fn say(s: &str) {
    println!("\n## {s}");
}

impl Demo {
    fn endpoint(&self) -> String {
        self.issuer.trim_start_matches("http://").to_string()
    }

    /// Writes a Flyte config.yaml for the local provider, which also plays the Flyte admin
    /// endpoint for discovery.
    fn config(&self, name: &str, admin: &str) -> Result<PathBuf> {
        let path = self.dir.join(format!("{name}.yaml"));
        let text = format!(
            "admin:\n  endpoint: dns:///{}\n  insecure: true\n{admin}",
            self.endpoint()
        );
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    }

    fn cmd(&self, config: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--config").arg(config).args(args);
        c.envs(self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        c.env("BROWSER", &self.browser);
        c.stdin(Stdio::null());
        c
    }

    /// Runs `flyte-auth`, shows the command line, its stderr, and its stdout with tokens
    /// replaced by their length.
    fn run(&self, config: &Path, args: &[&str], expect: i32) -> Result<Output> {
        println!(
            "\n$ flyte-auth --config {} {}",
            config.file_name().unwrap_or_default().to_string_lossy(),
            args.join(" ")
        );
        let t0 = Instant::now();
        let out = self
            .cmd(config, args)
            .output()
            .map_err(|e| format!("could not run flyte-auth: {e}"))?;
        let ms = t0.elapsed().as_millis();
        for line in String::from_utf8_lossy(&out.stderr).lines() {
            println!("  (stderr) {line}");
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        for line in stdout.lines() {
            if args.contains(&"token") && !line.starts_with('{') {
                println!("  (stdout) <access token, {} characters>", line.len());
            } else {
                println!("  (stdout) {line}");
            }
        }
        let code = out.status.code().unwrap_or(-1);
        println!("  exit {code} in {ms} ms");
        if code != expect {
            return Err(format!(
                "flyte-auth {} exited {code}, expected {expect}",
                args.join(" ")
            ));
        }
        Ok(out)
    }

    fn token(&self, config: &Path) -> Result<String> {
        let out = self.run(config, &["token"], 0)?;
        let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if token.is_empty() {
            return Err("flyte-auth token printed nothing".into());
        }
        Ok(token)
    }

    fn all(&self) -> Result {
        let secret_file = self.dir.join("cc-secret");
        std::fs::write(&secret_file, "cc-basic-secret\n").map_err(|e| e.to_string())?;

        say("1. Client credentials: a service authenticates with its client id and secret");
        let cc = self.config(
            "client-credentials",
            &format!("  authType: ClientSecret\n  clientId: cc-basic\n  clientSecretLocation: {}\n  scopes: []\n", secret_file.display()),
        )?;
        self.run(&cc, &["config"], 0)?;
        self.token(&cc)?;

        say("2. External command: any program that prints a token (here: flyte-auth itself)");
        let command = self.config(
            "external-command",
            &format!(
                "  authType: ExternalCommand\n  command: [\"{}\", \"--config\", \"{}\", \"token\"]\n",
                self.bin.display(),
                cc.display()
            ),
        )?;
        self.token(&command)?;

        say(
            "3. Device flow: log in from a terminal without a browser; the demo approves as the user",
        );
        let device = self.config("device", "  authType: DeviceFlow\n  clientId: flyte-cli\n")?;
        self.device_login(&device)?;
        self.run(&device, &["status"], 0)?;

        say("4. PKCE: browser login; $BROWSER is the demo's headless browser");
        let pkce = self.config("pkce", "  authType: Pkce\n  clientId: flyte-cli\n")?;
        self.run(&pkce, &["login"], 0)?;
        self.run(&pkce, &["status"], 0)?;
        say("   The next process reads the token from the keyring: no request, no browser");
        self.token(&pkce)?;

        say("5. Refresh after expiry: 2-second tokens (client flyte-cli-short)");
        let short = self.config("short", "  authType: Pkce\n  clientId: flyte-cli-short\n")?;
        self.run(&short, &["login"], 0)?;
        let first = self.token(&short)?;
        println!("\n  (waiting 3 s for the access token to expire)");
        std::thread::sleep(Duration::from_secs(3));
        let second = self.token(&short)?;
        if first == second {
            return Err("the token was not refreshed after it expired".into());
        }
        println!("  the refresh grant replaced the expired token without a browser");

        say("6. Logout: the stored credentials are deleted; status exits 1");
        self.run(&pkce, &["logout"], 0)?;
        self.run(&pkce, &["status"], 1)?;
        self.run(&pkce, &["--non-interactive", "token"], 1)?;
        Ok(())
    }

    /// Runs `flyte-auth -o json login`, reads the device prompt from its stderr and approves
    /// it over HTTP like the user's browser would.
    fn device_login(&self, config: &Path) -> Result {
        println!(
            "\n$ flyte-auth --config {} -o json login",
            config.file_name().unwrap_or_default().to_string_lossy()
        );
        let t0 = Instant::now();
        let mut child = self
            .cmd(config, &["-o", "json", "login"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("could not run flyte-auth: {e}"))?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let mut approved = false;
        for line in BufReader::new(stderr)
            .lines()
            .map_while(std::result::Result::ok)
        {
            println!("  (stderr) {line}");
            if approved {
                continue;
            }
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if v["event"] == "device_authorization" {
                let uri = v["verification_uri_complete"]
                    .as_str()
                    .ok_or("no verification_uri_complete in the prompt")?;
                println!(
                    "  (demo) approving user code {} as the user",
                    v["user_code"].as_str().unwrap_or("?")
                );
                let status = Command::new(&self.browser)
                    .args(["--approve-device", uri])
                    .status()
                    .map_err(|e| format!("could not run auth-test-browser: {e}"))?;
                if !status.success() {
                    let _ = child.kill();
                    return Err("approving the device code failed".into());
                }
                approved = true;
            }
        }
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            println!("  (stdout) {line}");
        }
        println!(
            "  exit {} in {} ms",
            out.status.code().unwrap_or(-1),
            t0.elapsed().as_millis()
        );
        if !out.status.success() {
            return Err("device login failed".into());
        }
        Ok(())
    }
}
