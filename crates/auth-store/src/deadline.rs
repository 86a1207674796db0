//! Runs blocking store work off the async executor, under a deadline.
//!
//! Each operation runs on a new, detached OS thread, and the caller waits for its answer with
//! [`tokio::time::timeout`]. A thread that misses the deadline is abandoned: it may stay
//! stuck (in a D-Bus call to a wedged Secret Service, for instance) until the call underneath
//! gives up, and nothing can cancel it. While an abandoned thread of a store is still running,
//! further operations on that store fail at once instead of piling up more stuck threads.
//!
//! A detached `std::thread` rather than `tokio::task::spawn_blocking`: a runtime waits for
//! its blocking tasks when it shuts down, so one stuck keyring call would hang the program at
//! exit. See `docs/adr/004-keyring-store.md`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth_core::AuthError;

/// The default deadline of one store operation.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

/// Runs jobs of one store with a deadline and remembers abandoned ones.
#[derive(Debug, Clone)]
pub struct Runner {
    /// How long one job may take.
    pub timeout: Duration,
    abandoned: Arc<AtomicUsize>,
}

#[derive(Debug, PartialEq, Eq)]
enum JobState {
    Running,
    Abandoned,
    Done,
}

/// Marks the job done when the thread ends, normally or by a panic, and releases the
/// store if the job had been abandoned.
struct JobGuard {
    state: Arc<Mutex<JobState>>,
    abandoned: Arc<AtomicUsize>,
}

impl Drop for JobGuard {
    fn drop(&mut self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if *state == JobState::Abandoned {
            self.abandoned.fetch_sub(1, Ordering::SeqCst);
        }
        *state = JobState::Done;
    }
}

impl Runner {
    /// A runner whose jobs each get `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            abandoned: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Whether an abandoned operation of this store is still running.
    pub fn is_stuck(&self) -> bool {
        self.abandoned.load(Ordering::SeqCst) > 0
    }

    /// Runs `job` on its own thread and waits at most the timeout for it. `what` names the
    /// operation and store for messages ("reading credentials from the Secret Service").
    /// `on_timeout` says what to do about a store that does not answer.
    pub async fn run<T, F>(&self, what: &str, on_timeout: &str, job: F) -> Result<T, AuthError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, AuthError> + Send + 'static,
    {
        if self.is_stuck() {
            return Err(AuthError::timeout(format!(
                "{what}: skipped, because an earlier call to this store has not returned yet \
                 (it did not answer within {:?}); {on_timeout}",
                self.timeout
            )));
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(AuthError::configuration(format!(
                "{what}: credential stores of auth-keyring must be used inside a Tokio runtime"
            )));
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let state = Arc::new(Mutex::new(JobState::Running));
        let guard = JobGuard {
            state: state.clone(),
            abandoned: self.abandoned.clone(),
        };
        // Logs of the job go to the caller's subscriber, as if it ran on the caller's thread.
        let dispatch = tracing::dispatcher::get_default(|d| d.clone());
        let spawned = std::thread::Builder::new()
            .name("flyte-auth-keyring".into())
            .spawn(move || {
                let _guard = guard;
                let result = tracing::dispatcher::with_default(&dispatch, job);
                // The receiver may be gone (deadline passed): then nobody wants the answer.
                let _ = tx.send(result);
            });
        if let Err(e) = spawned {
            return Err(AuthError::storage(format!(
                "{what}: could not start a thread: {e}"
            )));
        }
        match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(AuthError::storage(format!(
                "{what}: the keyring library failed unexpectedly (it panicked); {on_timeout}"
            ))),
            Err(_) => {
                let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
                if *s == JobState::Running {
                    *s = JobState::Abandoned;
                    self.abandoned.fetch_add(1, Ordering::SeqCst);
                }
                Err(AuthError::timeout(format!(
                    "{what}: no answer within {:?}; {on_timeout}",
                    self.timeout
                )))
            }
        }
    }
}
