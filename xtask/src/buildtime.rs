//! `cargo xtask buildtime`: the cold release build of a program that uses only client
//! credentials, with flyte-auth (`features = ["clientcreds"]`), with oauth2-rs 5 (its
//! defaults) and with raw reqwest 0.13 (its defaults, `json` and `form`), each in a target
//! directory of its own under `target/buildtime`, one after the other. Prints the crates each
//! compiles and the wall time, and the ratios against oauth2-rs.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::Result;
use crate::env::root;

struct Case {
    name: &'static str,
    dependencies: String,
    main: &'static str,
}

pub(crate) fn run() -> Result {
    let facade = root().join("crates/flyte-auth");
    let cases = [
        Case {
            name: "flyte-auth",
            dependencies: format!(
                "flyte-auth = {{ path = {:?}, features = [\"clientcreds\"] }}\n",
                facade.display().to_string()
            ),
            main: "fn main() { let _ = flyte_auth::clientcreds::ClientCredentialsAuthenticator::builder(); }\n",
        },
        Case {
            name: "oauth2-rs",
            dependencies: "oauth2 = \"5\"\n".to_string(),
            main: "fn main() { let _ = oauth2::ClientId::new(String::new()); let _ = oauth2::reqwest::Client::new(); }\n",
        },
        Case {
            name: "raw-reqwest",
            dependencies: "reqwest = { version = \"0.13\", features = [\"json\", \"form\"] }\n"
                .to_string(),
            main: "fn main() { let _ = reqwest::Client::new(); }\n",
        },
    ];
    let base = root().join("target/buildtime");
    let mut rows = Vec::new();
    for case in &cases {
        let dir = base.join(case.name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("src")).map_err(|e| e.to_string())?;
        std::fs::write(
            dir.join("Cargo.toml"),
            format!(
                "[package]\nname = \"buildtime-{}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n[workspace]\n\n[dependencies]\n{}",
                case.name, case.dependencies
            ),
        )
        .map_err(|e| e.to_string())?;
        std::fs::write(dir.join("src/main.rs"), case.main).map_err(|e| e.to_string())?;
        if case.name == "flyte-auth" {
            // The versions the workspace pins (cargo drops what this program does not use).
            std::fs::copy(root().join("Cargo.lock"), dir.join("Cargo.lock"))
                .map_err(|e| e.to_string())?;
        }
        // Resolve and download first, so the timed build only compiles.
        status(&dir, &["fetch"])?;
        let started = Instant::now();
        let out = Command::new("cargo")
            .args(["build", "--release"])
            .env("CARGO_TARGET_DIR", dir.join("target"))
            .env("CARGO_TERM_COLOR", "never")
            .current_dir(&dir)
            .output()
            .map_err(|e| format!("could not run cargo: {e}"))?;
        let seconds = started.elapsed().as_secs_f64();
        let log = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            return Err(format!("{}: cargo build failed:\n{log}", case.name));
        }
        let crates = log
            .lines()
            .filter(|l| l.trim_start().starts_with("Compiling "))
            .count();
        eprintln!(
            "xtask buildtime: {}: {crates} crates, {seconds:.1} s",
            case.name
        );
        rows.push((case.name, crates, seconds));
        let _ = std::fs::remove_dir_all(dir.join("target"));
    }
    let (_, base_crates, base_secs) = rows
        .iter()
        .copied()
        .find(|r| r.0 == "oauth2-rs")
        .ok_or("no oauth2-rs row")?;
    println!(
        "\n{:<14} {:>8} {:>10} {:>16}",
        "cold release", "crates", "wall", "x oauth2-rs"
    );
    for (name, crates, secs) in rows {
        println!(
            "{name:<14} {crates:>8} {secs:>9.1}s {:>7.2} / {:.2}",
            crates as f64 / base_crates as f64,
            secs / base_secs
        );
    }
    Ok(())
}

fn status(dir: &Path, args: &[&str]) -> Result {
    let ok = Command::new("cargo")
        .args(args)
        .current_dir(dir)
        .status()
        .map_err(|e| format!("could not run cargo: {e}"))?
        .success();
    if ok {
        Ok(())
    } else {
        Err(format!(
            "cargo {} failed in {}",
            args.join(" "),
            dir.display()
        ))
    }
}
