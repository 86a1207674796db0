//! Client-credentials acquisition through auth-oauth2, against two baselines on the same
//! local token endpoint in the same run: a raw reqwest POST plus JSON parse, and the `oauth2`
//! crate's client-credentials exchange (over the same reqwest client).
//!
//! Benchmarks (ids are stable; `cargo xtask bench` runs them):
//! - `client_credentials/{baseline_raw_reqwest,auth_oauth2,oauth2_crate}`: one acquisition.
//! - `client_credentials_64_concurrent/{baseline_raw_reqwest,auth_oauth2,oauth2_crate}`: 64 concurrent
//!   acquisitions per iteration (throughput in acquisitions per second).
//!
//! `FLYTE_AUTH_BENCH=table` (run by `cargo xtask bench`) measures the way the performance issue's
//! table was measured instead: the token server in a separate process (this binary again, with
//! `FLYTE_AUTH_BENCH=server`), client and server pinned to one CPU for latency and to two CPUs
//! for throughput, interleaved rounds (raw, ours, oauth2-rs, ten times), medians, the client's
//! CPU time per acquisition, and every row as a ratio against raw reqwest and against oauth2-rs.
//! With valgrind on PATH it adds instructions per acquisition from callgrind (the profile mode
//! below), which do not depend on the machine's load.

use std::net::SocketAddr;
use std::time::Duration;

use auth_core::ClientSecret;
use auth_oauth2::{ClientAuthMethod, HttpClient, OAuth2Client, TransportOptions};
use base64::Engine as _;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use oauth2::TokenResponse as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CLIENT_ID: &str = "bench-client";
const SECRET: &str = "bench-secret";
const BODY: &str = r#"{"access_token":"eyJhbGciOiJub25lIn0.eyJzdWIiOiJiZW5jaCJ9.c2ln","token_type":"Bearer","expires_in":3600,"scope":"all"}"#;

/// A minimal keep-alive HTTP/1.1 server answering every request with the token JSON, on its
/// own thread and runtime so that it does not share the client's workers.
fn start_server() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("server runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(listener.local_addr().expect("addr"))
                .expect("send addr");
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(serve(sock));
            }
        });
    });
    rx.recv().expect("server address")
}

async fn serve(mut sock: tokio::net::TcpStream) {
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        // Read one request: head, then content-length bytes of body.
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..head_end + length);
        if sock.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

#[derive(serde::Deserialize)]
#[allow(dead_code)] // Parsed as any client would; the fields are not read.
struct RawToken {
    access_token: String,
    token_type: String,
    expires_in: u64,
    scope: Option<String>,
}

struct Clients {
    token_url: String,
    reqwest: reqwest::Client,
    ours: OAuth2Client,
    theirs: oauth2::basic::BasicClient<
        oauth2::EndpointSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointSet,
    >,
}

fn clients(addr: SocketAddr) -> Clients {
    // The raw baseline and the oauth2 crate use a plain reqwest client with the same provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let reqwest = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("reqwest client");
    let http = HttpClient::new(&TransportOptions::new()).expect("http client");
    let ours = OAuth2Client::new(http, CLIENT_ID)
        .with_client_secret(Some(ClientSecret::new(SECRET)), ClientAuthMethod::Basic);
    let token_url = format!("http://{addr}/token");
    let theirs = oauth2::basic::BasicClient::new(oauth2::ClientId::new(CLIENT_ID.into()))
        .set_client_secret(oauth2::ClientSecret::new(SECRET.into()))
        .set_auth_uri(oauth2::AuthUrl::new(format!("http://{addr}/auth")).expect("url"))
        .set_token_uri(oauth2::TokenUrl::new(token_url.clone()).expect("url"));
    Clients {
        token_url,
        reqwest,
        ours,
        theirs,
    }
}

