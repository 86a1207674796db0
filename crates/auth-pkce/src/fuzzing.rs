//! The callback parsers, for the fuzz targets in `fuzz/` (feature `fuzzing`; not a public
//! API).

use auth_core::OAuthErrorResponse;

use crate::request::RedirectUri;

/// What the callback server reads from one request target (`/callback?code=...`).
#[derive(Debug)]
pub struct Callback {
    /// Whether the path is the redirect path.
    pub matches_path: bool,
    /// The `state` parameter.
    pub state: Option<String>,
    /// Whether a `code` parameter is present.
    pub has_code: bool,
    /// The error, sanitized as the server does.
    pub error: Option<OAuthErrorResponse>,
    /// The `iss` parameter.
    pub iss: Option<String>,
}

/// Parses a redirect URI as the builder does.
pub fn redirect_uri(uri: &str) -> Result<String, String> {
    RedirectUri::parse(uri).map(|r| r.with_bound_port(1))
}

/// Reads a request target the way the callback server does for a `GET` to `redirect_uri`.
/// `Err` is the page's reason (a repeated parameter) or a target hyper would refuse.
pub fn callback(redirect_uri: &str, target: &[u8]) -> Result<Callback, String> {
    let redirect = RedirectUri::parse(redirect_uri)?;
    let uri = hyper::Uri::try_from(target).map_err(|e| e.to_string())?;
    let params = crate::server::parse_params(uri.query().unwrap_or(""))?;
    Ok(Callback {
        matches_path: redirect.matches_path(uri.path()),
        state: params.state,
        has_code: params.code.is_some(),
        error: crate::server::error_response(
            params.error,
            params.error_description,
            params.error_uri,
        ),
        iss: params.iss,
    })
}
