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
//! Connections are opened on first use and kept by the store, with plain (unencrypted)
//! sessions: the session bus is a socket only this user can open, the same boundary the
//! daemon's memory has, and it saves the Diffie-Hellman exchange on every process start.
//!
//! A load is one pipelined exchange on a plain `libdbus` connection ([`Prefetch`]): the
//! session and one search per entry are sent at once, then one `GetSecrets` for every item
//! found, so reading a login costs three round trips to the daemon instead of one or two per
//! entry. Locked items, and every write and delete, go through `dbus-secret-service`, which
//! unlocks (and may prompt).

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

/// The connections of one store to the Secret Service, each opened on first use.
pub(crate) struct Connection {
    prompt_secs: u64,
    ss: Mutex<Option<SecretService>>,
    raw: Mutex<Option<dbus::blocking::Connection>>,
}

impl Connection {
    /// A store's connections; nothing is opened yet. A prompt (a locked collection) is
    /// dismissed after `prompt_secs`.
    pub(crate) fn open(prompt_secs: u64) -> Result<Self, KeyringError> {
        Ok(Self {
            prompt_secs,
            ss: Mutex::new(None),
            raw: Mutex::new(None),
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&SecretService) -> Result<T, KeyringError>,
    ) -> Result<T, KeyringError> {
        // The guarded value is the connection itself: still usable after a panic elsewhere.
        let mut slot = self.ss.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(
                SecretService::connect_with_max_prompt_timeout(
                    EncryptionType::Plain,
                    self.prompt_secs,
                )
                .map_err(failure)?,
            );
        }
        match slot.as_ref() {
            Some(ss) => f(ss),
            None => Err(KeyringError::PlatformFailure("no connection".into())),
        }
    }

    /// Reads the entries `users` of `service` in one pipelined exchange; `None` when that
    /// cannot answer (no bus, locked items, an unexpected reply): then each entry is read
    /// the ordinary way, which reports the error with its advice.
    fn prefetch(&self, service: &str, users: &[&str]) -> Option<Prefetch> {
        let mut slot = self.raw.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = dbus::blocking::Connection::new_session().ok();
        }
        let conn = slot.as_ref()?;
        let result = prefetch(conn, service, users);
        if result.is_none() {
            // The connection may be dead: open a new one next time.
            *slot = None;
        }
        result
    }
}

/// The values (and modification times) of some entries of one service, read at once.
#[derive(Default)]
pub(crate) struct Prefetch {
    values: HashMap<String, Option<(Zeroizing<String>, u64)>>,
}

const SS_DEST: &str = "org.freedesktop.secrets";
const SS_PATH: &str = "/org/freedesktop/secrets";
const SS_SERVICE: &str = "org.freedesktop.Secret.Service";
const REPLY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

