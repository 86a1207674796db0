#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
#[path = "fuzzing.rs"]
pub mod __fuzz;
mod authenticator;
mod browser;
mod pages;
mod paste;
mod pkce;
mod progress;
mod request;
mod server;

pub use auth_oauth2::pkce::{PkceChallenge, code_challenge_s256};
pub use authenticator::{
    BuildError, DEFAULT_REDIRECT_URI, DEFAULT_TIMEOUT, PkceAuthenticator, PkceAuthenticatorBuilder,
};
pub use browser::{BrowserLauncher, FnLauncher, SystemBrowser};
pub use pages::{ERROR_PLACEHOLDER, Pages, escape_html};
pub use paste::PasteInput;
pub use progress::LoginProgress;
