//! [`KeyringStore`]: a [`CredentialStore`] on an OS keyring through `keyring-core` stores.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use auth_core::{AuthError, CredentialStore, Credentials, ErrorKind};
use keyring_core::{Entry, Error as KeyringError};
use zeroize::Zeroizing;

use crate::cache::{Fill, SESSION_CACHE_MAX_TTL, SessionCache};
use crate::layout::{self, Entries, EntryError, MIN_VALUE_LEN};
use auth_store::{DEFAULT_TIMEOUT, Runner};
use auth_store::{KeyLock, service_for};

/// The largest value, in UTF-8 bytes, that one Windows Credential Manager entry holds: its
/// blob is at most 2560 bytes of UTF-16, so 1280 UTF-8 bytes always fit.
pub const WINDOWS_MAX_VALUE_LEN: usize = 1280;
/// The largest value, in bytes, that one kernel keyutils key holds.
pub const KEYUTILS_MAX_VALUE_LEN: usize = 32767;

/// Which keyring a [`KeyringStore`] uses.
#[derive(Clone)]
enum Backend {
    /// The platform's keyring, chosen at first use.
    Platform,
    /// The freedesktop Secret Service over D-Bus (libdbus).
    #[cfg(all(
        unix,
        not(any(target_os = "macos", target_os = "ios", target_os = "android"))
    ))]
    SecretService,
    /// The Linux kernel key retention service.
    #[cfg(target_os = "linux")]
    Keyutils,
    /// A store the application built.
    Custom(Arc<keyring_core::CredentialStore>),
}

