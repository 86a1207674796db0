//! Integration tests of auth-oauth2: provider quirks and failures against wiremock, TLS against
//! a self-signed server, and the real test identity provider.

mod discovery;
mod fuzz_regressions;
mod quirks;
mod real_idp;
mod support;
mod tls;
