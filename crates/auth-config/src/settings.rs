//! The effective settings, after every source was applied.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use auth_core::ClientSecret;

use crate::mode::{AuthMode, ClientAuthMethod};
use crate::parse::format_go_duration;
use crate::vars;

/// Where the client secret came from. Shown by `flyte-auth config`; the secret itself never is.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// The variable named by `clientSecretEnvVar`.
    Env(String),
    /// The file named by `clientSecretLocation`.
    File(PathBuf),
    /// `FLYTE_CREDENTIALS_CLIENT_SECRET`, which holds the secret itself.
    Inline,
    /// A Flyte 2 API key in the named variable (`FLYTE_API_KEY`, `EAGER_API_KEY`, ...).
    ApiKey(String),
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Env(var) => write!(f, "environment variable {var} (clientSecretEnvVar)"),
            SecretSource::File(path) => write!(f, "file {} (clientSecretLocation)", path.display()),
            SecretSource::Inline => write!(
                f,
                "environment variable {}",
                vars::CREDENTIALS_CLIENT_SECRET
            ),
            SecretSource::ApiKey(var) => write!(f, "the API key in environment variable {var}"),
        }
    }
}

/// The effective configuration: defaults, then the config file, then the environment, then
/// command-line overrides. Built by [`Loader::load`](crate::Loader::load).
///
/// `Debug` and `Display` never show the client secret: it is a [`ClientSecret`], which prints
/// `[redacted]`, and `Display` shows only where it came from.
#[non_exhaustive]
#[derive(Clone, Default)]
pub struct Settings {
    /// The admin endpoint (`host[:port]`, or a URL), without flytectl's `dns:///` prefix.
    pub endpoint: Option<String>,
    /// Plain http to the admin endpoint.
    pub insecure: bool,
    /// Do not verify TLS certificates.
    pub insecure_skip_verify: bool,
    /// An extra CA bundle (PEM), added to the system roots.
    pub ca_cert_file_path: Option<PathBuf>,
    /// A proxy for every OAuth HTTP call.
    pub http_proxy_url: Option<String>,
    /// The flow, after the rule that a secret from `clientSecretLocation` or
    /// `clientSecretEnvVar` selects [`AuthMode::ClientSecret`]. Default [`AuthMode::Pkce`].
    pub auth_mode: AuthMode,
    /// The client id; `None` means the server's public client.
    pub client_id: Option<String>,
    /// The client secret, if any source gave one.
    pub client_secret: Option<ClientSecret>,
    /// Where [`client_secret`](Self::client_secret) came from.
    pub client_secret_source: Option<SecretSource>,
    /// Scopes: `None` leaves the choice to the server, `Some(vec![])` asks for none.
    pub scopes: Option<Vec<String>>,
    /// The `audience` parameter (Auth0 and others).
    pub audience: Option<String>,
    /// How the client secret is sent; `None`: Basic unless the provider advertises only
    /// `client_secret_post`, falling back to post once when Basic is refused.
    pub client_auth_method: Option<ClientAuthMethod>,
    /// A PEM private key for `private_key_jwt` client assertions (RFC 7523) instead of a
    /// client secret.
    pub client_assertion_key_file: Option<PathBuf>,
    /// `RS256` or `ES256` (upper-cased); `None` means `RS256`.
    pub client_assertion_algorithm: Option<String>,
    /// The `kid` header of the assertions.
    pub client_assertion_key_id: Option<String>,
    /// A federated token file (a projected service-account token) sent as the client
    /// assertion, re-read for every request. Beats the key file.
    pub federated_token_file: Option<PathBuf>,
    /// A plain OAuth 2.0 / OpenID Connect issuer: the endpoints are discovered from it
    /// (RFC 8414, then OpenID Connect discovery) instead of from the Flyte endpoint.
    pub issuer: Option<String>,
    /// The external command's argv, for [`AuthMode::ExternalCommand`].
    pub command: Option<Vec<String>>,
    /// The argv of a command that prints a proxy-authorization token.
    pub proxy_command: Option<Vec<String>>,
    /// A static token endpoint; with it, discovery is skipped.
    pub token_url: Option<String>,
    /// A static authorization endpoint.
    pub authorization_endpoint: Option<String>,
    /// A static device authorization endpoint.
    pub device_authorization_endpoint: Option<String>,
    /// The header (gRPC metadata key) that carries the token, instead of `authorization`.
    pub authorization_header: Option<String>,
    /// The PKCE redirect URI (`admin.redirectUri`, not a flytectl key).
    pub redirect_uri: Option<String>,
    /// How long before expiry a token is refreshed.
    pub token_refresh_window: Option<Duration>,
    /// How long the browser login may take.
    pub pkce_timeout: Option<Duration>,
    /// How long the device flow may take.
    pub device_flow_timeout: Option<Duration>,
    /// How often the device flow polls, when the server does not say.
    pub device_flow_poll_interval: Option<Duration>,
    /// No keyring call at all (`admin.disableKeyring`, `FLYTE_ADMIN_DISABLEKEYRING`):
    /// credentials of interactive flows are kept in memory unless another store is chosen.
    pub disable_keyring: bool,
    /// Which keyring layouts saves write (`admin.keyringLayout`): `auto` (flytekit's, plus
    /// Flyte 2's when it is there; the default), `flytekit`, `flyte2` or `both`, lower-cased.
    pub keyring_layout: Option<String>,
    /// How the Flyte endpoint's client configuration is discovered (`admin.discovery`,
    /// `FLYTE_ADMIN_DISCOVERY`): `auto` (the default: the gateway's GET paths, then gRPC
    /// `flyteidl.service`, gRPC `flyteidl2.auth`, Connect, the first that answers
    /// remembered), `http`, `grpc`, `grpc2` or `connect`, lower-cased. Every method but
    /// `http` needs the facade's `tower` feature.
    pub discovery: Option<String>,
    /// The config file that was read, if any.
    pub source_file: Option<PathBuf>,
}

