//! Test support for flyte-auth (not published).
//!
//! - [`conformance`]: the tests every `Authenticator` passes, run with one
//!   [`conformance_suite!`] call per flow crate.
//! - [`idp`]: the launcher for the project's real test identity provider (`oidc-provider`),
//!   and helpers that play the user's part (browser login, device approval).
//! - [`secret_service`]: a private D-Bus session with an unlocked gnome-keyring, for real
//!   keyring tests.
//! - [`logs`]: captures TRACE-level logs so tests can search them for planted secrets.
//! - [`admin`]: an in-process server playing FlyteAdmin over gRPC and Connect, with
//!   switchable faults.
//! - [`tls`]: a self-signed server certificate for TLS tests.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod admin;
pub mod conformance;
pub mod idp;
pub mod logs;
pub mod secret_service;
pub mod tls;
