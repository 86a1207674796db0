//! Discovery over each protocol against the in-process admin server.

use auth_core::ClientConfigStore;
use auth_oauth2::{FlyteOverrides, HttpClient, TransportOptions};
use auth_tower::{DiscoveryProtocol, RpcDiscovery};

use crate::admin::{Admin, HEADER_KEY};
use crate::plain_channel;

#[tokio::test]
async fn discovery_over_grpc_flyte1_grpc_flyte2_and_connect() {
    let admin = Admin::start("http://idp.example").await;
    let grpc1 = RpcDiscovery::grpc(plain_channel(&admin).await, DiscoveryProtocol::Grpc);
    let grpc2 = RpcDiscovery::grpc(plain_channel(&admin).await, DiscoveryProtocol::Grpc2);
    let http = HttpClient::new(&TransportOptions::new()).unwrap();
    let connect = RpcDiscovery::connect(http, &admin.url());
    for (discovery, client_id) in [
        (&grpc1, "flytectl"),
        (&grpc2, "flyte2-cli"),
        (&connect, "flyte2-cli"),
    ] {
        let config = discovery.client_config().await.unwrap();
        let p = discovery.protocol();
        assert_eq!(config.token_endpoint, "http://idp.example/token", "{p}");
        assert_eq!(
            config.device_authorization_endpoint.as_deref(),
            Some("http://idp.example/device/auth")
        );
        assert_eq!(config.client_id, client_id, "{p}");
        assert_eq!(config.header_key, HEADER_KEY, "{p}");
        assert_eq!(config.scopes, ["offline", "all"], "{p}");
        assert_eq!(config.issuer.as_deref(), Some("http://idp.example"));
        // Discovery ran once: the second call is served from memory.
        discovery.client_config().await.unwrap();
    }
    let calls = |path: &str| admin.state.calls(path);
    assert_eq!(
        calls("/flyteidl.service.AuthMetadataService/GetOAuth2Metadata"),
        1
    );
    assert_eq!(
        calls("/flyteidl.service.AuthMetadataService/GetPublicClientConfig"),
        1
    );
    // gRPC and Connect for Flyte 2 share the path.
    assert_eq!(
        calls("/flyteidl2.auth.AuthMetadataService/GetOAuth2Metadata"),
        2
    );
    assert_eq!(
        calls("/flyteidl2.auth.AuthMetadataService/GetPublicClientConfig"),
        2
    );
    // Discovery needs no credentials, and sends none.
    assert!(
        admin
            .state
            .requests
            .lock()
            .unwrap()
            .iter()
            .all(|(_, t)| t.is_none())
    );
}

#[tokio::test]
async fn configured_values_beat_discovered_ones() {
    let admin = Admin::start("http://idp.example").await;
    let discovery = RpcDiscovery::grpc(plain_channel(&admin).await, DiscoveryProtocol::Grpc)
        .with_overrides(
            FlyteOverrides::new()
                .with_client_id(Some("mine".into()))
                .with_header_key(Some("authorization".into())),
        );
    let config = discovery.client_config().await.unwrap();
    assert_eq!(
        (config.client_id.as_str(), config.header_key.as_str()),
        ("mine", "authorization")
    );
}

#[tokio::test]
async fn a_server_without_the_service_says_what_to_do() {
    let admin = Admin::start("http://idp.example").await;
    // The admin server answers unknown methods with UNIMPLEMENTED; Connect paths for Flyte 1
    // do not exist either.
    let http = HttpClient::new(&TransportOptions::new()).unwrap();
    let connect = RpcDiscovery::connect(http, &format!("{}/nothing-here", admin.url()));
    let e = connect.client_config().await.unwrap_err();
    assert!(e.message().contains("Connect"), "{e}");
}

#[tokio::test]
async fn a_chain_remembers_the_first_method_that_answers() {
    use std::sync::Arc;
    let admin = Admin::start("http://idp.example").await;
    let http = HttpClient::new(&TransportOptions::new()).unwrap();
    // A Connect base that serves nothing, then Flyte 2 over gRPC.
    let chain = auth_tower::DiscoveryChain::new()
        .then(
            "Connect",
            Arc::new(RpcDiscovery::connect(
                http,
                &format!("{}/nothing-here", admin.url()),
            )),
        )
        .then(
            "gRPC flyteidl2",
            Arc::new(RpcDiscovery::grpc(
                plain_channel(&admin).await,
                DiscoveryProtocol::Grpc2,
            )),
        );
    assert_eq!(chain.chosen(), None);
    let config = chain.client_config().await.unwrap();
    assert_eq!(config.client_id, "flyte2-cli");
    assert_eq!(chain.chosen(), Some("gRPC flyteidl2"));
    let before = admin.state.requests.lock().unwrap().len();
    chain.client_config().await.unwrap();
    // Neither tried again: the chosen one answers from memory.
    assert_eq!(admin.state.requests.lock().unwrap().len(), before);

    let none = auth_tower::DiscoveryChain::new();
    let e = none.client_config().await.unwrap_err();
    assert!(e.message().contains("tokenUrl"), "{e}");
}

/// What `from_config` builds with the `tower` feature: the gateway's GET paths first, which a
/// gRPC-only admin (Flyte 2) does not serve, then gRPC to the endpoint, connected on demand.
#[tokio::test]
async fn a_grpc_only_admin_is_discovered_after_the_http_gateway_fails() {
    use std::sync::Arc;
    let admin = Admin::start("http://idp.example").await;
    let http = HttpClient::new(&TransportOptions::new()).unwrap();
    let endpoint = admin.addr.to_string();
    let gateway = auth_oauth2::FlyteDiscovery::new(http, &endpoint, true);
    let options = auth_tower::ChannelOptions::new(&endpoint, true);
    assert_eq!(options.base_url().unwrap(), admin.url());
    let chain = auth_tower::DiscoveryChain::new()
        .then("HTTP", Arc::new(gateway))
        .then(
            "gRPC",
            Arc::new(RpcDiscovery::grpc_endpoint(
                options,
                DiscoveryProtocol::Grpc,
            )),
        );
    let config = chain.client_config().await.unwrap();
    assert_eq!(chain.chosen(), Some("gRPC"));
    assert_eq!(config.client_id, "flytectl");
    assert_eq!(config.header_key, HEADER_KEY);
    assert!(admin.state.calls("/.well-known/oauth-authorization-server") >= 1);
}

#[tokio::test]
async fn a_chain_that_fails_keeps_the_first_error_kind_and_names_every_method() {
    use std::sync::Arc;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let http = HttpClient::new(&TransportOptions::new().with_retry(auth_core::RetryPolicy::none()))
        .unwrap();
    let chain = auth_tower::DiscoveryChain::new()
        .then(
            "HTTP",
            Arc::new(auth_oauth2::FlyteDiscovery::new(http, &addr, true)),
        )
        .then(
            "gRPC",
            Arc::new(RpcDiscovery::grpc_endpoint(
                auth_tower::ChannelOptions::new(&addr, true),
                DiscoveryProtocol::Grpc,
            )),
        );
    let e = chain.client_config().await.unwrap_err();
    assert_eq!(e.kind(), auth_core::ErrorKind::Transport, "{e}");
    assert!(
        e.message().contains("HTTP") && e.message().contains("gRPC"),
        "{e}"
    );
    assert_eq!(chain.chosen(), None);
}
