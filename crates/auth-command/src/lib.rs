#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod authenticator;
mod parse;
mod run;

pub use authenticator::{
    BuildError, CommandAuthenticator, CommandAuthenticatorBuilder, DEFAULT_TIMEOUT,
    PROXY_AUTHORIZATION,
};
