//! Device authorization grant (RFC 8628) for flyte-auth.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod presenter;
#[cfg(feature = "qr")]
mod qr;
mod schedule;

pub use presenter::{DevicePresenter, DevicePrompt, JsonLinesPresenter, TextPresenter};
#[cfg(feature = "qr")]
#[cfg_attr(docsrs, doc(cfg(feature = "qr")))]
pub use qr::QrPresenter;
