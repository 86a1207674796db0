//! Authentication for Flyte, and for any API behind an OAuth 2.0 / OpenID Connect identity
//! provider: access tokens obtained, cached, refreshed ahead of expiry and stored.
//!
//! This is the facade of the flyte-auth crates. It re-exports the core types at the root and
//! each flow as a module behind a cargo feature, and with the `config` feature it builds the
//! right authenticator from Flyte's own configuration ([`from_config`]). Depend on a flow
//! crate directly only if you want to avoid this crate's small glue.
//!
//! ```no_run
//! # #[cfg(feature = "clientcreds")]
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use flyte_auth::Authenticator;
//!
//! let auth = flyte_auth::clientcreds::ClientCredentialsAuthenticator::builder()
//!     .client_id("my-service")
//!     .client_secret(flyte_auth::ClientSecret::new("from-a-secret-store"))
//!     .token_endpoint("https://idp.example.com/oauth2/token")
//!     .build()?;
//! let (key, value) = auth.authorization_header().await?;
//! # let _ = (key, value); Ok(()) }
//! ```
//!
//! # Feature flags
//!
//! None are on by default: a security library makes you choose each flow you compile in.
//!
//! - `pkce`: browser login, authorization code + PKCE ([`pkce`]).
//! - `device`: device authorization grant for headless terminals ([`device`]).
//! - `clientcreds`: client credentials grant for services ([`clientcreds`]), with a secret
//!   or a federated token file as the client assertion.
//! - `private-key-jwt`: client assertions signed with a private key
//!   (`admin.clientAssertionKeyFile`); compiles jsonwebtoken.
//! - `exchange`: token exchange (RFC 8693) of a workload's token, such as a Kubernetes
//!   service-account token, for one with the Flyte audience ([`exchange`]).
//! - `command`: a token printed by an external command; proxy authorization ([`command`]).
//!   Compiles no HTTP stack.
//! - `keyring`: credentials in the OS keyring, shared with flytekit ([`keyring`]); also
//!   turns on `store`.
//! - `store`: credentials in a file only the user can read, or nowhere ([`store`]); compiles
//!   no keyring or D-Bus library.
//! - `config`: Flyte `config.yaml` and `FLYTE_*` variables, and [`from_config`].
//! - `tower`: authenticated gRPC and HTTP channels: a tower layer, a tonic interceptor,
//!   discovery over gRPC and Connect, and [`tower::connect`] ([`tower`]).
//! - `secrets`: Flyte task secrets, resolved as flytekit's `SecretsManager` does ([`secrets`]).
//!   Compiles no HTTP stack.
//! - `qr`: a QR code of the device login URL in the terminal.
//! - `full`: all of the above but `qr`.
//!
//! ```toml
//! [dependencies]
//! flyte-auth = { version = "0.1", features = ["pkce", "keyring"] }
//! ```
//!
//! # Supported Rust versions
//!
//! The minimum supported Rust version is 1.88.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[doc(inline)]
pub use auth_core as core;
#[doc(no_inline)]
pub use auth_core::{
    AccessToken, AcquireReason, AuthError, Authenticator, ClientConfig, ClientConfigStore,
    ClientSecret, Clock, CredentialStore, Credentials, EngineOptions, ErrorKind, FetchContext,
    HeaderValue, IdToken, MemoryStore, OAuthErrorResponse, RefreshToken, RetryPolicy,
    SharedAuthenticator, StaticClientConfigStore, SystemClock, TokenEngine, TokenSource,
    async_trait, jwt_claims,
};
#[doc(inline)]
pub use security_model as models;

#[cfg(any(
    feature = "pkce",
    feature = "device",
    feature = "clientcreds",
    feature = "exchange"
))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(
        feature = "pkce",
        feature = "device",
        feature = "clientcreds",
        feature = "exchange"
    )))
)]
#[doc(inline)]
pub use auth_oauth2 as oauth2;

#[cfg(feature = "pkce")]
#[cfg_attr(docsrs, doc(cfg(feature = "pkce")))]
#[doc(inline)]
pub use auth_pkce as pkce;

#[cfg(feature = "device")]
#[cfg_attr(docsrs, doc(cfg(feature = "device")))]
#[doc(inline)]
pub use auth_device as device;

#[cfg(feature = "clientcreds")]
#[cfg_attr(docsrs, doc(cfg(feature = "clientcreds")))]
#[doc(inline)]
pub use auth_clientcreds as clientcreds;

#[cfg(feature = "command")]
#[cfg_attr(docsrs, doc(cfg(feature = "command")))]
#[doc(inline)]
pub use auth_command as command;

#[cfg(feature = "keyring")]
#[cfg_attr(docsrs, doc(cfg(feature = "keyring")))]
#[doc(inline)]
pub use auth_keyring as keyring;

#[cfg(feature = "store")]
#[cfg_attr(docsrs, doc(cfg(feature = "store")))]
#[doc(inline)]
pub use auth_store as store;

#[cfg(feature = "config")]
#[cfg_attr(docsrs, doc(cfg(feature = "config")))]
#[doc(inline)]
pub use auth_config as config;

#[cfg(feature = "exchange")]
#[cfg_attr(docsrs, doc(cfg(feature = "exchange")))]
#[doc(inline)]
pub use auth_exchange as exchange;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
#[doc(inline)]
pub use auth_tower as tower;

#[cfg(feature = "secrets")]
#[cfg_attr(docsrs, doc(cfg(feature = "secrets")))]
#[doc(inline)]
pub use auth_secrets as secrets;

pub mod blocking;

#[cfg(feature = "config")]
mod headless;
#[cfg(feature = "config")]
mod select;
#[cfg(feature = "config")]
#[cfg_attr(docsrs, doc(cfg(feature = "config")))]
pub use headless::Surroundings;
#[cfg(feature = "config")]
#[cfg_attr(docsrs, doc(cfg(feature = "config")))]
pub use select::{BrowserPrompt, Configured, FromConfigOptions, from_config};

#[cfg(all(feature = "config", feature = "tower"))]
mod channel;
#[cfg(all(feature = "config", feature = "tower"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "config", feature = "tower"))))]
pub use channel::connect;
