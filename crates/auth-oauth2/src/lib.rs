#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
#[path = "fuzzing.rs"]
pub mod __fuzz;
mod assertion;
mod client;
mod discovery;
mod endpoint;
mod flow;
#[cfg(feature = "pkce")]
#[cfg_attr(docsrs, doc(cfg(feature = "pkce")))]
pub mod pkce;
#[cfg(any(feature = "pkce", feature = "private-key-jwt", test))]
mod random;
mod revoke;
mod tls;
mod transport;

pub use assertion::{
    ASSERTION_LIFETIME, AssertionAlgorithm, ClientAssertion, JWT_BEARER_ASSERTION_TYPE,
};
pub use client::{
    ClientAuthMethod, DEVICE_CODE_GRANT, DeviceAuthorization, MAX_DEVICE_CODE_LIFETIME,
    MAX_POLL_INTERVAL, OAuth2Client, TOKEN_EXCHANGE_GRANT, scope_param,
};
pub use discovery::{FlyteDiscovery, FlyteOverrides, IssuerDiscovery};
pub use endpoint::check_endpoint;
pub use flow::{
    BuildError, BuildErrorKind, BuiltClient, ClientSettings, ConfigResolver, FlowRules, Resolved,
};

/// What [`client_settings_setters!`] names from other crates (not a public API).
#[doc(hidden)]
pub mod __private {
    pub use auth_core::{ClientConfigStore, ClientSecret, CredentialStore, EngineOptions};
}
pub use transport::{HttpClient, MAX_BODY_BYTES, TransportOptions, sanitize_for_terminal};
