//! Integration tests of auth-keyring against real stores: a private Secret Service
//! (dbus-daemon + gnome-keyring), the kernel keyring (keyutils) and the file system.
//!
//! Tests of a real store run their body in a child process of this binary, with the private
//! bus (or a fresh session keyring) in the child's environment; see
//! `auth_testkit::secret_service`.
#![cfg(target_os = "linux")]

mod file_store;
mod keyutils;
mod logs;
mod secret_service;
mod tiered;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use auth_core::testing::ScriptedSource;
use auth_core::{
    AccessToken, CredentialStore, Credentials, EngineOptions, IdToken, RefreshToken, TokenEngine,
};
use auth_testkit::secret_service::{self as ss, SecretService};

/// How long one child test may run before it is killed.
const CHILD_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `body` in a child process of this binary pointed at a fresh private Secret Service;
/// `prepare` runs in this process first, with the service started. Skips (or fails, with
/// `FLYTE_AUTH_TEST_KEYRING=1`) when the programs are missing.
fn with_secret_service(name: &str, prepare: impl FnOnce(&SecretService), body: impl FnOnce()) {
    if ss::in_child(name) {
        body();
        return;
    }
    if !ss::should_run(name, ss::PROGRAMS) {
        return;
    }
    let service = SecretService::start().unwrap_or_else(|e| panic!("{name}: {e}"));
    prepare(&service);
    let out = ss::run_in_child(name, &[], |c| service.apply_env(c), CHILD_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"));
    println!("{out}");
}

/// Runs `body` in a child process of this binary with its environment changed by
/// `configure` (no services started).
fn in_child_with(name: &str, configure: impl FnOnce(&mut Command), body: impl FnOnce()) {
    if ss::in_child(name) {
        body();
        return;
    }
    let out =
        ss::run_in_child(name, &[], configure, CHILD_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    println!("{out}");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A JWT (unsigned) whose `exp` is `exp`.
fn jwt(exp: u64, pad: usize) -> String {
    use base64::Engine as _;
    let enc = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.{}",
        enc.encode(r#"{"alg":"RS256","typ":"JWT"}"#),
        enc.encode(format!(
            r#"{{"exp":{exp},"sub":"someone","pad":"{}"}}"#,
            "p".repeat(pad)
        )),
        "c2lnbmF0dXJl"
    )
}

fn credentials(tag: &str) -> Credentials {
    Credentials::new(AccessToken::new(format!("access-{tag}")))
        .with_refresh_token(Some(RefreshToken::new(format!("refresh-{tag}"))))
        .with_id_token(Some(IdToken::new(format!("id-{tag}"))))
        .with_expires_at(Some(UNIX_EPOCH + Duration::from_secs(2_000_000_000)))
        .with_scopes(["openid", "offline_access"])
}

/// Asserts that an engine using `store` still hands out credentials.
fn engine_still_authenticates(
    rt: &tokio::runtime::Runtime,
    store: Arc<dyn CredentialStore>,
    key: &str,
) {
    let engine = TokenEngine::new(
        Arc::new(ScriptedSource::new()),
        EngineOptions::default().with_store(Some(store), key),
    );
    let c = rt
        .block_on(engine.credentials())
        .expect("authentication must not fail");
    assert_eq!(c.access_token().secret(), "fetch-1");
}
