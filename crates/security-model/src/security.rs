//! The messages of `flyteidl/core/security.proto` (package `flyteidl.core`).
//!
//! The structs are written the way prost-build would generate them: public fields, `String` for
//! `string`, `Vec` for `repeated`, `Option` for message fields and `i32` for enum fields, with
//! typed getters and setters (`mount_requirement()`, `set_mount_requirement()`).

use serde::{Deserialize, Serialize};

use crate::json;

/// Secret encapsulates information about the secret a task needs to proceed.
///
/// It names a secret; it never holds the secret's value.
/// An environment variable `FLYTE_SECRETS_ENV_PREFIX` tells the task the prefix of the environment
/// variables that hold secrets passed that way, and `FLYTE_SECRETS_DEFAULT_DIR` the directory where
/// secrets mounted as files are found.
///
/// ```
/// use security_model::{Secret, secret::MountType};
///
/// let secret = Secret::new("db-creds", "password")
///     .with_mount_requirement(MountType::EnvVar)
///     .with_env_var("DB_PASSWORD");
/// assert_eq!(secret.mount_requirement(), MountType::EnvVar);
/// assert!(secret.validate().is_ok());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, prost::Message, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Secret {
    /// The name of the secret group where to find the key.
    ///
    /// For K8s secrets, this is the name of the v1/secret object; for Confidant, the Credential
    /// name; for Vault and AWS Secret Manager, the secret name. Required for registration.
    #[prost(string, tag = "1")]
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "json::null_as_default"
    )]
    pub group: String,

    /// The group version to fetch. Not all secret management systems support it; the others
    /// ignore it.
    #[prost(string, tag = "2")]
    #[serde(
        alias = "group_version",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "json::null_as_default"
    )]
    pub group_version: String,

    /// The name of the secret to mount, one of the keys inside the group. Ignored by AWS Secret
    /// Manager.
    #[prost(string, tag = "3")]
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "json::null_as_default"
    )]
    pub key: String,

    /// Where the secret has to be mounted, a [`secret::MountType`] number.
    ///
    /// If set, the execution fails when the key management system cannot meet it.
    /// Use [`Secret::mount_requirement`] for the typed value.
    #[prost(enumeration = "secret::MountType", tag = "4")]
    #[serde(
        alias = "mount_requirement",
        skip_serializing_if = "json::is_zero",
        serialize_with = "json::serialize_enum::<secret::MountType, _>",
        deserialize_with = "json::deserialize_enum::<secret::MountType, _>"
    )]
    pub mount_requirement: i32,

    /// A custom environment variable to set from the secret.
    ///
    /// With [`secret::MountType::EnvVar`] it holds the secret itself, with
    /// [`secret::MountType::File`] the path to the secret file.
    /// [`Secret::validate`] checks that it is a valid name (`^[A-Z_][A-Z0-9_]*$`).
    #[prost(string, tag = "5")]
    #[serde(
        alias = "env_var",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "json::null_as_default"
    )]
    pub env_var: String,
}

/// Types nested in [`Secret`](crate::Secret).
pub mod secret {
    /// Where a secret is mounted (`flyteidl.core.Secret.MountType`).
    ///
    /// It is `#[non_exhaustive]` because Flyte may add ways to mount a secret; a number this
    /// version does not know is kept in [`Secret::mount_requirement`](crate::Secret::mount_requirement)
    /// as it is.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    #[non_exhaustive]
    pub enum MountType {
        /// Default: the client can tolerate either mounting option.
        Any = 0,
        /// The secret needs to be mounted as an environment variable.
        EnvVar = 1,
        /// The secret needs to be mounted as a file.
        File = 2,
    }

    crate::json::proto_enum!(MountType, "flyteidl.core.Secret.MountType" {
        Any = "ANY",
        EnvVar = "ENV_VAR",
        File = "FILE",
    });
}

impl Secret {
    /// A secret `key` in `group`, mounted wherever the key management system prefers.
    pub fn new(group: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            group: group.into(),
            key: key.into(),
            ..Self::default()
        }
    }

    /// Sets the group version.
    #[must_use]
    pub fn with_group_version(mut self, group_version: impl Into<String>) -> Self {
        self.group_version = group_version.into();
        self
    }

    /// Sets where the secret has to be mounted.
    #[must_use]
    pub fn with_mount_requirement(mut self, mount: secret::MountType) -> Self {
        self.set_mount_requirement(mount);
        self
    }

    /// Sets the custom environment variable name. [`Secret::validate`] checks its syntax.
    #[must_use]
    pub fn with_env_var(mut self, env_var: impl Into<String>) -> Self {
        self.env_var = env_var.into();
        self
    }
}