async fn raw(c: &Clients) -> String {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{SECRET}"));
    let resp = c
        .reqwest
        .post(&c.token_url)
        .header("authorization", format!("Basic {basic}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body("grant_type=client_credentials&scope=all")
        .send()
        .await
        .expect("send");
    let bytes = resp.bytes().await.expect("body");
    let token: RawToken = serde_json::from_slice(&bytes).expect("json");
    token.access_token
}

async fn ours(c: &Clients, scopes: &[String]) -> String {
    let creds = c
        .ours
        .client_credentials(&c.token_url, scopes, None)
        .await
        .expect("token");
    creds.access_token().secret().to_string()
}

async fn theirs(c: &Clients) -> String {
    let client = c.reqwest.clone();
    let send = move |req: oauth2::HttpRequest| {
        let client = client.clone();
        async move {
            let (parts, body) = req.into_parts();
            let resp = client
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await?;
            let mut builder = http::Response::builder().status(resp.status());
            for (k, v) in resp.headers() {
                builder = builder.header(k, v);
            }
            let bytes = resp.bytes().await?;
            Ok::<_, reqwest::Error>(builder.body(bytes.to_vec()).expect("response"))
        }
    };
    let token = c
        .theirs
        .exchange_client_credentials()
        .add_scope(oauth2::Scope::new("all".into()))
        .request_async(&send)
        .await
        .expect("token");
    token.access_token().secret().clone()
}

/// `FLYTE_AUTH_PROFILE=raw|ours|theirs[64][:N[:mt]]`: N acquisitions (default 2000) of one kind on a
/// current-thread runtime in the main thread, then exit, for
/// `valgrind --tool=callgrind --separate-threads=yes`: the main thread's instruction count
/// divided by N is the client's cost of one acquisition (the server runs on its own thread).
fn profile(spec: &str) {
    let (kind, n) = spec.split_once(':').unwrap_or((spec, "2000"));
    let addr = start_server();
    // `:mt` after N: a two-worker runtime driven from the main thread, as criterion does.
    let (n, rt) = match n.strip_suffix(":mt") {
        Some(n) => (
            n,
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build(),
        ),
        None => (
            n,
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build(),
        ),
    };
    let rt = rt.expect("runtime");
    let c = clients(addr);
    let scopes = vec!["all".to_string()];
    // `raw64` etc.: N batches of 64 concurrent acquisitions.
    let (kind, tasks) = match kind.strip_suffix("64") {
        Some(k) => (k, 64),
        None => (kind, 1),
    };
    let one = |c: &'static Clients, scopes: &'static [String]| async move {
        match kind {
            "raw" => raw(c).await,
            "ours" => ours(c, scopes).await,
            "theirs" => theirs(c).await,
            other => panic!("unknown profile kind {other}"),
        }
    };
    let c: &'static Clients = Box::leak(Box::new(c));
    let scopes: &'static [String] = Box::leak(scopes.into_boxed_slice());
    let n: usize = n.parse().expect("FLYTE_AUTH_PROFILE=kind:N[:mt]");
    rt.block_on(async {
        for _ in 0..n {
            let all = (0..tasks).map(|_| one(c, scopes));
            std::hint::black_box(futures::future::join_all(all).await);
        }
    });
    std::process::exit(0);
}

fn bench(crit: &mut Criterion) {
    if let Ok(spec) = std::env::var("FLYTE_AUTH_PROFILE") {
        profile(&spec);
    }
    match std::env::var("FLYTE_AUTH_BENCH").as_deref() {
        Ok("server") => table::server(),
        Ok("table") => table::run(),
        _ => {}
    }
    let addr = start_server();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let c = clients(addr);
    let scopes = vec!["all".to_string()];
    // Warm the connection pools and check that all three work.
    rt.block_on(async {
        assert_eq!(raw(&c).await, ours(&c, &scopes).await);
        assert_eq!(theirs(&c).await, ours(&c, &scopes).await);
    });

    let mut group = crit.benchmark_group("client_credentials");
    group.bench_function("baseline_raw_reqwest", |b| b.to_async(&rt).iter(|| raw(&c)));
    group.bench_function("auth_oauth2", |b| {
        b.to_async(&rt).iter(|| ours(&c, &scopes))
    });
    group.bench_function("oauth2_crate", |b| b.to_async(&rt).iter(|| theirs(&c)));
    group.finish();

    const N: usize = 64;
    let mut group = crit.benchmark_group("client_credentials_64_concurrent");
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("baseline_raw_reqwest", |b| {
        b.to_async(&rt)
            .iter(|| futures::future::join_all((0..N).map(|_| raw(&c))))
    });
    group.bench_function("auth_oauth2", |b| {
        b.to_async(&rt)
            .iter(|| futures::future::join_all((0..N).map(|_| ours(&c, &scopes))))
    });
    group.bench_function("oauth2_crate", |b| {
        b.to_async(&rt)
            .iter(|| futures::future::join_all((0..N).map(|_| theirs(&c))))
    });
    group.finish();
}

#[path = "token/table.rs"]
mod table;

criterion_group!(benches, bench);
criterion_main!(benches);
