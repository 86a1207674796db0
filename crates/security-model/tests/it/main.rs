//! Integration tests of `security-model`, built into one test binary.

mod json;
mod proptests;
mod support;
mod validation;
mod vectors;
