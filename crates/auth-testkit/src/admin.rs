//! An in-process server playing FlyteAdmin, on hyper (HTTP/2 without TLS and HTTP/1.1), with
//! gRPC framing written out by hand so that every fault is exactly what the test asks for:
//! both `AuthMetadataService` versions over gRPC, Flyte 2's over Connect, a protected unary RPC
//! and a protected server-streaming RPC, and switchable rejections. [`Serve`] limits it to
//! gRPC or to Connect (neither serves the HTTP gateway's GET paths), as a Flyte 1 admin
//! without its gateway or a Flyte 2 backend is reached.
#![allow(missing_docs, clippy::missing_panics_doc)]

use std::collections::HashSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use prost::Message;
use security_model::flyteidl2_auth::GetPublicClientConfigResponse;
use security_model::{OAuth2MetadataResponse, PublicClientAuthConfigResponse};

pub const HEADER_KEY: &str = "flyte-authorization";
pub const UNARY: &str = "/test.Admin/Get";
pub const STREAM: &str = "/test.Admin/Watch";

/// What the protected RPCs answer: the credentials they saw.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Echo {
    #[prost(string, tag = "1")]
    pub token: String,
    #[prost(string, tag = "2")]
    pub proxy: String,
    #[prost(uint32, tag = "3")]
    pub seq: u32,
}

/// How a call with a rejected (or missing) token is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Fault {
    /// A Trailers-Only response with grpc-status 16.
    TrailersOnly = 0,
    /// A response head, no message, grpc-status 16 in the trailers.
    StatusInTrailers = 1,
    /// HTTP 401 from a proxy layer in front of the server.
    Http401 = 2,
    /// An HTML 502 page from an ingress.
    Html502 = 3,
    /// grpc-status 7 when there is no credential header at all (16 otherwise).
    PermissionDenied = 4,
}

/// Which discovery protocols the server answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Serve {
    /// gRPC (both `AuthMetadataService` versions) and Connect.
    #[default]
    All,
    /// gRPC only: a Connect (JSON) request gets HTTP 415, as from a gRPC-only server.
    Grpc,
    /// Connect only: a gRPC request gets HTTP 415 (what a Connect handler without gRPC says).
    Connect,
}

#[derive(Debug, Default)]
pub struct State {
    serve: Mutex<Serve>,
    fault: AtomicU8,
    accepted: Mutex<HashSet<String>>,
    pub requests: Mutex<Vec<(String, Option<String>)>>,
    pub duplicate_headers: AtomicU64,
    pub proxy_expected: Mutex<Option<String>>,
    pub proxy_rejections: AtomicU64,
    /// Each discovery RPC answered: (`"grpc"` or `"connect"`, method path).
    pub discovery_answers: Mutex<Vec<(&'static str, String)>>,
}

impl State {
    pub fn set_serve(&self, s: Serve) {
        *self.serve.lock().unwrap() = s;
    }

    pub fn set_fault(&self, f: Fault) {
        self.fault.store(f as u8, Ordering::SeqCst);
    }

    fn fault(&self) -> Fault {
        match self.fault.load(Ordering::SeqCst) {
            1 => Fault::StatusInTrailers,
            2 => Fault::Http401,
            3 => Fault::Html502,
            4 => Fault::PermissionDenied,
            _ => Fault::TrailersOnly,
        }
    }

    pub fn accept(&self, token: &str) {
        self.accepted.lock().unwrap().insert(token.to_string());
    }

    /// The token expires: the server rejects it from now on.
    pub fn reject(&self, token: &str) {
        self.accepted.lock().unwrap().remove(token);
    }

    pub fn calls(&self, path: &str) -> usize {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .count()
    }

    pub fn tokens(&self, path: &str) -> Vec<Option<String>> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, t)| t.clone())
            .collect()
    }
}

