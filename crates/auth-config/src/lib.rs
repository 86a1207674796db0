#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
#[path = "fuzzing.rs"]
pub mod __fuzz;
mod api_key;
mod error;
mod layer;
mod loader;
mod mode;
mod parse;
mod settings;
pub mod vars;
mod yaml;

pub use api_key::{ApiKey, ApiKeyError};
pub use error::{ConfigError, FileSource, Origin};
pub use loader::{Loader, Overrides, find_config_file};
pub use mode::{AuthMode, ClientAuthMethod, ParseAuthModeError};
pub use parse::format_go_duration;
pub use settings::{SecretSource, Settings, redact_url_userinfo};
