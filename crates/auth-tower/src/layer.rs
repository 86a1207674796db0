//! The tower layer: credentials on every request, one refresh and one replay on rejection.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use arc_swap::ArcSwapOption;
use auth_core::{AuthError, Authenticator, Credentials};
use http::header::{HeaderName, HeaderValue, PROXY_AUTHORIZATION};
use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::body::{Prefixed, Read, ReplayBody, buffer};
use crate::classify::{AuthFailure, classify, is_grpc, trailers_only_status};

/// The error type of [`AuthService`]: the inner service's error, or an [`AuthError`] when no
/// credentials could be obtained.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The default cap on a request body the layer buffers for a replay: 64 KiB.
pub const DEFAULT_MAX_REPLAY_BODY: usize = 64 * 1024;

/// Marks a gRPC call as unary, so that [`AuthService`] may send it again after a refresh.
///
/// gRPC unary and server-streaming calls look alike on the wire; the layer replays a gRPC call
/// only when it carries this extension (or the layer's [`AuthLayer::replay_grpc_if`] predicate
/// says so). With tonic: `request.extensions_mut().insert(auth_tower::Unary)`. Plain HTTP
/// requests (Connect unary calls among them) need no marker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unary;

type GrpcPredicate = Arc<dyn Fn(&http::request::Parts) -> bool + Send + Sync>;

/// A header value derived from one acquisition of credentials.
struct Cached {
    credentials: Credentials,
    name: HeaderName,
    value: HeaderValue,
}

/// An authenticator and the header built from its current credentials, rebuilt only when the
/// credentials change (one pointer comparison per call).
pub(crate) struct HeaderSource {
    pub(crate) auth: Arc<dyn Authenticator>,
    /// The header name when it is fixed (`proxy-authorization`); else the authenticator's key.
    fixed_name: Option<HeaderName>,
    cache: ArcSwapOption<Cached>,
}

impl fmt::Debug for HeaderSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeaderSource")
            .field("auth", &self.auth)
            .field("fixed_name", &self.fixed_name)
            .finish_non_exhaustive()
    }
}

impl HeaderSource {
    pub(crate) fn new(auth: Arc<dyn Authenticator>, fixed_name: Option<HeaderName>) -> Self {
        Self {
            auth,
            fixed_name,
            cache: ArcSwapOption::empty(),
        }
    }

    /// The header for the current credentials.
    pub(crate) async fn header(&self) -> Result<(HeaderName, HeaderValue), AuthError> {
        let credentials = self.auth.credentials().await?;
        self.header_for(credentials).await
    }

    /// The header for `credentials`.
    pub(crate) async fn header_for(
        &self,
        credentials: Credentials,
    ) -> Result<(HeaderName, HeaderValue), AuthError> {
        if let Some(c) = self.cache.load().as_ref()
            && c.credentials.same_as(&credentials)
        {
            return Ok((c.name.clone(), c.value.clone()));
        }
        let name = match &self.fixed_name {
            Some(n) => n.clone(),
            None => {
                // Resolves a discovered key even for credentials that came from a store.
                let (key, _) = self.auth.authorization_header().await?;
                header_name(&key)?
            }
        };
        let value = header_value(self.auth.header_value(&credentials).secret())?;
        self.cache.store(Some(Arc::new(Cached {
            credentials,
            name: name.clone(),
            value: value.clone(),
        })));
        Ok((name, value))
    }

    /// Drops the rejected credentials, gets others and builds their header. When the
    /// credentials the rejected call carried (`sent`) are no longer the current ones, another
    /// rejected call already refreshed them: those are used, and nothing is refreshed again,
    /// however long the herd of rejected calls takes to come back.
    pub(crate) async fn refresh(
        &self,
        sent: Option<&Credentials>,
    ) -> Result<(HeaderName, HeaderValue, Credentials), AuthError> {
        if let Some(sent) = sent {
            let current = self.auth.credentials().await?;
            if !current.same_as(sent)
                && current.access_token().secret() != sent.access_token().secret()
            {
                let (name, value) = self.header_for(current.clone()).await?;
                return Ok((name, value, current));
            }
        }
        let credentials = self.auth.refresh_credentials().await?;
        let (name, value) = self.header_for(credentials.clone()).await?;
        Ok((name, value, credentials))
    }
}

