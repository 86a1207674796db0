#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod deadline;
mod file;
mod lock;
mod none;

pub use deadline::{DEFAULT_TIMEOUT, Runner};
pub use file::FileStore;
pub use lock::{DEFAULT_LOCK_TIMEOUT, KeyLock};
pub use none::NoStore;

/// The JSON format of [`FileStore`], also the payload of auth-keyring's session cache.
pub mod codec {
    pub use crate::file::{decode_credentials, encode_credentials};
}

/// The keyring service (and file name) of a store key: the key without a `dns:///` prefix,
/// as flytekit names it.
///
/// ```
/// assert_eq!(auth_store::service_for("dns:///flyte.example.com"), "flyte.example.com");
/// ```
pub fn service_for(key: &str) -> &str {
    key.strip_prefix("dns:///").unwrap_or(key)
}

/// FNV-1a, 64 bits: a stable short hash for file and entry names (not for security).
#[doc(hidden)]
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
