//! Where credentials are kept between processes.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::credentials::Credentials;
use crate::error::AuthError;

/// Persistent storage for credentials, keyed by endpoint (the Flyte endpoint without
/// `dns:///`, or the issuer).
///
/// The token engine loads on first use and saves after every acquisition. It treats every
/// error as a warning: a store that fails never fails authentication.
#[async_trait]
pub trait CredentialStore: Send + Sync + Debug {
    /// The stored credentials for `key`, or `None`.
    async fn load(&self, key: &str) -> Result<Option<Credentials>, AuthError>;
    /// Stores `credentials` under `key`, replacing what was there.
    async fn save(&self, key: &str, credentials: &Credentials) -> Result<(), AuthError>;
    /// Removes whatever is stored under `key`. Removing nothing is not an error.
    async fn delete(&self, key: &str) -> Result<(), AuthError>;

    /// Takes a lock on `key` that other processes sharing this store respect, waiting for
    /// it up to the store's own deadline; `Ok(None)` when the store has no such lock (the
    /// default, and right for stores private to one process).
    ///
    /// The engine holds it around every refresh and every full flow whose result it saves,
    /// and re-reads the store once it has it: a process that waited while another one
    /// refreshed (or logged in) uses that process's credentials and makes no request, and a
    /// rotated refresh token is never spent twice. Dropping the [`StoreLock`] releases it;
    /// the implementation must also release it when the process dies. An error is a warning:
    /// the engine goes on without the lock.
    async fn lock(&self, key: &str) -> Result<Option<StoreLock>, AuthError> {
        let _ = key;
        Ok(None)
    }
}

/// A held cross-process lock of a [`CredentialStore`] (see [`CredentialStore::lock`]):
/// released when dropped.
pub struct StoreLock {
    _guard: Box<dyn Send + Sync>,
}

impl StoreLock {
    /// Wraps whatever releases the lock when dropped (a locked file, for instance).
    pub fn new(guard: impl Send + Sync + 'static) -> Self {
        Self {
            _guard: Box::new(guard),
        }
    }
}

impl Debug for StoreLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreLock")
    }
}

/// A [`CredentialStore`] in this process's memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    entries: Mutex<HashMap<String, Credentials>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Credentials>) -> T) -> T {
        // A poisoned lock only means another thread panicked mid-insert of a plain map: the
        // map itself is still consistent, so keep using it.
        let mut guard = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
}

#[async_trait]
impl CredentialStore for MemoryStore {
    async fn load(&self, key: &str) -> Result<Option<Credentials>, AuthError> {
        Ok(self.with(|m| m.get(key).cloned()))
    }

    async fn save(&self, key: &str, credentials: &Credentials) -> Result<(), AuthError> {
        self.with(|m| m.insert(key.to_string(), credentials.clone()));
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), AuthError> {
        self.with(|m| m.remove(key));
        Ok(())
    }
}