impl Settings {
    /// Every setting as `(key, value)`, with flytectl's key names (`configFile` for
    /// [`source_file`](Self::source_file)) and `None` for what is not set. The client secret
    /// shows as `[redacted] (from ...)`. For `flyte-auth config`, in text or JSON.
    ///
    /// ```
    /// let settings = auth_config::Settings::default();
    /// let entries = settings.entries();
    /// assert!(entries.contains(&("authType", Some("Pkce".to_owned()))));
    /// assert!(entries.contains(&("endpoint", None)));
    /// ```
    pub fn entries(&self) -> Vec<(&'static str, Option<String>)> {
        fn list(items: &Option<Vec<String>>) -> Option<String> {
            items.as_ref().map(|items| format!("{items:?}"))
        }
        let duration = |d: Option<Duration>| d.map(format_go_duration);
        let secret = self
            .client_secret
            .as_ref()
            .map(|_| match &self.client_secret_source {
                Some(source) => format!("[redacted] (from {source})"),
                None => "[redacted]".to_owned(),
            });
        vec![
            (
                "configFile",
                self.source_file.as_ref().map(|p| p.display().to_string()),
            ),
            ("endpoint", self.endpoint.clone()),
            ("insecure", Some(self.insecure.to_string())),
            (
                "insecureSkipVerify",
                Some(self.insecure_skip_verify.to_string()),
            ),
            (
                "caCertFilePath",
                self.ca_cert_file_path
                    .as_ref()
                    .map(|p| p.display().to_string()),
            ),
            (
                "httpProxyURL",
                self.http_proxy_url.as_deref().map(redact_url_userinfo),
            ),
            ("authType", Some(self.auth_mode.to_string())),
            ("clientId", self.client_id.clone()),
            ("clientSecret", secret),
            (
                "clientAssertionKeyFile",
                self.client_assertion_key_file
                    .as_ref()
                    .map(|p| p.display().to_string()),
            ),
            (
                "clientAssertionAlgorithm",
                self.client_assertion_algorithm.clone(),
            ),
            ("clientAssertionKeyId", self.client_assertion_key_id.clone()),
            (
                "federatedTokenFile",
                self.federated_token_file
                    .as_ref()
                    .map(|p| p.display().to_string()),
            ),
            ("scopes", list(&self.scopes)),
            ("audience", self.audience.clone()),
            (
                "clientAuthMethod",
                self.client_auth_method.map(|m| m.to_string()),
            ),
            ("issuer", self.issuer.clone()),
            ("command", list(&self.command)),
            ("proxyCommand", list(&self.proxy_command)),
            ("tokenUrl", self.token_url.clone()),
            ("authorizationEndpoint", self.authorization_endpoint.clone()),
            (
                "deviceAuthorizationEndpoint",
                self.device_authorization_endpoint.clone(),
            ),
            ("authorizationHeader", self.authorization_header.clone()),
            ("redirectUri", self.redirect_uri.clone()),
            ("tokenRefreshWindow", duration(self.token_refresh_window)),
            ("pkceConfig.timeout", duration(self.pkce_timeout)),
            (
                "deviceFlowConfig.timeout",
                duration(self.device_flow_timeout),
            ),
            (
                "deviceFlowConfig.pollInterval",
                duration(self.device_flow_poll_interval),
            ),
            ("disableKeyring", Some(self.disable_keyring.to_string())),
            ("keyringLayout", self.keyring_layout.clone()),
            ("discovery", self.discovery.clone()),
        ]
    }
}

