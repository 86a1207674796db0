//! Finding the config file, reading every source and applying the precedence rules.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use auth_core::ClientSecret;

use crate::api_key::ApiKey;
use crate::error::{ConfigError, FileSource, Origin};
use crate::layer::Layer;
use crate::mode::AuthMode;
use crate::parse::strip_dns;
use crate::settings::{SecretSource, Settings};
use crate::vars;
use crate::yaml;

/// A config file larger than this is refused: config.yaml is a few kilobytes, and a path such
/// as `/dev/zero` must not be read forever.
const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

/// A client secret file larger than this is refused.
const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// Settings from the command line, applied after every other source.
///
/// ```
/// use auth_config::{AuthMode, Overrides};
///
/// let overrides = Overrides::new()
///     .with_endpoint("dns:///flyte.example.com")
///     .with_auth_mode(AuthMode::DeviceFlow)
///     .with_insecure(true);
/// assert_eq!(overrides.endpoint.as_deref(), Some("dns:///flyte.example.com"));
///
/// // A struct literal works too; always end it with `..Overrides::default()`.
/// let overrides = Overrides { insecure: Some(true), ..Overrides::default() };
/// assert_eq!(overrides.endpoint, None);
/// ```
///
/// Not `#[non_exhaustive]`, so that a command line can fill it with a struct literal. Every
/// field is an `Option` that defaults to `None`, and new ones will be too, so a literal that
/// ends with `..Overrides::default()` keeps compiling when fields are added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--endpoint`; a `dns:///` prefix is stripped here too.
    pub endpoint: Option<String>,
    /// `--auth-mode`. It wins over everything, including the rule that a configured secret
    /// location selects [`AuthMode::ClientSecret`].
    pub auth_mode: Option<AuthMode>,
    /// `--insecure`.
    pub insecure: Option<bool>,
    /// `--ca-cert`.
    pub ca_cert_file_path: Option<PathBuf>,
    /// `--insecure-skip-verify`.
    pub insecure_skip_verify: Option<bool>,
    /// `--issuer`: discover from this OAuth 2.0 / OpenID Connect issuer.
    pub issuer: Option<String>,
}

impl Overrides {
    /// No overrides.
    pub fn new() -> Self {
        Self::default()
    }

    /// Overrides the admin endpoint.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Overrides the auth mode.
    pub fn with_auth_mode(mut self, mode: AuthMode) -> Self {
        self.auth_mode = Some(mode);
        self
    }

    /// Overrides `insecure`.
    pub fn with_insecure(mut self, insecure: bool) -> Self {
        self.insecure = Some(insecure);
        self
    }

    /// Overrides the CA bundle.
    pub fn with_ca_cert_file_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_cert_file_path = Some(path.into());
        self
    }

    /// Overrides `insecureSkipVerify`.
    pub fn with_insecure_skip_verify(mut self, skip: bool) -> Self {
        self.insecure_skip_verify = Some(skip);
        self
    }

    /// Overrides `issuer`.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }
}

/// Loads [`Settings`] from the config file, the environment and command-line overrides.
///
/// Precedence, highest first: [`overrides`](Self::overrides), the environment, the config file,
/// defaults. The config file is the first of: [`config_path`](Self::config_path) (`--config`),
/// `$FLYTECTL_CONFIG`, `~/.flyte/config.yaml`.
///
/// By default the environment is the process's and the home directory the user's; tests
/// replace both, so that nothing outside what they give is read.
///
/// ```
/// use std::collections::HashMap;
/// use auth_config::{AuthMode, Loader};
///
/// let env = HashMap::from([
///     ("FLYTE_PLATFORM_URL".to_owned(), "dns:///flyte.example.com".to_owned()),
///     ("FLYTE_CREDENTIALS_AUTH_MODE".to_owned(), "device_flow".to_owned()),
/// ]);
/// let home = tempfile::tempdir()?; // no ~/.flyte/config.yaml there
/// let settings = Loader::new().env(env).home(home.path().to_owned()).load()?;
/// assert_eq!(settings.endpoint.as_deref(), Some("flyte.example.com"));
/// assert_eq!(settings.auth_mode, AuthMode::DeviceFlow);
/// assert_eq!(settings.source_file, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct Loader {
    config_path: Option<PathBuf>,
    env: Option<HashMap<String, String>>,
    home: Option<PathBuf>,
    overrides: Overrides,
}