impl Backend {
    /// The backend `Platform` stands for on this target.
    fn resolved(&self) -> Backend {
        match self {
            #[cfg(all(
                unix,
                not(any(target_os = "macos", target_os = "ios", target_os = "android"))
            ))]
            Backend::Platform => Backend::SecretService,
            other => other.clone(),
        }
    }

    fn name(&self) -> &'static str {
        match self.resolved() {
            #[cfg(all(
                unix,
                not(any(target_os = "macos", target_os = "ios", target_os = "android"))
            ))]
            Backend::SecretService => "the Secret Service",
            #[cfg(target_os = "linux")]
            Backend::Keyutils => "the kernel keyring (keyutils)",
            Backend::Platform if cfg!(target_os = "macos") => "the macOS Keychain",
            Backend::Platform if cfg!(windows) => "the Windows Credential Manager",
            Backend::Platform => "the OS keyring",
            Backend::Custom(_) => "the keyring",
        }
    }

    /// The largest value one entry holds, in UTF-8 bytes.
    fn max_value_len(&self) -> Option<usize> {
        match self.resolved() {
            #[cfg(target_os = "linux")]
            Backend::Keyutils => Some(KEYUTILS_MAX_VALUE_LEN),
            Backend::Platform if cfg!(windows) => Some(WINDOWS_MAX_VALUE_LEN),
            _ => None,
        }
    }

    /// Opens the store. Blocking: connects to D-Bus for the Secret Service.
    fn open(&self, timeout: Duration) -> Result<Opened, KeyringError> {
        match self.resolved() {
            Backend::Custom(store) => Ok(Opened::Core(store)),
            #[cfg(all(
                unix,
                not(any(target_os = "macos", target_os = "ios", target_os = "android"))
            ))]
            Backend::SecretService => {
                // A prompt (a locked collection) is dismissed when the call's deadline is up.
                let prompt_secs = timeout.as_secs().max(1);
                Ok(Opened::SecretService(Arc::new(
                    crate::secret_service::Connection::open(prompt_secs)?,
                )))
            }
            #[cfg(target_os = "linux")]
            Backend::Keyutils => {
                let store: Arc<keyring_core::CredentialStore> =
                    linux_keyutils_keyring_store::Store::new()?;
                Ok(Opened::Core(store))
            }
            Backend::Platform => open_platform().map(Opened::Core),
        }
    }

    /// What names this durable store in the descriptions of session-keyring cache entries,
    /// or `None` when it cannot have a cache (off Linux, and for keyutils itself).
    fn cache_identity(&self) -> Option<String> {
        if !cfg!(target_os = "linux") {
            return None;
        }
        match self.resolved() {
            #[cfg(all(
                unix,
                not(any(target_os = "macos", target_os = "ios", target_os = "android"))
            ))]
            Backend::SecretService => {
                // The bus libdbus connects to: the address, else $XDG_RUNTIME_DIR/bus.
                let var = |name: &str| {
                    std::env::var_os(name)
                        .map(|v| v.to_string_lossy().into_owned())
                        .unwrap_or_default()
                };
                Some(format!(
                    "secret-service\0{}\0{}",
                    var("DBUS_SESSION_BUS_ADDRESS"),
                    var("XDG_RUNTIME_DIR")
                ))
            }
            Backend::Custom(store) => Some(format!("custom\0{}\0{}", store.vendor(), store.id())),
            _ => None,
        }
    }

    /// What identifies the durable store's current state for the session cache:
    /// `Ok(None)` when the cache needs no stamp (an application's own store), `Err` when the
    /// state cannot be told cheaply, so the cache is not used.
    ///
    /// For the Secret Service: gnome-keyring rewrites a collection's file
    /// (`$XDG_DATA_HOME/keyrings/<name>.keyring`) before it answers a change, so the name,
    /// inode, size and modification time of those files change with every item written or
    /// deleted, by any client. A Secret Service without such files (KeePassXC, KWallet) is
    /// read every time.
    fn cache_stamp(&self) -> Result<Option<String>, ()> {
        match self.resolved() {
            #[cfg(target_os = "linux")]
            Backend::SecretService => keyring_files_stamp().map(Some).ok_or(()),
            Backend::Custom(_) => Ok(None),
            _ => Err(()),
        }
    }

    /// What to tell a user whose store failed with `error`.
    fn advice(&self, error: &KeyringError) -> &'static str {
        match error {
            KeyringError::NoStorageAccess(_) => self.locked_advice(),
            KeyringError::PlatformFailure(_) => self.failure_advice(),
            KeyringError::NoDefaultStore | KeyringError::NotSupportedByStore(_) => {
                "this platform has no supported keyring: choose another credential store \
                 (`flyte-auth --store file` or `--store memory`)"
            }
            _ => ALTERNATIVES,
        }
    }

    fn locked_advice(&self) -> &'static str {
        match self.resolved() {
            #[cfg(all(
                unix,
                not(any(target_os = "macos", target_os = "ios", target_os = "android"))
            ))]
            Backend::SecretService => {
                "the keyring is locked or access was refused: unlock your keyring (log in to the \
                 desktop, or run `gnome-keyring-daemon --unlock`), or choose another credential store \
                 (`flyte-auth --store file` or `--store memory`)"
            }
            #[cfg(target_os = "linux")]
            Backend::Keyutils => {
                "the kernel refused access to the session keyring: run inside a login session \
                 (or under `keyctl session -`), or choose another credential store \
                 (`flyte-auth --store file` or `--store memory`)"
            }
            _ => {
                "access to the keyring was refused: unlock it, or choose another credential store \
                 (`flyte-auth --store file` or `--store memory`)"
            }
        }
    }

    fn failure_advice(&self) -> &'static str {
        match self.resolved() {
            #[cfg(all(
                unix,
                not(any(target_os = "macos", target_os = "ios", target_os = "android"))
            ))]
            Backend::SecretService => {
                "is there a Secret Service on the D-Bus session bus? Install and start \
                 gnome-keyring (or KeePassXC with its Secret Service integration), make sure \
                 DBUS_SESSION_BUS_ADDRESS is set, or choose another credential store \
                 (`flyte-auth --store file` or `--store memory`)"
            }
            _ => ALTERNATIVES,
        }
    }

    fn timeout_advice(&self) -> &'static str {
        match self.resolved() {
            #[cfg(all(
                unix,
                not(any(target_os = "macos", target_os = "ios", target_os = "android"))
            ))]
            Backend::SecretService => {
                "the Secret Service did not answer (is gnome-keyring-daemon hung? restart it), or \
                 choose another credential store (`flyte-auth --store file` or `--store memory`)"
            }
            _ => {
                "the keyring did not answer: check it, or choose another credential store \
                 (`flyte-auth --store file` or `--store memory`)"
            }
        }
    }
}