impl fmt::Display for Settings {
    /// One `key: value` line per setting, `-` for what is not set. The client secret shows
    /// as `[redacted]` with its source.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries = self.entries();
        let width = entries.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
        for (key, value) in entries {
            let key = format!("{key}:");
            writeln!(f, "{key:<width$} {}", value.as_deref().unwrap_or("-"))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Written out so that a new field cannot print a secret by accident: `client_secret`
        // goes through ClientSecret's own redacting Debug.
        f.debug_struct("Settings")
            .field("endpoint", &self.endpoint)
            .field("insecure", &self.insecure)
            .field("insecure_skip_verify", &self.insecure_skip_verify)
            .field("ca_cert_file_path", &self.ca_cert_file_path)
            .field(
                "http_proxy_url",
                &self.http_proxy_url.as_deref().map(redact_url_userinfo),
            )
            .field("auth_mode", &self.auth_mode)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("client_secret_source", &self.client_secret_source)
            .field("scopes", &self.scopes)
            .field("client_auth_method", &self.client_auth_method)
            .field("client_assertion_key_file", &self.client_assertion_key_file)
            .field(
                "client_assertion_algorithm",
                &self.client_assertion_algorithm,
            )
            .field("client_assertion_key_id", &self.client_assertion_key_id)
            .field("federated_token_file", &self.federated_token_file)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("command", &self.command)
            .field("proxy_command", &self.proxy_command)
            .field("token_url", &self.token_url)
            .field("authorization_endpoint", &self.authorization_endpoint)
            .field(
                "device_authorization_endpoint",
                &self.device_authorization_endpoint,
            )
            .field("authorization_header", &self.authorization_header)
            .field("redirect_uri", &self.redirect_uri)
            .field("token_refresh_window", &self.token_refresh_window)
            .field("pkce_timeout", &self.pkce_timeout)
            .field("device_flow_timeout", &self.device_flow_timeout)
            .field("device_flow_poll_interval", &self.device_flow_poll_interval)
            .field("disable_keyring", &self.disable_keyring)
            .field("keyring_layout", &self.keyring_layout)
            .field("discovery", &self.discovery)
            .field("source_file", &self.source_file)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_secret() -> Settings {
        Settings {
            endpoint: Some("flyte.example.com".into()),
            auth_mode: AuthMode::ClientSecret,
            client_id: Some("my-app".into()),
            client_secret: Some(ClientSecret::new("hunter2-s3cr3t")),
            client_secret_source: Some(SecretSource::File("/etc/secrets/client_secret".into())),
            scopes: Some(vec!["all".into()]),
            token_refresh_window: Some(Duration::from_secs(300)),
            ..Settings::default()
        }
    }

    #[test]
    fn debug_and_display_redact_the_secret() {
        let s = with_secret();
        for text in [
            format!("{s:?}"),
            format!("{s:#?}"),
            s.to_string(),
            format!("{:?}", s.entries()),
        ] {
            assert!(!text.contains("hunter2"), "{text}");
            assert!(text.contains("[redacted]"), "{text}");
        }
        assert!(format!("{s:?}").contains("client_secret: Some(ClientSecret([redacted]))"));
    }

    #[test]
    fn display_lists_every_key() {
        let text = with_secret().to_string();
        assert!(text.contains("endpoint:"), "{text}");
        assert!(text.contains("flyte.example.com"), "{text}");
        assert!(
            text.contains(
                "[redacted] (from file /etc/secrets/client_secret (clientSecretLocation))"
            ),
            "{text}"
        );
        assert!(text.contains("tokenRefreshWindow:"), "{text}");
        assert!(text.contains("5m0s"), "{text}");
        assert!(text.contains("audience:"), "{text}");
        assert_eq!(text.lines().count(), Settings::default().entries().len());
    }

    #[test]
    fn secret_sources_display() {
        assert_eq!(
            SecretSource::Env("MY_SECRET".into()).to_string(),
            "environment variable MY_SECRET (clientSecretEnvVar)"
        );
        assert_eq!(
            SecretSource::Inline.to_string(),
            "environment variable FLYTE_CREDENTIALS_CLIENT_SECRET"
        );
    }
}

/// A URL with its user name and password (proxy credentials) replaced by `[redacted]`:
/// `http://alice:hunter2@proxy:3128` becomes `http://[redacted]@proxy:3128`.
pub fn redact_url_userinfo(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}[redacted]{}", &rest[at..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod redact_tests {
    use super::redact_url_userinfo;

    #[test]
    fn proxy_credentials_are_redacted() {
        assert_eq!(
            redact_url_userinfo("http://alice:hunter2@proxy:3128"),
            "http://[redacted]@proxy:3128"
        );
        assert_eq!(
            redact_url_userinfo("http://a@b:c@proxy/x@y"),
            "http://[redacted]@proxy/x@y"
        );
        assert_eq!(
            redact_url_userinfo("http://proxy:3128/p?u=a@b"),
            "http://proxy:3128/p?u=a@b"
        );
        assert_eq!(redact_url_userinfo("user:pw@proxy"), "[redacted]@proxy");
    }
}
