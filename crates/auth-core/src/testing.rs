//! Fixtures for tests: a scripted [`TokenSource`] that counts calls, blocks until released and
//! fails on demand. Enabled by the `test-util` feature.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Semaphore;

use crate::credentials::Credentials;
use crate::engine::{FetchContext, TokenSource};
use crate::error::AuthError;
use crate::secret::{AccessToken, RefreshToken};

/// What the next call of a [`ScriptedSource`] returns.
#[derive(Debug, Clone)]
pub enum Step {
    /// Credentials with this access token, optional refresh token and lifetime in seconds
    /// (`None`: unknown expiry).
    Token(&'static str, Option<&'static str>, Option<u64>),
    /// This error.
    Fail(AuthError),
}

/// A scripted [`TokenSource`]: each `fetch` or `refresh` takes the next [`Step`] of its own
/// queue (when a queue is empty, a numbered token `fetch-N`/`refresh-N` valid for an hour).
/// With [`gated`](Self::gated), every call waits for a permit from [`release`](Self::release).
#[derive(Debug, Default)]
pub struct ScriptedSource {
    fetches: AtomicU64,
    refreshes: AtomicU64,
    fetch_script: Mutex<VecDeque<Step>>,
    refresh_script: Mutex<VecDeque<Step>>,
    gate: Option<Semaphore>,
    interactive: bool,
    clock: Option<Arc<dyn crate::Clock>>,
    last_refresh_token: Mutex<Option<RefreshToken>>,
}

impl ScriptedSource {
    /// A source that answers at once.
    pub fn new() -> Self {
        Self::default()
    }

    /// A source whose calls each wait for [`release`](Self::release).
    pub fn gated() -> Self {
        Self {
            gate: Some(Semaphore::new(0)),
            ..Self::default()
        }
    }

    /// Marks the source as interactive (a browser or device login).
    pub fn interactive(mut self) -> Self {
        self.interactive = true;
        self
    }

    /// Computes expiry with this clock (default: the system clock).
    pub fn with_clock(mut self, clock: Arc<dyn crate::Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Queues steps for `fetch`.
    pub fn script_fetch(&self, steps: impl IntoIterator<Item = Step>) {
        lock(&self.fetch_script).extend(steps);
    }

    /// Queues steps for `refresh`.
    pub fn script_refresh(&self, steps: impl IntoIterator<Item = Step>) {
        lock(&self.refresh_script).extend(steps);
    }

    /// Lets `n` waiting (or future) calls proceed.
    pub fn release(&self, n: usize) {
        if let Some(g) = &self.gate {
            g.add_permits(n);
        }
    }

    /// How many times `fetch` was called.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::SeqCst)
    }

    /// How many times `refresh` was called.
    pub fn refreshes(&self) -> u64 {
        self.refreshes.load(Ordering::SeqCst)
    }

    /// The refresh token the last `refresh` call was given.
    pub fn last_refresh_token(&self) -> Option<RefreshToken> {
        lock(&self.last_refresh_token).clone()
    }

    async fn wait_gate(&self) {
        if let Some(g) = &self.gate
            && let Ok(p) = g.acquire().await
        {
            p.forget();
        }
    }

    fn now(&self) -> std::time::SystemTime {
        self.clock
            .as_ref()
            .map_or_else(std::time::SystemTime::now, |c| c.now())
    }

    fn answer(&self, step: Option<Step>, default_name: String) -> Result<Credentials, AuthError> {
        let now = self.now();
        match step {
            Some(Step::Token(at, rt, life)) => Ok(Credentials::new(AccessToken::new(at))
                .with_refresh_token(rt.map(RefreshToken::new))
                .with_expires_at(life.map(|s| now + Duration::from_secs(s)))),
            Some(Step::Fail(e)) => Err(e),
            None => Ok(Credentials::new(AccessToken::new(default_name))
                .with_expires_at(Some(now + Duration::from_secs(3600)))),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[async_trait]
impl TokenSource for ScriptedSource {
    async fn fetch(&self, _context: &FetchContext<'_>) -> Result<Credentials, AuthError> {
        let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
        self.wait_gate().await;
        let step = lock(&self.fetch_script).pop_front();
        self.answer(step, format!("fetch-{n}"))
    }

    async fn refresh(
        &self,
        refresh_token: &RefreshToken,
        _previous: &Credentials,
    ) -> Result<Option<Credentials>, AuthError> {
        *lock(&self.last_refresh_token) = Some(refresh_token.clone());
        let n = self.refreshes.fetch_add(1, Ordering::SeqCst) + 1;
        self.wait_gate().await;
        let step = lock(&self.refresh_script).pop_front();
        self.answer(step, format!("refresh-{n}")).map(Some)
    }

    fn is_interactive(&self) -> bool {
        self.interactive
    }
}
