//! Configuration errors: each names the file or variable, the key and the bad value.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::mode::ParseAuthModeError;

/// Where a configuration value came from.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A key in a config file, such as `admin.insecure`.
    File {
        /// The config file.
        path: PathBuf,
        /// The key, dotted from the top of the file: `admin.pkceConfig.timeout`.
        key: String,
    },
    /// An environment variable, such as `FLYTE_PLATFORM_INSECURE`.
    Env {
        /// The variable's name.
        var: String,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, key } => write!(f, "{key} in {}", path.display()),
            Origin::Env { var } => write!(f, "environment variable {var}"),
        }
    }
}

/// Where the config file path came from, for [`ConfigError::FileNotFound`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileSource {
    /// Given explicitly: `--config` or [`Loader::config_path`](crate::Loader::config_path).
    Explicit,
    /// The `FLYTECTL_CONFIG` environment variable.
    FlytectlConfigEnv,
    /// The default location, `~/.flyte/config.yaml`.
    Home,
}

impl fmt::Display for FileSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileSource::Explicit => "given with --config",
            FileSource::FlytectlConfigEnv => "named by FLYTECTL_CONFIG",
            FileSource::Home => "the default location",
        })
    }
}

/// A configuration that cannot be loaded.
///
/// Every message names the file or environment variable, the key and the bad value, and says
/// what to do. No message contains a client secret: secrets are never parsed, only read, and a
/// failure to read one names the file or variable, never the contents.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A config file that was asked for explicitly does not exist.
    #[non_exhaustive]
    #[error(
        "config file {} ({source_of_path}) does not exist: check the path, or create it with `flytectl config init`",
        path.display()
    )]
    FileNotFound {
        /// The missing file.
        path: PathBuf,
        /// Who named it.
        source_of_path: FileSource,
    },

    /// The config file exists but cannot be read.
    #[non_exhaustive]
    #[error("cannot read config file {}: {source}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },

    /// The config file is not valid YAML, or a key holds a value of the wrong shape (a
    /// mapping where a string belongs, for example).
    #[non_exhaustive]
    #[error(
        "config file {}: {}{message}",
        path.display(),
        key.as_deref().map(|k| format!("{k}: ")).unwrap_or_default()
    )]
    Parse {
        /// The file.
        path: PathBuf,
        /// The key being read when the error occurred, if any.
        key: Option<String>,
        /// What is wrong, with line and column when known.
        message: String,
    },

    /// A value that does not fit its key: a bad boolean, duration or list.
    #[non_exhaustive]
    #[error("{origin}: invalid value {value:?}: {expected}")]
    InvalidValue {
        /// Where the value came from.
        origin: Origin,
        /// The value (shortened if long).
        value: String,
        /// What the key accepts.
        expected: String,
    },

    /// An `authType` / `FLYTE_CREDENTIALS_AUTH_MODE` that names no known mode.
    #[non_exhaustive]
    #[error("{origin}: {source}")]
    UnknownAuthMode {
        /// Where the value came from.
        origin: Origin,
        /// The parse error, which lists the valid names.
        source: ParseAuthModeError,
    },

    /// The file named by `clientSecretLocation` cannot be read.
    #[non_exhaustive]
    #[error(
        "cannot read the client secret from {} (set by {origin}): {source}; fix the path or the file's permissions",
        path.display()
    )]
    SecretFile {
        /// The secret file.
        path: PathBuf,
        /// Where `clientSecretLocation` was set.
        origin: Origin,
        /// The I/O error.
        source: io::Error,
    },

    /// The file named by `clientSecretLocation` holds nothing but whitespace.
    #[non_exhaustive]
    #[error("the client secret file {} (set by {origin}) is empty", path.display())]
    EmptySecretFile {
        /// The secret file.
        path: PathBuf,
        /// Where `clientSecretLocation` was set.
        origin: Origin,
    },

    /// The variable named by `clientSecretEnvVar` is not set, or is empty.
    #[non_exhaustive]
    #[error(
        "the environment variable {var}, named by {origin} to hold the client secret, is not set or empty"
    )]
    SecretEnvVarMissing {
        /// The variable that should hold the secret.
        var: String,
        /// Where `clientSecretEnvVar` was set.
        origin: Origin,
    },

    /// A Flyte 2 API key (`FLYTE_API_KEY`, `EAGER_API_KEY`) that cannot be decoded.
    #[non_exhaustive]
    #[error("{origin}: {source}")]
    InvalidApiKey {
        /// The variable that holds the key.
        origin: Origin,
        /// What is wrong with it.
        source: crate::api_key::ApiKeyError,
    },
}

impl ConfigError {
    /// Where the offending value came from, for errors about one value.
    pub fn origin(&self) -> Option<&Origin> {
        match self {
            ConfigError::InvalidValue { origin, .. }
            | ConfigError::UnknownAuthMode { origin, .. }
            | ConfigError::SecretFile { origin, .. }
            | ConfigError::EmptySecretFile { origin, .. }
            | ConfigError::SecretEnvVarMissing { origin, .. }
            | ConfigError::InvalidApiKey { origin, .. } => Some(origin),
            ConfigError::FileNotFound { .. }
            | ConfigError::ReadFile { .. }
            | ConfigError::Parse { .. } => None,
        }
    }
}
