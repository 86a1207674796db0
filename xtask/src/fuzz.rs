//! `cargo xtask fuzz [SECONDS] [TARGET...]`: every fuzz target in `fuzz/` (cargo-fuzz,
//! libFuzzer), one at a time, each for a bounded time; `cargo xtask ci` runs a short smoke.
//!
//! - cargo-fuzz is installed into `<target dir>/tools` when missing (pinned version, about 30 s),
//!   so a fresh machine needs nothing else and the binary is cached with the build.
//! - The toolchain is stable: with `--sanitizer none`, cargo-fuzz passes only stable `-C` flags
//!   (coverage instrumentation), so neither nightly nor `RUSTC_BOOTSTRAP` is needed. Memory
//!   safety is Rust's (the crates forbid `unsafe`); debug assertions and overflow checks are on
//!   (`-a`), so arithmetic overflow is a crash.
//! - Each run starts from the seeds in `fuzz/corpus/TARGET` (kept in the repo, never written)
//!   and a working corpus in `<target dir>/fuzz/corpus/TARGET` (kept between runs). A crash,
//!   a hang (one input longer than 10 s) or an out-of-memory fails the step; libFuzzer writes
//!   the input to `fuzz/artifacts/TARGET/`, and that becomes a regression test in the crate.
//! - `fuzz/fuzz.dict` gives libFuzzer the member names, overflow-prone numbers and escape
//!   sequences the parsers care about, so a short run reaches them.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::{Result, env};

/// The cargo-fuzz release installed when missing.
const CARGO_FUZZ_VERSION: &str = "0.13.2";
/// Seconds per target for `cargo xtask fuzz` without an argument.
pub(crate) const DEFAULT_SECONDS: u64 = 60;
/// Seconds per target in `cargo xtask ci`.
pub(crate) const CI_SECONDS: u64 = 20;
/// One input running longer than this (seconds) is a hang.
const HANG_SECONDS: u64 = 10;

/// Every target, in `fuzz/Cargo.toml` order.
const TARGETS: &[&str] = &[
    "token_response",
    "error_response",
    "device_authorization",
    "discovery",
    "callback",
    "jwt",
    "command_output",
    "config",
    "keyring_layout",
    "credential_codec",
];

/// `cargo xtask fuzz [SECONDS] [TARGET...]`.
pub(crate) fn run(args: &[String]) -> Result {
    let mut seconds = DEFAULT_SECONDS;
    let mut targets = Vec::new();
    for arg in args {
        match arg.parse::<u64>() {
            Ok(s) if s > 0 => seconds = s,
            _ if TARGETS.contains(&arg.as_str()) => targets.push(arg.as_str()),
            _ => {
                return Err(format!(
                    "usage: cargo xtask fuzz [SECONDS] [TARGET...]; targets: {}",
                    TARGETS.join(" ")
                ));
            }
        }
    }
    if targets.is_empty() {
        targets = TARGETS.to_vec();
    }
    fuzz(seconds, &targets)
}

/// The CI smoke: every target for [`CI_SECONDS`].
pub(crate) fn smoke() -> Result {
    fuzz(CI_SECONDS, TARGETS)
}