impl fmt::Debug for Loader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The environment may hold secrets (FLYTE_CREDENTIALS_CLIENT_SECRET and anything a
        // clientSecretEnvVar names): show only how many variables there are.
        f.debug_struct("Loader")
            .field("config_path", &self.config_path)
            .field(
                "env",
                &self.env.as_ref().map(|e| format!("{} variables", e.len())),
            )
            .field("home", &self.home)
            .field("overrides", &self.overrides)
            .finish()
    }
}

impl Loader {
    /// A loader that reads the process environment and the user's home directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// The config file given explicitly (`--config`). It must exist.
    pub fn config_path(mut self, path: Option<PathBuf>) -> Self {
        self.config_path = path;
        self
    }

    /// The environment to read instead of the process's.
    pub fn env(mut self, env: HashMap<String, String>) -> Self {
        self.env = Some(env);
        self
    }

    /// The home directory to search for `.flyte/config.yaml` instead of the user's.
    pub fn home(mut self, home: PathBuf) -> Self {
        self.home = Some(home);
        self
    }

    /// Command-line settings, applied last.
    pub fn overrides(mut self, overrides: Overrides) -> Self {
        self.overrides = overrides;
        self
    }

    /// Reads the config file (if one is found), the environment and the client secret, and
    /// returns the effective settings.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the file or variable, the key and the bad value: an explicit
    /// config file that does not exist, a file that is not YAML, a value of the wrong type, an
    /// unknown auth mode, an unreadable secret file or a missing secret variable.
    pub fn load(&self) -> Result<Settings, ConfigError> {
        let process_env;
        let env = match &self.env {
            Some(env) => env,
            None => {
                process_env = process_env_vars();
                &process_env
            }
        };
        let home = match &self.home {
            Some(home) => Some(home.clone()),
            None => std::env::home_dir(),
        };

        let found = locate(self.config_path.as_deref(), env, home.as_deref());
        let file_layer = match &found {
            Some((path, source)) => read_config_file(path, *source)?,
            None => Layer::default(),
        };
        let env_layer = Layer::from_env(env)?;
        let merged = env_layer.over(file_layer);
        let mut settings = resolve(merged, env)?;
        apply_api_key(
            &mut settings,
            env,
            found.as_ref().map(|(_, s)| *s),
            &self.overrides,
        )?;
        settings.source_file = found.map(|(path, _)| path);
        apply_overrides(&mut settings, &self.overrides);
        Ok(settings)
    }
}

/// The config file to read: `explicit` (`--config`), else `$FLYTECTL_CONFIG`, else
/// `~/.flyte/config.yaml` if it exists.
///
/// An explicit path or `$FLYTECTL_CONFIG` is returned whether or not the file exists:
/// [`Loader::load`] reports a missing one as an error rather than silently using another file.
///
/// ```
/// use std::collections::HashMap;
/// use std::path::{Path, PathBuf};
/// use auth_config::find_config_file;
///
/// let env = HashMap::from([("FLYTECTL_CONFIG".to_owned(), "/etc/flyte/config.yaml".to_owned())]);
/// assert_eq!(
///     find_config_file(Some(Path::new("mine.yaml")), &env, None),
///     Some(PathBuf::from("mine.yaml"))
/// );
/// assert_eq!(find_config_file(None, &env, None), Some(PathBuf::from("/etc/flyte/config.yaml")));
/// assert_eq!(find_config_file(None, &HashMap::new(), None), None);
/// ```
pub fn find_config_file(
    explicit: Option<&Path>,
    env: &HashMap<String, String>,
    home: Option<&Path>,
) -> Option<PathBuf> {
    locate(explicit, env, home).map(|(path, _)| path)
}

