//! Where environment variables are read from: the process, or a map in tests.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::fmt;

/// A read-only view of environment variables.
///
/// [`ProcessEnvironment`] reads the process's; a `HashMap<String, String>` or
/// `BTreeMap<String, String>` is an environment of its own, so tests and embedders never have
/// to change the process environment.
pub trait Environment: Send + Sync {
    /// The value of `name`, if it is set (an empty value is set).
    fn var(&self, name: &str) -> Option<OsString>;
}

/// The environment of the current process.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<OsString> {
        // No process variable has such a name; std may refuse to look them up at all.
        if name.is_empty() || name.contains(['=', '\0']) {
            return None;
        }
        std::env::var_os(name)
    }
}

impl<S: std::hash::BuildHasher + Send + Sync> Environment for HashMap<String, String, S> {
    fn var(&self, name: &str) -> Option<OsString> {
        self.get(name).map(OsString::from)
    }
}

impl Environment for BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<OsString> {
        self.get(name).map(OsString::from)
    }
}

/// Shows how an environment is held, never its values (they are secrets).
pub(crate) struct EnvDebug<'a>(pub(crate) &'a dyn Environment);

impl fmt::Debug for EnvDebug<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let _ = self.0;
        f.write_str("Environment { .. }")
    }
}
