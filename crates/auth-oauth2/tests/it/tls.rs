//! TLS against a self-signed server (auth_testkit::tls + tokio-rustls on 127.0.0.1).

use std::sync::Arc;

use auth_core::ErrorKind;
use auth_oauth2::{HttpClient, TransportOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::support::fast_retry;

/// A TLS server answering every request with a small JSON document. Returns its URL and the
/// PEM of its self-signed certificate.
async fn self_signed_server() -> (String, String, tokio::task::JoinHandle<()>) {
    let (config, cert_pem) = auth_testkit::tls::self_signed_server_config();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!(
        "https://127.0.0.1:{}/doc",
        listener.local_addr().expect("addr").port()
    );
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A refused handshake is what some tests expect: ignore errors.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 8192];
                let mut read = 0;
                while !buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf[read..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => read += n,
                    }
                }
                let body = r#"{"tls":"ok"}"#;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (url, cert_pem, task)
}

fn options() -> TransportOptions {
    TransportOptions::new().with_retry(fast_retry())
}

#[tokio::test]
async fn a_self_signed_server_is_refused_by_default() {
    let (url, _pem, server) = self_signed_server().await;
    let http = HttpClient::new(&options()).expect("client");
    let e = http.get_json::<serde_json::Value>(&url).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport, "{e:?}");
    assert!(e.to_string().contains("TLS handshake"), "{e:?}");
    assert!(e.to_string().contains("caCertFilePath"), "{e}");
    assert!(!e.is_retryable(), "a refused certificate is not transient");
    server.abort();
}

#[tokio::test]
async fn a_self_signed_server_is_accepted_with_its_ca_bundle() {
    let (url, pem, server) = self_signed_server().await;
    let http = HttpClient::new(&options().with_ca_cert_pem(pem.clone())).expect("client");
    let v: serde_json::Value = http.get_json(&url).await.expect("trusted with the bundle");
    assert_eq!(v["tls"], "ok");

    // The same bundle from a file.
    let dir = std::env::temp_dir().join(format!("auth-oauth2-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ca.pem");
    std::fs::write(&file, pem).unwrap();
    let http = HttpClient::new(&options().with_ca_cert_file(&file)).expect("client");
    let v: serde_json::Value = http.get_json(&url).await.expect("trusted with the file");
    assert_eq!(v["tls"], "ok");
    let _ = std::fs::remove_dir_all(&dir);
    server.abort();
}

#[tokio::test]
async fn a_self_signed_server_is_accepted_with_skip_verify() {
    let (url, _pem, server) = self_signed_server().await;
    let http = HttpClient::new(&options().with_insecure_skip_verify(true)).expect("client");
    let v: serde_json::Value = http.get_json(&url).await.expect("accepted unverified");
    assert_eq!(v["tls"], "ok");
    server.abort();
}

#[test]
fn a_bad_ca_bundle_is_a_configuration_error() {
    let e = HttpClient::new(&TransportOptions::new().with_ca_cert_file("/nonexistent/ca.pem"))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Configuration);
    assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    let e = HttpClient::new(&TransportOptions::new().with_ca_cert_pem("not a certificate"))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Configuration);
    assert!(e.to_string().contains("no certificate"), "{e}");
}
