//! Integration tests of auth-pkce: one binary (see STYLE.md §7).

mod conformance;
mod idp;
mod logs;
mod loopback;
mod support;
