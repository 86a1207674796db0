//! Flyte 2's `Passthrough` mode: no flow at all; the caller gives the credentials headers
//! (for example the ones of the request a service is answering) and every call made inside
//! [`with_auth_metadata`] through a [`PassthroughLayer`] carries them, as flyte-sdk's
//! `flyte.remote.auth_metadata()` context manager and `PassthroughAuthenticator` do.
//!
//! ```
//! # async fn demo() {
//! use http::{HeaderMap, HeaderValue};
//!
//! let mut headers = HeaderMap::new();
//! headers.insert("authorization", HeaderValue::from_static("Bearer from-the-caller"));
//! auth_tower::with_auth_metadata(headers, async {
//!     // client calls through a channel wrapped in PassthroughLayer carry the header here
//! })
//! .await;
//! # }
//! ```

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderMap, Request};
use tower_layer::Layer;
use tower_service::Service;

tokio::task_local! {
    static AUTH_METADATA: Arc<HeaderMap>;
}

/// Runs `future` with `headers` as the credentials of every call made through a
/// [`PassthroughLayer`] while it runs (in this task: a call handed to another task, through a
/// buffer for example, does not see them). Values are marked sensitive (never indexed by
/// HPACK, hidden from `Debug`). Scopes nest: the innermost wins.
pub async fn with_auth_metadata<F: Future>(mut headers: HeaderMap, future: F) -> F::Output {
    for value in headers.values_mut() {
        value.set_sensitive(true);
    }
    AUTH_METADATA.scope(Arc::new(headers), future).await
}

/// The headers [`with_auth_metadata`] set for the current task, if any.
pub fn auth_metadata() -> Option<Arc<HeaderMap>> {
    AUTH_METADATA.try_with(Arc::clone).ok()
}

/// Sets the headers of the enclosing [`with_auth_metadata`] (as it is when `call` runs) on
/// every request, replacing any
/// value the request had for the same names; outside one, the request goes as it is. There is
/// nothing to refresh: a rejection reaches the caller.
#[derive(Clone, Copy, Debug, Default)]
pub struct PassthroughLayer;

impl PassthroughLayer {
    /// The layer.
    pub fn new() -> Self {
        Self
    }
}

impl<S> Layer<S> for PassthroughLayer {
    type Service = PassthroughService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PassthroughService { inner }
    }
}

/// The service of a [`PassthroughLayer`].
#[derive(Clone, Debug)]
pub struct PassthroughService<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for PassthroughService<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        if let Some(metadata) = auth_metadata() {
            let headers = request.headers_mut();
            for name in metadata.keys() {
                headers.remove(name);
            }
            for (name, value) in metadata.iter() {
                headers.append(name.clone(), value.clone());
            }
        }
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http::HeaderValue;

    use super::*;

    /// Echoes the request's headers.
    #[derive(Clone)]
    struct Echo;

    impl Service<Request<()>> for Echo {
        type Response = HeaderMap;
        type Error = Infallible;
        type Future = std::future::Ready<Result<HeaderMap, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: Request<()>) -> Self::Future {
            std::future::ready(Ok(request.headers().clone()))
        }
    }

    fn request() -> Request<()> {
        Request::builder()
            .header("authorization", "Bearer stale")
            .header("x-other", "kept")
            .body(())
            .unwrap()
    }

    #[tokio::test]
    async fn the_callers_headers_replace_the_requests_inside_the_scope_only() {
        let mut svc = PassthroughLayer::new().layer(Echo);
        let mut given = HeaderMap::new();
        given.insert("authorization", HeaderValue::from_static("Bearer caller"));
        given.append("x-tenant", HeaderValue::from_static("a"));
        given.append("x-tenant", HeaderValue::from_static("b"));
        // `call` reads the scope when it is called, so it is called inside it.
        let sent = with_auth_metadata(given, async { svc.call(request()).await })
            .await
            .unwrap();
        let auth: Vec<_> = sent.get_all("authorization").iter().collect();
        assert_eq!(auth, ["Bearer caller"], "replaced, not appended");
        assert!(auth[0].is_sensitive());
        assert_eq!(sent.get_all("x-tenant").iter().count(), 2);
        assert_eq!(sent["x-other"], "kept");
        // Outside the scope the request goes as it is.
        let sent = svc.call(request()).await.unwrap();
        assert_eq!(sent["authorization"], "Bearer stale");
        assert!(auth_metadata().is_none());
    }

    #[tokio::test]
    async fn scopes_nest_and_the_innermost_wins() {
        let header = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert("authorization", HeaderValue::from_static(v));
            h
        };
        let seen = with_auth_metadata(header("outer"), async {
            let inner = with_auth_metadata(header("inner"), async {
                auth_metadata().unwrap()["authorization"].clone()
            })
            .await;
            (inner, auth_metadata().unwrap()["authorization"].clone())
        })
        .await;
        assert_eq!(
            (seen.0.to_str().unwrap(), seen.1.to_str().unwrap()),
            ("inner", "outer")
        );
    }
}
