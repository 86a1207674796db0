//! The cross-process half of single flight: the store's lock around an acquisition, and the
//! re-read that lets a process that waited use what another process just saved.

use crate::credentials::Credentials;
use crate::store::StoreLock;

use super::{AcquireReason, Inner};

/// What to do after taking the store's lock.
pub(super) enum Locked {
    /// Another process saved valid credentials while this one waited: use them, no request.
    Use(Credentials),
    /// Go on with the acquisition, holding this guard (if the store has a lock) until the
    /// new credentials are saved.
    Proceed(Option<StoreLock>),
}

impl Inner {
    /// Takes the store's lock for this engine's key and re-reads the store under it.
    ///
    /// `previous` is what the acquisition would refresh from; when the store holds newer
    /// credentials (another process refreshed, or logged in, since this one read it), it is
    /// replaced by them, so a rotated refresh token already spent elsewhere is never sent
    /// and a stored refresh token is never overwritten by one derived from an older one.
    pub(super) async fn lock_store(
        &self,
        reason: AcquireReason,
        previous: &mut Option<Credentials>,
    ) -> Locked {
        let Some(store) = self.options.store.as_ref() else {
            return Locked::Proceed(None);
        };
        let key = &self.options.store_key;
        let guard = match store.lock(key).await {
            Ok(Some(guard)) => guard,
            // No cross-process lock: nothing else can have written under it either.
            Ok(None) => return Locked::Proceed(None),
            Err(e) => {
                tracing::warn!(error = %e, "could not take the credential store's lock; going on without it");
                return Locked::Proceed(None);
            }
        };
        let stored = match store.load(key).await {
            Ok(Some(stored)) => stored,
            Ok(None) => return Locked::Proceed(Some(guard)),
            Err(e) => {
                tracing::warn!(error = %e, "could not re-read stored credentials under the lock");
                return Locked::Proceed(Some(guard));
            }
        };
        let same_access = previous
            .as_ref()
            .is_some_and(|p| p.access_token().secret() == stored.access_token().secret());
        let now = self.options.clock.now();
        if !same_access && stored.is_usable_at(now, self.options.hard_skew) {
            tracing::debug!("another process saved new credentials; using them");
            self.install(stored.clone(), now, reason == AcquireReason::Rejected);
            return Locked::Use(stored);
        }
        let newer_refresh = stored.refresh_token().is_some_and(|r| {
            previous
                .as_ref()
                .and_then(|p| p.refresh_token())
                .is_none_or(|p| p.secret() != r.secret())
        });
        if newer_refresh || previous.is_none() {
            // The store's refresh token is the latest of its family: refresh from that one.
            *previous = Some(stored);
        }
        Locked::Proceed(Some(guard))
    }

    /// Takes the store's lock for an explicit login. Logins in several processes at once run
    /// one at a time, and when another process saved a login while this one waited for the
    /// lock, that login is used as it is: 8 parallel `flyte-auth login`s open one browser.
    /// A login asked for after the last one finished (the store did not change while this
    /// one waited) runs the full flow.
    pub(super) async fn lock_for_login(&self) -> Locked {
        let Some(store) = self.options.store.as_ref() else {
            return Locked::Proceed(None);
        };
        let key = &self.options.store_key;
        let before = store.load(key).await.ok().flatten();
        let guard = match store.lock(key).await {
            Ok(Some(guard)) => guard,
            Ok(None) => return Locked::Proceed(None),
            Err(e) => {
                tracing::warn!(error = %e, "could not take the credential store's lock; going on without it");
                return Locked::Proceed(None);
            }
        };
        let now = self.options.clock.now();
        match store.load(key).await {
            Ok(Some(stored))
                if before.as_ref().is_none_or(|b| {
                    b.access_token().secret() != stored.access_token().secret()
                }) && stored.is_usable_at(now, self.options.hard_skew) =>
            {
                tracing::debug!("another process logged in while this one waited; using its login");
                self.install(stored.clone(), now, false);
                Locked::Use(stored)
            }
            Ok(_) => Locked::Proceed(Some(guard)),
            Err(e) => {
                tracing::warn!(error = %e, "could not re-read stored credentials under the lock");
                Locked::Proceed(Some(guard))
            }
        }
    }
}