fn locate(
    explicit: Option<&Path>,
    env: &HashMap<String, String>,
    home: Option<&Path>,
) -> Option<(PathBuf, FileSource)> {
    if let Some(path) = explicit {
        return Some((path.to_path_buf(), FileSource::Explicit));
    }
    if let Some(path) = env
        .get(vars::FLYTECTL_CONFIG)
        .filter(|p| !p.trim().is_empty())
    {
        return Some((PathBuf::from(path), FileSource::FlytectlConfigEnv));
    }
    let default = home?.join(".flyte").join("config.yaml");
    default.is_file().then_some((default, FileSource::Home))
}

/// The process environment, leaving out variables whose name or value is not UTF-8 (none of
/// ours can be; `std::env::vars` would panic on them).
fn process_env_vars() -> HashMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// Reads at most `limit` bytes of `path`; more is an error.
fn read_capped(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    File::open(path)?.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the file is larger than {limit} bytes"),
        ));
    }
    Ok(bytes)
}

fn read_config_file(path: &Path, source: FileSource) -> Result<Layer, ConfigError> {
    let bytes = match read_capped(path, MAX_CONFIG_BYTES) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            return Err(ConfigError::FileNotFound {
                path: path.to_path_buf(),
                source_of_path: source,
            });
        }
        Err(err) => {
            return Err(ConfigError::ReadFile {
                path: path.to_path_buf(),
                source: err,
            });
        }
    };
    let text = String::from_utf8(bytes).map_err(|_| ConfigError::ReadFile {
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidData, "the file is not UTF-8 text"),
    })?;
    let admin = yaml::read_admin(&text).map_err(|err| ConfigError::Parse {
        path: path.to_path_buf(),
        key: err.key,
        message: err.message,
    })?;
    Layer::from_file(path, &admin)
}

/// Applies the secret rules and the defaults.
fn resolve(layer: Layer, env: &HashMap<String, String>) -> Result<Settings, ConfigError> {
    // The secret: clientSecretEnvVar, else clientSecretLocation, else
    // FLYTE_CREDENTIALS_CLIENT_SECRET. Both flytectl and flytekit prefer the variable to the
    // file. A secret from either selects ClientSecret mode, as in flytekit; the inline one does
    // not.
    let (client_secret, client_secret_source, selects_client_secret) =
        if let Some((var, origin)) = layer.client_secret_env_var {
            match env.get(&var).filter(|v| !v.is_empty()) {
                Some(value) => (
                    Some(ClientSecret::new(value.as_str())),
                    Some(SecretSource::Env(var)),
                    true,
                ),
                None => return Err(ConfigError::SecretEnvVarMissing { var, origin }),
            }
        } else if let Some((path, origin)) = layer.client_secret_location {
            let secret = read_secret_file(&path, origin)?;
            (Some(secret), Some(SecretSource::File(path)), true)
        } else {
            let source = layer.client_secret.as_ref().map(|_| SecretSource::Inline);
            (layer.client_secret, source, false)
        };

    // A client assertion (key file or federated token file) stands in for the secret and
    // selects client credentials the same way.
    let selects_client_secret = selects_client_secret
        || layer.client_assertion_key_file.is_some()
        || layer.federated_token_file.is_some();
    let auth_mode = if selects_client_secret {
        AuthMode::ClientSecret
    } else {
        layer.auth_mode.unwrap_or_default()
    };

    Ok(Settings {
        endpoint: layer.endpoint,
        insecure: layer.insecure.unwrap_or(false),
        insecure_skip_verify: layer.insecure_skip_verify.unwrap_or(false),
        ca_cert_file_path: layer.ca_cert_file_path,
        http_proxy_url: layer.http_proxy_url,
        auth_mode,
        client_id: layer.client_id,
        client_secret,
        client_secret_source,
        scopes: layer.scopes,
        audience: layer.audience,
        client_auth_method: layer.client_auth_method,
        client_assertion_key_file: layer.client_assertion_key_file,
        client_assertion_algorithm: layer.client_assertion_algorithm,
        client_assertion_key_id: layer.client_assertion_key_id,
        federated_token_file: layer.federated_token_file,
        issuer: layer.issuer,
        command: layer.command,
        proxy_command: layer.proxy_command,
        token_url: layer.token_url,
        authorization_endpoint: layer.authorization_endpoint,
        device_authorization_endpoint: layer.device_authorization_endpoint,
        authorization_header: layer.authorization_header,
        redirect_uri: layer.redirect_uri,
        token_refresh_window: layer.token_refresh_window,
        pkce_timeout: layer.pkce_timeout,
        device_flow_timeout: layer.device_flow_timeout,
        device_flow_poll_interval: layer.device_flow_poll_interval,
        disable_keyring: layer.disable_keyring.unwrap_or(false),
        keyring_layout: layer.keyring_layout,
        discovery: layer.discovery,
        source_file: None,
    })
}

