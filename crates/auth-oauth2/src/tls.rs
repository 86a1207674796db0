//! The rustls configuration: the `ring` provider, the platform's roots plus an optional CA
//! bundle, or (explicitly) no verification at all. See `docs/adr/003-tls-crypto-provider.md`.

use std::sync::Arc;

use auth_core::AuthError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::transport::TransportOptions;

/// Builds the TLS client configuration for `options`.
pub(crate) fn client_config(options: &TransportOptions) -> Result<rustls::ClientConfig, AuthError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| {
            AuthError::configuration("the TLS library refused its default settings").with_source(e)
        })?;
    let verifier: Arc<dyn ServerCertVerifier> = if options.insecure_skip_verify {
        tracing::warn!(
            "TLS certificate verification is switched off (insecure_skip_verify): \
             anyone on the network path can read and change these requests"
        );
        Arc::new(FixedVerdict {
            provider,
            refusal: None,
        })
    } else {
        let extra = extra_roots(options)?;
        let count = extra.len();
        let built = if extra.is_empty() {
            rustls_platform_verifier::Verifier::new(Arc::clone(&provider))
        } else {
            rustls_platform_verifier::Verifier::new_with_extra_roots(extra, Arc::clone(&provider))
        };
        match built {
            Ok(v) => {
                tracing::debug!(
                    extra_roots = count,
                    "TLS verifier: platform roots plus the CA bundle"
                );
                Arc::new(v)
            }
            Err(e) if count == 0 => {
                // No system roots (a bare container). Plain-http use still works; https fails
                // at the handshake with a message that says what to do.
                tracing::warn!(error = %e, "no CA certificates found on this system");
                Arc::new(FixedVerdict {
                    provider,
                    refusal: Some(e.to_string()),
                })
            }
            Err(e) => {
                return Err(AuthError::configuration(
                    "the CA bundle could not be used: check that it holds PEM certificates",
                )
                .with_source(e));
            }
        }
    };
    let mut config = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Parses the configured CA bundles (PEM bytes and files).
pub(crate) fn extra_roots(
    options: &TransportOptions,
) -> Result<Vec<CertificateDer<'static>>, AuthError> {
    let mut certs = Vec::new();
    for pem in &options.ca_certs_pem {
        certs.extend(parse_pem(pem, "the CA bundle given in the options")?);
    }
    for path in &options.ca_cert_files {
        let bytes = std::fs::read(path).map_err(|e| {
            AuthError::configuration(format!(
                "could not read the CA bundle {}: check caCertFilePath",
                path.display()
            ))
            .with_source(e)
        })?;
        certs.extend(parse_pem(
            &bytes,
            &format!("the CA bundle {}", path.display()),
        )?);
    }
    Ok(certs)
}

fn parse_pem(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, AuthError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AuthError::configuration(format!("{what} is not valid PEM")).with_source(e))?;
    if certs.is_empty() {
        return Err(AuthError::configuration(format!(
            "{what} holds no certificate: expected PEM blocks starting with -----BEGIN CERTIFICATE-----"
        )));
    }
    Ok(certs)
}

/// A verifier whose verdict on certificates is fixed, and which still checks handshake
/// signatures: `refusal: None` accepts every certificate (insecure_skip_verify); `Some(why)`
/// refuses every one (the system has no CA roots and no bundle was given).
#[derive(Debug)]
struct FixedVerdict {
    provider: Arc<CryptoProvider>,
    refusal: Option<String>,
}

impl ServerCertVerifier for FixedVerdict {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.refusal {
            None => Ok(ServerCertVerified::assertion()),
            Some(why) => Err(rustls::Error::General(format!(
                "{why}: install the system CA certificates (ca-certificates) or pass a CA bundle"
            ))),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
