//! A self-signed certificate for 127.0.0.1 and localhost, as a rustls server configuration,
//! for tests of TLS servers the client must (or must not) trust.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A server configuration with a fresh self-signed certificate for `127.0.0.1` and
/// `localhost` (ring provider, safe default protocol versions, no client auth), and the
/// certificate's PEM (the CA a client must trust).
///
/// # Panics
///
/// If rcgen or rustls refuse the generated certificate (a bug, not a test condition).
pub fn self_signed_server_config() -> (rustls::ServerConfig, String) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("certificate");
    let pem = certified.cert.pem();
    let der: CertificateDer<'static> = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![der], key)
        .expect("server config");
    (config, pem)
}
