//! Which responses mean "the credentials were rejected".

use http::header::CONTENT_TYPE;
use http::{HeaderMap, StatusCode};

/// The gRPC status code `UNAUTHENTICATED`.
pub const GRPC_UNAUTHENTICATED: u32 = 16;
/// The gRPC status code `PERMISSION_DENIED`.
pub const GRPC_PERMISSION_DENIED: u32 = 7;

/// Why a response counts as an authentication failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthFailure {
    /// HTTP 401 Unauthorized.
    HttpUnauthorized,
    /// HTTP 407 Proxy Authentication Required: the `proxy-authorization` credentials.
    ProxyAuthenticationRequired,
    /// A Trailers-Only gRPC response (`grpc-status` in the response head) with status 16,
    /// `UNAUTHENTICATED`.
    GrpcUnauthenticated,
    /// A Trailers-Only gRPC response with status 7, `PERMISSION_DENIED`, to a call sent
    /// without credentials.
    GrpcPermissionDeniedWithoutCredentials,
    /// A gRPC call answered with an HTML page: what ingresses and auth proxies in front of
    /// the server return for an expired token (a login page or an error page).
    HtmlForGrpc,
}

impl AuthFailure {
    /// Whether the `proxy-authorization` credentials, not the main ones, were rejected.
    pub fn is_proxy(self) -> bool {
        self == Self::ProxyAuthenticationRequired
    }
}

/// Whether `headers` carry a gRPC content type (`application/grpc`, `application/grpc+proto`,
/// `application/grpc-web...`).
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.get(..16)
                .is_some_and(|p| p.eq_ignore_ascii_case("application/grpc"))
        })
}

/// The `grpc-status` of a Trailers-Only response (the status in the response head), if any.
pub fn trailers_only_status(headers: &HeaderMap) -> Option<u32> {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Classifies a response head. `grpc_request`: the request was a gRPC call;
/// `credentials_sent`: it carried credentials.
///
/// - HTTP 401, and 407 for the proxy credentials;
/// - a Trailers-Only gRPC response with status 16 (`UNAUTHENTICATED`), or 7
///   (`PERMISSION_DENIED`) when no credentials were sent;
/// - an HTML body (`text/html`) in answer to a gRPC call, whatever the status.
///
/// A status that arrives in the trailers after the response head is not seen here: the
/// response reaches the caller as it is, and [`AuthBody`](crate::AuthBody) makes the next call
/// refresh first (or retry at the call site with [`crate::retry_unauthenticated`]).
///
/// ```
/// use auth_tower::{AuthFailure, classify};
/// use http::{HeaderMap, HeaderValue, StatusCode};
///
/// let mut head = HeaderMap::new();
/// head.insert("content-type", HeaderValue::from_static("application/grpc"));
/// head.insert("grpc-status", HeaderValue::from_static("16"));
/// assert_eq!(classify(StatusCode::OK, &head, true, true), Some(AuthFailure::GrpcUnauthenticated));
/// ```
pub fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    grpc_request: bool,
    credentials_sent: bool,
) -> Option<AuthFailure> {
    match status {
        StatusCode::UNAUTHORIZED => return Some(AuthFailure::HttpUnauthorized),
        StatusCode::PROXY_AUTHENTICATION_REQUIRED => {
            return Some(AuthFailure::ProxyAuthenticationRequired);
        }
        _ => {}
    }
    if !grpc_request {
        return None;
    }
    if is_grpc(headers) {
        return match trailers_only_status(headers) {
            Some(GRPC_UNAUTHENTICATED) => Some(AuthFailure::GrpcUnauthenticated),
            Some(GRPC_PERMISSION_DENIED) if !credentials_sent => {
                Some(AuthFailure::GrpcPermissionDeniedWithoutCredentials)
            }
            _ => None,
        };
    }
    let html = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .get(..9)
                .is_some_and(|p| p.eq_ignore_ascii_case("text/html"))
        });
    html.then_some(AuthFailure::HtmlForGrpc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn head(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn http_401_and_407() {
        let h = head(&[]);
        assert_eq!(
            classify(StatusCode::UNAUTHORIZED, &h, false, true),
            Some(AuthFailure::HttpUnauthorized)
        );
        let f = classify(StatusCode::PROXY_AUTHENTICATION_REQUIRED, &h, true, true).unwrap();
        assert!(f.is_proxy());
        assert_eq!(classify(StatusCode::FORBIDDEN, &h, false, true), None);
        assert_eq!(classify(StatusCode::OK, &h, false, true), None);
    }

    #[test]
    fn trailers_only_statuses() {
        let grpc16 = head(&[
            ("content-type", "application/grpc+proto"),
            ("grpc-status", "16"),
        ]);
        assert_eq!(
            classify(StatusCode::OK, &grpc16, true, true),
            Some(AuthFailure::GrpcUnauthenticated)
        );
        let grpc7 = head(&[("content-type", "application/grpc"), ("grpc-status", "7")]);
        assert_eq!(classify(StatusCode::OK, &grpc7, true, true), None);
        assert_eq!(
            classify(StatusCode::OK, &grpc7, true, false),
            Some(AuthFailure::GrpcPermissionDeniedWithoutCredentials)
        );
        let grpc0 = head(&[("content-type", "application/grpc"), ("grpc-status", "0")]);
        assert_eq!(classify(StatusCode::OK, &grpc0, true, false), None);
        // A response head without grpc-status: the status comes in the trailers.
        let streaming = head(&[("content-type", "application/grpc")]);
        assert_eq!(classify(StatusCode::OK, &streaming, true, true), None);
    }

    #[test]
    fn html_is_a_failure_only_for_grpc_calls() {
        let html = head(&[("content-type", "text/html; charset=utf-8")]);
        assert_eq!(
            classify(StatusCode::BAD_GATEWAY, &html, true, true),
            Some(AuthFailure::HtmlForGrpc)
        );
        assert_eq!(classify(StatusCode::BAD_GATEWAY, &html, false, true), None);
        let json = head(&[("content-type", "application/json")]);
        assert_eq!(classify(StatusCode::BAD_GATEWAY, &json, true, true), None);
    }

    #[test]
    fn grpc_content_types() {
        assert!(is_grpc(&head(&[("content-type", "application/grpc")])));
        assert!(is_grpc(&head(&[(
            "content-type",
            "Application/GRPC+proto"
        )])));
        assert!(!is_grpc(&head(&[("content-type", "application/json")])));
        assert!(!is_grpc(&head(&[])));
    }
}
