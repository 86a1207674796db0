#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod json;
mod security;
mod service;
mod validate;

pub use security::{
    Identity, OAuth2Client, OAuth2TokenRequest, Secret, SecurityContext, oauth2_token_request,
    secret,
};
pub use service::{
    OAuth2MetadataRequest, OAuth2MetadataResponse, PublicClientAuthConfigRequest,
    PublicClientAuthConfigResponse,
};
pub use validate::{ValidationError, is_valid_env_var_name};
