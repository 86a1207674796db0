//! Wall time of `flyte-auth token` with a valid token in the keyring (no network request),
//! against a trivial process (`true`) started the same way. Goal: median under 6 ms.
//!
//! The token is written with `secret-tool` in flytekit's layout (service = endpoint,
//! username = `access_token`), as `pyflyte` would leave it; the endpoint has no server behind
//! it, so any network request would fail the run.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use auth_testkit::secret_service::{PROGRAMS, SecretService, should_run};
use base64::Engine as _;
use criterion::{Criterion, criterion_group, criterion_main};

fn jwt_valid_for_a_day() -> String {
    let enc = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 86_400;
    format!(
        "{}.{}.sig",
        enc.encode(r#"{"alg":"none"}"#),
        enc.encode(format!(r#"{{"sub":"bench","exp":{exp}}}"#))
    )
}

fn run(c: &mut Command) -> Duration {
    let start = Instant::now();
    let out = c.output().expect("run");
    let elapsed = start.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    elapsed
}

fn token_command(c: &mut Criterion) {
    if !should_run("token_command bench", PROGRAMS) {
        return;
    }
    let keyring = SecretService::start().expect("private Secret Service");
    let home = tempfile::tempdir().unwrap();
    let endpoint = "flyte.bench.invalid:443";
    let config = home.path().join("config.yaml");
    std::fs::write(
        &config,
        format!("admin:\n  endpoint: dns:///{endpoint}\n  authType: Pkce\n"),
    )
    .unwrap();
    keyring
        .secret_tool(
            &[
                "store",
                "--label=bench",
                "service",
                endpoint,
                "username",
                "access_token",
            ],
            Some(&jwt_valid_for_a_day()),
        )
        .expect("store the token with secret-tool");

    let bin = env!("CARGO_BIN_EXE_flyte-auth");
    let mut token = Command::new(bin);
    token.args([
        "--config",
        config.to_str().unwrap(),
        "--non-interactive",
        "token",
    ]);
    token.env("HOME", home.path()).stdin(Stdio::null());
    keyring.apply_env(&mut token);
    run(&mut token); // warm the file cache; fails the bench if a token cannot be printed

    let mut g = c.benchmark_group("cli_token");
    g.sample_size(50);
    g.bench_function("baseline_true", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| run(Command::new("true").stdin(Stdio::null())))
                .sum()
        })
    });
    g.bench_function("flyte_auth_token_stored", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| run(&mut token)).sum())
    });
    g.finish();
}

criterion_group!(benches, token_command);
criterion_main!(benches);
