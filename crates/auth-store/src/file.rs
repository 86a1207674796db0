//! [`FileStore`]: credentials in a plain file, for machines with no keyring, by explicit choice.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use auth_core::{AccessToken, AuthError, CredentialStore, Credentials, IdToken, RefreshToken};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::deadline::{DEFAULT_TIMEOUT, Runner};
use crate::service_for;

const FILE_VERSION: u32 = 1;

/// A [`CredentialStore`] that keeps each endpoint's credentials in a JSON file of its own,
/// readable only by the user (mode 0600, in a 0700 directory).
///
/// The tokens are stored **unencrypted**: anyone who can read the file (the user, root, a
/// backup) can use them. Use it only where there is no keyring, and only by explicit choice;
/// flyte-auth never falls back to it by itself.
///
/// Files live in `$XDG_STATE_HOME/flyte-auth/credentials/` (default
/// `~/.local/state/flyte-auth/credentials/`; `%LOCALAPPDATA%\flyte-auth\credentials\` on
/// Windows), one per endpoint. Writes are atomic: a temporary file is written, flushed to disk
/// and renamed over the old one, so a crash leaves either the old or the new credentials.
/// Every operation runs off the async executor under a deadline (default 3 s), like
/// `KeyringStore` (auth-keyring).
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
    runner: Runner,
    key_lock: crate::lock::KeyLock,
}

impl FileStore {
    /// A store in the user's state directory (see the type's docs). Fails when no home or
    /// state directory can be determined.
    pub fn new() -> Result<Self, AuthError> {
        default_dir().map(Self::in_dir).ok_or_else(|| {
            AuthError::configuration(
                "cannot find a directory for the credentials file: set XDG_STATE_HOME or HOME \
                 (LOCALAPPDATA on Windows), or give the file store a directory explicitly",
            )
        })
    }

    /// A store whose files live directly in `dir`, which is created (mode 0700) on first save.
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            runner: Runner::new(DEFAULT_TIMEOUT),
            key_lock: crate::lock::KeyLock::new(),
        }
    }

    /// Sets the directory of the lock files that coordinate processes (see
    /// `KeyringStore::with_lock_dir` (auth-keyring)); `None` takes no
    /// lock.
    pub fn with_lock_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.key_lock = self.key_lock.with_dir(dir);
        self
    }

    /// Sets how long a process waits for another one's refresh or login (default 5 minutes).
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.key_lock = self.key_lock.with_timeout(timeout);
        self
    }

    /// Sets the deadline of each operation (default 3 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.runner = Runner::new(timeout);
        self
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file that holds the credentials for `key`.
    pub fn path_for(&self, key: &str) -> PathBuf {
        self.dir
            .join(format!("{}.json", file_stem(service_for(key))))
    }

    async fn run<T, F>(&self, action: &str, key: &str, job: F) -> Result<T, AuthError>
    where
        T: Send + 'static,
        F: FnOnce(PathBuf) -> Result<T, AuthError> + Send + 'static,
    {
        let path = self.path_for(key);
        let what = format!("{action} credentials file {}", path.display());
        let result = self
            .runner
            .run(
                &what,
                "check the file system (a hung network mount?)",
                move || job(path),
            )
            .await;
        if let Err(e) = &result {
            tracing::warn!("{e}; credentials are kept in memory only");
        }
        result
    }
}

/// `$XDG_STATE_HOME/flyte-auth/credentials`, else `$HOME/.local/state/flyte-auth/credentials`;
/// on Windows `%LOCALAPPDATA%\flyte-auth\credentials`.
fn default_dir() -> Option<PathBuf> {
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    let base = if cfg!(windows) {
        std::env::var_os("LOCALAPPDATA").and_then(absolute)?
    } else {
        match std::env::var_os("XDG_STATE_HOME").and_then(absolute) {
            Some(state) => state,
            None => std::env::var_os("HOME")
                .and_then(absolute)?
                .join(".local")
                .join("state"),
        }
    };
    Some(base.join("flyte-auth").join("credentials"))
}