/// A hash of gnome-keyring's collection files (name, inode, size, modification time), or
/// `None` when there are none.
#[cfg(target_os = "linux")]
fn keyring_files_stamp() -> Option<String> {
    use std::os::unix::fs::MetadataExt as _;
    let dir = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".local/share"))
        })?
        .join("keyrings");
    let mut files: Vec<(String, u64, u64, i64, i64)> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".keyring") {
                return None;
            }
            let m = e.metadata().ok()?;
            Some((name, m.ino(), m.size(), m.mtime(), m.mtime_nsec()))
        })
        .collect();
    if files.is_empty() {
        return None;
    }
    files.sort();
    let text = format!("{files:?}");
    Some(format!("{:016x}", crate::layout::fnv1a64(text.as_bytes())))
}

const ALTERNATIVES: &str = "credentials are kept in memory; to avoid this, fix the keyring or choose \
     another credential store (`flyte-auth --store file` or `--store memory`)";

#[cfg(target_os = "macos")]
fn open_platform() -> Result<Arc<keyring_core::CredentialStore>, KeyringError> {
    let store: Arc<keyring_core::CredentialStore> =
        apple_native_keyring_store::keychain::Store::new()?;
    Ok(store)
}

#[cfg(windows)]
fn open_platform() -> Result<Arc<keyring_core::CredentialStore>, KeyringError> {
    let store: Arc<keyring_core::CredentialStore> = windows_native_keyring_store::Store::new()?;
    Ok(store)
}

#[cfg(not(any(target_os = "macos", windows)))]
fn open_platform() -> Result<Arc<keyring_core::CredentialStore>, KeyringError> {
    Err(KeyringError::NotSupportedByStore(
        "no OS keyring is supported on this platform".into(),
    ))
}

/// A [`CredentialStore`] on the OS keyring, with flytekit's layout.
///
/// - The keyring *service* is the endpoint without `dns:///`; the entries `access_token`,
///   `refresh_token` and `id_token` hold the raw tokens, so a `pyflyte` login is used here and
///   ours there. The expiry, token type and scopes go into an entry `flyte_auth_meta` that
///   flytekit ignores.
/// - Every operation runs on its own thread under a deadline (default 3 s). A failure or
///   time-out is logged as a warning and returned as an error, which the token engine treats
///   as a warning too: authentication goes on with credentials in memory.
/// - Values longer than the store's limit (Windows 2560 bytes, keyutils 32767) are split
///   across entries and reassembled; corrupt or partial data is treated as absent and removed.
/// - On Linux, [`new`](Self::new) (and [`tiered`](Self::tiered)) front the Secret Service with
///   a cache in the kernel's session keyring; see [`with_session_cache`](Self::with_session_cache).
///
/// The store is opened (for the Secret Service: connected) on first use, not by the
/// constructor, so constructing one never blocks and never fails; with the session cache it
/// is opened only when the cache cannot answer, or to write.
pub struct KeyringStore {
    backend: Backend,
    max_value_len: Option<usize>,
    runner: Runner,
    opened: Arc<Mutex<Option<Opened>>>,
    session_cache: bool,
    session_cache_max_ttl: Duration,
    /// Runs the cache's own jobs (a lookup, a removal before a delete), apart from the
    /// durable store's, so that a wedged Secret Service does not stop cache hits.
    cache_runner: Runner,
    /// The cross-process lock of each key.
    key_lock: KeyLock,
    layout: layout::KeyringLayout,
}

impl fmt::Debug for KeyringStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyringStore")
            .field("backend", &self.backend.name())
            .field("timeout", &self.runner.timeout)
            .field("max_value_len", &self.max_value_len)
            .field("session_cache", &self.has_session_cache())
            .field("session_cache_max_ttl", &self.session_cache_max_ttl)
            .finish_non_exhaustive()
    }
}

impl Default for KeyringStore {
    fn default() -> Self {
        Self::new()
    }
}

impl KeyringStore {
    fn from_backend(backend: Backend) -> Self {
        Self {
            max_value_len: backend.max_value_len(),
            backend,
            runner: Runner::new(DEFAULT_TIMEOUT),
            opened: Arc::new(Mutex::new(None)),
            session_cache: false,
            session_cache_max_ttl: SESSION_CACHE_MAX_TTL,
            cache_runner: Runner::new(DEFAULT_TIMEOUT),
            key_lock: KeyLock::new(),
            layout: layout::KeyringLayout::Auto,
        }
    }

