//! A blocking API for programs without an async runtime.
//!
//! [`BlockingAuthenticator`] owns a small runtime on a thread of its own and runs every call
//! there, so it works the same from plain threads and from inside an async runtime (where a
//! naive `block_on` would panic, or deadlock a single-threaded runtime): the caller's thread
//! only waits for the answer. Calls from inside an async runtime still block that worker
//! thread while they wait; prefer the async API there.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use auth_core::{AuthError, Authenticator, Credentials, HeaderValue};

/// Runs an [`Authenticator`] from synchronous code.
#[derive(Debug)]
pub struct BlockingAuthenticator {
    inner: Arc<dyn Authenticator>,
    /// Always `Some` until dropped.
    runtime: Option<tokio::runtime::Runtime>,
    timeout: Option<Duration>,
}

impl BlockingAuthenticator {
    /// Wraps `authenticator` with a runtime of its own (one worker thread).
    pub fn new(authenticator: Arc<dyn Authenticator>) -> Result<Self, AuthError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("flyte-auth-blocking")
            .enable_all()
            .build()
            .map_err(|e| {
                AuthError::configuration("could not start the runtime for blocking calls")
                    .with_source(e)
            })?;
        Ok(Self {
            inner: authenticator,
            runtime: Some(runtime),
            timeout: None,
        })
    }

    /// Gives up waiting after `timeout` with a [`Timeout`](auth_core::ErrorKind::Timeout) error
    /// (the flows have time limits of their own; this bounds the whole call).
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// The wrapped authenticator.
    pub fn authenticator(&self) -> &Arc<dyn Authenticator> {
        &self.inner
    }

    fn call<T, F>(&self, f: F) -> Result<T, AuthError>
    where
        T: Send + 'static,
        F: FnOnce(
            Arc<dyn Authenticator>,
        ) -> std::pin::Pin<Box<dyn Future<Output = Result<T, AuthError>> + Send>>,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        let fut = f(self.inner.clone());
        let Some(runtime) = self.runtime.as_ref() else {
            return Err(AuthError::cancelled(
                "the blocking authenticator is shut down",
            ));
        };
        let task = runtime.spawn(async move {
            let _ = tx.send(fut.await);
        });
        let answer = match self.timeout {
            Some(t) => rx.recv_timeout(t).map_err(|e| match e {
                mpsc::RecvTimeoutError::Timeout => {
                    task.abort();
                    AuthError::timeout(format!("no credentials within {t:?}"))
                }
                mpsc::RecvTimeoutError::Disconnected => {
                    AuthError::cancelled("the blocking call was cancelled")
                }
            }),
            None => rx
                .recv()
                .map_err(|_| AuthError::cancelled("the blocking call was cancelled")),
        };
        answer?
    }

    /// Credentials valid now (see [`Authenticator::credentials`]).
    pub fn credentials(&self) -> Result<Credentials, AuthError> {
        self.call(|a| Box::pin(async move { a.credentials().await }))
    }

    /// A server rejected the token: get another (see [`Authenticator::refresh_credentials`]).
    pub fn refresh_credentials(&self) -> Result<Credentials, AuthError> {
        self.call(|a| Box::pin(async move { a.refresh_credentials().await }))
    }

    /// The header key and value for a request.
    pub fn authorization_header(&self) -> Result<(String, HeaderValue), AuthError> {
        self.call(|a| Box::pin(async move { a.authorization_header().await }))
    }

    /// Runs the full flow now; see [`Authenticator::login`].
    pub fn login(&self) -> Result<Credentials, AuthError> {
        self.call(|a| Box::pin(async move { a.login().await }))
    }
}

impl Drop for BlockingAuthenticator {
    /// Shuts the runtime down without blocking, so dropping works inside an async context too.
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use auth_core::{AccessToken, async_trait};

    use super::*;

    #[derive(Debug, Default)]
    struct Counting(AtomicU64);

    #[async_trait]
    impl Authenticator for Counting {
        async fn credentials(&self) -> Result<Credentials, AuthError> {
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(1)).await;
            Ok(Credentials::new(AccessToken::new(format!("t{n}"))))
        }
        async fn refresh_credentials(&self) -> Result<Credentials, AuthError> {
            Err(AuthError::configuration("no refresh"))
        }
    }

    #[derive(Debug)]
    struct Hangs;

    #[async_trait]
    impl Authenticator for Hangs {
        async fn credentials(&self) -> Result<Credentials, AuthError> {
            std::future::pending().await
        }
        async fn refresh_credentials(&self) -> Result<Credentials, AuthError> {
            std::future::pending().await
        }
    }

    #[test]
    fn works_from_plain_threads() {
        let b = BlockingAuthenticator::new(Arc::new(Counting::default())).unwrap();
        assert_eq!(b.credentials().unwrap().access_token().secret(), "t0");
        let (k, v) = b.authorization_header().unwrap();
        assert_eq!((k.as_str(), v.secret()), ("authorization", "Bearer t1"));
        assert!(b.refresh_credentials().is_err());
    }

    #[test]
    fn works_inside_a_current_thread_runtime_without_panic_or_deadlock() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let b = BlockingAuthenticator::new(Arc::new(Counting::default())).unwrap();
        let token = rt.block_on(async { b.credentials() }).unwrap();
        assert_eq!(token.access_token().secret(), "t0");
        // Dropping inside a runtime must not panic either.
        rt.block_on(async move { drop(b) });
    }

    #[derive(Debug, Default)]
    struct Source(AtomicU64);

    #[async_trait]
    impl auth_core::TokenSource for Source {
        async fn fetch(&self, _: &auth_core::FetchContext<'_>) -> Result<Credentials, AuthError> {
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            Ok(Credentials::new(AccessToken::new(format!("e{n}"))))
        }
    }

    /// The token engine refuses to run outside a tokio runtime (an error, not a panic); the
    /// blocking facade gives it one, from plain threads.
    #[test]
    fn the_token_engine_works_from_plain_threads_through_the_blocking_facade() {
        let engine = auth_core::TokenEngine::new(
            Arc::new(Source::default()),
            auth_core::EngineOptions::default(),
        );
        let b = BlockingAuthenticator::new(Arc::new(engine)).unwrap();
        assert_eq!(b.credentials().unwrap().access_token().secret(), "e0");
        assert_eq!(b.login().unwrap().access_token().secret(), "e1");
        let other = std::thread::spawn(move || b.credentials().map(|c| c.access_token().clone()));
        assert_eq!(other.join().unwrap().unwrap().secret(), "e1");
    }

    #[test]
    fn times_out_instead_of_hanging() {
        let b = BlockingAuthenticator::new(Arc::new(Hangs))
            .unwrap()
            .with_timeout(Some(Duration::from_millis(50)));
        let e = b.credentials().unwrap_err();
        assert_eq!(e.kind(), auth_core::ErrorKind::Timeout);
    }
}
