//! `cargo xtask bench`: every benchmark, then one table of medians and ratios.
//!
//! Criterion benches write `target/criterion/<group>/<bench>/new/estimates.json`; in each
//! group the bench whose name starts with `baseline` is the baseline that the other rows are
//! divided by. Speed targets are checked here, never by timed assertions in tests. Then the
//! token bench prints the side-by-side acquisition table (`FLYTE_AUTH_BENCH=table`).

use std::path::{Path, PathBuf};

use crate::Result;
use crate::env::{root, step};

/// (package, bench target) pairs, run when the bench file exists.
const BENCHES: &[(&str, &str, &str)] = &[
    ("auth-core", "engine", "crates/auth-core/benches/engine.rs"),
    ("auth-command", "run", "crates/auth-command/benches/run.rs"),
    (
        "auth-oauth2",
        "token",
        "crates/auth-oauth2/benches/token.rs",
    ),
    (
        "auth-keyring",
        "keyring",
        "crates/auth-keyring/benches/keyring.rs",
    ),
    ("auth-tower", "layer", "crates/auth-tower/benches/layer.rs"),
    (
        "auth-cli",
        "token_command",
        "crates/auth-cli/benches/token_command.rs",
    ),
];

pub(crate) fn run(args: &[String]) -> Result {
    let criterion_dir = root().join("target/criterion");
    let _ = std::fs::remove_dir_all(&criterion_dir);
    crate::env::ensure_debian_packages()?;
    for (pkg, bench, file) in BENCHES {
        if !root().join(file).is_file() {
            eprintln!("xtask bench: {pkg}/{bench} has no bench file yet; skipped");
            continue;
        }
        let mut argv = vec![
            "cargo", "bench", "--locked", "-p", pkg, "--bench", bench, "--",
        ];
        argv.extend(args.iter().map(String::as_str));
        step(&format!("bench {pkg}/{bench}"), &argv, &[])?;
    }
    print_table(&criterion_dir);
    // The performance issue's table: a separate server process, pinned CPUs, interleaved
    // rounds, client CPU time, ratios against raw reqwest and oauth2-rs (and instruction
    // counts when valgrind is installed). See crates/auth-oauth2/benches/token/table.rs.
    step(
        "bench auth-oauth2/token (side-by-side table)",
        &[
            "cargo",
            "bench",
            "--locked",
            "-p",
            "auth-oauth2",
            "--bench",
            "token",
        ],
        &[("FLYTE_AUTH_BENCH", "table")],
    )?;
    Ok(())
}

struct Row {
    group: String,
    name: String,
    median_ns: f64,
}

fn print_table(dir: &Path) {
    let mut files = Vec::new();
    collect(dir, &mut files);
    let mut rows: Vec<Row> = files
        .iter()
        .filter_map(|f| {
            let rel = f.strip_prefix(dir).ok()?;
            let parts: Vec<String> = rel
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            // <group>/<bench...>/new/estimates.json
            if parts.len() < 4 || parts[parts.len() - 2] != "new" {
                return None;
            }
            let json: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(f).ok()?).ok()?;
            Some(Row {
                group: parts[0].clone(),
                name: parts[1..parts.len() - 2].join("/"),
                median_ns: json["median"]["point_estimate"].as_f64()?,
            })
        })
        .collect();
    rows.sort_by(|a, b| (&a.group, &a.name).cmp(&(&b.group, &b.name)));
    println!(
        "\n{:<28} {:<44} {:>14} {:>10}",
        "group", "bench", "median", "x baseline"
    );
    for r in &rows {
        let base = rows
            .iter()
            .find(|b| b.group == r.group && b.name.starts_with("baseline"))
            .map(|b| b.median_ns);
        let ratio = base.map_or_else(|| "-".to_string(), |b| format!("{:.2}", r.median_ns / b));
        println!(
            "{:<28} {:<44} {:>14} {:>10}",
            r.group,
            r.name,
            human(r.median_ns),
            ratio
        );
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.file_name().is_some_and(|n| n == "estimates.json") {
            out.push(p);
        }
    }
}

fn human(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}