    /// The platform's keyring: the Secret Service on Linux and the BSDs, the Keychain on
    /// macOS, the Credential Manager on Windows. Elsewhere every operation fails (non-fatally)
    /// with a message that says to choose another store.
    ///
    /// On Linux this is [`tiered`](Self::tiered): the Secret Service fronted by a cache in the
    /// session keyring whose entries count only while gnome-keyring's collection files are
    /// unchanged, so another tool's login, refresh or logout is seen at the next call (turn
    /// the cache off with [`with_session_cache(false)`](Self::with_session_cache)).
    pub fn new() -> Self {
        Self::from_backend(Backend::Platform).with_session_cache(cfg!(target_os = "linux"))
    }

    /// The Secret Service as the durable store, fronted by a cache in the kernel's session
    /// keyring: what [`new`](Self::new) is on Linux.
    ///
    /// - `load` asks the cache first and returns a hit at once, without connecting to D-Bus;
    ///   on a miss (or any cache failure) it reads the Secret Service and, if it found
    ///   credentials, caches them.
    /// - `save` writes the Secret Service, then the cache; `delete` removes both.
    /// - Cache failures (no session keyring, access refused, quota) are `debug` events, never
    ///   warnings or errors: the Secret Service path behaves exactly as with
    ///   [`secret_service`](Self::secret_service).
    ///
    /// Every entry is stamped with gnome-keyring's collection files
    /// (`$XDG_DATA_HOME/keyrings/*.keyring`: name, inode, size, modification time), which
    /// gnome-keyring rewrites before it answers any change; a lookup answers only while the
    /// stamp matches, so a change by any client (pyflyte, flytectl, Flyte 2's SDK) is a miss
    /// at the next load. A Secret Service without such files (KeePassXC, KWallet) is read
    /// every time. An entry also lives at most 10 minutes (see
    /// [`with_session_cache_max_ttl`](Self::with_session_cache_max_ttl)) and never beyond
    /// 30 s before its access token expires.
    #[cfg(target_os = "linux")]
    #[cfg_attr(docsrs, doc(cfg(target_os = "linux")))]
    pub fn tiered() -> Self {
        Self::from_backend(Backend::SecretService).with_session_cache(true)
    }

