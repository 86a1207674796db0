//! The one token engine every flow shares: cache, single flight, refresh-ahead, retry,
//! persistence and the interaction policy (DESIGN.md §2).
//!
//! A flow implements [`TokenSource`] (how to get new credentials) and wraps a
//! [`TokenEngine`], which implements [`Authenticator`].
//!
//! How a call goes:
//! - A cached token before its *soft* deadline is returned at once (one atomic load).
//! - Between the soft and the *hard* deadline the cached token is returned at once and one
//!   background refresh is started (at most one, rate-limited, backing off after failures).
//! - Past the hard deadline, or with nothing cached, the caller joins the one acquisition in
//!   flight (or starts it) and waits for its result, which every waiter shares, errors
//!   included.
//! - An acquisition loads the credential store on first use, then tries the refresh grant when
//!   a refresh token is held, and only when there is none or the provider rejected it
//!   (`invalid_grant`) runs the full flow. A network error on refresh never starts a login.
//!
//! Acquisitions run as tokio tasks owned by the engine: dropping the engine aborts them, and
//! an acquisition nobody waits for any more (every caller dropped its future) is cancelled
//! unless it is a background refresh.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwapOption;
use async_trait::async_trait;
use tokio::sync::watch;
use tokio::task::AbortHandle;

use crate::authenticator::Authenticator;
use crate::clock::{Clock, SystemClock};
use crate::config::DEFAULT_HEADER_KEY;
use crate::credentials::Credentials;
use crate::error::AuthError;
use crate::secret::{HeaderValue, RefreshToken};
use crate::store::CredentialStore;

mod acquire;
mod deadlines;
mod options;
mod source;

use deadlines::{deadlines, jitter_down};
pub use options::{EngineOptions, RetryPolicy};
pub use source::{AcquireReason, FetchContext, TokenSource};

/// Caches, refreshes and persists the credentials of one [`TokenSource`].
///
/// Implements [`Authenticator`]. Not `Clone`: share it behind an `Arc`. Dropping it aborts
/// every acquisition it started.
pub struct TokenEngine {
    inner: Arc<Inner>,
}

struct Inner {
    source: Arc<dyn TokenSource>,
    options: EngineOptions,
    current: ArcSwapOption<Entry>,
    state: Mutex<State>,
}

/// A cached token with its deadlines. `None` deadlines mean "never" (unknown expiry).
struct Entry {
    credentials: Credentials,
    soft_at: Option<SystemTime>,
    hard_at: Option<SystemTime>,
    installed_at: SystemTime,
    /// Acquired because a server rejected the token before it.
    replaces_rejected: bool,
}

impl Entry {
    fn fresh(&self, now: SystemTime) -> bool {
        self.soft_at.is_none_or(|t| now < t)
    }

    fn usable(&self, now: SystemTime) -> bool {
        self.hard_at.is_none_or(|t| now < t)
    }
}

type FlightResult = Option<Result<Credentials, AuthError>>;

struct Flight {
    id: u64,
    reason: AcquireReason,
    result: watch::Receiver<FlightResult>,
    abort: AbortHandle,
    waiters: Arc<AtomicUsize>,
    background: bool,
}

#[derive(Default)]
struct State {
    flight: Option<Flight>,
    next_flight_id: u64,
    store_loaded: bool,
    /// Credentials whose access token was rejected, kept for their refresh token.
    rejected: Option<Credentials>,
    refresh_failures: u32,
    next_refresh_at: Option<SystemTime>,
}

impl fmt::Debug for TokenEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cached = self.inner.current.load();
        f.debug_struct("TokenEngine")
            .field("source", &self.inner.source)
            .field("options", &self.inner.options)
            .field("cached", &cached.as_ref().map(|e| &e.credentials))
            .finish()
    }
}

