//! [`NoStore`]: a credential store that keeps nothing.

use async_trait::async_trait;
use auth_core::{AuthError, CredentialStore, Credentials};

/// A [`CredentialStore`] that stores nothing: credentials live in memory only, and every
/// process logs in again. For users who switch the keyring off.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoStore;

#[async_trait]
impl CredentialStore for NoStore {
    async fn load(&self, _key: &str) -> Result<Option<Credentials>, AuthError> {
        Ok(None)
    }

    async fn save(&self, _key: &str, _credentials: &Credentials) -> Result<(), AuthError> {
        Ok(())
    }

    async fn delete(&self, _key: &str) -> Result<(), AuthError> {
        Ok(())
    }
}