fn fuzz(seconds: u64, targets: &[&str]) -> Result {
    let started = Instant::now();
    let fuzz_dir = env::root().join("fuzz");
    let target_dir = target_dir();
    let cargo_fuzz = ensure_cargo_fuzz(&target_dir)?;
    let fuzz_target_dir = target_dir.join("fuzz");
    let cargo_fuzz = cargo_fuzz.to_string_lossy().into_owned();
    let fuzz_target = fuzz_target_dir.to_string_lossy().into_owned();
    let manifest = fuzz_dir.join("Cargo.toml").to_string_lossy().into_owned();
    env::step(
        "cargo fmt --check (fuzz)",
        &[
            "cargo",
            "fmt",
            "--manifest-path",
            &manifest,
            "--",
            "--check",
        ],
        &[],
    )?;
    let common = [
        "--sanitizer",
        "none",
        "--debug-assertions",
        "--target-dir",
        &fuzz_target,
    ];
    let mut build = vec![cargo_fuzz.as_str(), "fuzz", "build"];
    build.extend(common);
    build.push("--fuzz-dir");
    let fuzz_dir_arg = fuzz_dir.to_string_lossy().into_owned();
    build.push(&fuzz_dir_arg);
    env::step("cargo fuzz build", &build, &[])?;

    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for target in targets {
        let work = fuzz_target_dir.join("corpus").join(target);
        let seeds = fuzz_dir.join("corpus").join(target);
        let artifacts = fuzz_dir.join("artifacts").join(target);
        for dir in [&work, &artifacts] {
            fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let log = fuzz_target_dir.join("logs").join(format!("{target}.log"));
        if let Some(parent) = log.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        let max_time = format!("-max_total_time={seconds}");
        let timeout = format!("-timeout={HANG_SECONDS}");
        let prefix = format!("-artifact_prefix={}/", artifacts.display());
        let dict = format!("-dict={}", fuzz_dir.join("fuzz.dict").display());
        let mut argv: Vec<String> = [cargo_fuzz.as_str(), "fuzz", "run"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        argv.extend(common.iter().map(|s| s.to_string()));
        argv.extend(["--fuzz-dir".to_string(), fuzz_dir_arg.clone()]);
        argv.push(target.to_string());
        argv.push(work.to_string_lossy().into_owned());
        argv.push(seeds.to_string_lossy().into_owned());
        argv.push("--".to_string());
        argv.extend(
            [
                max_time.as_str(),
                timeout.as_str(),
                prefix.as_str(),
                dict.as_str(),
                "-rss_limit_mb=2048",
                "-max_len=65536",
                "-print_final_stats=1",
            ]
            .map(str::to_string),
        );
        eprintln!(
            "\n==> fuzz {target} for {seconds} s (log: {})",
            log.display()
        );
        let log_file =
            fs::File::create(&log).map_err(|e| format!("cannot write {}: {e}", log.display()))?;
        let status = Command::new(&argv[0])
            .args(&argv[1..])
            .current_dir(&fuzz_dir)
            .stdout(Stdio::null())
            .stderr(log_file)
            .status()
            .map_err(|e| format!("could not run cargo-fuzz: {e}"))?;
        let text = fs::read_to_string(&log).unwrap_or_default();
        let runs = stat(&text, "stat::number_of_executed_units:");
        let per_sec = stat(&text, "stat::average_exec_per_sec:");
        let corpus = count_files(&work);
        let verdict = if status.success() { "ok" } else { "FAILED" };
        eprintln!(
            "<== fuzz {target}: {verdict}, {} runs ({} exec/s), corpus {corpus}",
            runs.as_deref().unwrap_or("?"),
            per_sec.as_deref().unwrap_or("?")
        );
        if !status.success() {
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            for line in tail.iter().rev() {
                eprintln!("    {line}");
            }
            eprintln!("    artifacts: {}", artifacts.display());
            failed.push(*target);
        }
        rows.push((target.to_string(), runs, per_sec, corpus, verdict));
    }
    eprintln!(
        "\n{:<22} {:>12} {:>10} {:>8}  result",
        "target", "runs", "exec/s", "corpus"
    );
    for (target, runs, per_sec, corpus, verdict) in &rows {
        eprintln!(
            "{target:<22} {:>12} {:>10} {corpus:>8}  {verdict}",
            runs.as_deref().unwrap_or("?"),
            per_sec.as_deref().unwrap_or("?")
        );
    }
    eprintln!(
        "fuzzing took {:.0} s in all",
        started.elapsed().as_secs_f64()
    );
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "fuzz targets failed: {} (inputs in fuzz/artifacts/; turn each into a regression \
             test in the crate that owns the parser)",
            failed.join(", ")
        ))
    }
}

/// The cargo target directory: `$CARGO_TARGET_DIR`, else `target/` in the workspace.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                env::root().join(dir)
            }
        }
        _ => env::root().join("target"),
    }
}

/// The cached cargo-fuzz binary, installed first when missing.
fn ensure_cargo_fuzz(target_dir: &Path) -> Result<PathBuf> {
    let root = target_dir.join("tools");
    let bin = root.join("bin").join("cargo-fuzz");
    if bin.is_file() {
        return Ok(bin);
    }
    let started = Instant::now();
    let root_arg = root.to_string_lossy().into_owned();
    // A build directory of its own, so the install never disturbs the workspace's.
    let build_dir = target_dir
        .join("tools-build")
        .to_string_lossy()
        .into_owned();
    env::step(
        "cargo install cargo-fuzz",
        &[
            "cargo",
            "install",
            "--locked",
            "cargo-fuzz",
            "--version",
            CARGO_FUZZ_VERSION,
            "--root",
            &root_arg,
        ],
        &[("CARGO_TARGET_DIR", build_dir.as_str())],
    )?;
    eprintln!(
        "xtask: installed cargo-fuzz {CARGO_FUZZ_VERSION} in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let _ = fs::remove_dir_all(target_dir.join("tools-build"));
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "cargo install put no cargo-fuzz at {}",
            bin.display()
        ))
    }
}

/// The value of a libFuzzer final statistic (`-print_final_stats=1`).
fn stat(log: &str, name: &str) -> Option<String> {
    log.lines()
        .rev()
        .find_map(|l| l.strip_prefix(name))
        .map(|v| v.trim().to_string())
}

fn count_files(dir: &Path) -> usize {
    fs::read_dir(dir).map_or(0, |entries| entries.count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_has_a_bin_and_seeds() {
        let fuzz = env::root().join("fuzz");
        let manifest = fs::read_to_string(fuzz.join("Cargo.toml")).expect("fuzz/Cargo.toml");
        for target in TARGETS {
            assert!(
                manifest.contains(&format!("name = \"{target}\"")),
                "fuzz/Cargo.toml has no [[bin]] {target}"
            );
            assert!(
                count_files(&fuzz.join("corpus").join(target)) > 0,
                "fuzz/corpus/{target} holds no seed"
            );
        }
        let bins = manifest.matches("[[bin]]").count();
        assert_eq!(bins, TARGETS.len(), "a [[bin]] missing from TARGETS");
    }

    #[test]
    fn final_stats_are_read() {
        let log = "#1024 DONE cov: 5\nstat::number_of_executed_units: 123456\n\
                   stat::average_exec_per_sec:     6172\n";
        assert_eq!(
            stat(log, "stat::number_of_executed_units:").as_deref(),
            Some("123456")
        );
        assert_eq!(
            stat(log, "stat::average_exec_per_sec:").as_deref(),
            Some("6172")
        );
        assert_eq!(stat(log, "stat::peak_rss_mb:"), None);
    }
}
