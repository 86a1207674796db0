//! Integration tests of auth-secrets: flytekit's golden vectors replayed, property tests for
//! case and whitespace, and the `env_var` extension. Every test builds its own environment map
//! and temporary directory; the process environment is never read or changed.

mod extension;
mod proptests;
mod vectors;
