//! The conformance suite every `Authenticator` of flyte-auth passes.
//!
//! A flow crate runs it with one macro call in its integration tests:
//!
//! ```text
//! auth_testkit::conformance_suite!(MyAuthenticator, || async { Some(make_fixture().await) });
//! ```
//!
//! The factory returns a fresh [`Fixture`] per test: an authenticator with an empty cache,
//! the secrets planted in its configuration, and a counter of its acquisitions (token
//! requests, command runs) read from the outside.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use auth_core::Authenticator;

/// Counts acquisitions as the outside world sees them (requests at the token endpoint,
/// runs of a command).
pub type AcquisitionCounter =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = u64> + Send>> + Send + Sync>;

/// One authenticator under test, fresh (nothing cached).
pub struct Fixture<A> {
    /// The authenticator.
    pub authenticator: Arc<A>,
    /// Secret values planted in its configuration (client secrets and the like): they must
    /// never appear in its `Debug` output.
    pub secrets: Vec<String>,
    /// How many acquisitions have happened so far.
    pub acquisitions: AcquisitionCounter,
    /// The header key the authenticator is expected to use.
    pub expected_header_key: String,
}

impl<A> Debug for Fixture<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fixture")
            .field("expected_header_key", &self.expected_header_key)
            .finish_non_exhaustive()
    }
}

/// Compile-time check: the authenticator can be shared across threads and printed.
pub fn assert_send_sync_debug<A: Authenticator + Send + Sync + Debug + 'static>() {
    fn takes_dyn(_: Option<Arc<dyn Authenticator>>) {}
    takes_dyn(None::<Arc<A>>.map(|a| a as Arc<dyn Authenticator>));
}

/// `Debug` shows none of the planted secrets, nor the tokens, before or after a login.
pub async fn debug_is_redacted<A: Authenticator + 'static>(fx: Fixture<A>) {
    let before = format!("{:?} {:#?}", fx.authenticator, fx.authenticator);
    for s in &fx.secrets {
        assert!(
            !before.contains(s.as_str()),
            "Debug shows a planted secret: {before}"
        );
    }
    let creds = fx.authenticator.credentials().await.expect("credentials");
    let mut secrets = fx.secrets.clone();
    secrets.push(creds.access_token().secret().to_string());
    if let Some(r) = creds.refresh_token() {
        secrets.push(r.secret().to_string());
    }
    let after = format!("{:?} {:#?} {:?}", fx.authenticator, fx.authenticator, creds);
    for s in &secrets {
        assert!(
            !after.contains(s.as_str()),
            "Debug shows a secret after login: {after}"
        );
    }
}

/// The header is `<key>: Bearer <access token>`.
pub async fn header_value_format<A: Authenticator + 'static>(fx: Fixture<A>) {
    let (key, value) = fx
        .authenticator
        .authorization_header()
        .await
        .expect("header");
    assert_eq!(key, fx.expected_header_key);
    let creds = fx.authenticator.credentials().await.expect("credentials");
    assert_eq!(
        value.secret(),
        format!("Bearer {}", creds.access_token().secret())
    );
    assert_eq!(format!("{value:?}"), "HeaderValue([redacted])");
}

/// 50 concurrent callers on a cold cache cause one acquisition and all get the same token.
pub async fn single_flight<A: Authenticator + 'static>(fx: Fixture<A>) {
    let before = (fx.acquisitions)().await;
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let a = fx.authenticator.clone();
            tokio::spawn(async move { a.credentials().await })
        })
        .collect();
    let mut tokens = Vec::new();
    for t in tasks {
        let c = t.await.expect("task").expect("credentials");
        tokens.push(c.access_token().secret().to_string());
    }
    tokens.dedup();
    assert_eq!(tokens.len(), 1, "every caller got the same token");
    assert_eq!(
        (fx.acquisitions)().await - before,
        1,
        "one acquisition for 50 callers"
    );
    // A warm cache makes no acquisition at all.
    fx.authenticator.credentials().await.expect("credentials");
    assert_eq!(
        (fx.acquisitions)().await - before,
        1,
        "a cached token needs no acquisition"
    );
}

/// `refresh_credentials` (a server rejected the token) makes exactly one new acquisition
/// and returns a usable token.
pub async fn refresh_after_rejection<A: Authenticator + 'static>(fx: Fixture<A>) {
    fx.authenticator.credentials().await.expect("credentials");
    let before = (fx.acquisitions)().await;
    let c = fx
        .authenticator
        .refresh_credentials()
        .await
        .expect("refresh");
    assert!(!c.access_token().secret().is_empty());
    assert_eq!(
        (fx.acquisitions)().await - before,
        1,
        "one acquisition per rejection"
    );
}

/// Runs the conformance suite for an authenticator type.
///
/// `$ty` is the authenticator type; `$factory` is a closure `|| async { Option<Fixture<$ty>> }`
/// called once per test. It returns `None` when a real server the fixture needs is not
/// configured (after printing `skipped ...`), which skips that test.
#[macro_export]
macro_rules! conformance_suite {
    ($ty:ty, $factory:expr) => {
        mod conformance {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn send_sync_debug() {
                $crate::conformance::assert_send_sync_debug::<$ty>();
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn debug_is_redacted() {
                let Some(fx) = ($factory)().await else { return };
                $crate::conformance::debug_is_redacted(fx).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn header_value_format() {
                let Some(fx) = ($factory)().await else { return };
                $crate::conformance::header_value_format(fx).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn single_flight() {
                let Some(fx) = ($factory)().await else { return };
                $crate::conformance::single_flight(fx).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn refresh_after_rejection() {
                let Some(fx) = ($factory)().await else { return };
                $crate::conformance::refresh_after_rejection(fx).await;
            }
        }
    };
}