#[derive(Debug)]
pub struct Admin {
    pub addr: SocketAddr,
    pub state: Arc<State>,
    pub issuer: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Admin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Admin {
    pub async fn start(issuer: &str) -> Admin {
        Self::serve(issuer, None).await
    }

    /// The admin over TLS (HTTP/2 by ALPN, or HTTP/1.1) with a self-signed certificate for
    /// 127.0.0.1 and localhost; also returns the certificate's PEM (the CA to trust).
    pub async fn start_tls(issuer: &str) -> (Admin, String) {
        let (mut config, pem) = crate::tls::self_signed_server_config();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        (Self::serve(issuer, Some(acceptor)).await, pem)
    }

    async fn serve(issuer: &str, tls: Option<tokio_rustls::TlsAcceptor>) -> Admin {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        let issuer = issuer.to_string();
        let (s, i) = (Arc::clone(&state), issuer.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (s, i, tls) = (Arc::clone(&s), i.clone(), tls.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let (s, i) = (Arc::clone(&s), i.clone());
                        async move { Ok::<_, Infallible>(handle(&s, &i, req).await) }
                    });
                    let builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    let _ = match tls {
                        None => {
                            builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await
                        }
                        Some(tls) => {
                            let Ok(stream) = tls.accept(stream).await else {
                                return;
                            };
                            builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await
                        }
                    };
                });
            }
        });
        Admin {
            addr,
            state,
            issuer,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

type Body = UnsyncBoxBody<Bytes, Infallible>;

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).boxed_unsync()
}

fn frame(msg: &impl Message) -> Bytes {
    let m = msg.encode_to_vec();
    let mut b = BytesMut::with_capacity(5 + m.len());
    b.put_u8(0);
    b.put_u32(m.len() as u32);
    b.put_slice(&m);
    b.freeze()
}

fn grpc_ok(messages: Vec<Bytes>) -> Response<Body> {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    let frames: Vec<Result<Frame<Bytes>, Infallible>> = messages
        .into_iter()
        .map(|m| Ok(Frame::data(m)))
        .chain(std::iter::once(Ok(Frame::trailers(trailers))))
        .collect();
    Response::builder()
        .header("content-type", "application/grpc")
        .body(StreamBody::new(futures::stream::iter(frames)).boxed_unsync())
        .unwrap()
}

fn trailers_only(code: u32, message: &'static str) -> Response<Body> {
    Response::builder()
        .header("content-type", "application/grpc")
        .header("grpc-status", code.to_string())
        .header("grpc-message", message)
        .body(full(Bytes::new()))
        .unwrap()
}

fn status_in_trailers(code: u32) -> Response<Body> {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from(code));
    let frames: Vec<Result<Frame<Bytes>, Infallible>> = vec![Ok(Frame::trailers(trailers))];
    Response::builder()
        .header("content-type", "application/grpc")
        .body(StreamBody::new(futures::stream::iter(frames)).boxed_unsync())
        .unwrap()
}

fn metadata(issuer: &str) -> OAuth2MetadataResponse {
    OAuth2MetadataResponse {
        issuer: issuer.to_string(),
        authorization_endpoint: format!("{issuer}/auth"),
        token_endpoint: format!("{issuer}/token"),
        device_authorization_endpoint: format!("{issuer}/device/auth"),
        ..Default::default()
    }
}

fn client_config_v1() -> PublicClientAuthConfigResponse {
    PublicClientAuthConfigResponse {
        client_id: "flytectl".into(),
        redirect_uri: "http://localhost:53593/callback".into(),
        scopes: vec!["offline".into(), "all".into()],
        authorization_metadata_key: HEADER_KEY.into(),
        ..Default::default()
    }
}

fn client_config_v2() -> GetPublicClientConfigResponse {
    let v1 = client_config_v1();
    GetPublicClientConfigResponse {
        client_id: "flyte2-cli".into(),
        redirect_uri: v1.redirect_uri,
        scopes: v1.scopes,
        authorization_metadata_key: v1.authorization_metadata_key,
        dataplane_domain: "dp.example.com".into(),
        ..Default::default()
    }
}

