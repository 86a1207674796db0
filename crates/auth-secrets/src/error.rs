//! Why a secret could not be resolved.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Where a value was read from, for error messages (never the value).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretOrigin {
    /// An environment variable.
    EnvVar(String),
    /// A file.
    File(PathBuf),
}

impl fmt::Display for SecretOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretOrigin::EnvVar(name) => write!(f, "environment variable {name}"),
            SecretOrigin::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

/// A secret that could not be resolved. No message contains a secret value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// Neither the environment variable nor the file exists. The message is flytekit's,
    /// word for word (an empty group or key shows as `None`, as flytekit shows an absent one).
    #[error(
        "Please make sure to add secret_requests=[Secret(group={}, key={})] in @task. Unable to find secret for key {} in group {} in Env Var:{env_var} and FilePath: {}",
        py(group), py(key), py(key), py(group), path.display()
    )]
    NotFound {
        /// The requested group, if any.
        group: Option<String>,
        /// The requested key, if any.
        key: Option<String>,
        /// The last environment variable looked at (the unprefixed one in local runs).
        env_var: String,
        /// The file looked at.
        path: PathBuf,
    },
    /// The request names no group, no group version and no key, so there is no file to look
    /// at (flytekit raises `IndexError` here).
    #[error(
        "the secret request names no group, group version or key, and the environment variable {env_var} is not set: name the secret's group and key"
    )]
    EmptyRequest {
        /// The variable looked at: the prefix alone.
        env_var: String,
    },
    /// A text secret that is not UTF-8 (flytekit raises `UnicodeDecodeError`).
    #[error("the secret in {origin} is not valid UTF-8: read it as bytes instead")]
    NotUtf8 {
        /// Where it was read.
        origin: SecretOrigin,
    },
    /// The secret file exists but cannot be read: a directory, a FIFO or device, no
    /// permission, or larger than [`MAX_SECRET_FILE_BYTES`](crate::MAX_SECRET_FILE_BYTES).
    #[error("cannot read the secret file {}: {reason}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why, in words.
        reason: String,
        /// The I/O error, if there was one.
        #[source]
        source: Option<io::Error>,
    },
}

impl SecretError {
    /// Whether the secret is simply not there (as opposed to there but unreadable).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            SecretError::NotFound { .. } | SecretError::EmptyRequest { .. }
        )
    }
}

/// Python's `str()` of an optional string.
fn py(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("None")
}
