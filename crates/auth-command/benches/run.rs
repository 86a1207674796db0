//! The cost of one command run (run by `cargo xtask bench`).
//!
//! Group `command_run`: a cold `credentials()` of a fresh `CommandAuthenticator` running
//! `printf tok` (spawn in a new process group, capped reads of both pipes, reaping, parsing,
//! the engine's single flight), against the baseline of `std::process::Command::output()`
//! running the same command, and against a bare `tokio::process::Command::output()`. Goal:
//! within 1.5x of the baseline: the process itself dominates.

use std::hint::black_box;
use std::process::Stdio;

use auth_command::CommandAuthenticator;
use auth_core::Authenticator;
use criterion::{Criterion, criterion_group, criterion_main};

fn command_run(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("command_run");
    group.bench_function("baseline_std_process", |b| {
        b.iter(|| {
            let out = std::process::Command::new("printf")
                .arg("tok")
                .stdin(Stdio::null())
                .output()
                .expect("run");
            assert!(out.status.success());
            black_box(out.stdout)
        })
    });
    group.bench_function("tokio_process", |b| {
        b.iter(|| {
            rt.block_on(async {
                let out = tokio::process::Command::new("printf")
                    .arg("tok")
                    .stdin(Stdio::null())
                    .output()
                    .await
                    .expect("run");
                assert!(out.status.success());
                black_box(out.stdout)
            })
        })
    });
    group.bench_function("command_authenticator", |b| {
        b.iter(|| {
            rt.block_on(async {
                let auth = CommandAuthenticator::builder()
                    .command(["printf", "tok"])
                    .build()
                    .expect("build");
                let c = auth.credentials().await.expect("credentials");
                assert_eq!(c.access_token().secret(), "tok");
                black_box(c)
            })
        })
    });
    group.finish();
}

criterion_group!(benches, command_run);
criterion_main!(benches);
