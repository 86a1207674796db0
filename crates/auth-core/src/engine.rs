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

/// Why an acquisition runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AcquireReason {
    /// Nothing usable is cached or stored.
    Initial,
    /// The cached token is past its hard deadline.
    Expired,
    /// Inside the refresh-ahead window: callers are still served the current token.
    RefreshAhead,
    /// A server rejected the current token.
    Rejected,
    /// An explicit login ([`TokenEngine::login`]): the full flow runs whatever is cached
    /// or stored.
    Login,
}

/// What a [`TokenSource`] is told about an acquisition.
#[derive(Debug)]
#[non_exhaustive]
pub struct FetchContext<'a> {
    /// Why the acquisition runs.
    pub reason: AcquireReason,
    /// The previous credentials, if any (expired, rejected, or with a rejected refresh token).
    pub previous: Option<&'a Credentials>,
}

/// What a flow implements: how to get new credentials. Everything else is the engine's.
#[async_trait]
pub trait TokenSource: Send + Sync + fmt::Debug {
    /// Acquires new credentials the full way: a client credentials grant, a command run, a
    /// browser login or a device flow.
    async fn fetch(&self, context: &FetchContext<'_>) -> Result<Credentials, AuthError>;

    /// Exchanges a refresh token for new credentials. `Ok(None)` means this source does not
    /// refresh, and the engine goes on to [`fetch`](Self::fetch). The engine merges the
    /// result onto `previous` (a response without a refresh token keeps the old one).
    async fn refresh(
        &self,
        refresh_token: &RefreshToken,
        previous: &Credentials,
    ) -> Result<Option<Credentials>, AuthError> {
        let _ = (refresh_token, previous);
        Ok(None)
    }

    /// Whether [`fetch`](Self::fetch) needs a person (browser or device login). Interactive
    /// fetches are never retried and are refused when interaction is off.
    fn is_interactive(&self) -> bool {
        false
    }

    /// The header key, when the source knows it (configured or discovered).
    fn header_key(&self) -> Option<String> {
        None
    }

    /// Resolves what the source learns from its configuration (such as a discovered header
    /// key, Flyte's `flyte-authorization`) without acquiring credentials. The engine calls it
    /// from `authorization_header` while [`header_key`](Self::header_key) is `None`, because
    /// credentials loaded from a store need no acquisition and so no resolve.
    async fn prepare(&self) -> Result<(), AuthError> {
        Ok(())
    }
}

/// Retries of transient failures: capped, jittered exponential backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry).
    pub max_attempts: u32,
    /// Backoff before the first retry.
    pub initial_backoff: Duration,
    /// The largest backoff, also the cap on a server's `Retry-After`.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// No retries.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Sets the number of attempts (at least 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the initial and the largest backoff.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// The jittered backoff before retry number `retry` (0-based): between half and all of
    /// `initial * 2^retry`, capped.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = self.initial_backoff.saturating_mul(1u32 << retry.min(20));
        jitter_down(exp.min(self.max_backoff), 0.5)
    }
}

/// Settings of a [`TokenEngine`].
#[derive(Clone)]
#[non_exhaustive]
pub struct EngineOptions {
    /// Refresh-ahead window before the hard deadline. `None`: 5 minutes or 10 % of the
    /// token's lifetime, whichever is smaller.
    pub refresh_window: Option<Duration>,
    /// Time before expiry at which a token no longer counts as valid (clock skew, latency).
    pub hard_skew: Duration,
    /// The least time between two refreshes, and the shortest life given to a token that
    /// arrives already expired (so a broken source is not called in a busy loop).
    pub min_refresh_interval: Duration,
    /// Whether a full interactive flow may run. When off, such a flow returns
    /// [`ErrorKind::InteractionRequired`](crate::ErrorKind::InteractionRequired).
    pub interactive: bool,
    /// Retries of transient failures of the refresh grant and of non-interactive fetches.
    pub retry: RetryPolicy,
    /// Where credentials persist between processes.
    pub store: Option<Arc<dyn CredentialStore>>,
    /// The key of these credentials in the store (the endpoint).
    pub store_key: String,
    /// The header key when the source does not say.
    pub header_key: Option<String>,
    /// The clock (tests use [`TokioClock`](crate::TokioClock)).
    pub clock: Arc<dyn Clock>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            refresh_window: None,
            hard_skew: crate::credentials::DEFAULT_HARD_SKEW,
            min_refresh_interval: Duration::from_secs(1),
            interactive: true,
            retry: RetryPolicy::default(),
            store: None,
            store_key: String::new(),
            header_key: None,
            clock: Arc::new(SystemClock),
        }
    }
}

