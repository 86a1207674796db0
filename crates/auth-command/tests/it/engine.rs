//! The shared token engine over command runs: single flight, caching, expiry, rejection.

use std::sync::Arc;
use std::time::Instant;

use auth_command::CommandAuthenticator;
use auth_core::{Authenticator, ErrorKind};

use crate::support::{fixture, runs, scratch};

fn counting(count_file: &std::path::Path, json_suffix: &str) -> CommandAuthenticator {
    CommandAuthenticator::builder()
        .command([
            fixture("count_runs.sh"),
            count_file.display().to_string(),
            json_suffix.to_string(),
        ])
        .build()
        .expect("build")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_callers_cause_one_run() {
    let dir = scratch("single-flight");
    let count = dir.join("runs");
    let auth = Arc::new(counting(&count, r#""expires_in":3600"#));
    let callers: Vec<_> = (0..100)
        .map(|_| {
            let auth = auth.clone();
            tokio::spawn(async move { auth.credentials().await })
        })
        .collect();
    for caller in futures::future::join_all(callers).await {
        let c = caller.expect("task").expect("credentials");
        assert_eq!(c.access_token().secret(), "tok-1");
    }
    assert_eq!(runs(&count), 1);
    // Cached: no second run.
    assert_eq!(
        auth.credentials()
            .await
            .expect("credentials")
            .access_token()
            .secret(),
        "tok-1"
    );
    assert_eq!(runs(&count), 1);
}

#[tokio::test]
async fn a_token_without_expiry_is_used_until_rejected() {
    let dir = scratch("no-expiry");
    let count = dir.join("runs");
    let auth = counting(&count, "");
    for _ in 0..5 {
        assert_eq!(
            auth.credentials()
                .await
                .expect("credentials")
                .access_token()
                .secret(),
            "tok-1"
        );
    }
    assert_eq!(runs(&count), 1);
    // A server rejected tok-1: the command runs again.
    let c = auth.refresh_credentials().await.expect("refresh");
    assert_eq!(c.access_token().secret(), "tok-2");
    assert_eq!(runs(&count), 2);
    assert_eq!(
        auth.credentials()
            .await
            .expect("credentials")
            .access_token()
            .secret(),
        "tok-2"
    );
    assert_eq!(runs(&count), 2);
}

#[tokio::test]
async fn an_already_expired_token_does_not_loop() {
    let dir = scratch("expired");
    let count = dir.join("runs");
    let auth = counting(&count, r#""expires_at":"2001-09-09T01:46:40Z""#);
    let started = Instant::now();
    for _ in 0..50 {
        let c = auth
            .credentials()
            .await
            .expect("an expired token is still handed out");
        assert!(c.access_token().secret().starts_with("tok-"));
    }
    // The engine keeps an expired token for its minimum refresh interval (1 s): at most one
    // run per second went by, plus the first. Without that guard, every call would run the
    // command (50 runs).
    let bound = started.elapsed().as_secs() + 2;
    let n = runs(&count);
    assert!(n >= 1 && n <= bound, "{n} runs in {:?}", started.elapsed());
}

#[tokio::test]
async fn a_failed_run_is_not_retried_but_the_next_call_runs_again() {
    let dir = scratch("fail-once");
    let count = dir.join("runs");
    let script = format!(
        "echo run >> '{}'; echo 'not logged in' >&2; exit 2",
        count.display()
    );
    let auth = CommandAuthenticator::builder()
        .command(["sh", "-c", &script])
        .build()
        .expect("build");
    let e = auth.credentials().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CommandFailed);
    assert_eq!(
        runs(&count),
        1,
        "a failed command is not retried on its own"
    );
    auth.credentials().await.unwrap_err();
    assert_eq!(runs(&count), 2, "errors are not cached");
}

#[tokio::test]
async fn a_credential_store_is_used_when_given() {
    let dir = scratch("store");
    let count = dir.join("runs");
    let store: Arc<dyn auth_core::CredentialStore> = Arc::new(auth_core::MemoryStore::new());
    let make = || {
        CommandAuthenticator::builder()
            .command([
                fixture("count_runs.sh"),
                count.display().to_string(),
                r#""expires_in":3600"#.to_string(),
            ])
            .store(Some(store.clone()), "flyte.example.com")
            .build()
            .expect("build")
    };
    assert_eq!(
        make()
            .credentials()
            .await
            .expect("credentials")
            .access_token()
            .secret(),
        "tok-1"
    );
    // A second authenticator (another process, in real life) reuses the stored token.
    assert_eq!(
        make()
            .credentials()
            .await
            .expect("credentials")
            .access_token()
            .secret(),
        "tok-1"
    );
    assert_eq!(runs(&count), 1);
    let stored = store
        .load("flyte.example.com")
        .await
        .expect("load")
        .expect("stored");
    assert_eq!(stored.access_token().secret(), "tok-1");
}
