//! Integration tests of auth-config: every key from file and environment, precedence, the
//! secret rules, the file search, errors and redaction. Everything runs in temporary
//! directories with an explicit environment and home; the real ones are never read.

mod api_key;
mod assertion_keys;
mod env_keys;
mod errors;
mod file_keys;
mod precedence;
mod redaction;
mod search;
mod secrets;

use std::collections::HashMap;
use std::path::PathBuf;

use auth_config::{ConfigError, Loader, Settings};
use tempfile::TempDir;

/// A temporary home and working directory, an environment, and shortcuts to load from them.
#[derive(Debug)]
pub struct Fixture {
    dir: TempDir,
    /// The environment the loader sees.
    pub env: HashMap<String, String>,
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

impl Fixture {
    /// An empty fixture: no config file, no variables.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("home")).expect("home dir");
        Self {
            dir,
            env: HashMap::new(),
        }
    }

    /// The fake home directory (no `.flyte/config.yaml` unless a test writes one).
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// A path inside the fixture that does not exist.
    pub fn missing(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `contents` to `name` inside the fixture and returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("parent dir");
        }
        std::fs::write(&path, contents).expect("write fixture file");
        path
    }

    /// Sets a variable in the fixture's environment.
    pub fn set(&mut self, var: &str, value: impl Into<String>) -> &mut Self {
        self.env.insert(var.to_owned(), value.into());
        self
    }

    /// A loader over this fixture's environment and home.
    pub fn loader(&self) -> Loader {
        Loader::new().env(self.env.clone()).home(self.home())
    }

    /// Loads with `yaml` as the explicit config file.
    pub fn load_yaml(&self, yaml: &str) -> Result<Settings, ConfigError> {
        let path = self.write("config.yaml", yaml);
        self.loader().config_path(Some(path)).load()
    }

    /// Loads with no config file at all.
    pub fn load_env(&self) -> Result<Settings, ConfigError> {
        self.loader().load()
    }
}

/// The `Display` of an error that is expected.
pub fn err_text(result: Result<Settings, ConfigError>) -> (ConfigError, String) {
    match result {
        Ok(settings) => panic!("expected an error, got {settings:?}"),
        Err(err) => {
            let text = err.to_string();
            (err, text)
        }
    }
}
