//! The auth mode: which flow obtains the credentials.

use std::fmt;
use std::str::FromStr;

/// The flow that obtains credentials, as `admin.authType` or `FLYTE_CREDENTIALS_AUTH_MODE` names
/// it.
///
/// Parsing ([`FromStr`]) ignores case, `_` and `-`, and accepts flytectl's names (`Pkce`,
/// `DeviceFlow`, `ClientSecret`, `ExternalCommand`) and flytekit's aliases (`standard`, `basic`,
/// `client_credentials`, `external_process`, `device_flow`). [`Display`](fmt::Display) gives the
/// flytectl name.
///
/// ```
/// use auth_config::AuthMode;
///
/// assert_eq!("client_credentials".parse::<AuthMode>()?, AuthMode::ClientSecret);
/// assert_eq!("DEVICEFLOW".parse::<AuthMode>()?, AuthMode::DeviceFlow);
/// assert_eq!(AuthMode::ExternalCommand.to_string(), "ExternalCommand");
/// assert_eq!(AuthMode::default(), AuthMode::Pkce);
/// # Ok::<(), auth_config::ParseAuthModeError>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AuthMode {
    /// Authorization code with PKCE in a browser (flytekit: `standard`). The default, as in
    /// flytectl's generated configuration and flytekit.
    #[default]
    Pkce,
    /// The device authorization grant: a code to enter on another device.
    DeviceFlow,
    /// The client credentials grant with a client id and secret (flytekit: `basic`,
    /// `client_credentials`).
    ClientSecret,
    /// A token printed by an external command (flytekit: `external_process`).
    ExternalCommand,
}

impl AuthMode {
    /// Every mode, in the order flytectl documents them.
    pub const ALL: [AuthMode; 4] = [
        AuthMode::Pkce,
        AuthMode::DeviceFlow,
        AuthMode::ClientSecret,
        AuthMode::ExternalCommand,
    ];

    /// The canonical (flytectl) name: `Pkce`, `DeviceFlow`, `ClientSecret` or
    /// `ExternalCommand`.
    pub const fn as_str(self) -> &'static str {
        match self {
            AuthMode::Pkce => "Pkce",
            AuthMode::DeviceFlow => "DeviceFlow",
            AuthMode::ClientSecret => "ClientSecret",
            AuthMode::ExternalCommand => "ExternalCommand",
        }
    }
}

impl fmt::Display for AuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuthMode {
    type Err = ParseAuthModeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key: String = s
            .trim()
            .chars()
            .filter(|c| *c != '_' && *c != '-')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        match key.as_str() {
            "pkce" | "standard" => Ok(AuthMode::Pkce),
            "deviceflow" => Ok(AuthMode::DeviceFlow),
            "clientsecret" | "basic" | "clientcredentials" => Ok(AuthMode::ClientSecret),
            "externalcommand" | "externalprocess" => Ok(AuthMode::ExternalCommand),
            _ => Err(ParseAuthModeError {
                value: crate::parse::shorten(s),
            }),
        }
    }
}

/// An auth mode name that is none of the valid ones. Its message lists the valid names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown auth mode {value:?}: use one of Pkce, DeviceFlow, ClientSecret, ExternalCommand \
     (case-insensitive; flytekit's standard, basic, client_credentials, external_process and \
     device_flow work too)"
)]
pub struct ParseAuthModeError {
    value: String,
}

impl ParseAuthModeError {
    /// The name that was given (shortened if it was very long).
    pub fn value(&self) -> &str {
        &self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_names_round_trip() {
        for mode in AuthMode::ALL {
            assert_eq!(mode.to_string().parse::<AuthMode>(), Ok(mode));
            assert_eq!(
                mode.to_string().to_uppercase().parse::<AuthMode>(),
                Ok(mode)
            );
        }
    }

    #[test]
    fn flytekit_aliases() {
        let cases = [
            ("standard", AuthMode::Pkce),
            ("PKCE", AuthMode::Pkce),
            ("basic", AuthMode::ClientSecret),
            ("client_credentials", AuthMode::ClientSecret),
            ("ClientSecret", AuthMode::ClientSecret),
            ("external_process", AuthMode::ExternalCommand),
            ("externalcommand", AuthMode::ExternalCommand),
            ("device_flow", AuthMode::DeviceFlow),
            ("deviceflow", AuthMode::DeviceFlow),
            ("Device-Flow", AuthMode::DeviceFlow),
            ("  Pkce \n", AuthMode::Pkce),
        ];
        for (name, mode) in cases {
            assert_eq!(name.parse::<AuthMode>(), Ok(mode), "{name}");
        }
    }

    #[test]
    fn unknown_mode_lists_valid_names() {
        let err = "oauth".parse::<AuthMode>().unwrap_err();
        assert_eq!(err.value(), "oauth");
        let msg = err.to_string();
        assert!(msg.starts_with("unknown auth mode \"oauth\""), "{msg}");
        for name in [
            "Pkce",
            "DeviceFlow",
            "ClientSecret",
            "ExternalCommand",
            "standard",
            "basic",
        ] {
            assert!(msg.contains(name), "{msg} lacks {name}");
        }
        assert!("".parse::<AuthMode>().is_err());
    }
}

/// How a client secret is sent to the token endpoint (`admin.clientAuthMethod`,
/// `FLYTE_CREDENTIALS_CLIENT_AUTH_METHOD`). Parsing ignores case and accepts the RFC 8414
/// names and the short forms `basic` and `post`.
///
/// ```
/// use auth_config::ClientAuthMethod;
///
/// assert_eq!("client_secret_post".parse(), Ok(ClientAuthMethod::SecretPost));
/// assert_eq!("Basic".parse(), Ok(ClientAuthMethod::SecretBasic));
/// assert_eq!(ClientAuthMethod::SecretPost.to_string(), "client_secret_post");
/// assert!("private_key_jwt".parse::<ClientAuthMethod>().is_err());
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientAuthMethod {
    /// `client_secret_basic`: HTTP Basic authentication.
    SecretBasic,
    /// `client_secret_post`: the secret in the request body.
    SecretPost,
}

impl FromStr for ClientAuthMethod {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s.trim().to_ascii_lowercase().as_str() {
            "client_secret_basic" | "basic" => Ok(ClientAuthMethod::SecretBasic),
            "client_secret_post" | "post" => Ok(ClientAuthMethod::SecretPost),
            _ => Err(()),
        }
    }
}

impl fmt::Display for ClientAuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClientAuthMethod::SecretBasic => "client_secret_basic",
            ClientAuthMethod::SecretPost => "client_secret_post",
        })
    }
}
