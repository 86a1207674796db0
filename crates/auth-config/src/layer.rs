//! One source of settings (the file, or the environment) as typed, optional values, and how
//! two of them combine.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use auth_core::ClientSecret;

use crate::error::{ConfigError, Origin};
use crate::mode::{AuthMode, ClientAuthMethod};
use crate::parse::{
    BOOL_EXPECTED, DURATION_EXPECTED, parse_bool, parse_go_duration, shorten, split_list,
    split_scopes, strip_dns,
};
use crate::vars;
use crate::yaml::{AdminValues, Raw};

/// Every setting one source can give; `None` where it gives nothing.
#[derive(Default)]
pub(crate) struct Layer {
    pub(crate) endpoint: Option<String>,
    pub(crate) insecure: Option<bool>,
    pub(crate) insecure_skip_verify: Option<bool>,
    pub(crate) ca_cert_file_path: Option<PathBuf>,
    pub(crate) http_proxy_url: Option<String>,
    pub(crate) auth_mode: Option<AuthMode>,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret_location: Option<(PathBuf, Origin)>,
    pub(crate) client_secret_env_var: Option<(String, Origin)>,
    /// `FLYTE_CREDENTIALS_CLIENT_SECRET`; the file has no such key.
    pub(crate) client_secret: Option<ClientSecret>,
    pub(crate) scopes: Option<Vec<String>>,
    pub(crate) audience: Option<String>,
    pub(crate) client_auth_method: Option<ClientAuthMethod>,
    pub(crate) client_assertion_key_file: Option<PathBuf>,
    pub(crate) client_assertion_algorithm: Option<String>,
    pub(crate) client_assertion_key_id: Option<String>,
    pub(crate) federated_token_file: Option<PathBuf>,
    pub(crate) issuer: Option<String>,
    pub(crate) command: Option<Vec<String>>,
    pub(crate) proxy_command: Option<Vec<String>>,
    pub(crate) token_url: Option<String>,
    pub(crate) authorization_endpoint: Option<String>,
    pub(crate) device_authorization_endpoint: Option<String>,
    pub(crate) authorization_header: Option<String>,
    pub(crate) redirect_uri: Option<String>,
    pub(crate) token_refresh_window: Option<Duration>,
    pub(crate) pkce_timeout: Option<Duration>,
    pub(crate) device_flow_timeout: Option<Duration>,
    pub(crate) device_flow_poll_interval: Option<Duration>,
    pub(crate) disable_keyring: Option<bool>,
    pub(crate) keyring_layout: Option<String>,
    pub(crate) discovery: Option<String>,
}

impl Layer {
    /// Each setting from `self` where it has one, else from `lower`.
    pub(crate) fn over(self, lower: Layer) -> Layer {
        Layer {
            endpoint: self.endpoint.or(lower.endpoint),
            insecure: self.insecure.or(lower.insecure),
            insecure_skip_verify: self.insecure_skip_verify.or(lower.insecure_skip_verify),
            ca_cert_file_path: self.ca_cert_file_path.or(lower.ca_cert_file_path),
            http_proxy_url: self.http_proxy_url.or(lower.http_proxy_url),
            auth_mode: self.auth_mode.or(lower.auth_mode),
            client_id: self.client_id.or(lower.client_id),
            client_secret_location: self.client_secret_location.or(lower.client_secret_location),
            client_secret_env_var: self.client_secret_env_var.or(lower.client_secret_env_var),
            client_secret: self.client_secret.or(lower.client_secret),
            scopes: self.scopes.or(lower.scopes),
            audience: self.audience.or(lower.audience),
            client_auth_method: self.client_auth_method.or(lower.client_auth_method),
            client_assertion_key_file: self
                .client_assertion_key_file
                .or(lower.client_assertion_key_file),
            client_assertion_algorithm: self
                .client_assertion_algorithm
                .or(lower.client_assertion_algorithm),
            client_assertion_key_id: self
                .client_assertion_key_id
                .or(lower.client_assertion_key_id),
            federated_token_file: self.federated_token_file.or(lower.federated_token_file),
            issuer: self.issuer.or(lower.issuer),
            command: self.command.or(lower.command),
            proxy_command: self.proxy_command.or(lower.proxy_command),
            token_url: self.token_url.or(lower.token_url),
            authorization_endpoint: self.authorization_endpoint.or(lower.authorization_endpoint),
            device_authorization_endpoint: self
                .device_authorization_endpoint
                .or(lower.device_authorization_endpoint),
            authorization_header: self.authorization_header.or(lower.authorization_header),
            redirect_uri: self.redirect_uri.or(lower.redirect_uri),
            token_refresh_window: self.token_refresh_window.or(lower.token_refresh_window),
            pkce_timeout: self.pkce_timeout.or(lower.pkce_timeout),
            device_flow_timeout: self.device_flow_timeout.or(lower.device_flow_timeout),
            device_flow_poll_interval: self
                .device_flow_poll_interval
                .or(lower.device_flow_poll_interval),
            disable_keyring: self.disable_keyring.or(lower.disable_keyring),
            keyring_layout: self.keyring_layout.or(lower.keyring_layout),
            discovery: self.discovery.or(lower.discovery),
        }
    }