type Secret = (dbus::Path<'static>, Vec<u8>, Vec<u8>, String);

fn prefetch(conn: &dbus::blocking::Connection, service: &str, users: &[&str]) -> Option<Prefetch> {
    use dbus::Message;
    use dbus::arg::Variant;
    let channel = conn.channel();
    let call = |method: &str| Message::new_method_call(SS_DEST, SS_PATH, SS_SERVICE, method).ok();
    // Pipelined: the session and every search go out before any reply is read.
    let open = call("OpenSession")?.append2("plain", Variant(String::new()));
    let mut serials = vec![channel.send(open).ok()?];
    for user in users {
        let query = HashMap::from([("service", service), ("username", *user)]);
        serials.push(channel.send(call("SearchItems")?.append1(query)).ok()?);
    }
    let mut replies = collect(channel, &serials)?;
    let (_, session): (Variant<Box<dyn dbus::arg::RefArg>>, dbus::Path<'static>) =
        replies.remove(0).read2().ok()?;
    let mut found: Vec<Vec<dbus::Path<'static>>> = Vec::with_capacity(users.len());
    for reply in &replies {
        let (unlocked, locked): (Vec<dbus::Path<'static>>, Vec<dbus::Path<'static>>) =
            reply.read2().ok()?;
        if !locked.is_empty() {
            return None;
        }
        found.push(unlocked);
    }
    let all: Vec<dbus::Path<'static>> = found.iter().flatten().cloned().collect();
    let mut secrets: HashMap<dbus::Path<'static>, Secret> = HashMap::new();
    let mut modified: HashMap<dbus::Path<'static>, u64> = HashMap::new();
    if !all.is_empty() {
        let mut serials = vec![
            channel
                .send(call("GetSecrets")?.append2(all.clone(), session.clone()))
                .ok()?,
        ];
        // Modification times: to pick the newest of duplicates, and for the layout rule.
        for path in &all {
            let get = Message::new_method_call(
                SS_DEST,
                path.clone(),
                "org.freedesktop.DBus.Properties",
                "Get",
            )
            .ok()?
            .append2("org.freedesktop.Secret.Item", "Modified");
            serials.push(channel.send(get).ok()?);
        }
        let replies = collect(channel, &serials)?;
        secrets = replies[0].read1().ok()?;
        for (path, reply) in all.iter().zip(&replies[1..]) {
            let v: Variant<u64> = reply.read1().ok()?;
            modified.insert(path.clone(), v.0);
        }
    }
    // The session is only needed for GetSecrets.
    if let Ok(close) =
        Message::new_method_call(SS_DEST, session, "org.freedesktop.Secret.Session", "Close")
    {
        let _ = channel.send(close);
        channel.flush();
    }
    let mut out = Prefetch::default();
    for (user, paths) in users.iter().zip(found) {
        let newest = paths
            .iter()
            .max_by_key(|p| modified.get(*p).copied().unwrap_or(0));
        let value = match newest {
            None => None,
            Some(path) => {
                let (_, _params, value, _type) = secrets.remove(path)?;
                let value = Zeroizing::new(value);
                let text = Zeroizing::new(std::str::from_utf8(&value).ok()?.to_string());
                Some((text, modified.get(path).copied().unwrap_or(0)))
            }
        };
        out.values.insert((*user).to_string(), value);
    }
    Some(out)
}

/// Waits for the replies to `serials` (in their order); `None` on an error reply, a
/// disconnect or a reply that does not come within [`REPLY_TIMEOUT`].
fn collect(channel: &dbus::channel::Channel, serials: &[u32]) -> Option<Vec<dbus::Message>> {
    let mut replies: HashMap<u32, dbus::Message> = HashMap::new();
    let deadline = std::time::Instant::now() + REPLY_TIMEOUT;
    while replies.len() < serials.len() {
        let left = deadline.checked_duration_since(std::time::Instant::now())?;
        let Some(msg) = channel.blocking_pop_message(left).ok()? else {
            continue;
        };
        match (msg.msg_type(), msg.get_reply_serial()) {
            (dbus::MessageType::MethodReturn, Some(s)) if serials.contains(&s) => {
                replies.insert(s, msg);
            }
            (dbus::MessageType::Error, Some(s)) if serials.contains(&s) => return None,
            _ => {}
        }
    }
    serials.iter().map(|s| replies.remove(s)).collect()
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
    /// What [`Entries::prefetch`] read, until a write or delete of that entry.
    pub(crate) prefetched: std::cell::RefCell<Prefetch>,
}

impl SsEntries<'_> {
    fn forget(&self, user: &str) {
        self.prefetched.borrow_mut().values.remove(user);
    }
}

impl Entries for SsEntries<'_> {
    fn prefetch(&self, users: &[&str]) {
        if let Some(p) = self.connection.prefetch(self.service, users) {
            *self.prefetched.borrow_mut() = p;
        }
    }

    fn get(&self, user: &str) -> Result<Option<Zeroizing<String>>, KeyringError> {
        if let Some(v) = self.prefetched.borrow().values.get(user) {
            return Ok(v.as_ref().map(|(text, _)| text.clone()));
        }
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
        self.forget(user);
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

    fn modified(&self, user: &str) -> Option<u64> {
        if let Some(v) = self.prefetched.borrow().values.get(user) {
            return v.as_ref().map(|(_, m)| *m);
        }
        self.connection
            .with(|ss| {
                let items = matching(ss, self.service, user)?;
                Ok(items.iter().filter_map(|i| i.get_modified().ok()).max())
            })
            .ok()
            .flatten()
    }

    fn delete(&self, user: &str) -> Result<bool, KeyringError> {
        self.forget(user);
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