pub(crate) fn header_name(key: &str) -> Result<HeaderName, AuthError> {
    HeaderName::from_bytes(key.trim().to_ascii_lowercase().as_bytes()).map_err(|_| {
        AuthError::configuration(format!(
            "the authorization header key {key:?} is not a valid header name: \
             check authorizationHeader or the server's authorization_metadata_key"
        ))
    })
}

pub(crate) fn header_value(value: &str) -> Result<HeaderValue, AuthError> {
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        AuthError::invalid_response(
            "the token holds characters not allowed in a header; check what the identity \
             provider or the token command returns",
        )
    })?;
    v.set_sensitive(true);
    Ok(v)
}

#[derive(Debug)]
struct Shared {
    main: HeaderSource,
    proxy: Option<HeaderSource>,
    max_replay_body: usize,
    anonymous: bool,
    grpc_replay: Option<GrpcPredicateDebug>,
    /// Credentials a gRPC status in the trailers rejected; the next call refreshes first.
    rejected: Arc<ArcSwapOption<Credentials>>,
}

struct GrpcPredicateDebug(GrpcPredicate);

impl fmt::Debug for GrpcPredicateDebug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Fn(&Parts) -> bool")
    }
}

/// A [`tower_layer::Layer`] that authenticates every request of the service it wraps: a tonic
/// `Channel`, or an HTTP client built on tower or hyper.
///
/// - Sets the authenticator's [`header_key`](Authenticator::header_key) (`authorization`, or
///   Flyte's `flyte-authorization`) to `Bearer <token>`, replacing any value the request had;
///   the credentials come from the authenticator's cache (acquired first if there are none),
///   so no call goes out without a token.
/// - Classifies the answer ([`classify`](crate::classify)): HTTP 401; a Trailers-Only gRPC
///   `UNAUTHENTICATED`; `PERMISSION_DENIED` to a call sent without credentials; an HTML page in
///   answer to a gRPC call.
/// - On such an answer calls [`refresh_credentials`](Authenticator::refresh_credentials) (the
///   token engine makes one refresh however many calls were rejected at once) and sends the
///   call again, once, if it is replayable: its body was buffered whole (at most
///   [`max_replay_body`](Self::max_replay_body) bytes, ready at once) and it is a plain HTTP
///   request or a gRPC call marked [`Unary`]. Streams are never replayed: their rejection
///   reaches the caller (see [`retry_unauthenticated`](crate::retry_unauthenticated)), and the
///   next call has the new token. An `UNAUTHENTICATED` in the trailers of a gRPC call (after
///   the response head) reaches the caller too, and the next call refreshes first
///   ([`AuthBody`]).
/// - With [`proxy_authorization`](Self::proxy_authorization), sets `proxy-authorization` from a
///   second authenticator too; an HTTP 407 refreshes that one.
///
/// ```no_run
/// # #[cfg(feature = "tonic")]
/// # async fn demo(auth: std::sync::Arc<dyn auth_core::Authenticator>) -> Result<(), Box<dyn std::error::Error>> {
/// use auth_tower::AuthLayer;
/// use tower_layer::Layer;
///
/// let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:8089").connect().await?;
/// let channel = AuthLayer::new(auth).layer(channel);
/// // tonic::client::Grpc::new(channel), or a generated client: FooClient::new(channel)
/// # let _ = channel; Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct AuthLayer {
    shared: Arc<Shared>,
}

impl AuthLayer {
    /// A layer that authenticates with `auth`.
    pub fn new(auth: Arc<dyn Authenticator>) -> Self {
        Self {
            shared: Arc::new(Shared {
                main: HeaderSource::new(auth, None),
                proxy: None,
                max_replay_body: DEFAULT_MAX_REPLAY_BODY,
                anonymous: false,
                grpc_replay: None,
                rejected: Arc::default(),
            }),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut Shared)) -> Self {
        match Arc::get_mut(&mut self.shared) {
            Some(s) => f(s),
            None => {
                let old = &*self.shared;
                let mut s = Shared {
                    main: HeaderSource::new(Arc::clone(&old.main.auth), None),
                    proxy: old
                        .proxy
                        .as_ref()
                        .map(|p| HeaderSource::new(Arc::clone(&p.auth), Some(PROXY_AUTHORIZATION))),
                    max_replay_body: old.max_replay_body,
                    anonymous: old.anonymous,
                    grpc_replay: old
                        .grpc_replay
                        .as_ref()
                        .map(|p| GrpcPredicateDebug(Arc::clone(&p.0))),
                    rejected: Arc::default(),
                };
                f(&mut s);
                self.shared = Arc::new(s);
            }
        }
        self
    }