    /// The settings of a config file's `admin:` section.
    pub(crate) fn from_file(path: &Path, admin: &AdminValues) -> Result<Layer, ConfigError> {
        let file = FileReader { path, admin };
        Ok(Layer {
            endpoint: file.text("endpoint")?.map(|s| strip_dns(&s).to_owned()),
            insecure: file.bool("insecure")?,
            insecure_skip_verify: file.bool("insecureSkipVerify")?,
            ca_cert_file_path: file.text("caCertFilePath")?.map(PathBuf::from),
            http_proxy_url: file.text("httpProxyURL")?,
            auth_mode: file
                .text("authType")?
                .map(|s| parse_mode(&s, file.origin("authType")))
                .transpose()?,
            client_id: file.text("clientId")?,
            client_secret_location: file
                .text("clientSecretLocation")?
                .map(|s| (PathBuf::from(s), file.origin("clientSecretLocation"))),
            client_secret_env_var: file
                .text("clientSecretEnvVar")?
                .map(|s| (s, file.origin("clientSecretEnvVar"))),
            client_secret: None,
            scopes: file.scopes("scopes")?,
            audience: file.text("audience")?,
            client_auth_method: file
                .text("clientAuthMethod")?
                .map(|s| parse_auth_method(&s, file.origin("clientAuthMethod")))
                .transpose()?,
            client_assertion_key_file: file.text("clientAssertionKeyFile")?.map(PathBuf::from),
            client_assertion_algorithm: file
                .text("clientAssertionAlgorithm")?
                .map(|s| parse_assertion_algorithm(s, file.origin("clientAssertionAlgorithm")))
                .transpose()?,
            client_assertion_key_id: file.text("clientAssertionKeyId")?,
            federated_token_file: file.text("federatedTokenFile")?.map(PathBuf::from),
            issuer: file.text("issuer")?,
            command: file.argv("command")?,
            proxy_command: file.argv("proxyCommand")?,
            token_url: file.text("tokenUrl")?,
            authorization_endpoint: file.text("authorizationEndpoint")?,
            device_authorization_endpoint: file.text("deviceAuthorizationEndpoint")?,
            authorization_header: file.text("authorizationHeader")?,
            redirect_uri: file.text("redirectUri")?,
            token_refresh_window: file.duration("tokenRefreshWindow")?,
            pkce_timeout: nonzero(file.duration("pkceConfig.timeout")?),
            device_flow_timeout: nonzero(file.duration("deviceFlowConfig.timeout")?),
            device_flow_poll_interval: nonzero(file.duration("deviceFlowConfig.pollInterval")?),
            disable_keyring: file.bool("disableKeyring")?,
            keyring_layout: file
                .text("keyringLayout")?
                .map(|s| keyring_layout(&s, file.origin("keyringLayout")))
                .transpose()?,
            discovery: file
                .text("discovery")?
                .map(|s| discovery(&s, file.origin("discovery")))
                .transpose()?,
        })
    }

