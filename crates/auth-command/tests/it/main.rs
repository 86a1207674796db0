//! Integration tests of auth-command with real child processes (fixture scripts in
//! `tests/fixtures/`). Unix only: the fixtures are shell scripts.
#![cfg(unix)]

mod conformance;
mod engine;
mod failures;
mod fuzz_regressions;
mod logs;
mod output;
mod processes;
mod support;
