//! auth-tower against an in-process FlyteAdmin (`auth_testkit::admin`), with tokens from the
//! real test identity provider where the test needs them.
#![cfg(feature = "tonic")]
#![allow(missing_docs, unreachable_pub, missing_debug_implementations)]

mod channel;
mod discovery;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use admin::{Admin, Echo, HEADER_KEY, STREAM, State, UNARY};
use auth_core::{
    AccessToken, AuthError, Authenticator, Credentials, EngineOptions, FetchContext, TokenEngine,
    TokenSource, async_trait,
};
use auth_testkit::admin;
use auth_tower::{AuthChannel, AuthLayer, Unary};
use http::uri::PathAndQuery;
use tonic::Status;
use tonic::transport::{Channel, Endpoint};
use tonic_prost::ProstCodec;
use tower_layer::Layer;

/// A token source whose tokens the admin server accepts (until a test rejects them): numbered
/// local tokens, or client-credentials tokens from the real test identity provider.
pub struct ServerTokens {
    state: Arc<State>,
    prefix: &'static str,
    pub fetches: AtomicU64,
    /// Fail this many fetches first.
    fail_first: AtomicU64,
    /// Do not tell the server about new tokens (every token is rejected).
    unregistered: bool,
    idp: Option<(auth_oauth2::OAuth2Client, String)>,
}

impl std::fmt::Debug for ServerTokens {
    // The test server's state holds raw tokens: keep them out of the logs test.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTokens").finish_non_exhaustive()
    }
}

impl ServerTokens {
    pub fn new(state: &Arc<State>) -> Self {
        Self {
            state: Arc::clone(state),
            prefix: "tok",
            fetches: AtomicU64::new(0),
            fail_first: AtomicU64::new(0),
            unregistered: false,
            idp: None,
        }
    }
}

#[async_trait]
impl TokenSource for ServerTokens {
    async fn fetch(&self, _: &FetchContext<'_>) -> Result<Credentials, AuthError> {
        let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
        if self
            .fail_first
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |f| f.checked_sub(1))
            .is_ok()
        {
            return Err(AuthError::transport("the identity provider is down").with_retryable(false));
        }
        let credentials = match &self.idp {
            Some((client, token_endpoint)) => {
                client.client_credentials(token_endpoint, &[], None).await?
            }
            None => Credentials::new(AccessToken::new(format!("{}-{n}", self.prefix)))
                .with_expiry_from(Some(3600), SystemTime::now()),
        };
        if !self.unregistered {
            self.state.accept(credentials.access_token().secret());
        }
        Ok(credentials)
    }
}

pub fn engine(source: Arc<ServerTokens>) -> Arc<dyn Authenticator> {
    Arc::new(TokenEngine::new(
        source,
        EngineOptions::default().with_header_key(Some(HEADER_KEY.to_string())),
    ))
}

pub async fn plain_channel(admin: &Admin) -> Channel {
    Endpoint::from_shared(admin.url())
        .unwrap()
        .connect()
        .await
        .unwrap()
}

pub type Client = tonic::client::Grpc<AuthChannel>;

async fn new_client(admin: &Admin, layer: AuthLayer) -> Client {
    tonic::client::Grpc::new(layer.layer(plain_channel(admin).await))
}

fn unready(e: impl std::fmt::Display) -> Status {
    Status::unavailable(e.to_string())
}

/// The protected unary RPC, marked `Unary` when `mark`.
pub async fn get<T>(client: &mut tonic::client::Grpc<T>, mark: bool) -> Result<Echo, Status>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<Box<dyn std::error::Error + Send + Sync>> + std::fmt::Display,
    T::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error:
        Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    client.ready().await.map_err(unready)?;
    let mut request = tonic::Request::new(Echo::default());
    if mark {
        request.extensions_mut().insert(Unary);
    }
    client
        .unary(
            request,
            PathAndQuery::from_static(UNARY),
            ProstCodec::<Echo, Echo>::default(),
        )
        .await
        .map(tonic::Response::into_inner)
}

/// The protected server-streaming RPC, all its messages.
async fn watch(client: &mut Client) -> Result<Vec<Echo>, Status> {
    client.ready().await.map_err(unready)?;
    let mut stream = client
        .server_streaming(
            tonic::Request::new(Echo::default()),
            PathAndQuery::from_static(STREAM),
            ProstCodec::<Echo, Echo>::default(),
        )
        .await?
        .into_inner();
    let mut all = Vec::new();
    while let Some(m) = stream.message().await? {
        all.push(m);
    }
    Ok(all)
}

/// Waits past the engine's default `min_refresh_interval` (1 s).
async fn past_min_refresh_interval() {
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
}