impl fmt::Debug for EngineOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineOptions")
            .field("refresh_window", &self.refresh_window)
            .field("hard_skew", &self.hard_skew)
            .field("min_refresh_interval", &self.min_refresh_interval)
            .field("interactive", &self.interactive)
            .field("retry", &self.retry)
            .field("store", &self.store)
            .field("store_key", &self.store_key)
            .field("header_key", &self.header_key)
            .finish_non_exhaustive()
    }
}

impl EngineOptions {
    /// Sets the refresh-ahead window.
    pub fn with_refresh_window(mut self, window: Option<Duration>) -> Self {
        self.refresh_window = window;
        self
    }

    /// Sets the hard skew.
    pub fn with_hard_skew(mut self, skew: Duration) -> Self {
        self.hard_skew = skew;
        self
    }

    /// Sets the least time between refreshes.
    pub fn with_min_refresh_interval(mut self, interval: Duration) -> Self {
        self.min_refresh_interval = interval;
        self
    }

    /// Allows or refuses interactive flows.
    pub fn with_interactive(mut self, interactive: bool) -> Self {
        self.interactive = interactive;
        self
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Persists credentials in `store` under `key`.
    pub fn with_store(
        mut self,
        store: Option<Arc<dyn CredentialStore>>,
        key: impl Into<String>,
    ) -> Self {
        self.store = store;
        self.store_key = key.into();
        self
    }

    /// Sets the header key used when the source does not say.
    pub fn with_header_key(mut self, key: Option<String>) -> Self {
        self.header_key = key;
        self
    }

    /// Sets the clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

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

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is only a few plain fields updated in one step each: still consistent
        // after a panic elsewhere, so a poisoned lock is used as it is.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn start_refresh_ahead(self: &Arc<Self>, now: SystemTime) {
        let mut state = self.lock();
        if state.flight.is_some() || state.next_refresh_at.is_some_and(|t| now < t) {
            return;
        }
        tracing::debug!("token inside the refresh-ahead window; refreshing in the background");
        if let Err(e) = self.start_flight(&mut state, AcquireReason::RefreshAhead, true) {
            // Outside a runtime the current token is still served; the caller learns of the
            // missing runtime at the hard deadline.
            tracing::debug!(error = %e, "could not refresh ahead");
        }
    }

    fn start_flight(
        self: &Arc<Self>,
        state: &mut State,
        reason: AcquireReason,
        background: bool,
    ) -> Result<(), AuthError> {
        let runtime = runtime()?;
        let (tx, rx) = watch::channel(None);
        let id = state.next_flight_id;
        state.next_flight_id += 1;
        let inner = Arc::clone(self);
        let task = runtime.spawn(async move {
            let result = inner.run(reason).await;
            inner.finish(id, reason, &result);
            let _ = tx.send(Some(result));
        });
        state.flight = Some(Flight {
            id,
            reason,
            result: rx,
            abort: task.abort_handle(),
            waiters: Arc::new(AtomicUsize::new(0)),
            background,
        });
        Ok(())
    }

    /// Joins the flight in progress as a waiter.
    fn join(
        self: &Arc<Self>,
        state: &mut State,
    ) -> Result<(watch::Receiver<FlightResult>, WaiterGuard, AcquireReason), AuthError> {
        let Some(flight) = state.flight.as_mut() else {
            return Err(AuthError::cancelled("the acquisition could not be started"));
        };
        // A caller now waits for it: a background refresh becomes a foreground one.
        flight.background = false;
        flight.waiters.fetch_add(1, Ordering::AcqRel);
        let guard = WaiterGuard {
            inner: Arc::clone(self),
            flight_id: flight.id,
            waiters: Arc::clone(&flight.waiters),
        };
        Ok((flight.result.clone(), guard, flight.reason))
    }

    async fn acquire(self: &Arc<Self>, reason: AcquireReason) -> Result<Credentials, AuthError> {
        let (rx, guard) = {
            let mut state = self.lock();
            if state.flight.is_none() {
                // An acquisition may have finished between the caller's look at the cache and
                // this lock (it installs its token before it clears the flight, under this
                // lock): use that token rather than start a second acquisition.
                if let Some(entry) = self.current.load().as_ref()
                    && entry.usable(self.options.clock.now())
                {
                    return Ok(entry.credentials.clone());
                }
                self.start_flight(&mut state, reason, false)?;
            }
            let (rx, guard, _) = self.join(&mut state)?;
            (rx, guard)
        };
        wait(rx, guard).await
    }

