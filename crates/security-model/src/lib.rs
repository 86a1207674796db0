#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod json;
mod security;
mod service;
mod service2;
mod validate;

pub use security::{
    Identity, OAuth2Client, OAuth2TokenRequest, Secret, SecurityContext, oauth2_token_request,
    secret,
};
pub use service::{
    OAuth2MetadataRequest, OAuth2MetadataResponse, PublicClientAuthConfigRequest,
    PublicClientAuthConfigResponse,
};
/// Flyte 2's `flyteidl2.auth` messages (`AuthMetadataService`).
pub mod flyteidl2_auth {
    pub use crate::service2::{
        GetOAuth2MetadataRequest, GetOAuth2MetadataResponse, GetPublicClientConfigRequest,
        GetPublicClientConfigResponse,
    };
}
pub use validate::{ValidationError, is_valid_env_var_name};
