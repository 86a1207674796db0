//! auth-tower benchmarks (run by `cargo xtask bench`).
//!
//! - `header_value`: the `Bearer <token>` header value for a warm token (900 bytes), against
//!   the baseline of a plain `format!`: the authenticator's cached value, the engine's
//!   `authorization_header()`, and an `http::HeaderValue` built per call.
//! - `interceptor`: `AuthInterceptor::intercept` against the baseline of a request that gets a
//!   prebuilt key and value from an `ArcSwap`.
//! - `layer_overhead`: one call through `AuthService` around a service that answers at once,
//!   against that service alone: what the layer adds per call.
//! - `layer_channel`: one unary gRPC call on an HTTP/2 channel to an in-process server, with
//!   and without the layer.

use std::convert::Infallible;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use auth_core::{
    AccessToken, AuthError, Authenticator, Credentials, EngineOptions, FetchContext, TokenEngine,
    TokenSource, async_trait,
};
use auth_tower::{AuthInterceptor, AuthLayer, Unary};
use bytes::{BufMut, Bytes, BytesMut};
use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tower::{Service, ServiceExt};
use tower_layer::Layer;

#[derive(Debug)]
struct Source;

#[async_trait]
impl TokenSource for Source {
    async fn fetch(&self, _: &FetchContext<'_>) -> Result<Credentials, AuthError> {
        Ok(token())
    }
}

fn token() -> Credentials {
    Credentials::new(AccessToken::new("x".repeat(900)))
        .with_expiry_from(Some(3600), SystemTime::now())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn engine() -> Arc<dyn Authenticator> {
    Arc::new(TokenEngine::new(
        Arc::new(Source),
        EngineOptions::default().with_header_key(Some("flyte-authorization".into())),
    ))
}

fn header_value(c: &mut Criterion) {
    let rt = runtime();
    let auth = engine();
    let credentials = rt.block_on(auth.credentials()).unwrap();
    let raw = credentials.access_token().clone();
    let mut g = c.benchmark_group("header_value");
    g.bench_function("baseline_format", |b| {
        b.iter(|| black_box(format!("Bearer {}", black_box(&raw).secret())))
    });
    g.bench_function("cached_header_value", |b| {
        b.iter(|| black_box(auth.header_value(black_box(&credentials))))
    });
    g.bench_function("engine_authorization_header", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(auth.authorization_header().await.unwrap());
                }
                start.elapsed()
            })
        })
    });
    g.bench_function("http_header_value_per_call", |b| {
        b.iter(|| black_box(HeaderValue::from_str(&format!("Bearer {}", raw.secret())).unwrap()))
    });
    g.finish();

    let interceptor = rt.block_on(AuthInterceptor::new(engine())).unwrap();
    let key = tonic::metadata::MetadataKey::from_static("flyte-authorization");
    let value: tonic::metadata::MetadataValue<_> =
        format!("Bearer {}", raw.secret()).parse().unwrap();
    let swap = ArcSwap::from_pointee((key, value));
    let mut g = c.benchmark_group("interceptor");
    g.bench_function("baseline_arcswap_load_insert", |b| {
        b.iter(|| {
            let mut r = tonic::Request::new(());
            let kv = swap.load();
            r.metadata_mut().insert(kv.0.clone(), kv.1.clone());
            black_box(r)
        })
    });
    g.bench_function("intercept", |b| {
        b.iter(|| black_box(interceptor.intercept(tonic::Request::new(())).unwrap()))
    });
    g.finish();
}

type Body = tonic::body::Body;

fn ok() -> Response<Body> {
    Response::new(Body::empty())
}

fn layer_overhead(c: &mut Criterion) {
    let rt = runtime();
    let bare = tower::service_fn(|_: Request<Body>| async { Ok::<_, Infallible>(ok()) });
    let layered = AuthLayer::new(engine()).layer(bare);
    rt.block_on(layered.clone().oneshot(request(true))).unwrap();
    let mut g = c.benchmark_group("layer_overhead");
    g.bench_function("baseline_bare_service", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut s = bare;
                let start = Instant::now();
                for _ in 0..iters {
                    let s = s.ready().await.unwrap();
                    black_box(s.call(request(true)).await.unwrap());
                }
                start.elapsed()
            })
        })
    });
    for (name, unary) in [("auth_layer_unary", true), ("auth_layer_stream", false)] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut s = layered.clone();
                    let start = Instant::now();
                    for _ in 0..iters {
                        let s = s.ready().await.unwrap();
                        black_box(s.call(request(unary)).await.unwrap());
                    }
                    start.elapsed()
                })
            })
        });
    }
    g.finish();
}

/// A gRPC request with one small message, marked unary when `unary`.
fn request(unary: bool) -> Request<Body> {
    let mut r = Request::builder()
        .uri("http://127.0.0.1/test.Admin/Get")
        .header("content-type", "application/grpc")
        .body(Body::new(Full::new(grpc_frame(b"hello"))))
        .unwrap();
    if unary {
        r.extensions_mut().insert(Unary);
    }
    r
}

fn grpc_frame(m: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(5 + m.len());
    b.put_u8(0);
    b.put_u32(m.len() as u32);
    b.put_slice(m);
    b.freeze()
}

/// An HTTP/2 server answering every call with one empty message and status 0.
async fn server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                        let _ = req.into_body().collect().await;
                        let mut trailers = HeaderMap::new();
                        trailers.insert("grpc-status", HeaderValue::from_static("0"));
                        let frames: Vec<Result<Frame<Bytes>, Infallible>> = vec![
                            Ok(Frame::data(grpc_frame(b""))),
                            Ok(Frame::trailers(trailers)),
                        ];
                        Ok::<_, Infallible>(
                            Response::builder()
                                .header("content-type", "application/grpc")
                                .body(StreamBody::new(futures::stream::iter(frames)))
                                .unwrap(),
                        )
                    });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .http2_only()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn layer_channel(c: &mut Criterion) {
    let rt = runtime();
    let addr = rt.block_on(server());
    let channel = rt
        .block_on(
            tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
                .unwrap()
                .connect(),
        )
        .unwrap();
    let layered = AuthLayer::new(engine()).layer(channel.clone());
    let mut g = c.benchmark_group("layer_channel");
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("baseline_bare_channel", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut s = channel.clone();
                let start = Instant::now();
                for _ in 0..iters {
                    let s = s.ready().await.unwrap();
                    let r = s.call(request(true)).await.unwrap();
                    black_box(r.into_body().collect().await.unwrap());
                }
                start.elapsed()
            })
        })
    });
    g.bench_function("auth_layer", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut s = layered.clone();
                let start = Instant::now();
                for _ in 0..iters {
                    let s = s.ready().await.unwrap();
                    let r = s.call(request(true)).await.unwrap();
                    black_box(r.into_body().collect().await.unwrap());
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

criterion_group!(benches, header_value, layer_overhead, layer_channel);
criterion_main!(benches);
