//! The response parsers, for the fuzz targets in `fuzz/` (feature `fuzzing`; not a public
//! API). Each function runs the same code a real answer goes through, minus the network.

use std::time::SystemTime;

use auth_core::{AuthError, Credentials};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use serde_json::{Map, Value};

use crate::client::{DeviceAuthorization, TokenBody, parse_device_authorization, parse_json};
use crate::transport::{Response, oauth_error_from};

fn response(status: u16, body: &[u8]) -> Response {
    Response {
        status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        headers: HeaderMap::new(),
        body: body.to_vec(),
    }
}

/// A 2xx token endpoint answer, as [`crate::OAuth2Client`]'s grants read it.
pub fn token_response(
    body: &[u8],
    requested_scopes: &[String],
    now: SystemTime,
) -> Result<Credentials, AuthError> {
    let response = response(200, body);
    let parsed: TokenBody = parse_json(&response, "token request")?;
    crate::client::parse_token_response(parsed, 200, requested_scopes, now)
}

/// A non-2xx, non-3xx answer (status, `Retry-After` header, body) as the transport turns it
/// into an error.
pub fn error_response(status: u16, retry_after: Option<&[u8]>, body: &[u8]) -> AuthError {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut headers = HeaderMap::new();
    if let Some(value) = retry_after.and_then(|v| HeaderValue::from_bytes(v).ok()) {
        headers.insert(RETRY_AFTER, value);
    }
    crate::transport::status_error("request", status, &headers, body)
}

/// A 2xx device authorization answer, as
/// [`OAuth2Client::device_authorization`](crate::OAuth2Client::device_authorization) reads it.
pub fn device_authorization(body: &[u8]) -> Result<DeviceAuthorization, AuthError> {
    let response = response(200, body);
    let map: Map<String, Value> = parse_json(&response, "device authorization request")?;
    if let Some(oauth) = oauth_error_from(&map) {
        return Err(AuthError::oauth(oauth, Some(200)));
    }
    parse_device_authorization(map)
}

/// An RFC 8414 / OpenID / Flyte metadata document as discovery reads it: the metadata and
/// whether `authorization_response_iss_parameter_supported` is on.
pub fn metadata_document(
    body: &[u8],
) -> Result<(security_model::OAuth2MetadataResponse, bool), serde_json::Error> {
    let document: crate::discovery::MetadataDocument = serde_json::from_slice(body)?;
    let iss = document.iss_parameter_supported();
    Ok((document.metadata, iss))
}
