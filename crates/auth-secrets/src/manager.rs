//! flytekit's `SecretsManager`, in Rust.

use std::fmt;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use security_model::Secret;
use security_model::secret::MountType;
use zeroize::Zeroizing;

use crate::env::{EnvDebug, Environment, ProcessEnvironment};
use crate::error::{SecretError, SecretOrigin};
use crate::text::{posix_join, py_strip, py_strip_bytes, universal_newlines};
use crate::value::{SecretBytes, SecretString};

/// A secret file larger than this is refused rather than read: a Kubernetes secret holds at
/// most 1 MiB, and a path such as `/dev/zero` must not be read forever.
pub const MAX_SECRET_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// The variables that override [`SecretsConfig`]'s defaults, as in flytekit.
pub mod vars {
    /// The prefix of secret variables (default `_FSEC_`).
    pub const SECRETS_ENV_PREFIX: &str = "FLYTE_SECRETS_ENV_PREFIX";
    /// The directory of secret files (default `/etc/secrets`).
    pub const SECRETS_DEFAULT_DIR: &str = "FLYTE_SECRETS_DEFAULT_DIR";
    /// The prefix of the last part of a secret file's path (default empty).
    pub const SECRETS_FILE_PREFIX: &str = "FLYTE_SECRETS_FILE_PREFIX";
}

/// Where secrets are looked for: flytekit's `SecretsConfig`.
///
/// Values are stripped of whitespace as flytekit strips them, so `" MY_ "` means `MY_`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretsConfig {
    env_prefix: String,
    default_dir: String,
    file_prefix: String,
}

impl Default for SecretsConfig {
    /// flytekit's defaults: prefix `_FSEC_`, directory `/etc/secrets`, no file prefix.
    fn default() -> Self {
        Self {
            env_prefix: "_FSEC_".to_owned(),
            default_dir: "/etc/secrets".to_owned(),
            file_prefix: String::new(),
        }
    }
}

impl SecretsConfig {
    /// The defaults, overridden by `FLYTE_SECRETS_ENV_PREFIX`, `FLYTE_SECRETS_DEFAULT_DIR` and
    /// `FLYTE_SECRETS_FILE_PREFIX` in `env`. As in flytekit, a variable set to the empty
    /// string keeps the default, while one set to blanks only gives an empty value.
    ///
    /// flytekit also reads a `[secrets]` section from its legacy INI config file; this does
    /// not.
    pub fn from_env(env: &dyn Environment) -> Self {
        let read = |name: &str, default: String| match env.var(name) {
            Some(v) if !v.is_empty() => v.to_string_lossy().into_owned(),
            _ => default,
        };
        let d = Self::default();
        Self::default()
            .with_env_prefix(read(vars::SECRETS_ENV_PREFIX, d.env_prefix))
            .with_default_dir(read(vars::SECRETS_DEFAULT_DIR, d.default_dir))
            .with_file_prefix(read(vars::SECRETS_FILE_PREFIX, d.file_prefix))
    }

    /// Sets the prefix of secret variables.
    #[must_use]
    pub fn with_env_prefix(mut self, prefix: impl AsRef<str>) -> Self {
        self.env_prefix = py_strip(prefix.as_ref()).to_owned();
        self
    }

    /// Sets the directory of secret files.
    #[must_use]
    pub fn with_default_dir(mut self, dir: impl AsRef<str>) -> Self {
        self.default_dir = py_strip(dir.as_ref()).to_owned();
        self
    }

    /// Sets the prefix of the last part of a secret file's path.
    #[must_use]
    pub fn with_file_prefix(mut self, prefix: impl AsRef<str>) -> Self {
        self.file_prefix = py_strip(prefix.as_ref()).to_owned();
        self
    }

    /// The prefix of secret variables.
    pub fn env_prefix(&self) -> &str {
        &self.env_prefix
    }

    /// The directory of secret files.
    pub fn default_dir(&self) -> &str {
        &self.default_dir
    }

    /// The prefix of the last part of a secret file's path.
    pub fn file_prefix(&self) -> &str {
        &self.file_prefix
    }
}

/// Whether the process runs as a Flyte task or locally.
///
/// flytekit decides this from its execution context; a Rust process has none, so the caller
/// says. Only [`Local`](Self::Local) also looks at the unprefixed variable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExecutionMode {
    /// In a task pod, or anywhere outside a local run (flytekit's behaviour outside
    /// `pyflyte run`): only the prefixed variable, then the file.
    #[default]
    Task,
    /// A local run (`pyflyte run` without `--remote`): the prefixed variable, then the
    /// unprefixed one (`GROUP_KEY`), then the file.
    Local,
}

