//! The core of flyte-auth: the [`Authenticator`] trait, [`Credentials`], the secret newtypes,
//! client configuration, credential storage, [`AuthError`], and the one [`TokenEngine`] every
//! flow shares.
//!
//! This crate is what flows and applications implement against. It performs no HTTP, runs no
//! flow and opens no browser: those live in `auth-oauth2` and the flow crates, and the
//! `flyte-auth` facade puts them together. Depend on it directly when you implement an
//! authenticator or a credential store of your own, or when you only need the trait.
//!
//! ```
//! use std::sync::Arc;
//! use auth_core::{async_trait, AccessToken, AuthError, Credentials, EngineOptions,
//!                 FetchContext, TokenEngine, TokenSource};
//!
//! /// A flow implements only acquisition; the engine caches, refreshes ahead of expiry and
//! /// makes one acquisition however many callers ask at once.
//! #[derive(Debug)]
//! struct Static;
//!
//! #[async_trait]
//! impl TokenSource for Static {
//!     async fn fetch(&self, _: &FetchContext<'_>) -> Result<Credentials, AuthError> {
//!         Ok(Credentials::new(AccessToken::new("t0ken")).with_expiry_from(Some(3600), std::time::SystemTime::now()))
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let engine = TokenEngine::new(Arc::new(Static), EngineOptions::default());
//! assert_eq!(engine.credentials().await?.access_token().secret(), "t0ken");
//! # Ok::<(), AuthError>(()) }).unwrap();
//! ```
//!
//! # Feature flags
//!
//! - `test-util`: [`testing::ScriptedSource`], a token source for tests that counts calls,
//!   blocks until released and fails on demand.
//!
//! ```toml
//! [dev-dependencies]
//! auth-core = { version = "0.1", features = ["test-util"] }
//! ```
//!
//! # Supported Rust versions
//!
//! The minimum supported Rust version is 1.88.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod authenticator;
mod clock;
mod config;
mod credentials;
mod engine;
mod error;
mod secret;
mod store;
#[cfg(any(test, feature = "test-util"))]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod testing;
pub mod text;

pub use async_trait::async_trait;
pub use authenticator::{Authenticator, SharedAuthenticator};
pub use clock::{Clock, SystemClock, TokioClock};
pub use config::{
    ClientConfig, ClientConfigStore, DEFAULT_HEADER_KEY, StaticClientConfigStore, non_empty,
};
pub use credentials::{Credentials, DEFAULT_HARD_SKEW, jwt_claims, jwt_expiry};
pub use engine::{
    AcquireReason, EngineOptions, FetchContext, RetryPolicy, TokenEngine, TokenSource,
};
pub use error::{AuthError, ErrorKind, OAuthErrorResponse};
pub use secret::{
    AccessToken, AuthorizationCode, ClientSecret, DeviceCode, HeaderValue, IdToken,
    PkceCodeVerifier, RefreshToken, constant_time_eq,
};
pub use store::{CredentialStore, MemoryStore, StoreLock};
