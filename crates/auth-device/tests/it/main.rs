//! Integration tests of auth-device: the polling schedule on a scripted identity provider
//! (wiremock) under tokio's paused clock, the authenticator's behaviour (refresh first,
//! store, cancellation, presenters, logs), the conformance suite, and the real test identity
//! provider.

mod authenticator;
mod conformance;
mod logs;
mod poll;
mod real_idp;
mod support;