    /// The freedesktop Secret Service (gnome-keyring, KeePassXC, KWallet) on the D-Bus session
    /// bus, through libdbus.
    #[cfg(all(
        unix,
        not(any(target_os = "macos", target_os = "ios", target_os = "android"))
    ))]
    #[cfg_attr(
        docsrs,
        doc(cfg(all(
            unix,
            not(any(target_os = "macos", target_os = "ios", target_os = "android"))
        )))
    )]
    pub fn secret_service() -> Self {
        Self::from_backend(Backend::SecretService)
    }

    /// The Linux kernel keyring (keyutils), in the session keyring linked to the persistent
    /// keyring. Always there, even without a desktop, but emptied on reboot: a fine cache for
    /// access tokens, not a durable home for refresh tokens.
    #[cfg(target_os = "linux")]
    #[cfg_attr(docsrs, doc(cfg(target_os = "linux")))]
    pub fn keyutils() -> Self {
        Self::from_backend(Backend::Keyutils)
    }

    /// A `keyring-core` store built by the application, such as `keyring_core::mock::Store` in
    /// tests or a store crate this crate does not know. Values are not split unless
    /// [`with_max_value_len`](Self::with_max_value_len) says so.
    pub fn with_store(store: Arc<keyring_core::CredentialStore>) -> Self {
        Self::from_backend(Backend::Custom(store))
    }

    /// Sets the directory of the lock files that coordinate processes refreshing or logging
    /// in for the same endpoint (default `$XDG_RUNTIME_DIR/flyte-auth/locks`, else
    /// `~/.cache/flyte-auth/locks`); `None` takes no lock.
    pub fn with_lock_dir(mut self, dir: Option<std::path::PathBuf>) -> Self {
        self.key_lock = self.key_lock.with_dir(dir);
        self
    }

    /// Sets how long a process waits for another one's refresh or login (default 5
    /// minutes, [`DEFAULT_LOCK_TIMEOUT`](crate::DEFAULT_LOCK_TIMEOUT)); after that it goes
    /// on without the lock.
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.key_lock = self.key_lock.with_timeout(timeout);
        self
    }

    /// Sets which keyring layouts saves write (default
    /// [`Auto`](crate::KeyringLayout::Auto): flytekit's, plus Flyte 2's when it is there).
    /// Loads read both.
    pub fn with_layout(mut self, layout: crate::KeyringLayout) -> Self {
        self.layout = layout;
        self
    }

    /// Sets the deadline of each load, save or delete (default 3 s). A call that misses it is
    /// abandoned: its thread may stay blocked in the keyring library until that gives up.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.runner = Runner::new(timeout);
        self.cache_runner = Runner::new(timeout);
        self
    }

    /// Fronts the store with a cache in the kernel's session keyring (Linux), or turns that
    /// cache off. On for [`tiered`](Self::tiered) on Linux,
    /// off for every other constructor. Ignored off Linux and for
    /// [`keyutils`](Self::keyutils), which is the kernel keyring itself.
    ///
    /// The cache holds one kernel key per endpoint with the whole credentials (never anything
    /// the durable store does not hold), readable only by processes that share the session
    /// keyring (a login session; a process without one shares the user's session keyring),
    /// with a timeout: see [`tiered`](Self::tiered). Credentials that do not fit one key
    /// (32767 bytes) or that expire within 35 s are not cached.
    pub fn with_session_cache(mut self, enabled: bool) -> Self {
        self.session_cache = enabled;
        self
    }

    /// Sets the longest a session-cache entry lives (default 10 minutes): the longest a
    /// change another client makes to the durable store can go unseen. Entries never outlive
    /// their access token's expiry less 30 s; a value under 5 s caches nothing.
    pub fn with_session_cache_max_ttl(mut self, max: Duration) -> Self {
        self.session_cache_max_ttl = max;
        self
    }

    /// Whether this store uses the session-keyring cache.
    pub fn has_session_cache(&self) -> bool {
        self.cache().is_some()
    }

    /// The kernel key description of this store's session-cache entry for `key` (type
    /// `user`, in the session keyring), or `None` without a cache: for tools and tests that
    /// inspect or clear the cache, e.g. `keyctl search @s user DESCRIPTION`.
    pub fn session_cache_description(&self, key: &str) -> Option<String> {
        self.cache().map(|c| c.description(service_for(key)))
    }

    /// The session cache, if this store has one.
    fn cache(&self) -> Option<SessionCache> {
        if !self.session_cache {
            return None;
        }
        let identity = self.backend.cache_identity()?;
        let stamp = self.backend.cache_stamp().ok()?;
        Some(SessionCache::new(&identity, self.session_cache_max_ttl).with_stamp(stamp))
    }

    /// Runs `job` on the cache's own runner; a failure of the runner itself (a thread that
    /// could not start, a deadline) is a debug event and `None`.
    async fn cache_job<T, F>(&self, what: String, job: F) -> Option<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        match self
            .cache_runner
            .run(
                &what,
                "the kernel keyring did not answer",
                move || Ok(job()),
            )
            .await
        {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::debug!("{e}; going on with the durable store");
                None
            }
        }
    }

    /// Sets the largest value one entry may hold, in UTF-8 bytes (`None`: no limit); longer
    /// values are split. Values below 128 bytes are raised to 128, so a chunk header fits.
    pub fn with_max_value_len(mut self, max: Option<usize>) -> Self {
        self.max_value_len = max.map(|m| m.max(MIN_VALUE_LEN));
        self
    }

    /// The deadline of each operation.
    pub fn timeout(&self) -> Duration {
        self.runner.timeout
    }

    /// Whether an abandoned call is still running (tests wait for it to end).
    #[cfg(test)]
    pub(crate) fn runner_is_stuck(&self) -> bool {
        self.runner.is_stuck()
    }

    async fn run<T, F>(&self, action: &'static str, key: &str, job: F) -> Result<T, AuthError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Entries) -> Result<T, EntryError> + Send + 'static,
    {
        let service = service_for(key).to_string();
        let what = format!("{action} {} for '{service}'", self.backend.name());
        let on_timeout = self.backend.timeout_advice();
        let backend = self.backend.clone();
        let opened = self.opened.clone();
        let what_in_job = what.clone();
        let timeout = self.runner.timeout;
        let result = self
            .runner
            .run(&what, on_timeout, move || {
                let store = open(&backend, &opened, timeout).map_err(|e| {
                    AuthError::storage(format!(
                        "{what_in_job}: could not open the keyring: {e}; {}",
                        backend.advice(&e)
                    ))
                })?;
                let result = match &store {
                    Opened::Core(core) => job(&StoreEntries {
                        store: core,
                        service: &service,
                    }),
                    #[cfg(all(
                        unix,
                        not(any(target_os = "macos", target_os = "ios", target_os = "android"))
                    ))]
                    Opened::SecretService(connection) => job(&crate::secret_service::SsEntries {
                        connection,
                        service: &service,
                        prefetched: Default::default(),
                    }),
                };
                result.map_err(|e| {
                    if matches!(e.error, KeyringError::PlatformFailure(_)) {
                        // The connection or session may be dead (a restarted keyring daemon):
                        // open the store afresh next time.
                        forget(&opened, &store);
                    }
                    let advice = backend.advice(&e.error);
                    AuthError::storage(format!("{what_in_job}: {e}; {advice}"))
                })
            })
            .await;
        if let Err(e) = &result {
            match e.kind() {
                ErrorKind::Timeout => tracing::warn!(
                    "{e}; the call was abandoned (its thread may stay blocked until the keyring \
                     library gives up); credentials are kept in memory only"
                ),
                _ => tracing::warn!("{e}; credentials are kept in memory only"),
            }
        }
        result
    }
}

