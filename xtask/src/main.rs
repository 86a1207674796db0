//! `cargo xtask`: the project's automation, in Rust.
//!
//! - `cargo xtask ci`    everything CI runs, in order: fmt, clippy, docs, deps, the facade's
//!   feature sets, then `test`, then a fuzz smoke (20 s per target).
//! - `cargo xtask test`  installs what is missing, starts the real identity provider, runs the
//!   whole workspace's tests (real keyring tests included), stops the provider.
//! - `cargo xtask demo`  the main job end to end: the `flyte-auth` command through every flow.
//! - `cargo xtask bench` criterion benches and the CLI wall-time bench, as one table.
//! - `cargo xtask buildtime` cold release builds of a client-credentials program: flyte-auth,
//!   oauth2-rs and raw reqwest, crates and wall time.
//! - `cargo xtask deps`  fails on any dependency arrow DESIGN.md §1 does not allow.
//! - `cargo xtask fuzz`  every fuzz target in fuzz/ for a bounded time (default 60 s each).
//! - `cargo xtask idp`   runs the test identity provider in the foreground, for humans.

mod bench;
mod buildtime;
mod demo;
mod deps;
mod env;
mod fuzz;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cmd = args.first().map(String::as_str).unwrap_or("help");
    let rest = &args[args.len().min(1)..];
    let result = match cmd {
        "ci" => ci(),
        "test" => test(rest),
        "demo" => demo::run(),
        "bench" => bench::run(rest),
        "buildtime" => buildtime::run(),
        "deps" => deps::run(),
        "fuzz" => fuzz::run(rest),
        "idp" => idp(),
        _ => {
            eprintln!(
                "usage: cargo xtask <ci|test|demo|bench|buildtime|deps|fuzz|idp>\n\n\
                 ci     fmt, clippy, docs, deps, then all tests (what .ci/run runs)\n\
                 test   all tests, with the real identity provider and keyring started here\n\
                 demo   the flyte-auth command through every flow against a local provider\n\
                 bench  benchmarks, printed as one table\n\
                 buildtime  cold release builds: flyte-auth clientcreds vs oauth2-rs vs reqwest\n\
                 deps   check the crate dependency arrows of DESIGN.md §1\n\
                 fuzz   [SECONDS] [TARGET...] run the fuzz targets (default 60 s each)\n\
                 idp    run the test identity provider in the foreground"
            );
            return if cmd == "help" || cmd == "--help" {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {cmd}: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T = ()> = std::result::Result<T, String>;

fn ci() -> Result {
    env::step(
        "cargo fmt --check",
        &["cargo", "fmt", "--all", "--", "--check"],
        &[],
    )?;
    env::step(
        "cargo clippy",
        &[
            "cargo",
            "clippy",
            "--locked",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    env::step(
        "cargo doc",
        &[
            "cargo",
            "doc",
            "--locked",
            "--workspace",
            "--all-features",
            "--no-deps",
        ],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    deps::run()?;
    features()?;
    test(&[])?;
    // Last: a short smoke of every fuzz target (its own build, with libFuzzer).
    fuzz::smoke()
}

/// The facade with no feature, each feature alone, and all of them: feature unification in
/// the workspace build cannot hide a missing `#[cfg]` or dependency feature this way.
fn features() -> Result {
    const SETS: &[&str] = &[
        "",
        "pkce",
        "device",
        "clientcreds",
        "private-key-jwt",
        "clientcreds,config",
        "command",
        "keyring",
        "store",
        "config",
        "secrets",
        "exchange",
        "qr",
        "tower",
        "config,tower",
        "full",
    ];
    for set in SETS {
        let mut argv = vec![
            "cargo",
            "clippy",
            "--locked",
            "-q",
            "-p",
            "flyte-auth",
            "--no-default-features",
        ];
        if !set.is_empty() {
            argv.extend(["--features", set]);
        }
        argv.extend(["--", "-D", "warnings"]);
        env::step(&format!("facade features [{set}]"), &argv, &[])?;
    }
    Ok(())
}

/// The README's test command: everything, with real servers.
fn test(extra: &[String]) -> Result {
    env::ensure_debian_packages()?;
    env::ensure_idp_dependencies()?;
    let python = env::ensure_python_venv()?;
    let python = python.to_string_lossy().into_owned();
    // The end-to-end tests run the built binaries (flyte-auth, auth-test-browser): build them
    // first, so a test never runs a stale one.
    env::step(
        "cargo build --bins",
        &[
            "cargo",
            "build",
            "--locked",
            "--workspace",
            "--all-features",
            "--bins",
        ],
        &[],
    )?;
    let idp = env::Idp::start()?;
    eprintln!("xtask: test identity provider at {}", idp.issuer);
    let mut args: Vec<&str> = vec![
        "cargo",
        "test",
        "--locked",
        "--workspace",
        "--all-features",
        "--no-fail-fast",
    ];
    args.extend(extra.iter().map(String::as_str));
    let vars = [
        ("FLYTE_AUTH_TEST_ISSUER", idp.issuer.as_str()),
        ("FLYTE_AUTH_TEST_KEYRING", "1"),
        ("FLYTE_AUTH_TEST_PYTHON", python.as_str()),
        ("RUST_BACKTRACE", "1"),
    ];
    // keyutils needs a session keyring of its own: run the tests inside a fresh one.
    let wrapped: Vec<&str> = if env::have("keyctl") {
        let mut w = vec!["keyctl", "session", "-"];
        w.extend(args.iter());
        w
    } else {
        args
    };
    let result = env::step(
        "cargo test (with the real identity provider)",
        &wrapped,
        &vars,
    );
    drop(idp);
    result
}

fn idp() -> Result {
    env::ensure_idp_dependencies()?;
    let idp = env::Idp::start()?;
    println!("{}", idp.issuer);
    eprintln!(
        "test identity provider running at {} (pid {}); press Ctrl-C to stop",
        idp.issuer,
        idp.pid()
    );
    idp.wait();
    Ok(())
}