impl TokenEngine {
    /// An engine for `source`.
    pub fn new(source: Arc<dyn TokenSource>, options: EngineOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                source,
                options,
                current: ArcSwapOption::const_empty(),
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// The source this engine acquires from.
    pub fn source(&self) -> &Arc<dyn TokenSource> {
        &self.inner.source
    }

    /// The options.
    pub fn options(&self) -> &EngineOptions {
        &self.inner.options
    }

    /// The cached credentials, if any, valid or not. No I/O.
    pub fn cached(&self) -> Option<Credentials> {
        self.inner
            .current
            .load()
            .as_ref()
            .map(|e| e.credentials.clone())
    }

    /// Credentials valid now (see the module docs).
    pub async fn credentials(&self) -> Result<Credentials, AuthError> {
        let now = self.inner.options.clock.now();
        if let Some(entry) = self.inner.current.load().as_ref() {
            if entry.fresh(now) {
                return Ok(entry.credentials.clone());
            }
            if entry.usable(now) {
                // A background refresh never opens a browser or a device prompt: a source that
                // needs a person refreshes ahead only with a refresh token, and otherwise logs
                // in at the hard deadline, with a caller waiting.
                if !self.inner.source.is_interactive()
                    || entry.credentials.refresh_token().is_some()
                {
                    self.inner.start_refresh_ahead(now);
                }
                return Ok(entry.credentials.clone());
            }
        }
        let reason = if self.inner.current.load().is_some() {
            AcquireReason::Expired
        } else {
            AcquireReason::Initial
        };
        self.inner.acquire(reason).await
    }

    /// Drops the current token (a server rejected it) and gets another.
    pub async fn refresh_credentials(&self) -> Result<Credentials, AuthError> {
        let now = self.inner.options.clock.now();
        {
            let mut state = self.inner.lock();
            if state.flight.is_none()
                && let Some(entry) = self.inner.current.load_full()
            {
                // Several callers rejected by the server at once: the first one replaces
                // the token; the others get that new token instead of a second acquisition.
                let just_installed = now
                    .duration_since(entry.installed_at)
                    .is_ok_and(|age| age < self.inner.options.min_refresh_interval);
                if just_installed && entry.replaces_rejected {
                    return Ok(entry.credentials.clone());
                }
                state.rejected = Some(entry.credentials.clone());
                self.inner.current.store(None);
            }
        }
        self.inner.acquire(AcquireReason::Rejected).await
    }

    /// The credentials in memory, or else in the store, without any network request.
    pub async fn stored_credentials(&self) -> Result<Option<Credentials>, AuthError> {
        if let Some(c) = self.cached() {
            return Ok(Some(c));
        }
        match &self.inner.options.store {
            Some(store) => {
                runtime()?;
                store.load(&self.inner.options.store_key).await
            }
            None => Ok(None),
        }
    }

    /// Runs the full flow now (a browser or device login, a client credentials grant, a
    /// command), whatever is cached or stored, and replaces the stored credentials only when
    /// it succeeded: a login that fails (browser closed, time-out, network) leaves the
    /// credentials as they were. Concurrent logins share one flow; an acquisition already in
    /// flight (a refresh) finishes first.
    pub async fn login(&self) -> Result<Credentials, AuthError> {
        loop {
            let (rx, guard, is_login) = {
                let mut state = self.inner.lock();
                if state.flight.is_none() {
                    self.inner
                        .start_flight(&mut state, AcquireReason::Login, false)?;
                }
                let (rx, guard, reason) = self.inner.join(&mut state)?;
                (rx, guard, reason == AcquireReason::Login)
            };
            let outcome = wait(rx, guard).await;
            if is_login {
                return outcome;
            }
            // Another acquisition was in flight (a refresh): it has finished; now log in.
        }
    }

    /// Forgets the credentials in memory and deletes them from the store.
    pub async fn clear(&self) -> Result<(), AuthError> {
        {
            let mut state = self.inner.lock();
            if let Some(f) = state.flight.take() {
                f.abort.abort();
            }
            state.rejected = None;
            state.store_loaded = true;
            self.inner.current.store(None);
        }
        match &self.inner.options.store {
            Some(store) => {
                runtime()?;
                store.delete(&self.inner.options.store_key).await
            }
            None => Ok(()),
        }
    }

    /// Credentials valid now, as a header key and value. While the source does not know its
    /// header key, it is asked to [`prepare`](TokenSource::prepare) first; a failure there is
    /// logged at debug level only (the credentials call reports what matters, or succeeds
    /// from the store with the configured or default key).
    pub async fn authorization_header(&self) -> Result<(String, HeaderValue), AuthError> {
        if self.inner.source.header_key().is_none()
            && runtime().is_ok()
            && let Err(e) = self.inner.source.prepare().await
        {
            tracing::debug!(error = %e, "could not resolve the configuration for the header key");
        }
        let credentials = self.credentials().await?;
        Ok((
            self.header_key(),
            Authenticator::header_value(self, &credentials),
        ))
    }

    /// The header key: the source's, else the configured one, else `authorization`.
    pub fn header_key(&self) -> String {
        self.inner
            .source
            .header_key()
            .or_else(|| self.inner.options.header_key.clone())
            .unwrap_or_else(|| DEFAULT_HEADER_KEY.to_string())
    }
}

impl Drop for TokenEngine {
    fn drop(&mut self) {
        let mut state = self.inner.lock();
        if let Some(f) = state.flight.take() {
            f.abort.abort();
        }
    }
}

#[async_trait]
impl Authenticator for TokenEngine {
    async fn credentials(&self) -> Result<Credentials, AuthError> {
        TokenEngine::credentials(self).await
    }