    /// The settings of the `FLYTE_*` environment variables.
    pub(crate) fn from_env(env: &HashMap<String, String>) -> Result<Layer, ConfigError> {
        let env = EnvReader { env };
        Ok(Layer {
            endpoint: env
                .text(vars::PLATFORM_URL)
                .map(|s| strip_dns(&s).to_owned()),
            insecure: env.bool(vars::PLATFORM_INSECURE)?,
            insecure_skip_verify: env.bool(vars::PLATFORM_INSECURE_SKIP_VERIFY)?,
            ca_cert_file_path: env
                .text(vars::PLATFORM_CA_CERT_FILE_PATH)
                .map(PathBuf::from),
            http_proxy_url: env.text(vars::PLATFORM_HTTP_PROXY_URL),
            auth_mode: env
                .text(vars::CREDENTIALS_AUTH_MODE)
                .map(|s| parse_mode(&s, EnvReader::origin(vars::CREDENTIALS_AUTH_MODE)))
                .transpose()?,
            client_id: env.text(vars::CREDENTIALS_CLIENT_ID),
            client_secret_location: env.text(vars::CREDENTIALS_CLIENT_SECRET_LOCATION).map(|s| {
                (
                    PathBuf::from(s),
                    EnvReader::origin(vars::CREDENTIALS_CLIENT_SECRET_LOCATION),
                )
            }),
            client_secret_env_var: env.text(vars::CREDENTIALS_CLIENT_SECRET_ENV_VAR).map(|s| {
                (
                    s,
                    EnvReader::origin(vars::CREDENTIALS_CLIENT_SECRET_ENV_VAR),
                )
            }),
            // The secret is taken exactly as given: no trimming.
            client_secret: env
                .env
                .get(vars::CREDENTIALS_CLIENT_SECRET)
                .filter(|s| !s.is_empty())
                .map(|s| ClientSecret::new(s.as_str())),
            scopes: env
                .text(vars::CREDENTIALS_SCOPES)
                .map(|s| split_scopes([s.as_str()])),
            audience: env.text(vars::CREDENTIALS_AUDIENCE),
            client_auth_method: env
                .text(vars::CREDENTIALS_CLIENT_AUTH_METHOD)
                .map(|s| {
                    parse_auth_method(&s, EnvReader::origin(vars::CREDENTIALS_CLIENT_AUTH_METHOD))
                })
                .transpose()?,
            client_assertion_key_file: env
                .text(vars::CREDENTIALS_CLIENT_ASSERTION_KEY_FILE)
                .map(PathBuf::from),
            client_assertion_algorithm: env
                .text(vars::CREDENTIALS_CLIENT_ASSERTION_ALGORITHM)
                .map(|s| {
                    parse_assertion_algorithm(
                        s,
                        EnvReader::origin(vars::CREDENTIALS_CLIENT_ASSERTION_ALGORITHM),
                    )
                })
                .transpose()?,
            client_assertion_key_id: env.text(vars::CREDENTIALS_CLIENT_ASSERTION_KEY_ID),
            federated_token_file: env
                .text(vars::CREDENTIALS_FEDERATED_TOKEN_FILE)
                .map(PathBuf::from),
            issuer: env.text(vars::CREDENTIALS_ISSUER),
            command: env
                .text(vars::CREDENTIALS_COMMAND)
                .map(|s| split_list(&s))
                .filter(|argv| !argv.is_empty()),
            proxy_command: env
                .text(vars::CREDENTIALS_PROXY_COMMAND)
                .map(|s| split_list(&s))
                .filter(|argv| !argv.is_empty()),
            disable_keyring: env.bool(vars::ADMIN_DISABLE_KEYRING)?,
            keyring_layout: env
                .text(vars::ADMIN_KEYRING_LAYOUT)
                .map(|s| keyring_layout(&s, EnvReader::origin(vars::ADMIN_KEYRING_LAYOUT)))
                .transpose()?,
            discovery: env
                .text(vars::ADMIN_DISCOVERY)
                .map(|s| discovery(&s, EnvReader::origin(vars::ADMIN_DISCOVERY)))
                .transpose()?,
            ..Layer::default()
        })
    }
}