async fn handle(state: &State, issuer: &str, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let headers = req.headers().clone();
    let tokens: Vec<&HeaderValue> = headers.get_all(HEADER_KEY).iter().collect();
    if tokens.len() > 1 || headers.get_all("authorization").iter().count() > 0 {
        state.duplicate_headers.fetch_add(1, Ordering::SeqCst);
    }
    let token = tokens
        .first()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let proxy = headers
        .get("proxy-authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    state
        .requests
        .lock()
        .unwrap()
        .push((path.clone(), token.clone()));
    let content_type = headers
        .get("content-type")
        .map(|v| v.as_bytes().to_vec())
        .unwrap_or_default();
    let connect = content_type.starts_with(b"application/json");
    let grpc = content_type.starts_with(b"application/grpc");
    let _ = req.into_body().collect().await;
    if !connect && !grpc {
        // No HTTP gateway: the GET discovery paths are not found.
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .header("content-type", "text/plain")
            .body(full("404 page not found"))
            .unwrap();
    }
    let serve = *state.serve.lock().unwrap();
    if (serve == Serve::Grpc && connect) || (serve == Serve::Connect && grpc) {
        return Response::builder()
            .status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
            .body(full(""))
            .unwrap();
    }

    // Anonymous discovery: the AuthMetadataService needs no credentials.
    if path.contains(".AuthMetadataService/") {
        let protocol = if connect { "connect" } else { "grpc" };
        state
            .discovery_answers
            .lock()
            .unwrap()
            .push((protocol, path.clone()));
    }
    match (path.as_str(), connect) {
        ("/flyteidl.service.AuthMetadataService/GetOAuth2Metadata", false)
        | ("/flyteidl2.auth.AuthMetadataService/GetOAuth2Metadata", false) => {
            return grpc_ok(vec![frame(&metadata(issuer))]);
        }
        ("/flyteidl.service.AuthMetadataService/GetPublicClientConfig", false) => {
            return grpc_ok(vec![frame(&client_config_v1())]);
        }
        ("/flyteidl2.auth.AuthMetadataService/GetPublicClientConfig", false) => {
            return grpc_ok(vec![frame(&client_config_v2())]);
        }
        ("/flyteidl2.auth.AuthMetadataService/GetOAuth2Metadata", true) => {
            let json = serde_json::to_vec(&metadata(issuer)).unwrap();
            return Response::builder()
                .header("content-type", "application/json")
                .body(full(json))
                .unwrap();
        }
        ("/flyteidl2.auth.AuthMetadataService/GetPublicClientConfig", true) => {
            let json = serde_json::to_vec(&client_config_v2()).unwrap();
            return Response::builder()
                .header("content-type", "application/json")
                .body(full(json))
                .unwrap();
        }
        (UNARY | STREAM, _) => {}
        _ => return trailers_only(12, "unknown method"),
    }

    // A proxy in front of the server checks proxy-authorization first.
    let expected_proxy = state.proxy_expected.lock().unwrap().clone();
    if let Some(expected) = expected_proxy
        && proxy.as_deref() != Some(expected.as_str())
    {
        state.proxy_rejections.fetch_add(1, Ordering::SeqCst);
        return Response::builder()
            .status(StatusCode::PROXY_AUTHENTICATION_REQUIRED)
            .body(full("proxy authentication required"))
            .unwrap();
    }

    let valid = token
        .as_deref()
        .is_some_and(|t| state.accepted.lock().unwrap().contains(t));
    if !valid {
        return match state.fault() {
            Fault::TrailersOnly => trailers_only(16, "token expired"),
            Fault::StatusInTrailers => status_in_trailers(16),
            Fault::Http401 => Response::builder()
                .status(StatusCode::UNAUTHORIZED)
                .header("www-authenticate", "Bearer")
                .body(full("unauthorized"))
                .unwrap(),
            Fault::Html502 => Response::builder()
                .status(StatusCode::BAD_GATEWAY)
                .header("content-type", "text/html")
                .body(full("<html><body>502 Bad Gateway</body></html>"))
                .unwrap(),
            Fault::PermissionDenied if token.is_none() => trailers_only(7, "no credentials"),
            Fault::PermissionDenied => trailers_only(16, "token expired"),
        };
    }
    let echo = |seq| Echo {
        token: token.clone().unwrap_or_default(),
        proxy: proxy.clone().unwrap_or_default(),
        seq,
    };
    if path == STREAM {
        grpc_ok((1..=3).map(|i| frame(&echo(i))).collect())
    } else {
        grpc_ok(vec![frame(&echo(0))])
    }
}
