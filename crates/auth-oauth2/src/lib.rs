#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
mod discovery;
mod tls;
mod transport;

pub use client::{
    ClientAuthMethod, DEVICE_CODE_GRANT, DeviceAuthorization, OAuth2Client, scope_param,
};
pub use discovery::{FlyteDiscovery, IssuerDiscovery};
pub use transport::{HttpClient, MAX_BODY_BYTES, TransportOptions};
