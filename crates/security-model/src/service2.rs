//! The messages of Flyte 2's `flyteidl2/auth/auth_service.proto` (package `flyteidl2.auth`).
//!
//! Flyte 2's `AuthMetadataService` has the same two RPCs and the same field numbers as Flyte 1's
//! (see [`crate::OAuth2MetadataResponse`]), with messages renamed after the RPCs, and its client
//! config gains `dataplane_domain = 7`. Flyte 2 serves no gateway GET paths for discovery: clients
//! call the RPCs over gRPC or ConnectRPC (`POST /flyteidl2.auth.AuthMetadataService/<Method>` with
//! a protobuf or JSON body).
//!
//! Messages whose fields are identical to Flyte 1's are the same Rust types under Flyte 2's names:
//! their encodings are byte-identical, only the package (and so type URLs, which these RPCs never
//! carry) differs.

use serde::{Deserialize, Serialize};

use crate::json;
use crate::service::PublicClientAuthConfigResponse;

/// The request of `flyteidl2.auth.AuthMetadataService.GetOAuth2Metadata`. It has no fields.
pub type GetOAuth2MetadataRequest = crate::service::OAuth2MetadataRequest;

/// The answer of `flyteidl2.auth.AuthMetadataService.GetOAuth2Metadata`: RFC 8414 metadata,
/// field for field Flyte 1's [`OAuth2MetadataResponse`](crate::OAuth2MetadataResponse).
pub type GetOAuth2MetadataResponse = crate::service::OAuth2MetadataResponse;

/// The request of `flyteidl2.auth.AuthMetadataService.GetPublicClientConfig`. It has no fields.
pub type GetPublicClientConfigRequest = crate::service::PublicClientAuthConfigRequest;

/// The answer of `flyteidl2.auth.AuthMetadataService.GetPublicClientConfig`: Flyte 1's
/// [`PublicClientAuthConfigResponse`] plus `dataplane_domain`.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GetPublicClientConfigResponse {
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

    /// The header that carries access tokens to the server; empty means `authorization`.
    #[prost(string, tag = "4")]
    #[serde(
        alias = "authorization_metadata_key",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "json::null_as_default"
    )]
    pub authorization_metadata_key: String,

    /// The HTTP endpoint of the backend; empty means the endpoint of the connection.
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

    /// The domain of the data plane, when it differs from the control plane's.
    #[prost(string, tag = "7")]
    #[serde(
        alias = "dataplane_domain",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "json::null_as_default"
    )]
    pub dataplane_domain: String,
}

impl From<GetPublicClientConfigResponse> for PublicClientAuthConfigResponse {
    /// Flyte 1's message: everything but `dataplane_domain`.
    fn from(r: GetPublicClientConfigResponse) -> Self {
        Self {
            client_id: r.client_id,
            redirect_uri: r.redirect_uri,
            scopes: r.scopes,
            authorization_metadata_key: r.authorization_metadata_key,
            service_http_endpoint: r.service_http_endpoint,
            audience: r.audience,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn flyte2_client_config_is_flyte1_plus_field_7() {
        let v2 = GetPublicClientConfigResponse {
            client_id: "flytectl".into(),
            authorization_metadata_key: "flyte-authorization".into(),
            dataplane_domain: "dp.example.com".into(),
            ..Default::default()
        };
        let bytes = v2.encode_to_vec();
        // Field 7, wire type 2 (tag byte 0x3a), then the length and the string.
        let tail = [&[0x3a, 14][..], b"dp.example.com"].concat();
        assert!(bytes.ends_with(&tail), "{bytes:?}");
        // A Flyte 1 decoder skips the unknown field 7 and reads the rest.
        let v1 = PublicClientAuthConfigResponse::decode(bytes.as_slice()).unwrap();
        assert_eq!(v1, PublicClientAuthConfigResponse::from(v2.clone()));
        assert_eq!(v1.authorization_header(), "flyte-authorization");
        let json: GetPublicClientConfigResponse =
            serde_json::from_str(r#"{"clientId":"flytectl","dataplane_domain":"dp.example.com"}"#)
                .unwrap();
        assert_eq!(json.dataplane_domain, "dp.example.com");
        assert_eq!(json.client_id, "flytectl");
    }
}