/// Resolves task secrets as flytekit's `SecretsManager` does.
///
/// For a secret `key` in `group` (optionally `group_version`):
/// 1. the variable `<prefix><GROUP>_<GROUP_VERSION>_<KEY>` (the present parts, upper-cased,
///    joined by `_`; prefix `_FSEC_` by default), and in [`ExecutionMode::Local`] the same
///    name without the prefix; a variable that is set wins even when it is empty;
/// 2. the file `<dir>/<group>/<group_version>/<file prefix><key>` (lower-cased; `dir` is
///    `/etc/secrets` by default);
/// 3. otherwise [`SecretError::NotFound`], with flytekit's message.
///
/// Values are stripped of leading and trailing whitespace (Python's definition); text files
/// are read as UTF-8 with `\r\n` and `\r` turned into `\n`, as Python's text mode does;
/// [`get_bytes`](Self::get_bytes) reads files as they are and strips ASCII whitespace only.
/// The golden vectors in `tests/data/secrets-vectors.json`, made by the real flytekit, pin
/// every rule.
///
/// ```
/// use std::collections::HashMap;
/// use auth_secrets::{Secret, SecretsManager};
///
/// let env = HashMap::from([("_FSEC_DB_PASSWORD".to_owned(), " hunter2\n".to_owned())]);
/// let secrets = SecretsManager::with_environment(env);
/// let secret = Secret::new("db", "password");
/// assert_eq!(secrets.env_var_name(&secret), "_FSEC_DB_PASSWORD");
/// assert_eq!(secrets.get(&secret)?.secret(), "hunter2");
/// # Ok::<(), auth_secrets::SecretError>(())
/// ```
#[derive(Clone)]
pub struct SecretsManager {
    config: SecretsConfig,
    mode: ExecutionMode,
    env: Arc<dyn Environment>,
}

impl fmt::Debug for SecretsManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretsManager")
            .field("config", &self.config)
            .field("mode", &self.mode)
            .field("env", &EnvDebug(self.env.as_ref()))
            .finish()
    }
}

impl Default for SecretsManager {
    fn default() -> Self {
        Self::new()
    }
}

impl SecretsManager {
    /// Reads the process environment, with the configuration from it
    /// ([`SecretsConfig::from_env`]), in [`ExecutionMode::Task`].
    pub fn new() -> Self {
        Self::with_environment(ProcessEnvironment)
    }

    /// Reads `env` instead of the process environment, with the configuration from it.
    pub fn with_environment(env: impl Environment + 'static) -> Self {
        let config = SecretsConfig::from_env(&env);
        Self {
            config,
            mode: ExecutionMode::default(),
            env: Arc::new(env),
        }
    }

    /// Uses this configuration instead of the one from the environment.
    #[must_use]
    pub fn config(mut self, config: SecretsConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets the execution mode (default [`ExecutionMode::Task`]).
    #[must_use]
    pub fn mode(mut self, mode: ExecutionMode) -> Self {
        self.mode = mode;
        self
    }

    /// The configuration in use.
    pub fn secrets_config(&self) -> &SecretsConfig {
        &self.config
    }

    /// The prefixed variable a secret is looked for in (flytekit's `get_secrets_env_var`).
    pub fn env_var_name(&self, secret: &Secret) -> String {
        self.env_var_with_prefix(secret, &self.config.env_prefix)
    }

    /// The file a secret is looked for in (flytekit's `get_secrets_file`); `None` when the
    /// request names no group, group version or key.
    pub fn file_path(&self, secret: &Secret) -> Option<PathBuf> {
        let mut parts: Vec<String> = parts(secret).map(str::to_lowercase).collect();
        let last = parts.last_mut()?;
        last.insert_str(0, &self.config.file_prefix);
        Some(PathBuf::from(posix_join(
            &self.config.default_dir,
            parts.iter().map(String::as_str),
        )))
    }

    /// The secret as text, exactly as flytekit's `SecretsManager.get` resolves it.
    /// `Secret.env_var` and `Secret.mount_requirement` are ignored, as flytekit ignores them;
    /// see [`resolve`](Self::resolve).
    ///
    /// # Errors
    ///
    /// [`SecretError::NotFound`] with flytekit's message when neither the variable nor the
    /// file exists; [`SecretError::NotUtf8`] or [`SecretError::Unreadable`] when one exists but
    /// cannot be read as text; [`SecretError::EmptyRequest`] for a request without names.
    pub fn get(&self, secret: &Secret) -> Result<SecretString, SecretError> {
        match self.lookup(secret)? {
            Found::Text(text) => Ok(text),
            Found::Bytes(bytes) => text_from_file(bytes, self.file_path(secret)),
        }
    }

    /// The secret as bytes: flytekit's `get(..., encode_mode="rb")`. A file is read as it
    /// is (no newline translation, no UTF-8 check) and stripped of ASCII whitespace; a
    /// variable is still read as text, as flytekit reads it.
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get), except that a file need not be UTF-8.
    pub fn get_bytes(&self, secret: &Secret) -> Result<SecretBytes, SecretError> {
        match self.lookup(secret)? {
            Found::Text(text) => Ok(SecretBytes::new(text.secret().as_bytes().to_vec())),
            Found::Bytes(bytes) => Ok(SecretBytes::new(py_strip_bytes(&bytes).to_vec())),
        }
    }

