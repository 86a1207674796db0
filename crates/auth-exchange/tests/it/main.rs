//! Integration tests of auth-exchange: the request on the wire (wiremock), the conformance
//! suite, and the real test identity provider's token-exchange grant.

mod conformance_run;
mod real_idp;
mod wire;
