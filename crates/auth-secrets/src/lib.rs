#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod env;
mod error;
mod flyte2;
mod manager;
mod text;
mod value;

pub use env::{Environment, ProcessEnvironment};
pub use error::{SecretError, SecretOrigin};
pub use flyte2::{InvalidEnvVarName, flyte2_env_var};
pub use manager::{ExecutionMode, MAX_SECRET_FILE_BYTES, SecretsConfig, SecretsManager, vars};
pub use value::{SecretBytes, SecretString};

/// The request type: Flyte's `Secret` from `security-model`, re-exported for convenience.
pub use security_model::Secret;