    /// Also sets `proxy-authorization` from `auth` (Flyte's `proxyCommand`), on every request.
    pub fn proxy_authorization(self, auth: Arc<dyn Authenticator>) -> Self {
        self.edit(|s| s.proxy = Some(HeaderSource::new(auth, Some(PROXY_AUTHORIZATION))))
    }

    /// The largest request body buffered for a replay (default 64 KiB); larger calls are
    /// sent as they are and not replayed.
    pub fn max_replay_body(self, bytes: usize) -> Self {
        self.edit(|s| s.max_replay_body = bytes)
    }

    /// Sends a call without credentials when none can be obtained, instead of failing it,
    /// for servers where some methods need none (discovery). A rejection of such a call
    /// (including `PERMISSION_DENIED`) tries to get credentials and replays it.
    pub fn allow_anonymous(self, allow: bool) -> Self {
        self.edit(|s| s.anonymous = allow)
    }

    /// Which gRPC calls are unary, besides those marked [`Unary`]: for example by method path
    /// (`parts.uri.path()`).
    pub fn replay_grpc_if(
        self,
        predicate: impl Fn(&http::request::Parts) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.edit(|s| s.grpc_replay = Some(GrpcPredicateDebug(Arc::new(predicate))))
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The service of [`AuthLayer`].
#[derive(Clone, Debug)]
pub struct AuthService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> AuthService<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl Shared {
    fn replayable(&self, parts: &http::request::Parts, grpc: bool) -> bool {
        !grpc
            || parts.extensions.get::<Unary>().is_some()
            || self.grpc_replay.as_ref().is_some_and(|p| (p.0)(parts))
    }

    /// The main credentials and their header; refreshed first when the trailers of an earlier
    /// call rejected them.
    async fn main_header(&self) -> Result<(HeaderName, HeaderValue, Credentials), AuthError> {
        let credentials = self.main.auth.credentials().await?;
        if self
            .rejected
            .load()
            .as_ref()
            .is_some_and(|r| r.same_as(&credentials))
        {
            tracing::debug!("an earlier call's trailers rejected these credentials; refreshing");
            let refreshed = self.main.refresh(None).await?;
            self.rejected.store(None);
            return Ok(refreshed);
        }
        let (name, value) = self.main.header_for(credentials.clone()).await?;
        Ok((name, value, credentials))
    }

    /// Sets the credentials' headers; returns the main credentials sent, if any.
    async fn attach(
        &self,
        headers: &mut http::HeaderMap,
    ) -> Result<Option<Credentials>, AuthError> {
        let sent = match self.main_header().await {
            Ok((name, value, credentials)) => {
                headers.insert(name, value);
                Some(credentials)
            }
            Err(e) if self.anonymous => {
                tracing::debug!(error = %e, "no credentials; sending the call without them");
                None
            }
            Err(e) => return Err(e),
        };
        if let Some(proxy) = &self.proxy {
            let (name, value) = proxy.header().await?;
            headers.insert(name, value);
        }
        Ok(sent)
    }

    /// The response, its body watched for `UNAUTHENTICATED` in the trailers of a gRPC call.
    fn watched<R>(
        &self,
        response: Response<R>,
        grpc: bool,
        sent: Option<Credentials>,
    ) -> Response<AuthBody<R>> {
        let watch = sent.filter(|_| grpc).map(|credentials| Watch {
            rejected: Arc::clone(&self.rejected),
            credentials,
        });
        response.map(|inner| AuthBody { inner, watch })
    }

    async fn call<S, B, R>(
        self: Arc<Self>,
        mut inner: S,
        request: Request<B>,
    ) -> Result<Response<AuthBody<R>>, BoxError>
    where
        S: Service<Request<B>, Response = Response<R>>,
        S::Error: Into<BoxError>,
        B: ReplayBody,
        B::Error: Send,
    {
        let (mut parts, body) = request.into_parts();
        let sent = self.attach(&mut parts.headers).await?;
        let grpc = is_grpc(&parts.headers);
        let (body, replay) = if self.replayable(&parts, grpc) {
            match buffer(body, self.max_replay_body).await {
                Read::Whole(buffered) => (
                    B::replay(Prefixed::new(buffered.clone(), None)),
                    Some(buffered),
                ),
                Read::Partial(prefixed) => (B::replay(prefixed), None),
            }
        } else {
            (body, None)
        };
        let replay = replay.map(|b| (b, parts.clone()));
        let response = inner
            .call(Request::from_parts(parts, body))
            .await
            .map_err(Into::into)?;
        let Some(failure) = classify(response.status(), response.headers(), grpc, sent.is_some())
        else {
            return Ok(self.watched(response, grpc, sent));
        };
        let source = match (&self.proxy, failure) {
            (Some(proxy), AuthFailure::ProxyAuthenticationRequired) => proxy,
            (None, AuthFailure::ProxyAuthenticationRequired) => {
                return Ok(self.watched(response, grpc, sent));
            }
            _ => &self.main,
        };
        tracing::debug!(?failure, "the server rejected the credentials; refreshing");
        // The proxy's sent credentials are not tracked: a 407 always refreshes them.
        let sent_main = match failure {
            AuthFailure::ProxyAuthenticationRequired => None,
            _ => sent.as_ref(),
        };
        let (name, value, refreshed) = match source.refresh(sent_main).await {
            Ok(header) => header,
            Err(e) => {
                tracing::warn!(error = %e, "could not refresh the rejected credentials");
                return Ok(self.watched(response, grpc, sent));
            }
        };
        let Some((buffered, mut parts)) = replay else {
            tracing::debug!(
                ?failure,
                "not replaying a streaming or unbuffered call; the next call has new credentials"
            );
            return Ok(self.watched(response, grpc, None));
        };
        drop(response);
        parts.headers.insert(name, value);
        std::future::poll_fn(|cx| inner.poll_ready(cx))
            .await
            .map_err(Into::into)?;
        tracing::debug!("replaying the call once with refreshed credentials");
        let sent = if failure.is_proxy() {
            sent
        } else {
            Some(refreshed)
        };
        let response = inner
            .call(Request::from_parts(
                parts,
                B::replay(Prefixed::new(buffered, None)),
            ))
            .await
            .map_err(Into::into)?;
        Ok(self.watched(response, grpc, sent))
    }
}

/// Marks credentials as rejected when the trailers say `UNAUTHENTICATED`.
struct Watch {
    rejected: Arc<ArcSwapOption<Credentials>>,
    credentials: Credentials,
}

impl fmt::Debug for Watch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Watch")
    }
}

pin_project_lite::pin_project! {
    /// The response body of [`AuthService`]: the inner body, unchanged. When the trailers of a
    /// gRPC call carry `UNAUTHENTICATED` (a status after the response head, which the layer
    /// cannot act on for this call), the next call through the layer refreshes first.
    #[derive(Debug)]
    pub struct AuthBody<B> {
        #[pin]
        inner: B,
        watch: Option<Watch>,
    }
}

impl<B: http_body::Body> http_body::Body for AuthBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(trailers) = frame.trailers_ref()
            && trailers_only_status(trailers) == Some(crate::GRPC_UNAUTHENTICATED)
            && let Some(watch) = this.watch.take()
        {
            tracing::debug!("the trailers say UNAUTHENTICATED; the next call refreshes first");
            watch.rejected.store(Some(Arc::new(watch.credentials)));
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl<S, B, R> Service<Request<B>> for AuthService<S>
where
    S: Service<Request<B>, Response = Response<R>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: ReplayBody,
    B::Error: Send,
    R: Send + 'static,
{
    type Response = Response<AuthBody<R>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<AuthBody<R>>, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The ready clone goes into the future; this one waits for the next poll_ready.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(Arc::clone(&self.shared).call(inner, request))
    }
}