/// A file name for an endpoint: letters, digits, `.`, `-` and `_` stay, everything else is
/// `%XX`-encoded, so `host:443` becomes `host%3A443` and no endpoint can name a path.
fn file_stem(service: &str) -> String {
    let mut out = String::with_capacity(service.len());
    for b in service.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_') || (b == b'.' && !out.is_empty()) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() { "%".to_string() } else { out }
}

/// The file's contents, zeroed when dropped.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct FileData {
    version: u32,
    endpoint: String,
    access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    issued_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    scopes: Vec<String>,
}

fn read(path: &Path, endpoint: &str) -> Result<Option<Credentials>, AuthError> {
    refuse_symlink(path)?;
    let bytes = match fs::read(path) {
        Ok(b) => Zeroizing::new(b),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(AuthError::storage(format!(
                "could not read it: {e}; check its permissions"
            )));
        }
    };
    warn_if_shared(path);
    match decode_credentials(&bytes, endpoint) {
        Ok(credentials) => Ok(Some(credentials)),
        Err(why) => discard(path, &why),
    }
}

impl FileData {
    fn from_credentials(credentials: &Credentials, endpoint: &str) -> Self {
        FileData {
            version: FILE_VERSION,
            endpoint: endpoint.to_string(),
            access_token: credentials.access_token().secret().to_string(),
            refresh_token: credentials.refresh_token().map(|t| t.secret().to_string()),
            id_token: credentials.id_token().map(|t| t.secret().to_string()),
            token_type: Some(credentials.token_type().to_string()),
            expires_at: unix_seconds(credentials.expires_at()),
            issued_at: unix_seconds(credentials.issued_at()),
            scopes: credentials.scopes().to_vec(),
        }
    }
}

fn unix_seconds(t: Option<SystemTime>) -> Option<u64> {
    t.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
}

/// Credentials in this file format, as compact JSON (also the payload of the session-keyring
/// cache of `KeyringStore` (auth-keyring)).
pub fn encode_credentials(
    credentials: &Credentials,
    endpoint: &str,
) -> Result<Zeroizing<Vec<u8>>, serde_json::Error> {
    let data = FileData::from_credentials(credentials, endpoint);
    // Room for everything up front, so that no reallocation leaves a copy of a token behind.
    let capacity = 512
        + data.endpoint.len()
        + data.access_token.len()
        + data.refresh_token.as_ref().map_or(0, String::len)
        + data.id_token.as_ref().map_or(0, String::len)
        + data.scopes.iter().map(|s| s.len() + 3).sum::<usize>();
    let mut out = Zeroizing::new(Vec::with_capacity(capacity));
    serde_json::to_writer(&mut *out, &data)?;
    Ok(out)
}

/// Parses credentials in this file format. The error says why they are unusable, without
/// quoting them.
pub fn decode_credentials(bytes: &[u8], endpoint: &str) -> Result<Credentials, String> {
    let data: FileData = serde_json::from_slice(bytes)
        .map_err(|e| format!("it is not valid JSON ({})", e.classify_name()))?;
    if data.version != FILE_VERSION {
        return Err(format!("unknown version {}", data.version));
    }
    if data.access_token.is_empty() {
        return Err("it holds no access token".to_string());
    }
    let present = |t: &Option<String>| t.as_deref().filter(|t| !t.is_empty()).map(str::to_string);
    let mut credentials = Credentials::new(AccessToken::new(data.access_token.as_str()))
        .with_refresh_token(present(&data.refresh_token).map(RefreshToken::new))
        .with_id_token(present(&data.id_token).map(IdToken::new))
        // Untrusted bytes: a time past what SystemTime holds is unknown, never a panic.
        .with_expires_at(
            data.expires_at
                .and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs(s))),
        )
        .with_issued_at(
            data.issued_at
                .and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs(s))),
        )
        .with_scopes(data.scopes.iter().cloned())
        .with_endpoint(Some(endpoint));
    if let Some(t) = present(&data.token_type) {
        credentials = credentials.with_token_type(t);
    }
    Ok(credentials)
}

