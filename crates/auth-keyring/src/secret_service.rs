//! The freedesktop Secret Service, with the items Python `keyring` writes.
//!
//! flytekit stores its tokens through Python `keyring`, whose SecretStorage backend
//! (`keyring/backends/SecretService.py`, keyring 25) writes one item per (service, username)
//! into the default collection:
//!
//! | property          | value                                          |
//! |-------------------|------------------------------------------------|
//! | attributes        | `service`, `username`, `application` = `Python keyring library` |
//! | label             | `Password for '<username>' on '<service>'`      |
//! | content type      | `text/plain`                                   |
//! | schema            | none given, so the daemon records `org.freedesktop.Secret.Generic` |
//!
//! and reads (and deletes) the *first* item that matches `service` + `username`, whatever
//! other attributes it carries. Its `set_password` asks the daemon to replace an item with the
//! same attributes. So we write exactly that item: either side's write then replaces the
//! other's. Reads, writes and deletes here act on *every* item that matches
//! `service` + `username` (whatever else it carries, in any collection): a read takes the
//! most recently modified one, a write leaves exactly one, a delete leaves none. Duplicates
//! left by older versions of flyte-auth (attributes `service`, `username` only) heal at the
//! next write or delete.
//!
//! One connection per store, opened on first use, with a plain (unencrypted) session: the
//! session bus is a socket only this user can open, the same boundary the daemon's memory
//! has, and it saves the Diffie-Hellman exchange on every process start.

use std::collections::HashMap;
use std::sync::Mutex;

use dbus_secret_service::{EncryptionType, Item, SecretService};
use keyring_core::Error as KeyringError;
use zeroize::Zeroizing;

use crate::layout::Entries;

/// The `application` attribute Python `keyring` writes.
pub(crate) const PYTHON_KEYRING_APPLICATION: &str = "Python keyring library";
/// The content type Python `keyring` (SecretStorage) writes.
const CONTENT_TYPE: &str = "text/plain";

/// One connection to the Secret Service.
pub(crate) struct Connection {
    ss: Mutex<SecretService>,
}

impl Connection {
    /// Connects to the session bus and opens a session. Blocking. A prompt (a locked
    /// collection) is dismissed after `prompt_secs`.
    pub(crate) fn open(prompt_secs: u64) -> Result<Self, KeyringError> {
        let ss = SecretService::connect_with_max_prompt_timeout(EncryptionType::Plain, prompt_secs)
            .map_err(failure)?;
        Ok(Self { ss: Mutex::new(ss) })
    }

    fn with<T>(&self, f: impl FnOnce(&SecretService) -> T) -> T {
        // The guarded value is the connection itself: still usable after a panic elsewhere.
        let ss = self.ss.lock().unwrap_or_else(|p| p.into_inner());
        f(&ss)
    }
}

/// The attributes Python `keyring` writes for (service, username).
pub(crate) fn python_attributes<'a>(service: &'a str, user: &'a str) -> HashMap<&'a str, &'a str> {
    HashMap::from([
        ("service", service),
        ("username", user),
        ("application", PYTHON_KEYRING_APPLICATION),
    ])
}

/// The label Python `keyring` writes.
pub(crate) fn python_label(service: &str, user: &str) -> String {
    format!("Password for '{user}' on '{service}'")
}

/// Every item matching `service` + `username`, unlocked (which may prompt).
fn matching<'a>(
    ss: &'a SecretService,
    service: &str,
    user: &str,
) -> Result<Vec<Item<'a>>, KeyringError> {
    let query = HashMap::from([("service", service), ("username", user)]);
    let found = ss.search_items(query).map_err(decode)?;
    if !found.locked.is_empty() {
        let locked: Vec<&Item<'_>> = found.locked.iter().collect();
        ss.unlock_all(&locked).map_err(decode)?;
    }
    Ok(found.unlocked.into_iter().chain(found.locked).collect())
}

/// The entries of one service in the Secret Service.
pub(crate) struct SsEntries<'a> {
    pub(crate) connection: &'a Connection,
    pub(crate) service: &'a str,
}

impl Entries for SsEntries<'_> {
    fn get(&self, user: &str) -> Result<Option<Zeroizing<String>>, KeyringError> {
        self.connection.with(|ss| {
            let items = matching(ss, self.service, user)?;
            let item = match items.len() {
                0 => return Ok(None),
                1 => &items[0],
                // Duplicates (written by a client that does not heal them): the newest write
                // is the one that counts.
                _ => items
                    .iter()
                    .max_by_key(|i| i.get_modified().unwrap_or(0))
                    .unwrap_or(&items[0]),
            };
            let secret = Zeroizing::new(item.get_secret().map_err(decode)?);
            match std::str::from_utf8(&secret) {
                Ok(s) => Ok(Some(Zeroizing::new(s.to_string()))),
                Err(_) => Err(KeyringError::BadEncoding(secret.to_vec())),
            }
        })
    }

    fn set(&self, user: &str, value: &str) -> Result<(), KeyringError> {
        self.connection.with(|ss| {
            let collection = ss.get_default_collection().map_err(decode)?;
            if collection.is_locked().map_err(decode)? {
                collection.unlock().map_err(decode)?;
            }
            // Create (replacing an item with exactly these attributes, as Python keyring
            // does) first, then remove every other match: a concurrent reader always finds
            // the value, old or new.
            let created = collection
                .create_item(
                    &python_label(self.service, user),
                    python_attributes(self.service, user),
                    value.as_bytes(),
                    true,
                    CONTENT_TYPE,
                )
                .map_err(failure)?;
            for item in matching(ss, self.service, user)? {
                if item.path != created.path {
                    match item.delete() {
                        Ok(()) => {}
                        Err(dbus_secret_service::Error::NoResult) => {}
                        Err(e) => return Err(decode(e)),
                    }
                }
            }
            Ok(())
        })
    }

    fn delete(&self, user: &str) -> Result<bool, KeyringError> {
        self.connection.with(|ss| {
            let items = matching(ss, self.service, user)?;
            let existed = !items.is_empty();
            for item in items {
                match item.delete() {
                    Ok(()) | Err(dbus_secret_service::Error::NoResult) => {}
                    Err(e) => return Err(decode(e)),
                }
            }
            Ok(existed)
        })
    }
}

/// Maps a Secret Service error as `dbus-secret-service-keyring-store` does: locked, no
/// result and dismissed prompts are a refused access, the rest a platform failure.
fn decode(err: dbus_secret_service::Error) -> KeyringError {
    match err {
        dbus_secret_service::Error::Locked
        | dbus_secret_service::Error::NoResult
        | dbus_secret_service::Error::Prompt => KeyringError::NoStorageAccess(Box::new(err)),
        _ => failure(err),
    }
}

fn failure(err: dbus_secret_service::Error) -> KeyringError {
    KeyringError::PlatformFailure(Box::new(err))
}