/// The keyring layouts flyte-auth knows (auth-keyring's `KeyringLayout`), lower-cased.
pub(crate) const KEYRING_LAYOUTS: &[&str] = &["auto", "flytekit", "flyte2", "both"];

fn keyring_layout(s: &str, origin: Origin) -> Result<String, ConfigError> {
    one_of(s, KEYRING_LAYOUTS, origin)
}

/// How the Flyte endpoint's client configuration is discovered (`admin.discovery`):
/// `auto` tries each in this order and remembers the first that answers.
pub(crate) const DISCOVERY_METHODS: &[&str] = &["auto", "http", "grpc", "grpc2", "connect"];

fn discovery(s: &str, origin: Origin) -> Result<String, ConfigError> {
    one_of(s, DISCOVERY_METHODS, origin)
}

fn one_of(s: &str, known: &[&str], origin: Origin) -> Result<String, ConfigError> {
    let lower = s.trim().to_ascii_lowercase();
    if known.contains(&lower.as_str()) {
        Ok(lower)
    } else {
        Err(ConfigError::InvalidValue {
            origin,
            value: shorten(s),
            expected: format!("one of {}", known.join(", ")),
        })
    }
}

/// A zero timeout or poll interval means "not set", as a zero value does in flytectl's Go
/// structs: the flow's default applies.
fn nonzero(d: Option<Duration>) -> Option<Duration> {
    d.filter(|d| !d.is_zero())
}

fn parse_mode(value: &str, origin: Origin) -> Result<AuthMode, ConfigError> {
    value
        .parse()
        .map_err(|source| ConfigError::UnknownAuthMode { origin, source })
}

/// `RS256` or `ES256`, in any case; returned upper-cased.
fn parse_assertion_algorithm(value: String, origin: Origin) -> Result<String, ConfigError> {
    let upper = value.trim().to_ascii_uppercase();
    if upper == "RS256" || upper == "ES256" {
        Ok(upper)
    } else {
        Err(ConfigError::InvalidValue {
            origin,
            value: shorten(&value),
            expected: "RS256 or ES256".to_owned(),
        })
    }
}

fn parse_auth_method(value: &str, origin: Origin) -> Result<ClientAuthMethod, ConfigError> {
    value.parse().map_err(|()| ConfigError::InvalidValue {
        origin,
        value: shorten(value),
        expected: "client_secret_basic or client_secret_post".to_owned(),
    })
}

fn duration(value: &str, origin: impl FnOnce() -> Origin) -> Result<Duration, ConfigError> {
    parse_go_duration(value).map_err(|why| ConfigError::InvalidValue {
        origin: origin(),
        value: shorten(value),
        expected: if why == DURATION_EXPECTED {
            why.to_owned()
        } else {
            format!("{why}; {DURATION_EXPECTED}")
        },
    })
}

/// Reads typed values out of a file's `admin:` section.
struct FileReader<'a> {
    path: &'a Path,
    admin: &'a AdminValues,
}