    /// Bookkeeping after an acquisition, before its waiters are woken.
    fn finish(&self, id: u64, reason: AcquireReason, result: &Result<Credentials, AuthError>) {
        let now = self.options.clock.now();
        let mut state = self.lock();
        if state.flight.as_ref().is_some_and(|f| f.id == id) {
            state.flight = None;
        }
        match result {
            Ok(_) => {
                state.refresh_failures = 0;
                state.rejected = None;
                state.next_refresh_at = Some(now + self.options.min_refresh_interval);
            }
            Err(e) if reason == AcquireReason::RefreshAhead => {
                let backoff = self
                    .options
                    .retry
                    .backoff(state.refresh_failures)
                    .max(self.options.min_refresh_interval);
                state.refresh_failures = state.refresh_failures.saturating_add(1);
                state.next_refresh_at = Some(now + backoff);
                tracing::warn!(
                    error = %e,
                    retry_in_ms = backoff.as_millis() as u64,
                    "refreshing ahead of expiry failed; still using the current token"
                );
            }
            Err(_) => {}
        }
    }

    /// One acquisition: store, refresh grant, full flow.
    async fn run(self: &Arc<Self>, reason: AcquireReason) -> Result<Credentials, AuthError> {
        if reason == AcquireReason::Login {
            // What is cached or stored stays in place until the new login succeeded.
            return self.full_flow(reason, None, None).await;
        }
        let mut previous = {
            let state = self.lock();
            state
                .rejected
                .clone()
                .or_else(|| self.current.load().as_ref().map(|e| e.credentials.clone()))
        };

        if previous.is_none()
            && self.take_store_load()
            && let Some(stored) = self.load_from_store().await
        {
            let now = self.options.clock.now();
            if stored.is_usable_at(now, self.options.hard_skew) && reason != AcquireReason::Rejected
            {
                tracing::debug!("using credentials from the credential store");
                self.install(stored.clone(), now, false);
                return Ok(stored);
            }
            previous = Some(stored);
        }

        let mut refresh_rejected = None;
        if let Some(prev) = previous.as_ref()
            && let Some(refresh_token) = prev.refresh_token()
        {
            let result = self
                .with_retry("refresh", || self.source.refresh(refresh_token, prev))
                .await;
            match result {
                Ok(Some(new)) => {
                    let new = new.merged_onto(prev);
                    return Ok(self.accept(new, reason).await);
                }
                Ok(None) => {}
                Err(e) if e.is_grant_rejected() => {
                    tracing::info!(error = %e, "the refresh token was rejected; a new login is needed");
                    let kept = prev.clone().without_refresh_token();
                    let now = self.options.clock.now();
                    if !kept.is_usable_at(now, self.options.hard_skew) {
                        self.delete_from_store().await;
                    } else if reason == AcquireReason::RefreshAhead && self.source.is_interactive()
                    {
                        // The access token is still valid: keep serving it (and keep it stored)
                        // and log in at the hard deadline, when a caller waits for it.
                        self.save(&kept).await;
                        if let Some(entry) = self.current.load_full() {
                            let same_deadlines = Entry {
                                credentials: kept.clone(),
                                ..*entry
                            };
                            self.current.store(Some(Arc::new(same_deadlines)));
                        }
                        return Ok(kept);
                    }
                    previous = Some(kept);
                    refresh_rejected = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        self.full_flow(reason, previous.as_ref(), refresh_rejected.as_ref())
            .await
    }

    /// The full flow (browser, device, grant, command), under the interaction policy.
    async fn full_flow(
        &self,
        reason: AcquireReason,
        previous: Option<&Credentials>,
        refresh_rejected: Option<&AuthError>,
    ) -> Result<Credentials, AuthError> {
        let interactive = self.source.is_interactive();
        if interactive && !self.options.interactive {
            let why = match refresh_rejected {
                Some(e) => format!("the identity provider rejected the stored refresh token ({e})"),
                None if reason == AcquireReason::Login => String::from("a login was asked for"),
                None => String::from("no valid credentials are stored"),
            };
            return Err(AuthError::interaction_required(format!(
                "{why} and interactive login is switched off; log in first (for example with \
                 `flyte-auth login`)"
            )));
        }
        let context = FetchContext { reason, previous };
        let new = if interactive {
            self.source.fetch(&context).await?
        } else {
            self.with_retry("fetch", || self.source.fetch(&context))
                .await?
        };
        Ok(self.accept(new, reason).await)
    }

    /// Saves new credentials (before anyone sees them, so a rotated refresh token is never
    /// lost) and installs them in the cache.
    async fn accept(&self, credentials: Credentials, reason: AcquireReason) -> Credentials {
        let now = self.options.clock.now();
        // Its lifetime, for the hard deadline, counts from now when the source did not say.
        let credentials = match credentials.issued_at() {
            Some(_) => credentials,
            None if credentials.expires_at().is_some() => credentials.with_issued_at(Some(now)),
            None => credentials,
        };
        self.save(&credentials).await;
        self.install(credentials.clone(), now, reason == AcquireReason::Rejected);
        credentials
    }

    async fn save(&self, credentials: &Credentials) {
        if let Some(store) = &self.options.store
            && let Err(e) = store.save(&self.options.store_key, credentials).await
        {
            tracing::warn!(error = %e, "could not save credentials; keeping them in memory only");
        }
    }

    fn install(&self, credentials: Credentials, now: SystemTime, replaces_rejected: bool) {
        let (soft_at, hard_at) = deadlines(now, &credentials, &self.options);
        let entry = Entry {
            credentials,
            soft_at,
            hard_at,
            installed_at: now,
            replaces_rejected,
        };
        self.current.store(Some(Arc::new(entry)));
    }

    fn take_store_load(&self) -> bool {
        let mut state = self.lock();
        let first = !state.store_loaded;
        state.store_loaded = true;
        first && self.options.store.is_some()
    }

    async fn load_from_store(&self) -> Option<Credentials> {
        let store = self.options.store.as_ref()?;
        match store.load(&self.options.store_key).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, "could not read stored credentials; continuing without them");
                None
            }
        }
    }

