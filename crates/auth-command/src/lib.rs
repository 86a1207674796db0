#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
#[path = "fuzzing.rs"]
pub mod __fuzz;
mod authenticator;
mod parse;
mod run;

pub use authenticator::{
    BuildError, CommandAuthenticator, CommandAuthenticatorBuilder, DEFAULT_TIMEOUT,
    PROXY_AUTHORIZATION,
};
