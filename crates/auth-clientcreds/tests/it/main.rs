//! Integration tests of auth-clientcreds: settings and precedence against wiremock, the
//! conformance suite, and the real test identity provider.

mod assertion;
mod conformance_run;
mod real_idp;
mod wire;