    async fn refresh_credentials(&self) -> Result<Credentials, AuthError> {
        TokenEngine::refresh_credentials(self).await
    }

    fn header_key(&self) -> String {
        TokenEngine::header_key(self)
    }

    async fn authorization_header(&self) -> Result<(String, HeaderValue), AuthError> {
        TokenEngine::authorization_header(self).await
    }

    async fn stored_credentials(&self) -> Result<Option<Credentials>, AuthError> {
        TokenEngine::stored_credentials(self).await
    }

    async fn clear(&self) -> Result<(), AuthError> {
        TokenEngine::clear(self).await
    }

    async fn login(&self) -> Result<Credentials, AuthError> {
        TokenEngine::login(self).await
    }
}

/// The tokio runtime acquisitions run on. Outside one there is none: an error that says what
/// to do instead of the panic `tokio::spawn` would cause.
fn runtime() -> Result<tokio::runtime::Handle, AuthError> {
    tokio::runtime::Handle::try_current().map_err(|_| {
        AuthError::configuration(
            "flyte-auth needs a tokio runtime to acquire or store credentials: call it from async \
             code running on tokio, or from synchronous code through \
             flyte_auth::blocking::BlockingAuthenticator",
        )
    })
}

/// Waits for the flight a caller joined and returns its result, shared by every waiter.
async fn wait(
    mut rx: watch::Receiver<FlightResult>,
    guard: WaiterGuard,
) -> Result<Credentials, AuthError> {
    let outcome = match rx.wait_for(Option::is_some).await {
        Ok(value) => value.clone().unwrap_or_else(|| {
            Err(AuthError::cancelled(
                "the acquisition ended without a result",
            ))
        }),
        Err(_) => Err(AuthError::cancelled(
            "the acquisition was cancelled (its authenticator was dropped or cleared)",
        )),
    };
    drop(guard);
    outcome
}

/// Decrements the waiter count when a caller stops waiting; the last one out cancels a
/// foreground acquisition.
struct WaiterGuard {
    inner: Arc<Inner>,
    flight_id: u64,
    waiters: Arc<AtomicUsize>,
}

impl Drop for WaiterGuard {
    fn drop(&mut self) {
        if self.waiters.fetch_sub(1, Ordering::AcqRel) == 1 {
            let mut state = self.inner.lock();
            let cancel = state.flight.as_ref().is_some_and(|f| {
                f.id == self.flight_id && !f.background && f.waiters.load(Ordering::Acquire) == 0
            });
            if cancel && let Some(f) = state.flight.take() {
                tracing::debug!("every caller stopped waiting; cancelling the acquisition");
                f.abort.abort();
            }
        }
    }
}

mod lock;
#[cfg(test)]
mod tests;