/// Treats a corrupt file as absent and removes it.
fn discard(path: &Path, why: &str) -> Result<Option<Credentials>, AuthError> {
    tracing::warn!(path = %path.display(), "credentials file is corrupt ({why}); removing it");
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(path = %path.display(), error = %e, "could not remove it"),
    }
    Ok(None)
}

#[cfg(unix)]
fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            "credentials file is readable by other users: run `chmod 600` on it"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_path: &Path) {}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    /// The kind of a JSON error, without its message (which may quote the file's contents).
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "unexpected fields",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

fn write(path: &Path, credentials: &Credentials, endpoint: &str) -> Result<(), AuthError> {
    let data = FileData::from_credentials(credentials, endpoint);
    let json = Zeroizing::new(
        serde_json::to_vec_pretty(&data)
            .map_err(|e| AuthError::storage(format!("could not encode credentials: {e}")))?,
    );
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    create_private_dir(dir).map_err(|e| {
        AuthError::storage(format!(
            "could not create directory {}: {e}; check its permissions or choose another \
             directory",
            dir.display()
        ))
    })?;
    refuse_symlink(path)?;
    atomic_write(dir, path, &json).map_err(|e| {
        AuthError::storage(format!(
            "could not write it: {e}; check free space and permissions"
        ))
    })
}

/// A symbolic link where the credentials file belongs could send the tokens (or read them)
/// wherever it points: refuse it.
fn refuse_symlink(path: &Path) -> Result<(), AuthError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(AuthError::storage(format!(
            "{} is a symbolic link; refusing to use it for credentials: remove it (flyte-auth \
             writes a regular file there)",
            path.display()
        ))),
        _ => Ok(()),
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

/// Writes `bytes` to a new temporary file in `dir` (mode 0600), flushes it to disk, renames
/// it over `path` and flushes the directory, so the file is replaced whole or not at all.
fn atomic_write(dir: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = dir.join(format!(".{name}.{}.{nanos}.tmp", std::process::id()));
    let result = (|| {
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        // The mode given to open() is narrowed by the umask only; set it again on the open
        // file and check it, whatever created the directory or the umask.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            file.set_permissions(fs::Permissions::from_mode(0o600))?;
            let mode = file.metadata()?.permissions().mode() & 0o777;
            if mode != 0o600 {
                return Err(io::Error::other(format!(
                    "the new file has mode {mode:o}, not 600"
                )));
            }
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[async_trait]
impl CredentialStore for FileStore {
    async fn lock(&self, key: &str) -> Result<Option<auth_core::StoreLock>, AuthError> {
        self.key_lock.acquire(key).await
    }

    async fn load(&self, key: &str) -> Result<Option<Credentials>, AuthError> {
        let endpoint = service_for(key).to_string();
        self.run("reading", key, move |path| read(&path, &endpoint))
            .await
    }

    async fn save(&self, key: &str, credentials: &Credentials) -> Result<(), AuthError> {
        let endpoint = service_for(key).to_string();
        let credentials = credentials.clone();
        self.run("writing", key, move |path| {
            write(&path, &credentials, &endpoint)
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), AuthError> {
        self.run("deleting", key, move |path| match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(AuthError::storage(format!(
                "could not delete it: {e}; check its permissions"
            ))),
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe() {
        assert_eq!(
            file_stem("flyte.example.com:443"),
            "flyte.example.com%3A443"
        );
        assert_eq!(file_stem("../etc/passwd"), "%2E.%2Fetc%2Fpasswd");
        assert_eq!(file_stem("a/b"), "a%2Fb");
        assert_eq!(file_stem(""), "%");
        assert_eq!(
            file_stem("https://idp.example/realms/x"),
            "https%3A%2F%2Fidp.example%2Frealms%2Fx"
        );
    }
}