/// An opened store: a `keyring-core` store, or our own Secret Service connection.
#[derive(Clone)]
enum Opened {
    Core(Arc<keyring_core::CredentialStore>),
    #[cfg(all(
        unix,
        not(any(target_os = "macos", target_os = "ios", target_os = "android"))
    ))]
    SecretService(Arc<crate::secret_service::Connection>),
}

impl Opened {
    fn same(&self, other: &Opened) -> bool {
        match (self, other) {
            (Opened::Core(a), Opened::Core(b)) => Arc::ptr_eq(a, b),
            #[cfg(all(
                unix,
                not(any(target_os = "macos", target_os = "ios", target_os = "android"))
            ))]
            (Opened::SecretService(a), Opened::SecretService(b)) => Arc::ptr_eq(a, b),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }
}

/// Opens the backend once and keeps it; a failed open is tried again next time.
fn open(
    backend: &Backend,
    opened: &Mutex<Option<Opened>>,
    timeout: Duration,
) -> Result<Opened, KeyringError> {
    if let Some(store) = opened.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
        return Ok(store.clone());
    }
    let store = backend.open(timeout)?;
    let mut slot = opened.lock().unwrap_or_else(|p| p.into_inner());
    Ok(slot.get_or_insert(store).clone())
}

/// Drops the kept store if it is still `store`.
fn forget(opened: &Mutex<Option<Opened>>, store: &Opened) {
    let mut slot = opened.lock().unwrap_or_else(|p| p.into_inner());
    if slot.as_ref().is_some_and(|s| s.same(store)) {
        *slot = None;
    }
}

#[async_trait]
impl CredentialStore for KeyringStore {
    async fn lock(&self, key: &str) -> Result<Option<auth_core::StoreLock>, AuthError> {
        self.key_lock.acquire(key).await
    }

    async fn load(&self, key: &str) -> Result<Option<Credentials>, AuthError> {
        let endpoint = service_for(key).to_string();
        let cache = self.cache();
        if let Some(cache) = cache.clone() {
            let service = endpoint.clone();
            let what = format!("reading the session keyring cache for '{endpoint}'");
            if let Some(Some(hit)) = self.cache_job(what, move || cache.lookup(&service)).await {
                return Ok(Some(hit));
            }
        }
        let backend = self.backend.clone();
        self.run("reading credentials from", key, move |entries| {
            let now = SystemTime::now();
            let loaded = layout::load(entries, &endpoint, now)?;
            // Cached only if nothing changed the durable store while it was read.
            if let (Some(cache), Some(credentials)) = (&cache, &loaded)
                && backend.cache_stamp().ok().flatten().as_deref() == cache.stamp()
            {
                cache.fill(&endpoint, credentials, now, Fill::IfAbsent);
            }
            Ok(loaded)
        })
        .await
    }