impl FileReader<'_> {
    fn origin(&self, key: &str) -> Origin {
        Origin::File {
            path: self.path.to_path_buf(),
            key: format!("admin.{key}"),
        }
    }

    fn raw(&self, key: &str) -> Option<&Raw> {
        self.admin.get(&format!("admin.{key}"))
    }

    fn invalid(&self, key: &str, value: impl Into<String>, expected: &str) -> ConfigError {
        ConfigError::InvalidValue {
            origin: self.origin(key),
            value: shorten(&value.into()),
            expected: expected.to_owned(),
        }
    }

    /// A string; empty means not set.
    fn text(&self, key: &str) -> Result<Option<String>, ConfigError> {
        Ok(match self.raw(key) {
            None | Some(Raw::Null) => None,
            Some(Raw::Text(s)) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
            // Text keys are read as text; these cannot happen, but stay errors if they do.
            Some(other) => return Err(self.invalid(key, describe(other), "expected a string")),
        })
    }

    fn bool(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        Ok(match self.raw(key) {
            None | Some(Raw::Null) => None,
            Some(Raw::Bool(b)) => Some(*b),
            Some(Raw::Int(0)) => Some(false),
            Some(Raw::Int(1)) => Some(true),
            Some(Raw::Text(s)) if s.trim().is_empty() => None,
            Some(Raw::Text(s)) => {
                Some(parse_bool(s).ok_or_else(|| self.invalid(key, s.as_str(), BOOL_EXPECTED))?)
            }
            Some(other) => return Err(self.invalid(key, describe(other), BOOL_EXPECTED)),
        })
    }

    /// Scopes: a YAML list, or one string separated by commas or spaces. `[]` means
    /// explicitly no scopes.
    fn scopes(&self, key: &str) -> Result<Option<Vec<String>>, ConfigError> {
        Ok(match self.raw(key) {
            None | Some(Raw::Null) => None,
            Some(Raw::List(items)) => Some(split_scopes(items.iter().map(String::as_str))),
            Some(Raw::Text(s)) => Some(split_scopes([s.as_str()])),
            Some(other) => {
                return Err(self.invalid(key, describe(other), "expected a list of scopes"));
            }
        })
    }

    /// An argv: a YAML list, taken as written. A single string is refused rather than split,
    /// since flytectl would split it on spaces and flytekit on commas.
    fn argv(&self, key: &str) -> Result<Option<Vec<String>>, ConfigError> {
        Ok(match self.raw(key) {
            None | Some(Raw::Null) => None,
            Some(Raw::List(items)) if items.is_empty() => None,
            Some(Raw::List(items)) => Some(items.clone()),
            Some(Raw::Text(s)) => {
                return Err(self.invalid(
                    key,
                    s.as_str(),
                    "expected a list, one item per argument, such as [\"gcloud\", \"auth\", \"print-access-token\"]",
                ));
            }
            Some(other) => {
                return Err(self.invalid(key, describe(other), "expected a list of arguments"));
            }
        })
    }

    fn duration(&self, key: &str) -> Result<Option<Duration>, ConfigError> {
        self.text(key)?
            .map(|s| duration(&s, || self.origin(key)))
            .transpose()
    }
}

/// How a value the key cannot use is shown in an error.
fn describe(raw: &Raw) -> String {
    match raw {
        Raw::Null => "null".to_owned(),
        Raw::Text(s) => s.clone(),
        Raw::Bool(b) => b.to_string(),
        Raw::Int(i) => i.to_string(),
        Raw::Float(f) => f.to_string(),
        Raw::List(items) => format!("{items:?}"),
    }
}

/// Reads typed values out of the environment.
struct EnvReader<'a> {
    env: &'a HashMap<String, String>,
}

impl EnvReader<'_> {
    fn origin(var: &str) -> Origin {
        Origin::Env {
            var: var.to_owned(),
        }
    }

    /// A trimmed value; empty means not set.
    fn text(&self, var: &str) -> Option<String> {
        self.env
            .get(var)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    }

    fn bool(&self, var: &str) -> Result<Option<bool>, ConfigError> {
        self.text(var)
            .map(|s| {
                parse_bool(&s).ok_or_else(|| ConfigError::InvalidValue {
                    origin: Self::origin(var),
                    value: shorten(&s),
                    expected: BOOL_EXPECTED.to_owned(),
                })
            })
            .transpose()
    }
}
