//! One acquisition: the store, the lock, the refresh grant, the full flow, retries and
//! the bookkeeping of what it gave.

use super::*;

impl Inner {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        // The state is only a few plain fields updated in one step each: still consistent
        // after a panic elsewhere, so a poisoned lock is used as it is.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn start_refresh_ahead(self: &Arc<Self>, now: SystemTime) {
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

    pub(super) fn start_flight(
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
    pub(super) fn join(
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

    pub(super) async fn acquire(
        self: &Arc<Self>,
        reason: AcquireReason,
    ) -> Result<Credentials, AuthError> {
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
    pub(super) fn finish(
        &self,
        id: u64,
        reason: AcquireReason,
        result: &Result<Credentials, AuthError>,
    ) {
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
    pub(super) async fn run(
        self: &Arc<Self>,
        reason: AcquireReason,
    ) -> Result<Credentials, AuthError> {
        if reason == AcquireReason::Login {
            // What is cached or stored stays in place until the new login succeeded; logins
            // in other processes go one at a time, and one they finish meanwhile is used.
            let _store_lock = match self.lock_for_login().await {
                lock::Locked::Use(credentials) => return Ok(credentials),
                lock::Locked::Proceed(guard) => guard,
            };
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
        // Other processes: wait for theirs, and use what they saved meanwhile.
        let _store_lock = match self.lock_store(reason, &mut previous).await {
            lock::Locked::Use(credentials) => return Ok(credentials),
            lock::Locked::Proceed(guard) => guard,
        };

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
    pub(super) async fn full_flow(
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
    pub(super) async fn accept(
        &self,
        credentials: Credentials,
        reason: AcquireReason,
    ) -> Credentials {
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

    pub(super) async fn save(&self, credentials: &Credentials) {
        if let Some(store) = &self.options.store
            && let Err(e) = store.save(&self.options.store_key, credentials).await
        {
            tracing::warn!(error = %e, "could not save credentials; keeping them in memory only");
        }
    }

    pub(super) fn install(
        &self,
        credentials: Credentials,
        now: SystemTime,
        replaces_rejected: bool,
    ) {
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

    pub(super) fn take_store_load(&self) -> bool {
        let mut state = self.lock();
        let first = !state.store_loaded;
        state.store_loaded = true;
        first && self.options.store.is_some()
    }

    pub(super) async fn load_from_store(&self) -> Option<Credentials> {
        let store = self.options.store.as_ref()?;
        match store.load(&self.options.store_key).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, "could not read stored credentials; continuing without them");
                None
            }
        }
    }

    pub(super) async fn delete_from_store(&self) {
        if let Some(store) = &self.options.store
            && let Err(e) = store.delete(&self.options.store_key).await
        {
            tracing::warn!(error = %e, "could not delete rejected credentials from the store");
        }
    }

    pub(super) async fn with_retry<T, F, Fut>(
        &self,
        what: &str,
        mut attempt: F,
    ) -> Result<T, AuthError>
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