/// Reads a client secret file. Surrounding whitespace, the trailing newline above all, is
/// removed, as flytectl (`strings.TrimSpace`) and flytekit (`strip()`) do.
fn read_secret_file(path: &Path, origin: Origin) -> Result<ClientSecret, ConfigError> {
    let bytes = read_capped(path, MAX_SECRET_BYTES).map_err(|source| ConfigError::SecretFile {
        path: path.to_path_buf(),
        origin: origin.clone(),
        source,
    })?;
    // Wrap at once, so that the secret is zeroed when dropped.
    let text = match String::from_utf8(bytes) {
        Ok(text) => ClientSecret::new(text),
        Err(err) => {
            wipe(err.into_bytes());
            return Err(ConfigError::SecretFile {
                path: path.to_path_buf(),
                origin,
                source: io::Error::new(io::ErrorKind::InvalidData, "the file is not UTF-8 text"),
            });
        }
    };
    let trimmed = text.secret().trim();
    if trimmed.is_empty() {
        return Err(ConfigError::EmptySecretFile {
            path: path.to_path_buf(),
            origin,
        });
    }
    if trimmed.len() == text.secret().len() {
        Ok(text)
    } else {
        Ok(ClientSecret::new(trimmed))
    }
}

/// Overwrites bytes that held a secret before they are freed (best effort, without unsafe).
fn wipe(mut bytes: Vec<u8>) {
    bytes.iter_mut().for_each(|b| *b = 0);
    std::hint::black_box(&bytes);
}

/// A Flyte 2 API key from the environment replaces the endpoint and client credentials, as in
/// Flyte 2: `FLYTE_API_KEY` (`flyte.init_from_api_key`), else the key injected into task pods
/// (`_UNION_EAGER_API_KEY`, `EAGER_API_KEY`) unless a config file was chosen explicitly
/// (`--config`, `$FLYTECTL_CONFIG`), as `flyte.init_in_cluster` prefers a mounted config file.
/// An auth mode set in the environment or on the command line switches API keys off, as
/// Flyte 2's `FLYTE_AUTH_TYPE` does, so the two can never disagree.
fn apply_api_key(
    settings: &mut Settings,
    env: &HashMap<String, String>,
    file: Option<FileSource>,
    overrides: &Overrides,
) -> Result<(), ConfigError> {
    let mode_chosen = overrides.auth_mode.is_some()
        || env
            .get(vars::CREDENTIALS_AUTH_MODE)
            .is_some_and(|m| !m.trim().is_empty());
    if mode_chosen {
        return Ok(());
    }
    let file_chosen = matches!(
        file,
        Some(FileSource::Explicit | FileSource::FlytectlConfigEnv)
    );
    if let Some((var, key)) = ApiKey::from_env(env, !file_chosen)? {
        settings.apply_api_key(key, var);
    }
    Ok(())
}

fn apply_overrides(settings: &mut Settings, overrides: &Overrides) {
    if let Some(endpoint) = &overrides.endpoint {
        settings.endpoint = Some(strip_dns(endpoint.trim()).to_owned());
    }
    if let Some(mode) = overrides.auth_mode {
        settings.auth_mode = mode;
    }
    if let Some(insecure) = overrides.insecure {
        settings.insecure = insecure;
    }
    if let Some(path) = &overrides.ca_cert_file_path {
        settings.ca_cert_file_path = Some(path.clone());
    }
    if let Some(skip) = overrides.insecure_skip_verify {
        settings.insecure_skip_verify = skip;
    }
    if let Some(issuer) = overrides.issuer.as_deref().map(str::trim) {
        settings.issuer = Some(issuer.to_owned()).filter(|i| !i.is_empty());
    }
}
