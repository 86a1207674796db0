//! The stored-credential decoders, for the fuzz targets in `fuzz/` (feature `fuzzing`; not a
//! public API): the keyring layout over an in-memory set of entries, and the JSON codec of the
//! file store and the session-keyring cache.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::SystemTime;

use auth_core::Credentials;
use zeroize::Zeroizing;

use crate::layout::{self, Entries};

/// One keyring service's entries (user name to value), in memory.
#[derive(Debug, Default)]
pub struct MemoryEntries(RefCell<BTreeMap<String, String>>);

impl MemoryEntries {
    /// Entries holding `values`.
    pub fn new(values: BTreeMap<String, String>) -> Self {
        Self(RefCell::new(values))
    }

    /// The entries now (after a load removed corrupt ones, or a save).
    pub fn values(&self) -> BTreeMap<String, String> {
        self.0.borrow().clone()
    }
}

impl Entries for MemoryEntries {
    fn get(&self, user: &str) -> Result<Option<Zeroizing<String>>, keyring_core::Error> {
        Ok(self.0.borrow().get(user).cloned().map(Zeroizing::new))
    }

    fn set(&self, user: &str, value: &str) -> Result<(), keyring_core::Error> {
        self.0
            .borrow_mut()
            .insert(user.to_string(), value.to_string());
        Ok(())
    }

    fn delete(&self, user: &str) -> Result<bool, keyring_core::Error> {
        Ok(self.0.borrow_mut().remove(user).is_some())
    }
}

/// Loads credentials from `entries` as [`KeyringStore`](crate::KeyringStore) does.
pub fn keyring_load(
    entries: &MemoryEntries,
    endpoint: &str,
    now: SystemTime,
) -> Result<Option<Credentials>, String> {
    layout::load(entries, endpoint, now).map_err(|e| e.to_string())
}

/// Saves credentials into `entries` as [`KeyringStore`](crate::KeyringStore) does, with a
/// per-value limit of `max_len` bytes.
pub fn keyring_save(
    entries: &MemoryEntries,
    credentials: &Credentials,
    max_len: Option<usize>,
) -> Result<(), String> {
    layout::save(entries, credentials, max_len, crate::KeyringLayout::Auto)
        .map_err(|e| e.to_string())
}

/// Decodes the file store's (and the session cache's) JSON.
pub fn decode_credentials(bytes: &[u8], endpoint: &str) -> Result<Credentials, String> {
    auth_store::codec::decode_credentials(bytes, endpoint)
}

/// Encodes credentials as the file store does.
pub fn encode_credentials(credentials: &Credentials, endpoint: &str) -> Option<Vec<u8>> {
    auth_store::codec::encode_credentials(credentials, endpoint)
        .ok()
        .map(|b| b.to_vec())
}