fn tok(s: &str) -> Option<String> {
    Some(s.to_string())
}

#[tokio::test]
async fn every_call_carries_one_header_from_the_cache_replacing_the_callers() {
    let admin = Admin::start("http://idp.invalid").await;
    let source = Arc::new(ServerTokens::new(&admin.state));
    let mut client = new_client(&admin, AuthLayer::new(engine(source.clone()))).await;
    for _ in 0..3 {
        client.ready().await.unwrap();
        let mut request = tonic::Request::new(Echo::default());
        request.extensions_mut().insert(Unary);
        // A stale value set by the caller is replaced, never sent alongside.
        request
            .metadata_mut()
            .insert(HEADER_KEY, "Bearer stale".parse().unwrap());
        let echo = client
            .unary(
                request,
                PathAndQuery::from_static(UNARY),
                ProstCodec::<Echo, Echo>::default(),
            )
            .await
            .unwrap()
            .into_inner();
        assert_eq!(echo.token, "tok-1");
    }
    assert_eq!(admin.state.tokens(UNARY), vec![tok("tok-1"); 3]);
    assert_eq!(admin.state.duplicate_headers.load(Ordering::SeqCst), 0);
    assert_eq!(source.fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_rejected_unary_call_is_refreshed_and_replayed_once_for_each_fault() {
    for fault in [
        admin::Fault::TrailersOnly,
        admin::Fault::Http401,
        admin::Fault::Html502,
    ] {
        let admin = Admin::start("http://idp.invalid").await;
        admin.state.set_fault(fault);
        let source = Arc::new(ServerTokens::new(&admin.state));
        let mut client = new_client(&admin, AuthLayer::new(engine(source.clone()))).await;
        assert_eq!(get(&mut client, true).await.unwrap().token, "tok-1");
        admin.state.reject("tok-1");
        let echo = get(&mut client, true)
            .await
            .unwrap_or_else(|s| panic!("{fault:?}: {s}"));
        assert_eq!(echo.token, "tok-2", "{fault:?}");
        assert_eq!(
            admin.state.tokens(UNARY),
            vec![tok("tok-1"), tok("tok-1"), tok("tok-2")],
            "{fault:?}"
        );
        assert_eq!(source.fetches.load(Ordering::SeqCst), 2, "{fault:?}");
        assert_eq!(admin.state.duplicate_headers.load(Ordering::SeqCst), 0);
    }
}

#[tokio::test]
async fn a_call_rejected_again_after_the_refresh_is_not_replayed_twice() {
    let admin = Admin::start("http://idp.invalid").await;
    let source = Arc::new(ServerTokens {
        unregistered: true,
        ..ServerTokens::new(&admin.state)
    });
    let mut client = new_client(&admin, AuthLayer::new(engine(source.clone()))).await;
    let status = get(&mut client, true).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    assert_eq!(admin.state.tokens(UNARY), vec![tok("tok-1"), tok("tok-2")]);
}

#[tokio::test]
async fn unmarked_grpc_calls_and_streams_are_not_replayed_but_the_next_call_is_fresh() {
    let admin = Admin::start("http://idp.invalid").await;
    let source = Arc::new(ServerTokens::new(&admin.state));
    let auth = engine(source.clone());
    let mut client = new_client(&admin, AuthLayer::new(Arc::clone(&auth))).await;
    assert_eq!(watch(&mut client).await.unwrap().len(), 3);
    admin.state.reject("tok-1");
    let status = watch(&mut client).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    assert_eq!(admin.state.tokens(STREAM), vec![tok("tok-1"), tok("tok-1")]);
    // The layer refreshed anyway: the next stream goes out with the new token.
    let all = watch(&mut client).await.unwrap();
    assert!(all.iter().all(|e| e.token == "tok-2"), "{all:?}");
    assert_eq!(source.fetches.load(Ordering::SeqCst), 2);

    // A unary call without the Unary marker is treated like a stream. (The engine answers a
    // rejection within min_refresh_interval of a refresh with the token it just got: wait
    // that out, as a later expiry would.)
    past_min_refresh_interval().await;
    admin.state.reject("tok-2");
    let status = get(&mut client, false).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    assert_eq!(admin.state.tokens(UNARY), vec![tok("tok-2")]);

    // The call-site helper retries a stream once; the engine makes no second refresh for
    // the rejection the layer already handled.
    past_min_refresh_interval().await;
    admin.state.reject("tok-3");
    let all = auth_tower::retry_unauthenticated(&*auth, || {
        let mut c = client.clone();
        async move { watch(&mut c).await }
    })
    .await
    .unwrap();
    assert!(all.iter().all(|e| e.token == "tok-4"), "{all:?}");
    assert_eq!(source.fetches.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn a_status_only_in_the_trailers_reaches_the_caller_and_the_next_call_is_fresh() {
    let admin = Admin::start("http://idp.invalid").await;
    admin.state.set_fault(admin::Fault::StatusInTrailers);
    let source = Arc::new(ServerTokens::new(&admin.state));
    let auth = engine(source.clone());
    let mut client = new_client(&admin, AuthLayer::new(Arc::clone(&auth))).await;
    assert_eq!(get(&mut client, true).await.unwrap().token, "tok-1");
    admin.state.reject("tok-1");
    let status = get(&mut client, true).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    assert_eq!(
        admin.state.calls(UNARY),
        2,
        "the layer cannot replay on a status in trailers"
    );
    // The layer saw the trailers: the next call refreshes before it goes out.
    assert_eq!(get(&mut client, true).await.unwrap().token, "tok-2");
    assert_eq!(admin.state.tokens(UNARY)[2], tok("tok-2"));
    assert_eq!(source.fetches.load(Ordering::SeqCst), 2);

    // At the call site, the helper retries such a call once.
    past_min_refresh_interval().await;
    admin.state.reject("tok-2");
    let echo = auth_tower::retry_unauthenticated(&*auth, || {
        let mut c = client.clone();
        async move { get(&mut c, true).await }
    })
    .await
    .unwrap();
    assert_eq!(echo.token, "tok-3");
    assert_eq!(source.fetches.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn permission_denied_to_an_anonymous_call_gets_credentials_and_replays() {
    let admin = Admin::start("http://idp.invalid").await;
    admin.state.set_fault(admin::Fault::PermissionDenied);
    let source = Arc::new(ServerTokens {
        fail_first: AtomicU64::new(1),
        ..ServerTokens::new(&admin.state)
    });
    let layer = AuthLayer::new(engine(source.clone())).allow_anonymous(true);
    let mut client = new_client(&admin, layer).await;
    assert_eq!(get(&mut client, true).await.unwrap().token, "tok-2");
    assert_eq!(admin.state.tokens(UNARY), vec![None, tok("tok-2")]);

    // Without allow_anonymous, no call goes out without credentials: the error says why.
    let admin = Admin::start("http://idp.invalid").await;
    let source = Arc::new(ServerTokens {
        fail_first: AtomicU64::new(1),
        ..ServerTokens::new(&admin.state)
    });
    let mut client = new_client(&admin, AuthLayer::new(engine(source))).await;
    let status = get(&mut client, true).await.unwrap_err();
    assert!(
        status.message().contains("identity provider is down"),
        "{status}"
    );
    assert_eq!(admin.state.calls(UNARY), 0);
}

#[tokio::test]
async fn proxy_authorization_is_on_every_call_and_a_407_refreshes_it() {
    let admin = Admin::start("http://idp.invalid").await;
    *admin.state.proxy_expected.lock().unwrap() = Some("Bearer proxy-2".into());
    let source = Arc::new(ServerTokens::new(&admin.state));
    let proxy = Arc::new(ServerTokens {
        prefix: "proxy",
        ..ServerTokens::new(&admin.state)
    });
    let layer = AuthLayer::new(engine(source.clone())).proxy_authorization(engine(proxy.clone()));
    let mut client = new_client(&admin, layer).await;
    let echo = get(&mut client, true).await.unwrap();
    assert_eq!(
        (echo.token.as_str(), echo.proxy.as_str()),
        ("tok-1", "Bearer proxy-2")
    );
    assert_eq!(admin.state.proxy_rejections.load(Ordering::SeqCst), 1);
    let echo = get(&mut client, true).await.unwrap();
    assert_eq!(echo.proxy, "Bearer proxy-2");
    assert_eq!(proxy.fetches.load(Ordering::SeqCst), 2);
    assert_eq!(source.fetches.load(Ordering::SeqCst), 1);
}

/// 1,000 concurrent calls on an expired token: one token request, and every rejected call is
/// sent again exactly once.
async fn herd(source: Arc<ServerTokens>, admin: &Admin) {
    let mut client = new_client(admin, AuthLayer::new(engine(source.clone()))).await;
    let first = get(&mut client, true).await.unwrap().token;
    admin.state.reject(&first);
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let mut c = client.clone();
            tokio::spawn(async move { get(&mut c, true).await })
        })
        .collect();
    let mut second = None;
    for t in tasks {
        let echo = t.await.unwrap().unwrap();
        assert_ne!(echo.token, first);
        second.get_or_insert(echo.token.clone());
        assert_eq!(Some(&echo.token), second.as_ref());
    }
    assert_eq!(
        source.fetches.load(Ordering::SeqCst),
        2,
        "one token request for the herd"
    );
    let tokens = admin.state.tokens(UNARY);
    let with_new = tokens
        .iter()
        .filter(|t| t.as_ref() == second.as_ref())
        .count();
    let with_old = tokens
        .iter()
        .filter(|t| t.as_deref() == Some(first.as_str()))
        .count();
    assert_eq!(with_new, 1000, "no call was sent twice with the new token");
    assert!((2..=1001).contains(&with_old), "{with_old}");
    assert_eq!(tokens.len(), with_new + with_old);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_calls_on_an_expired_token_make_one_token_request() {
    let admin = Admin::start("http://idp.invalid").await;
    herd(Arc::new(ServerTokens::new(&admin.state)), &admin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_calls_with_tokens_of_the_real_identity_provider() {
    let Some(issuer) = auth_testkit::idp::require_issuer(
        "a_thousand_concurrent_calls_with_tokens_of_the_real_identity_provider",
    ) else {
        return;
    };
    let admin = Admin::start(&issuer).await;
    let http = auth_oauth2::HttpClient::new(&auth_oauth2::TransportOptions::new()).unwrap();
    let client = auth_oauth2::OAuth2Client::new(http, "cc-basic").with_client_secret(
        Some(auth_core::ClientSecret::new("cc-basic-secret")),
        auth_oauth2::ClientAuthMethod::Basic,
    );
    let source = Arc::new(ServerTokens {
        idp: Some((client, format!("{issuer}/token"))),
        ..ServerTokens::new(&admin.state)
    });
    herd(source, &admin).await;
}

#[tokio::test]
async fn the_interceptor_sets_one_header_without_blocking() {
    let admin = Admin::start("http://idp.invalid").await;
    let source = Arc::new(ServerTokens::new(&admin.state));
    let interceptor = auth_tower::AuthInterceptor::new(engine(source.clone()))
        .await
        .unwrap();
    let channel = tonic::service::interceptor::InterceptedService::new(
        plain_channel(&admin).await,
        interceptor.clone(),
    );
    let mut client = tonic::client::Grpc::new(channel);
    for _ in 0..3 {
        assert_eq!(get(&mut client, false).await.unwrap().token, "tok-1");
    }
    assert_eq!(admin.state.duplicate_headers.load(Ordering::SeqCst), 0);
    // After a rejection, refresh() installs the new token for the next calls.
    admin.state.reject("tok-1");
    assert_eq!(
        get(&mut client, false).await.unwrap_err().code(),
        tonic::Code::Unauthenticated
    );
    interceptor.refresh().await.unwrap();
    assert_eq!(get(&mut client, false).await.unwrap().token, "tok-2");
    assert_eq!(source.fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn tokens_never_reach_the_logs() {
    let logs = auth_testkit::logs::global();
    let admin = Admin::start("http://idp.invalid").await;
    let source = Arc::new(ServerTokens {
        prefix: "planted-secret",
        ..ServerTokens::new(&admin.state)
    });
    let layer = AuthLayer::new(engine(source.clone()));
    let mut client = new_client(&admin, layer.clone()).await;
    get(&mut client, true).await.unwrap();
    admin.state.reject("planted-secret-1");
    get(&mut client, true).await.unwrap();
    past_min_refresh_interval().await;
    admin.state.reject("planted-secret-2");
    watch(&mut client).await.unwrap_err();
    let interceptor = auth_tower::AuthInterceptor::new(engine(source))
        .await
        .unwrap();
    tracing::info!(?layer, ?interceptor, ?client, "done");
    logs.assert_none_of(&["planted-secret-"]);
}

/// Flyte 2's Passthrough: the caller's headers, on a real channel, inside the scope only.
#[tokio::test]
async fn passthrough_sends_the_callers_header_inside_the_scope_only() {
    use tower::Layer as _;

    let admin = Admin::start("http://idp.invalid").await;
    admin.state.accept("from-the-caller");
    let channel = auth_tower::PassthroughLayer::new().layer(plain_channel(&admin).await);
    let mut client = tonic::client::Grpc::new(channel);
    let mut headers = http::HeaderMap::new();
    headers.insert(
        HEADER_KEY,
        http::HeaderValue::from_static("Bearer from-the-caller"),
    );
    let echo = auth_tower::with_auth_metadata(headers, get(&mut client, true))
        .await
        .unwrap();
    assert_eq!(echo.token, "from-the-caller");
    let e = get(&mut client, true).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated, "{e}");
    assert_eq!(admin.state.duplicate_headers.load(Ordering::SeqCst), 0);
}
