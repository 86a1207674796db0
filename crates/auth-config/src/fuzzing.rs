//! The config parsers, for the fuzz targets in `fuzz/` (feature `fuzzing`; not a public API).

use std::collections::HashMap;
use std::path::Path;

use crate::ConfigError;
use crate::layer::Layer;

/// Reads a config file's text as [`Loader::load`](crate::Loader::load) does, up to the
/// settings layer (no secret file is read).
pub fn config_yaml(text: &str) -> Result<(), ConfigError> {
    let path = Path::new("config.yaml");
    let admin = crate::yaml::read_admin(text).map_err(|err| ConfigError::Parse {
        path: path.to_path_buf(),
        key: err.key,
        message: err.message,
    })?;
    Layer::from_file(path, &admin).map(drop)
}

/// Reads `FLYTE_*` variables as [`Loader::load`](crate::Loader::load) does, up to the
/// settings layer.
pub fn environment(env: &HashMap<String, String>) -> Result<(), ConfigError> {
    Layer::from_env(env).map(drop)
}
