//! The engine's settings: [`EngineOptions`] and the [`RetryPolicy`].

use super::*;

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