    /// The secret as the platform injected it for this request: when `Secret.env_var` is set
    /// and that variable exists, its value (stripped), or with
    /// [`MountType::File`] the contents of the file it names; otherwise [`get`](Self::get).
    ///
    /// flytekit's `SecretsManager` does not look at `env_var`; Flyte sets that variable for
    /// secrets requested with `env_var` (flytekit) or `as_env_var` (Flyte 2).
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get).
    pub fn resolve(&self, secret: &Secret) -> Result<SecretString, SecretError> {
        if !secret.env_var.is_empty()
            && let Some(value) = self.env.var(&secret.env_var)
        {
            let value = Zeroizing::new(value.into_string().map_err(|_| SecretError::NotUtf8 {
                origin: SecretOrigin::EnvVar(secret.env_var.clone()),
            })?);
            if secret.mount_requirement() == MountType::File {
                let path = PathBuf::from(py_strip(&value));
                if fs::metadata(&path).is_err() {
                    return Err(SecretError::Unreadable {
                        path,
                        reason: format!(
                            "the file named by {} does not exist; check the secret's mount",
                            secret.env_var
                        ),
                        source: None,
                    });
                }
                let bytes = read_capped(&path)?;
                return text_from_file(bytes, Some(path));
            }
            return Ok(SecretString::new(py_strip(&value)));
        }
        self.get(secret)
    }

    fn env_var_with_prefix(&self, secret: &Secret, prefix: &str) -> String {
        let upper: Vec<String> = parts(secret).map(str::to_uppercase).collect();
        format!("{prefix}{}", upper.join("_"))
    }

    fn lookup(&self, secret: &Secret) -> Result<Found, SecretError> {
        let mut prefixes = vec![self.config.env_prefix.as_str()];
        if self.mode == ExecutionMode::Local {
            prefixes.push("");
        }
        let mut env_var = String::new();
        for prefix in prefixes {
            env_var = self.env_var_with_prefix(secret, prefix);
            if let Some(value) = self.env.var(&env_var) {
                let value =
                    Zeroizing::new(value.into_string().map_err(|_| SecretError::NotUtf8 {
                        origin: SecretOrigin::EnvVar(env_var.clone()),
                    })?);
                return Ok(Found::Text(SecretString::new(py_strip(&value))));
            }
        }
        let Some(path) = self.file_path(secret) else {
            return Err(SecretError::EmptyRequest { env_var });
        };
        // os.path.exists: anything that cannot be stat'ed (missing, dangling link, no
        // permission on a parent) does not exist.
        if fs::metadata(&path).is_err() {
            return Err(SecretError::NotFound {
                group: non_empty(&secret.group),
                key: non_empty(&secret.key),
                env_var,
                path,
            });
        }
        read_capped(&path).map(Found::Bytes)
    }
}

enum Found {
    Text(SecretString),
    Bytes(Zeroizing<Vec<u8>>),
}

/// The non-empty names of a request, in flytekit's order: group, group version, key.
fn parts(secret: &Secret) -> impl Iterator<Item = &str> {
    [
        secret.group.as_str(),
        secret.group_version.as_str(),
        secret.key.as_str(),
    ]
    .into_iter()
    .filter(|p| !p.is_empty())
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// Reads a regular file of at most [`MAX_SECRET_FILE_BYTES`]. A FIFO or device is refused, so
/// that a read can never block.
fn read_capped(path: &Path) -> Result<Zeroizing<Vec<u8>>, SecretError> {
    let unreadable = |reason: &str, source: Option<std::io::Error>| SecretError::Unreadable {
        path: path.to_owned(),
        reason: reason.to_owned(),
        source,
    };
    let meta = fs::metadata(path).map_err(|e| unreadable("cannot stat it", Some(e)))?;
    if meta.is_dir() {
        return Err(unreadable(
            "it is a directory; name the key inside the group",
            None,
        ));
    }
    if !meta.is_file() {
        return Err(unreadable("it is not a regular file", None));
    }
    let file = fs::File::open(path).map_err(|e| unreadable("cannot open it", Some(e)))?;
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(MAX_SECRET_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| unreadable("cannot read it", Some(e)))?;
    if bytes.len() as u64 > MAX_SECRET_FILE_BYTES {
        return Err(unreadable(
            &format!("it is larger than {MAX_SECRET_FILE_BYTES} bytes"),
            None,
        ));
    }
    Ok(bytes)
}

/// Python's text mode: strict UTF-8, universal newlines; then `strip()`.
fn text_from_file(
    bytes: Zeroizing<Vec<u8>>,
    path: Option<PathBuf>,
) -> Result<SecretString, SecretError> {
    let text = std::str::from_utf8(&bytes).map_err(|_| SecretError::NotUtf8 {
        origin: SecretOrigin::File(path.unwrap_or_default()),
    })?;
    let text = Zeroizing::new(universal_newlines(text));
    Ok(SecretString::new(py_strip(&text)))
}
