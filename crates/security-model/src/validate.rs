//! Explicit validation of the `flyteidl.core` messages, with flytekit's rules.
//!
//! Nothing here runs on its own: constructors, decoding and JSON parsing accept any message, as
//! flyteidl does, and a caller checks one with `validate()` before it registers or sends it.

use crate::{Identity, oauth2_token_request, secret};
use crate::{OAuth2Client, OAuth2TokenRequest, Secret, SecurityContext, json::ProtoEnum};

/// Why a message failed validation.
///
/// Each variant names the field with its proto name, as a path from the validated message
/// (`secrets[1].env_var`, `tokens[0].client.client_secret.group`), and, where there is one, the
/// bad value.
/// The values are names of secrets and variables, never secret values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// A required field is empty or absent.
    #[error("`{field}` is required but is empty")]
    Missing {
        /// Path of the field.
        field: String,
    },

    /// A field that names an environment variable does not match `^[A-Z_][A-Z0-9_]*$`.
    #[error(
        "`{field}` is {value:?}, which is not a valid environment variable name \
         (it must match ^[A-Z_][A-Z0-9_]*$)"
    )]
    InvalidEnvVarName {
        /// Path of the field.
        field: String,
        /// The rejected name.
        value: String,
    },

    /// An enum field holds a number that has no name in this version of the schema.
    #[error("`{field}` is {value}, which is not a known {enum_name} value")]
    UnknownEnumValue {
        /// Path of the field.
        field: String,
        /// The protobuf name of the enum, such as `flyteidl.core.Secret.MountType`.
        enum_name: &'static str,
        /// The rejected number.
        value: i32,
    },
}

impl ValidationError {
    /// The path of the field that failed, with proto field names (`secrets[1].env_var`).
    pub fn field(&self) -> &str {
        match self {
            Self::Missing { field }
            | Self::InvalidEnvVarName { field, .. }
            | Self::UnknownEnumValue { field, .. } => field,
        }
    }

    fn missing(field: &str) -> Self {
        Self::Missing {
            field: field.to_owned(),
        }
    }

    /// Puts `prefix` in front of the field path, for an error found in a nested message.
    fn within(mut self, prefix: &str) -> Self {
        let (Self::Missing { field }
        | Self::InvalidEnvVarName { field, .. }
        | Self::UnknownEnumValue { field, .. }) = &mut self;
        *field = format!("{prefix}.{field}");
        self
    }
}

/// Whether `name` is a valid environment variable name for a secret: it matches
/// `^[A-Z_][A-Z0-9_]*$` (ASCII upper-case letters, digits and underscores, not starting with a
/// digit).
///
/// ```
/// use security_model::is_valid_env_var_name;
///
/// assert!(is_valid_env_var_name("DB_PASSWORD"));
/// assert!(is_valid_env_var_name("_X1"));
/// assert!(!is_valid_env_var_name("db_password"));
/// assert!(!is_valid_env_var_name("1PASSWORD"));
/// assert!(!is_valid_env_var_name(""));
/// ```
pub fn is_valid_env_var_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|first| first.is_ascii_uppercase() || first == b'_')
        && bytes.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

fn check_enum<E: ProtoEnum>(field: &str, value: i32) -> Result<(), ValidationError> {
    match E::try_from(value) {
        Ok(_) => Ok(()),
        Err(_) => Err(ValidationError::UnknownEnumValue {
            field: field.to_owned(),
            enum_name: E::PROTO_NAME,
            value,
        }),
    }
}

impl Secret {
    /// Checks the secret before registration:
    ///
    /// * `group` is not empty (flytekit requires a group);
    /// * `mount_requirement` is a known [`secret::MountType`];
    /// * `env_var`, when set, matches `^[A-Z_][A-Z0-9_]*$` ([`is_valid_env_var_name`]).
    ///
    /// `key` and `group_version` are optional and not checked.
    ///
    /// ```
    /// use security_model::{Secret, ValidationError};
    ///
    /// let err = Secret::new("", "password").validate().unwrap_err();
    /// assert_eq!(err.field(), "group");
    ///
    /// let err = Secret::new("db", "password").with_env_var("db-password").validate().unwrap_err();
    /// assert!(matches!(err, ValidationError::InvalidEnvVarName { ref value, .. } if value == "db-password"));
    /// ```
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.group.is_empty() {
            return Err(ValidationError::missing("group"));
        }
        check_enum::<secret::MountType>("mount_requirement", self.mount_requirement)?;
        if !self.env_var.is_empty() && !is_valid_env_var_name(&self.env_var) {
            return Err(ValidationError::InvalidEnvVarName {
                field: "env_var".to_owned(),
                value: self.env_var.clone(),
            });
        }
        Ok(())
    }
}

impl OAuth2Client {
    /// Checks that `client_id` is not empty and that `client_secret` is present and passes
    /// [`Secret::validate`].
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.client_id.is_empty() {
            return Err(ValidationError::missing("client_id"));
        }
        self.client_secret
            .as_ref()
            .ok_or_else(|| ValidationError::missing("client_secret"))?
            .validate()
            .map_err(|e| e.within("client_secret"))
    }
}

impl Identity {
    /// Checks `oauth2_client` with [`OAuth2Client::validate`] when it is present. The other
    /// fields are free-form.
    pub fn validate(&self) -> Result<(), ValidationError> {
        match &self.oauth2_client {
            Some(client) => client.validate().map_err(|e| e.within("oauth2_client")),
            None => Ok(()),
        }
    }
}

impl OAuth2TokenRequest {
    /// Checks that `name` is not empty, that `type` is a known [`oauth2_token_request::Type`],
    /// and that `client` is present and passes [`OAuth2Client::validate`].
    ///
    /// The endpoints are not checked: a platform may supply them.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.name.is_empty() {
            return Err(ValidationError::missing("name"));
        }
        check_enum::<oauth2_token_request::Type>("type", self.r#type)?;
        self.client
            .as_ref()
            .ok_or_else(|| ValidationError::missing("client"))?
            .validate()
            .map_err(|e| e.within("client"))
    }
}

impl SecurityContext {
    /// Checks `run_as`, every secret and every token request with their own `validate`, and
    /// returns the first error.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if let Some(identity) = &self.run_as {
            identity.validate().map_err(|e| e.within("run_as"))?;
        }
        for (i, secret) in self.secrets.iter().enumerate() {
            secret
                .validate()
                .map_err(|e| e.within(&format!("secrets[{i}]")))?;
        }
        for (i, token) in self.tokens.iter().enumerate() {
            token
                .validate()
                .map_err(|e| e.within(&format!("tokens[{i}]")))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_errors_carry_the_field_path() {
        let ctx = SecurityContext::default()
            .with_secret(Secret::new("ok", "k"))
            .with_token(OAuth2TokenRequest::client_credentials(
                "t",
                OAuth2Client::new("id", Secret::new("", "k")),
            ));
        let err = ctx.validate().unwrap_err();
        assert_eq!(
            err,
            ValidationError::missing("tokens[0].client.client_secret.group")
        );
        assert_eq!(
            err.to_string(),
            "`tokens[0].client.client_secret.group` is required but is empty"
        );
    }

    #[test]
    fn unknown_enum_values_are_reported_with_the_enum_name() {
        let secret = Secret {
            mount_requirement: 7,
            ..Secret::new("g", "k")
        };
        assert_eq!(
            secret.validate().unwrap_err().to_string(),
            "`mount_requirement` is 7, which is not a known flyteidl.core.Secret.MountType value"
        );
    }
}
