//! The conformance suite every authenticator passes, on a fake provider and a browser that
//! approves at once.

use std::sync::Arc;
use std::time::Duration;

use auth_core::{ClientSecret, EngineOptions};
use auth_oauth2::ClientAuthMethod;
use auth_pkce::PkceAuthenticator;
use auth_testkit::conformance::Fixture;

use crate::support::{FakeIdp, approving_launcher};

async fn fixture() -> Fixture<PkceAuthenticator> {
    let idp = Arc::new(FakeIdp::start().await);
    let launcher = approving_launcher();
    let planted = "planted-client-secret-7e2d".to_string();
    let authenticator = idp
        .builder()
        .client_secret(ClientSecret::new(planted.clone()))
        .auth_method(ClientAuthMethod::Post)
        .header_key("flyte-authorization")
        .launcher(launcher)
        // The suite rejects a token right after it was issued.
        .engine_options(EngineOptions::default().with_min_refresh_interval(Duration::ZERO))
        .build()
        .unwrap();
    let counter = Arc::clone(&idp);
    Fixture {
        authenticator: Arc::new(authenticator),
        secrets: vec![planted],
        acquisitions: Arc::new(move || {
            let idp = Arc::clone(&counter);
            Box::pin(async move { idp.token_requests().await.len() as u64 })
        }),
        expected_header_key: "flyte-authorization".to_string(),
    }
}

auth_testkit::conformance_suite!(PkceAuthenticator, || async { Some(fixture().await) });
