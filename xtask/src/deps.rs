//! `cargo xtask deps`: the dependency arrows of DESIGN.md §1, checked.

use std::collections::BTreeMap;
use std::process::Command;

use crate::Result;
use crate::env::root;

/// Our crates and the crates of ours each may depend on (normal and build dependencies).
const ALLOWED: &[(&str, &[&str])] = &[
    ("security-model", &[]),
    ("auth-core", &["security-model"]),
    ("auth-oauth2", &["auth-core", "security-model"]),
    ("auth-pkce", &["auth-core", "auth-oauth2", "security-model"]),
    (
        "auth-device",
        &["auth-core", "auth-oauth2", "security-model"],
    ),
    (
        "auth-clientcreds",
        &["auth-core", "auth-oauth2", "security-model"],
    ),
    (
        "auth-exchange",
        &["auth-core", "auth-oauth2", "security-model"],
    ),
    ("auth-command", &["auth-core", "security-model"]),
    (
        "auth-keyring",
        &["auth-core", "auth-store", "security-model"],
    ),
    ("auth-store", &["auth-core", "security-model"]),
    ("auth-config", &["auth-core", "security-model"]),
    ("auth-secrets", &["security-model"]),
    (
        "auth-tower",
        &["auth-core", "auth-oauth2", "security-model"],
    ),
    (
        "flyte-auth",
        &[
            "security-model",
            "auth-core",
            "auth-oauth2",
            "auth-pkce",
            "auth-device",
            "auth-clientcreds",
            "auth-exchange",
            "auth-command",
            "auth-keyring",
            "auth-store",
            "auth-config",
            "auth-tower",
            "auth-secrets",
        ],
    ),
    ("auth-cli", &["flyte-auth"]),
    ("auth-testkit", &["auth-core", "security-model"]),
    ("tests", &["*"]),
    ("xtask", &[]),
];

/// Third-party crates that must not be in a crate's normal dependency tree.
const FORBIDDEN: &[(&str, &[&str], &str)] = &[
    (
        "security-model",
        &["tokio", "reqwest", "hyper"],
        "security-model does no I/O",
    ),
    (
        "auth-core",
        &["reqwest", "hyper"],
        "auth-core has no HTTP client",
    ),
    (
        "auth-command",
        &["reqwest", "hyper"],
        "the command flow compiles no HTTP stack",
    ),
    (
        "auth-config",
        &["reqwest", "hyper"],
        "auth-config performs no HTTP",
    ),
    (
        "auth-keyring",
        &["reqwest", "hyper"],
        "auth-keyring performs no HTTP",
    ),
    (
        "auth-store",
        &["reqwest", "hyper", "keyring-core", "dbus"],
        "auth-store compiles no HTTP stack and no keyring library",
    ),
    (
        "auth-secrets",
        &["tokio", "reqwest", "hyper"],
        "auth-secrets reads variables and files only",
    ),
];

/// Facade feature sets and what they must not compile.
const FACADE: &[(&str, &[&str], &str)] = &[
    (
        "store",
        &["reqwest", "hyper", "keyring-core", "dbus", "auth-keyring"],
        "`store` (the file store) compiles no HTTP stack and no keyring or D-Bus library",
    ),
    (
        "command",
        &["reqwest", "hyper", "webbrowser", "keyring-core"],
        "`command` alone compiles no HTTP stack",
    ),
    (
        "clientcreds",
        &[
            "auth-pkce",
            "hyper/server",
            "webbrowser",
            "keyring-core",
            "auth-keyring",
        ],
        "`clientcreds` alone compiles no HTTP server, keyring or browser launcher",
    ),
    (
        "secrets",
        &["reqwest", "hyper", "keyring-core", "webbrowser"],
        "`secrets` alone compiles no HTTP stack, keyring or browser launcher",
    ),
];

pub(crate) fn run() -> Result {
    let out = Command::new("cargo")
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(root())
        .output()
        .map_err(|e| format!("cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata output: {e}"))?;
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let ours: Vec<String> = meta["packages"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let mut problems = Vec::new();
    for pkg in meta["packages"].as_array().into_iter().flatten() {
        let name = pkg["name"].as_str().unwrap_or_default();
        let Some(ok) = allowed.get(name) else {
            problems.push(format!(
                "{name}: not in the crate map of DESIGN.md §1 (add it to xtask/src/deps.rs)"
            ));
            continue;
        };
        for dep in pkg["dependencies"].as_array().into_iter().flatten() {
            let dep_name = dep["name"].as_str().unwrap_or_default();
            if !ours.iter().any(|o| o == dep_name) {
                continue;
            }
            let kind = dep["kind"].as_str().unwrap_or("normal");
            let permitted = ok.contains(&"*")
                || ok.contains(&dep_name)
                || (kind == "dev" && (dep_name == "auth-testkit" || dep_name == "auth-core"));
            if !permitted {
                problems.push(format!(
                    "{name} -> {dep_name} ({kind}): not an arrow of DESIGN.md §1"
                ));
            }
        }
    }
    for (krate, banned, why) in FORBIDDEN {
        let tree = tree(&["-p", krate])?;
        for b in *banned {
            if tree.iter().any(|n| n == b) {
                problems.push(format!("{krate} depends on {b}: {why}"));
            }
        }
    }
    for (feature, banned, why) in FACADE {
        let tree = tree(&[
            "-p",
            "flyte-auth",
            "--no-default-features",
            "--features",
            feature,
        ])?;
        for b in *banned {
            if tree.iter().any(|n| n == b) {
                problems.push(format!(
                    "flyte-auth --features {feature} pulls in {b}: {why}"
                ));
            }
        }
    }
    if problems.is_empty() {
        eprintln!("xtask deps: every dependency arrow is allowed");
        Ok(())
    } else {
        Err(format!(
            "dependency arrows not allowed:\n  {}",
            problems.join("\n  ")
        ))
    }
}

/// The names of every crate in the normal dependency tree.
fn tree(args: &[&str]) -> Result<Vec<String>> {
    let out = Command::new("cargo")
        .args([
            "tree",
            "-e",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .args(args)
        .current_dir(root())
        .output()
        .map_err(|e| format!("cargo tree: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo tree {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let name = words.next()?;
            match (words.next(), words.next()) {
                (Some("feature"), Some(f)) => Some(format!("{name}/{}", f.trim_matches('"'))),
                _ => Some(name.to_string()),
            }
        })
        .collect())
}
