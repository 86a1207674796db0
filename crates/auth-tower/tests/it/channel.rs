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
