//! `connect()`: an authenticated channel in one call.

use std::sync::Arc;

use auth_tower::ChannelOptions;

use crate::admin::Admin;
use crate::{ServerTokens, engine, get};

#[tokio::test]
async fn connect_returns_an_authenticated_channel() {
    let admin = Admin::start("http://idp.invalid").await;
    let source = Arc::new(ServerTokens::new(&admin.state));
    let options = ChannelOptions::new(format!("dns:///{}", admin.addr), true);
    let channel = auth_tower::connect(&options, engine(source)).await.unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    assert_eq!(get(&mut grpc, true).await.unwrap().token, "tok-1");
}

#[tokio::test]
async fn connect_over_tls_trusts_the_configured_ca_and_refuses_an_unknown_one() {
    let (admin, ca) = Admin::start_tls("http://idp.invalid").await;
    let source = Arc::new(ServerTokens::new(&admin.state));
    let endpoint = format!("dns:///{}", admin.addr);
    // TLS (insecure: false) with the server's certificate as the CA bundle: an RPC over h2.
    let transport = auth_oauth2::TransportOptions::new().with_ca_cert_pem(ca.clone());
    let options = ChannelOptions::new(endpoint.clone(), false).with_transport(transport);
    let channel = auth_tower::connect(&options, engine(source.clone()))
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    assert_eq!(get(&mut grpc, true).await.unwrap().token, "tok-1");
    // Without it, the handshake fails with an error, not a panic, and says what to check.
    let options = ChannelOptions::new(endpoint, false);
    let e = auth_tower::connect(&options, engine(source))
        .await
        .unwrap_err();
    assert!(e.message().contains("TLS"), "{e}");
}

#[tokio::test]
async fn connect_fails_now_for_an_endpoint_nobody_listens_on() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let admin = Admin::start("http://idp.invalid").await;
    let source = Arc::new(ServerTokens::new(&admin.state));
    let options = ChannelOptions::new(addr.to_string(), true);
    let e = auth_tower::connect(&options, engine(source))
        .await
        .unwrap_err();
    assert!(e.message().contains("could not connect"), "{e}");
    assert!(e.message().contains("admin.endpoint"), "{e}");
}