/// OAuth2Client encapsulates OAuth2 client credentials used when making calls on behalf of a task.
///
/// The client secret is a [`Secret`] reference, not the secret value.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OAuth2Client {
    /// The public id of the client. Required.
    ///
    /// The system does not check before use that the secret requested matches this client id.
    #[prost(string, tag = "1")]
    #[serde(
        alias = "client_id",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "json::null_as_default"
    )]
    pub client_id: String,

    /// A reference to the secret used to authenticate the client. Required.
    #[prost(message, optional, tag = "2")]
    #[serde(alias = "client_secret", skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
}

impl OAuth2Client {
    /// A client with the given id, authenticated by the secret that `client_secret` names.
    pub fn new(client_id: impl Into<String>, client_secret: Secret) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: Some(client_secret),
        }
    }
}

/// Identity encapsulates the security identities a task can run as.
///
/// The backend plugin picks the one that fits its execution environment.
/// Each constructor sets one identity; the `with_*` methods add others.
///
/// ```
/// use security_model::Identity;
///
/// let id = Identity::iam_role("arn:aws:iam::123456789012:role/flyte-task")
///     .with_k8s_service_account("flyte-worker");
/// assert_eq!(id.k8s_service_account, "flyte-worker");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, prost::Message, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Identity {
    /// The fully qualified name of an Identity & Access Management role to impersonate.
    #[prost(string, tag = "1")]
    #[serde(
        alias = "iam_role",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "json::null_as_default"
    )]
    pub iam_role: String,

    /// A Kubernetes service account to impersonate.
    #[prost(string, tag = "2")]
    #[serde(
        alias = "k8s_service_account",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "json::null_as_default"
    )]
    pub k8s_service_account: String,

    /// An OAuth2 client that backend plugins can impersonate when making external calls.
    #[prost(message, optional, tag = "3")]
    #[serde(alias = "oauth2_client", skip_serializing_if = "Option::is_none")]
    pub oauth2_client: Option<OAuth2Client>,

    /// The subject who makes the execution.
    #[prost(string, tag = "4")]
    #[serde(
        alias = "execution_identity",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "json::null_as_default"
    )]
    pub execution_identity: String,
}

impl Identity {
    /// An identity that impersonates the IAM role `role`.
    pub fn iam_role(role: impl Into<String>) -> Self {
        Self::default().with_iam_role(role)
    }

    /// An identity that impersonates the Kubernetes service account `account`.
    pub fn k8s_service_account(account: impl Into<String>) -> Self {
        Self::default().with_k8s_service_account(account)
    }

    /// An identity that impersonates the OAuth2 client `client`.
    pub fn oauth2_client(client: OAuth2Client) -> Self {
        Self::default().with_oauth2_client(client)
    }

    /// An identity that names the subject who makes the execution.
    pub fn execution_identity(subject: impl Into<String>) -> Self {
        Self::default().with_execution_identity(subject)
    }

    /// Sets the IAM role.
    #[must_use]
    pub fn with_iam_role(mut self, role: impl Into<String>) -> Self {
        self.iam_role = role.into();
        self
    }

    /// Sets the Kubernetes service account.
    #[must_use]
    pub fn with_k8s_service_account(mut self, account: impl Into<String>) -> Self {
        self.k8s_service_account = account.into();
        self
    }

    /// Sets the OAuth2 client.
    #[must_use]
    pub fn with_oauth2_client(mut self, client: OAuth2Client) -> Self {
        self.oauth2_client = Some(client);
        self
    }

    /// Sets the subject who makes the execution.
    #[must_use]
    pub fn with_execution_identity(mut self, subject: impl Into<String>) -> Self {
        self.execution_identity = subject.into();
        self
    }
}

