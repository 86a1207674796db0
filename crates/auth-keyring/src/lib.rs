#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
#[path = "fuzzing.rs"]
pub mod __fuzz;
mod cache;
mod keyring;
mod layout;
#[cfg(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
))]
mod secret_service;

/// The stores without a keyring, re-exported from auth-store (which compiles no keyring
/// library).
pub use auth_store::{DEFAULT_LOCK_TIMEOUT, DEFAULT_TIMEOUT, FileStore, NoStore, service_for};
pub use cache::SESSION_CACHE_MAX_TTL;
pub use keyring::{KEYUTILS_MAX_VALUE_LEN, KeyringStore, WINDOWS_MAX_VALUE_LEN};
pub use layout::KeyringLayout;

/// Names of the keyring entries, for tools that inspect or clean a keyring by hand.
pub mod entries {
    pub use crate::layout::{
        ACCESS_TOKEN, CHUNK_PREFIX, FLYTE2_TOKENS, ID_TOKEN, META, REFRESH_TOKEN,
    };

    /// The user name of piece `index` (from 1) of the chunked value `name`, e.g.
    /// `access_token#1`.
    pub fn piece(name: &str, index: usize) -> String {
        crate::layout::piece_name(name, index)
    }
}

#[cfg(test)]
mod tests;