    async fn save(&self, key: &str, credentials: &Credentials) -> Result<(), AuthError> {
        let credentials = credentials.clone();
        let max = self.max_value_len;
        let keyring_layout = self.layout;
        let cache = self.cache();
        let endpoint = service_for(key).to_string();
        let backend = self.backend.clone();
        self.run("saving credentials to", key, move |entries| {
            // The old entry goes first: if the durable write fails half-way, or this process
            // dies before the new entry is written, the next load reads the durable store.
            if let Some(cache) = &cache {
                cache.discard(&endpoint);
            }
            layout::save(entries, &credentials, max, keyring_layout)?;
            // Stamped with the durable store's state after our write. (A write by another
            // client in the moment between our last write and this stamp would go unseen
            // until the next change or the entry's timeout.)
            if let (Some(cache), Ok(stamp)) = (cache, backend.cache_stamp()) {
                let cache = cache.with_stamp(stamp);
                cache.fill(&endpoint, &credentials, SystemTime::now(), Fill::Replace);
            }
            Ok(())
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), AuthError> {
        let cache = self.cache();
        let endpoint = service_for(key).to_string();
        if let Some(cache) = cache.clone() {
            // Even when the durable store then fails (a logout with a wedged Secret Service),
            // the cache no longer answers for this endpoint.
            let service = endpoint.clone();
            let what = format!("clearing the session keyring cache for '{endpoint}'");
            self.cache_job(what, move || cache.discard(&service)).await;
        }
        self.run("deleting credentials from", key, move |entries| {
            let result = layout::delete(entries);
            // Again, in case a concurrent load cached what it read before the deletion.
            if let Some(cache) = &cache {
                cache.discard(&endpoint);
            }
            result
        })
        .await
    }
}

/// The entries of one service in a `keyring-core` store.
struct StoreEntries<'a> {
    store: &'a Arc<keyring_core::CredentialStore>,
    service: &'a str,
}

impl StoreEntries<'_> {
    fn entry(&self, user: &str) -> Result<Entry, KeyringError> {
        self.store.build(self.service, user, None)
    }
}

impl Entries for StoreEntries<'_> {
    fn get(&self, user: &str) -> Result<Option<Zeroizing<String>>, KeyringError> {
        match self.entry(user)?.get_password() {
            Ok(v) => Ok(Some(Zeroizing::new(v))),
            Err(KeyringError::NoEntry) => Ok(None),
            // Several items match (another client wrote one in a second collection): they
            // hold the same logical entry, so the first readable one will do.
            Err(KeyringError::Ambiguous(found)) => {
                let mut last = KeyringError::NoEntry;
                for entry in found {
                    match entry.get_password() {
                        Ok(v) => return Ok(Some(Zeroizing::new(v))),
                        Err(e) => last = e,
                    }
                }
                match last {
                    KeyringError::NoEntry => Ok(None),
                    e => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    fn set(&self, user: &str, value: &str) -> Result<(), KeyringError> {
        let entry = self.entry(user)?;
        match entry.set_password(value) {
            // Several items match: remove them all, then write one.
            Err(KeyringError::Ambiguous(found)) => {
                for e in found {
                    match e.delete_credential() {
                        Ok(()) | Err(KeyringError::NoEntry) => {}
                        Err(err) => return Err(err),
                    }
                }
                entry.set_password(value)
            }
            other => other,
        }
    }

    fn delete(&self, user: &str) -> Result<bool, KeyringError> {
        match self.entry(user)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(KeyringError::NoEntry) => Ok(false),
            Err(KeyringError::Ambiguous(found)) => {
                for e in found {
                    match e.delete_credential() {
                        Ok(()) | Err(KeyringError::NoEntry) => {}
                        Err(err) => return Err(err),
                    }
                }
                Ok(true)
            }
            Err(e) => Err(e),
        }
    }
}
