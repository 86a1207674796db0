//! The cross-process lock of one store key: an advisory lock (`flock` on Unix, `LockFileEx`
//! on Windows, through `fs4`) on a small file in the user's runtime directory.
//!
//! The kernel releases it when the holding process dies, however it dies, so a crashed or
//! killed process never leaves a stale lock; the lock file itself stays (it holds nothing).
//! Waiting is a poll with a short sleep until the deadline, so a wait never blocks the async
//! executor and always ends.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use auth_core::{AuthError, StoreLock};

use crate::service_for;

/// How long a process waits for another one's refresh or login by default: long enough
/// for a person to finish a browser or device login in the other process.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(300);

/// Where and how long to wait for the lock of a store key.
#[derive(Debug, Clone)]
pub struct KeyLock {
    dir: Option<PathBuf>,
    timeout: Duration,
}

impl Default for KeyLock {
    fn default() -> Self {
        Self::new()
    }
}

impl KeyLock {
    /// Lock files in the default directory: `$XDG_RUNTIME_DIR/flyte-auth/locks`, else the
    /// user's cache directory.
    pub fn new() -> Self {
        Self {
            dir: default_dir(),
            timeout: DEFAULT_LOCK_TIMEOUT,
        }
    }

    /// Lock files in `dir` instead; `None` takes no lock at all.
    pub fn with_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.dir = dir;
        self
    }

    /// How long to wait for another process's lock before going on without it.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The lock file of `key`, or `None` when there is no directory for lock files.
    pub fn path_for(&self, key: &str) -> Option<PathBuf> {
        let service = service_for(key);
        let stem: String = service
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(64)
            .collect();
        // The checksum keeps keys apart that the readable part maps to one name.
        let check = crate::fnv1a64(service.as_bytes());
        self.dir
            .as_ref()
            .map(|d| d.join(format!("{stem}-{check:016x}.lock")))
    }

    /// Waits for the lock of `key` up to the deadline.
    pub async fn acquire(&self, key: &str) -> Result<Option<StoreLock>, AuthError> {
        let Some(path) = self.path_for(key) else {
            return Err(AuthError::storage(
                "no directory for lock files (set XDG_RUNTIME_DIR or HOME): processes using the \
                 same credentials are not coordinated",
            ));
        };
        let file = open(&path).map_err(|e| {
            AuthError::storage(format!(
                "could not open the lock file {}: {e}; check that its directory is writable",
                path.display()
            ))
        })?;
        let started = Instant::now();
        let mut pause = Duration::from_millis(5);
        let mut logged = false;
        loop {
            match fs4::FileExt::try_lock(&file) {
                Ok(()) => return Ok(Some(StoreLock::new(Held { file }))),
                Err(fs4::TryLockError::WouldBlock) => {}
                Err(fs4::TryLockError::Error(e)) => {
                    return Err(AuthError::storage(format!(
                        "could not lock {}: {e}",
                        path.display()
                    )));
                }
            }
            let waited = started.elapsed();
            if waited >= self.timeout {
                return Err(AuthError::timeout(format!(
                    "another process has held {} for {waited:?} (a login waiting for a person?); \
                     going on without waiting for it",
                    path.display()
                )));
            }
            if !logged {
                tracing::info!(
                    lock = %path.display(),
                    "another process is refreshing or logging in; waiting for it"
                );
                logged = true;
            }
            tokio::time::sleep(pause.min(self.timeout - waited)).await;
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }
}

/// A locked file: closing it (on drop, or by the kernel when the process dies) unlocks it.
struct Held {
    #[allow(dead_code)] // Held for its drop.
    file: File,
}

/// `$XDG_RUNTIME_DIR/flyte-auth/locks`, else the user's cache directory
/// (`$XDG_CACHE_HOME` or `~/.cache`, `%LOCALAPPDATA%` on Windows) `/flyte-auth/locks`.
pub(crate) fn default_dir() -> Option<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let base = if cfg!(windows) {
        var("LOCALAPPDATA")
    } else {
        var("XDG_RUNTIME_DIR")
            .or_else(|| var("XDG_CACHE_HOME"))
            .or_else(|| var("HOME").map(|h| h.join(".cache")))
    }?;
    Some(base.join("flyte-auth").join("locks"))
}

fn open(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_holder_waits_until_the_first_drops_and_times_out_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let lock = KeyLock::new()
            .with_dir(Some(dir.path().to_path_buf()))
            .with_timeout(Duration::from_millis(200));
        let first = lock.acquire("dns:///flyte.example.com").await.unwrap();
        assert!(first.is_some());
        // flock is per open file: a second open in the same process contends like a second
        // process would.
        let err = lock.acquire("flyte.example.com").await.unwrap_err();
        assert_eq!(err.kind(), auth_core::ErrorKind::Timeout, "{err}");
        // Another key is not held up.
        assert!(lock.acquire("other.example.com").await.unwrap().is_some());
        drop(first);
        assert!(lock.acquire("flyte.example.com").await.unwrap().is_some());
    }

    #[test]
    fn lock_file_names_are_safe_and_distinct() {
        let lock = KeyLock::new().with_dir(Some(PathBuf::from("/x")));
        let a = lock.path_for("a/b:443").unwrap();
        let b = lock.path_for("a_b_443").unwrap();
        assert_ne!(a, b);
        assert!(
            a.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("a_b_443-")
        );
        assert_eq!(lock.path_for("dns:///h"), lock.path_for("h"));
    }
}
