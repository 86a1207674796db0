//! The messages of `flyteidl/service/auth.proto` (package `flyteidl.service`), used by Flyte's
//! anonymously accessible `AuthMetadataService`.
//!
//! FlyteAdmin serves them over HTTP too: `GET /.well-known/oauth-authorization-server` returns an
//! [`OAuth2MetadataResponse`] and `GET /config/v1/flyte_client` a
//! [`PublicClientAuthConfigResponse`].
//! Its gateway writes every field, empty ones included, in snake_case when the request's `Accept`
//! header is exactly `application/json` and in camelCase otherwise; serde reads both.
//! An empty string or list means the server did not set the field.

use serde::{Deserialize, Serialize};

use crate::json;

/// The request of `AuthMetadataService.GetOAuth2Metadata`. It has no fields.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message, Serialize, Deserialize)]
pub struct OAuth2MetadataRequest {}

/// OAuth 2.0 authorization server metadata as defined by
/// [RFC 8414](https://tools.ietf.org/html/rfc8414), returned by
/// `AuthMetadataService.GetOAuth2Metadata`.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OAuth2MetadataResponse {
    /// The issuer string in all JWTs this server issues: FlyteAdmin itself or an external issuer.
    #[prost(string, tag = "1")]
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "json::null_as_default"
    )]
    pub issuer: String,

    /// URL of the authorization endpoint (RFC 6749).
    #[prost(string, tag = "2")]
    #[serde(
        alias = "authorization_endpoint",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "json::null_as_default"
    )]
    pub authorization_endpoint: String,

    /// URL of the token endpoint (RFC 6749).
    #[prost(string, tag = "3")]
    #[serde(
        alias = "token_endpoint",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "json::null_as_default"
    )]
    pub token_endpoint: String,

    /// The OAuth 2.0 `response_type` values the server supports.
    #[prost(string, repeated, tag = "4")]
    #[serde(
        alias = "response_types_supported",
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "json::null_as_default"
    )]
    pub response_types_supported: Vec<String>,

    /// The OAuth 2.0 scope values the server supports.
    #[prost(string, repeated, tag = "5")]
    #[serde(
        alias = "scopes_supported",
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "json::null_as_default"
    )]
    pub scopes_supported: Vec<String>,

    /// The client authentication methods the token endpoint supports.
    #[prost(string, repeated, tag = "6")]
    #[serde(
        alias = "token_endpoint_auth_methods_supported",
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "json::null_as_default"
    )]
    pub token_endpoint_auth_methods_supported: Vec<String>,

    /// URL of the server's JWK Set document, with the keys that sign its tokens.
    #[prost(string, tag = "7")]
    #[serde(
        alias = "jwks_uri",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "json::null_as_default"
    )]
    pub jwks_uri: String,

    /// The PKCE (RFC 7636) code challenge methods the server supports.
    #[prost(string, repeated, tag = "8")]
    #[serde(
        alias = "code_challenge_methods_supported",
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "json::null_as_default"
    )]
    pub code_challenge_methods_supported: Vec<String>,

    /// The OAuth 2.0 grant type values the server supports.
    #[prost(string, repeated, tag = "9")]
    #[serde(
        alias = "grant_types_supported",
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "json::null_as_default"
    )]
    pub grant_types_supported: Vec<String>,

    /// URL of the device authorization endpoint (RFC 8628 §3.1).
    #[prost(string, tag = "10")]
    #[serde(
        alias = "device_authorization_endpoint",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "json::null_as_default"
    )]
    pub device_authorization_endpoint: String,
}

/// The request of `AuthMetadataService.GetPublicClientConfig`. It has no fields.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message, Serialize, Deserialize)]
pub struct PublicClientAuthConfigRequest {}

/// Public information that Flyte clients (CLIs and the like) use to authenticate users, returned
/// by `AuthMetadataService.GetPublicClientConfig`.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PublicClientAuthConfigResponse {
    /// The client id to use in OAuth2 authorization requests.
    #[prost(string, tag = "1")]
    #[serde(
        alias = "client_id",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "json::null_as_default"
    )]
    pub client_id: String,

    /// The redirect URI to use in OAuth2 authorization requests.
    #[prost(string, tag = "2")]
    #[serde(
        alias = "redirect_uri",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "json::null_as_default"
    )]
    pub redirect_uri: String,

    /// The scopes to request in OAuth2 authorization requests.
    #[prost(string, repeated, tag = "3")]
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "json::null_as_default"
    )]
    pub scopes: Vec<String>,

    /// The header that carries access tokens to the server.
    ///
    /// Empty means the standard `Authorization` header; see
    /// [`authorization_header`](Self::authorization_header).
    #[prost(string, tag = "4")]
    #[serde(
        alias = "authorization_metadata_key",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "json::null_as_default"
    )]
    pub authorization_metadata_key: String,

    /// The HTTP endpoint of the backend.
    ///
    /// Empty means the endpoint of the gRPC connection also serves HTTP, with TLS unless the
    /// connection is insecure.
    #[prost(string, tag = "5")]
    #[serde(
        alias = "service_http_endpoint",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "json::null_as_default"
    )]
    pub service_http_endpoint: String,

    /// The audience to use in OAuth2 authorization requests.
    #[prost(string, tag = "6")]
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "json::null_as_default"
    )]
    pub audience: String,
}

impl PublicClientAuthConfigResponse {
    /// The header name used when no `authorization_metadata_key` is configured.
    pub const DEFAULT_AUTHORIZATION_HEADER: &'static str = "authorization";

    /// The name of the header that carries access tokens: `authorization_metadata_key`, or
    /// [`DEFAULT_AUTHORIZATION_HEADER`](Self::DEFAULT_AUTHORIZATION_HEADER) when it is empty.
    ///
    /// ```
    /// use security_model::PublicClientAuthConfigResponse;
    ///
    /// let mut config = PublicClientAuthConfigResponse::default();
    /// assert_eq!(config.authorization_header(), "authorization");
    /// config.authorization_metadata_key = "flyte-authorization".into();
    /// assert_eq!(config.authorization_header(), "flyte-authorization");
    /// ```
    pub fn authorization_header(&self) -> &str {
        if self.authorization_metadata_key.is_empty() {
            Self::DEFAULT_AUTHORIZATION_HEADER
        } else {
            &self.authorization_metadata_key
        }
    }
}
