#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
#[path = "fuzzing.rs"]
pub mod __fuzz;
mod client;
mod discovery;
mod endpoint;
pub mod pkce;
mod tls;
mod transport;

pub use client::{
    ClientAuthMethod, DEVICE_CODE_GRANT, DeviceAuthorization, MAX_DEVICE_CODE_LIFETIME,
    MAX_POLL_INTERVAL, OAuth2Client, scope_param,
};
pub use discovery::{FlyteDiscovery, IssuerDiscovery};
pub use endpoint::check_endpoint;
pub use transport::{HttpClient, MAX_BODY_BYTES, TransportOptions, sanitize_for_terminal};