/// OAuth2TokenRequest encapsulates the information needed to request an OAuth2 token for a task.
///
/// `FLYTE_TOKENS_ENV_PREFIX` tells the task the prefix of the environment variables that hold
/// tokens passed that way, and `FLYTE_TOKENS_PATH_PREFIX` the prefix of the path where tokens
/// mounted as files are found.
///
/// ```
/// use security_model::{OAuth2Client, OAuth2TokenRequest, Secret};
///
/// let client = OAuth2Client::new("svc", Secret::new("oauth", "svc-secret"));
/// let request = OAuth2TokenRequest::client_credentials("svc-token", client)
///     .with_token_endpoint("https://idp.example.com/oauth2/token");
/// assert!(request.validate().is_ok());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, prost::Message, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OAuth2TokenRequest {
    /// A unique id for the token request among the task's token requests. Required.
    ///
    /// It is the suffix of the environment variable and the file name of the token.
    #[prost(string, tag = "1")]
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "json::null_as_default"
    )]
    pub name: String,

    /// The type of request, an [`oauth2_token_request::Type`] number. Defaults to
    /// `CLIENT_CREDENTIALS`. The `r#type()` getter gives the typed value.
    #[prost(enumeration = "oauth2_token_request::Type", tag = "2")]
    #[serde(
        skip_serializing_if = "json::is_zero",
        serialize_with = "json::serialize_enum::<oauth2_token_request::Type, _>",
        deserialize_with = "json::deserialize_enum::<oauth2_token_request::Type, _>"
    )]
    pub r#type: i32,

    /// The client id and secret used to request the token. Required.
    #[prost(message, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<OAuth2Client>,

    /// The discovery endpoint used to find the token endpoint and related information.
    #[prost(string, tag = "4")]
    #[serde(
        alias = "idp_discovery_endpoint",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "json::null_as_default"
    )]
    pub idp_discovery_endpoint: String,

    /// The token endpoint. Mandatory when `idp_discovery_endpoint` is empty.
    #[prost(string, tag = "5")]
    #[serde(
        alias = "token_endpoint",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "json::null_as_default"
    )]
    pub token_endpoint: String,
}

/// Types nested in [`OAuth2TokenRequest`](crate::OAuth2TokenRequest).
pub mod oauth2_token_request {
    /// The type of token requested (`flyteidl.core.OAuth2TokenRequest.Type`).
    ///
    /// It is `#[non_exhaustive]` because Flyte may add grant types; a number this version does
    /// not know is kept in the `r#type` field of
    /// [`OAuth2TokenRequest`](crate::OAuth2TokenRequest) as it is.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    #[non_exhaustive]
    pub enum Type {
        /// A 2-legged OAuth token requested with client credentials.
        ClientCredentials = 0,
    }

    crate::json::proto_enum!(Type, "flyteidl.core.OAuth2TokenRequest.Type" {
        ClientCredentials = "CLIENT_CREDENTIALS",
    });
}

impl OAuth2TokenRequest {
    /// A client-credentials token request named `name`, made as `client`.
    ///
    /// Set an endpoint with [`with_token_endpoint`](Self::with_token_endpoint) or
    /// [`with_idp_discovery_endpoint`](Self::with_idp_discovery_endpoint).
    pub fn client_credentials(name: impl Into<String>, client: OAuth2Client) -> Self {
        Self {
            name: name.into(),
            r#type: oauth2_token_request::Type::ClientCredentials.into(),
            client: Some(client),
            ..Self::default()
        }
    }

    /// Sets the identity provider's discovery endpoint.
    #[must_use]
    pub fn with_idp_discovery_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.idp_discovery_endpoint = endpoint.into();
        self
    }

    /// Sets the token endpoint.
    #[must_use]
    pub fn with_token_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.token_endpoint = endpoint.into();
        self
    }
}

/// SecurityContext holds the security attributes that apply to a task.
///
/// ```
/// use security_model::{Identity, Secret, SecurityContext};
///
/// let ctx = SecurityContext::default()
///     .with_run_as(Identity::k8s_service_account("flyte-worker"))
///     .with_secret(Secret::new("db-creds", "password"));
/// assert_eq!(ctx.secrets.len(), 1);
/// ```
#[derive(Clone, PartialEq, Eq, Hash, prost::Message, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SecurityContext {
    /// The identity the pod should run as.
    ///
    /// If several fields are set, the backend plugin chooses the one that fits the execution
    /// engine.
    #[prost(message, optional, tag = "1")]
    #[serde(alias = "run_as", skip_serializing_if = "Option::is_none")]
    pub run_as: Option<Identity>,

    /// The secrets the task needs, mounted or passed to the pod as it starts.
    #[prost(message, repeated, tag = "2")]
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "json::null_as_default"
    )]
    pub secrets: Vec<Secret>,

    /// The token requests the task needs, mounted or passed to the pod as it starts.
    #[prost(message, repeated, tag = "3")]
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "json::null_as_default"
    )]
    pub tokens: Vec<OAuth2TokenRequest>,
}

impl SecurityContext {
    /// Sets the identity to run as.
    #[must_use]
    pub fn with_run_as(mut self, identity: Identity) -> Self {
        self.run_as = Some(identity);
        self
    }

    /// Adds a secret.
    #[must_use]
    pub fn with_secret(mut self, secret: Secret) -> Self {
        self.secrets.push(secret);
        self
    }

    /// Adds a token request.
    #[must_use]
    pub fn with_token(mut self, token: OAuth2TokenRequest) -> Self {
        self.tokens.push(token);
        self
    }
}
