//! What a failed answer becomes: the status, the OAuth error in its body (the one builder
//! of `OAuthErrorResponse`), `Retry-After`.

use super::*;

/// The error for a non-2xx, non-3xx answer.
pub(crate) fn status_error(
    what: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> AuthError {
    let code = status.as_u16();
    let error = match parse_oauth_error(body) {
        Some(oauth) => AuthError::oauth(oauth, Some(code)).context(what),
        None => {
            let excerpt = excerpt(body);
            let detail = if excerpt.is_empty() {
                String::from("unexpected answer with an empty body")
            } else {
                format!("unexpected answer: {excerpt}")
            };
            let message = format!("{what}: {detail}");
            match code {
                429 | 500..=599 => AuthError::transport(message),
                404 | 405 | 410 => AuthError::configuration(format!("{message}; check the URL")),
                // A refusal without an OAuth error body (a bare 401 or 403): the provider said
                // no, as clearly as with one.
                401 | 403 => AuthError::new(ErrorKind::OAuth, message),
                _ => AuthError::invalid_response(message),
            }
            .with_status(code)
        }
    };
    match retry_after(headers) {
        Some(after) => error.with_retry_after(after),
        None => error,
    }
}

/// Parses an OAuth error body (`error`, `error_description`, `error_uri`, and `interval`
/// for `slow_down`), if it is one. Nothing else in the body is kept.
pub(crate) fn parse_oauth_error(body: &[u8]) -> Option<OAuthErrorResponse> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    oauth_error_from(value.as_object()?)
}

pub(crate) fn oauth_error_from(
    map: &serde_json::Map<String, serde_json::Value>,
) -> Option<OAuthErrorResponse> {
    let text = |key: &str| map.get(key).and_then(|v| v.as_str());
    oauth_error(
        map.get("error")?.as_str()?,
        text("error_description"),
        text("error_uri"),
        map.get("interval")
            .and_then(|v| crate::client::value_seconds(v, "interval")),
    )
}

/// The one way an OAuth error is built from what an answer carried, whatever its shape (an
/// error body, or a 2xx token response with an `error`): every text made safe to print and
/// capped, the `slow_down` interval capped. `None` when the code is empty once cleaned.
pub(crate) fn oauth_error(
    code: &str,
    description: Option<&str>,
    uri: Option<&str>,
    interval_secs: Option<u64>,
) -> Option<OAuthErrorResponse> {
    let mut response = OAuthErrorResponse::new(error_code(code)?);
    if let Some(d) = description.filter(|s| !s.is_empty()) {
        response = response.with_description(sanitize(d, 500));
    }
    if let Some(u) = uri.filter(|s| !s.is_empty()) {
        response = response.with_uri(sanitize(u, 500));
    }
    if let Some(secs) = interval_secs {
        response = response.with_interval(crate::client::capped(
            secs,
            crate::client::MAX_POLL_INTERVAL,
            "interval",
        ));
    }
    Some(response)
}

/// The longest `error` code kept from an answer, in characters.
pub(super) const MAX_ERROR_CODE: usize = 100;

/// An answer's `error` code made safe to print (like its description): found by fuzzing, a
/// code with an escape sequence reached terminals and logs unchanged, at any length.
pub(crate) fn error_code(raw: &str) -> Option<String> {
    let code = sanitize(raw, MAX_ERROR_CODE);
    (!code.is_empty()).then_some(code)
}

/// `Retry-After` in seconds (an HTTP date is ignored, with a debug event).
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    match raw.parse::<u64>() {
        Ok(secs) => Some(Duration::from_secs(secs)),
        Err(_) => {
            tracing::debug!(
                retry_after = raw,
                "Retry-After is not a number of seconds; ignoring it"
            );
            None
        }
    }
}