    async fn delete_from_store(&self) {
        if let Some(store) = &self.options.store
            && let Err(e) = store.delete(&self.options.store_key).await
        {
            tracing::warn!(error = %e, "could not delete rejected credentials from the store");
        }
    }

    async fn with_retry<T, F, Fut>(&self, what: &str, mut attempt: F) -> Result<T, AuthError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, AuthError>>,
    {
        let policy = self.options.retry;
        let mut tries = 0;
        loop {
            match attempt().await {
                Ok(v) => return Ok(v),
                Err(e) if e.is_retryable() && tries + 1 < policy.max_attempts => {
                    let wait = policy
                        .backoff(tries)
                        .max(e.retry_after().unwrap_or_default().min(policy.max_backoff));
                    tracing::info!(error = %e, attempt = tries + 1, wait_ms = wait.as_millis() as u64, "{what} failed; retrying");
                    tokio::time::sleep(wait).await;
                    tries += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// The soft and hard deadlines of a token that expires at `expires_at`, installed at `now`.
///
/// Hard: `skew` before expiry; soft: the refresh window before that. Both shrink for
/// short-lived tokens so that together they never exceed half the remaining lifetime, and the
/// window is jittered down by up to 20 % so that many processes do not refresh in step. A
/// token that arrives already expired lives `min_refresh_interval`, so a broken source is
/// not called in a busy loop.
fn deadlines(
    now: SystemTime,
    credentials: &Credentials,
    options: &EngineOptions,
) -> (Option<SystemTime>, Option<SystemTime>) {
    let Some(expires_at) = credentials.expires_at() else {
        return (None, None);
    };
    let life = expires_at.duration_since(now).unwrap_or_default();
    if life.is_zero() {
        tracing::warn!(
            "received a token that is already expired; using it until a server rejects it"
        );
        let hard = now + options.min_refresh_interval;
        return (Some(hard), Some(hard));
    }
    // The hard deadline is the one validity rule of `Credentials::hard_deadline`, but never
    // nearer than a quarter of what is left, so a token that arrives late in its life (a
    // command's JWT issued long ago) is not already past it.
    let floor = expires_at - options.hard_skew.min(life / 4);
    let hard = credentials
        .hard_deadline(options.hard_skew)
        .map_or(floor, |h| h.max(floor));
    let skew = expires_at.duration_since(hard).unwrap_or_default();
    let default_window = Duration::from_secs(300).min(life / 10);
    let window = options
        .refresh_window
        .unwrap_or(default_window)
        .min((life / 2).saturating_sub(skew));
    let window = jitter_down(window, 0.8);
    (Some(hard - window), Some(hard))
}

/// A random duration between `low_fraction * d` and `d`.
fn jitter_down(d: Duration, low_fraction: f64) -> Duration {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(d.as_nanos() as u64);
    let unit = (h.finish() >> 11) as f64 / (1u64 << 53) as f64;
    d.mul_f64(low_fraction + (1.0 - low_fraction) * unit)
}

#[cfg(test)]
mod tests;
