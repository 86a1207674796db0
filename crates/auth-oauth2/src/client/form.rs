//! What a request to the token endpoint carries: client authentication (Basic, RFC 6749
//! §2.3.1 form-encoding), and the `scope` and `audience` parameters.

use super::*;

/// Whether the token endpoint refused the client's authentication: HTTP 401 (with or
/// without a body) or `invalid_client` (RFC 6749 §5.2).
pub(super) fn is_client_auth_refusal(e: &AuthError) -> bool {
    e.status() == Some(401) || e.oauth_error_code() == Some("invalid_client")
}

pub(super) fn basic(pair: &str) -> Zeroizing<String> {
    let mut value = Zeroizing::new(String::from("Basic "));
    base64::engine::general_purpose::STANDARD.encode_string(pair.as_bytes(), &mut value);
    value
}

/// `application/x-www-form-urlencoded` encoding of one value (RFC 6749 §2.3.1, Appendix B).
pub(super) fn form_encode(value: &str) -> Zeroizing<String> {
    Zeroizing::new(form_urlencoded::byte_serialize(value.as_bytes()).collect())
}

/// Python's `urllib.parse.quote(value)` (safe characters: unreserved and `/`), as flytekit
/// encodes the secret.
pub(super) fn quote(value: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(value.len()));
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

pub(super) fn push_scope_and_audience<'a>(
    params: &mut Vec<(&'a str, &'a str)>,
    scope: Option<&'a str>,
    audience: Option<&'a str>,
) {
    if let Some(scope) = scope {
        params.push(("scope", scope));
    }
    if let Some(audience) = audience.map(str::trim).filter(|a| !a.is_empty()) {
        params.push(("audience", audience));
    }
}

/// The `scope` parameter: the scopes space-joined, or `None` when there are none.
///
/// Entries are cleaned the way flytekit does: a stringified list such as `['offline', 'all']`
/// becomes `offline all`, an entry holding several space-separated scopes is split, and
/// duplicates are dropped.
///
/// ```
/// use auth_oauth2::scope_param;
///
/// let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
/// assert_eq!(scope_param(&s(&["offline", "all"])).as_deref(), Some("offline all"));
/// assert_eq!(scope_param(&s(&["['offline', 'all']"])).as_deref(), Some("offline all"));
/// assert_eq!(scope_param(&s(&[])), None);
/// ```
pub fn scope_param(scopes: &[String]) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    for entry in scopes {
        let entry = entry.trim();
        let list = entry.strip_prefix('[').and_then(|e| e.strip_suffix(']'));
        let pieces: Box<dyn Iterator<Item = &str>> = match list {
            Some(inner) => {
                tracing::debug!("cleaning up a stringified scope list");
                Box::new(inner.split(|c: char| c == ',' || c.is_whitespace()))
            }
            None => Box::new(entry.split_whitespace()),
        };
        for piece in pieces {
            let piece = piece.trim().trim_matches(|c| c == '\'' || c == '"').trim();
            if !piece.is_empty() && !out.contains(&piece) {
                out.push(piece);
            }
        }
    }
    if out.is_empty() {
        None
    } else {
        Some(out.join(" "))
    }
}

/// The scopes `scope_param` would send, as a list.
pub(super) fn clean_scopes(scopes: &[String]) -> Vec<String> {
    scope_param(scopes)
        .map(|s| s.split(' ').map(str::to_string).collect())
        .unwrap_or_default()
}
