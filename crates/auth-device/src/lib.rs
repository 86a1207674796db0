#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod authenticator;
mod flow;
mod presenter;
#[cfg(feature = "qr")]
mod qr;
mod schedule;

pub use authenticator::{BuildError, DeviceCodeAuthenticator, DeviceCodeAuthenticatorBuilder};
pub use presenter::{DevicePresenter, DevicePrompt, JsonLinesPresenter, TextPresenter};
#[cfg(feature = "qr")]
#[cfg_attr(docsrs, doc(cfg(feature = "qr")))]
pub use qr::QrPresenter;
