//! Shared helpers.

use std::sync::Arc;
use std::time::Duration;

use auth_core::{AccessToken, AuthError, Authenticator, Credentials, RetryPolicy, async_trait};
use auth_oauth2::{HttpClient, TransportOptions};

/// Fast retries so that retry tests do not wait.
pub(crate) fn fast_retry() -> RetryPolicy {
    RetryPolicy::default().with_backoff(Duration::from_millis(5), Duration::from_millis(20))
}

pub(crate) fn options() -> TransportOptions {
    TransportOptions::new()
        .with_retry(fast_retry())
        .with_proxy_url(None)
}

pub(crate) fn http() -> HttpClient {
    HttpClient::new(&options()).expect("http client")
}

/// A fixed token, for the proxy-authorization hook.
#[derive(Debug)]
pub(crate) struct FixedToken(pub(crate) &'static str);

#[async_trait]
impl Authenticator for FixedToken {
    async fn credentials(&self) -> Result<Credentials, AuthError> {
        Ok(Credentials::new(AccessToken::new(self.0)))
    }
    async fn refresh_credentials(&self) -> Result<Credentials, AuthError> {
        self.credentials().await
    }
}

pub(crate) fn fixed(token: &'static str) -> Arc<dyn Authenticator> {
    Arc::new(FixedToken(token))
}

pub(crate) fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}
