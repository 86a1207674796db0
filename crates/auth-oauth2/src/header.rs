//! `Authenticator::authorization_header` for flows whose header key is discovered.

use std::future::Future;

use auth_core::{AuthError, Authenticator as _, HeaderValue, TokenEngine};

/// Credentials valid now as a header key and value, for a flow whose header key may come
/// from its client configuration (Flyte's discovery names `flyte-authorization`).
///
/// A flow learns a discovered key only when it resolves its configuration, and credentials
/// loaded from a credential store need no resolve: without this, the first header built from
/// stored credentials would carry the default `authorization` key. So, while `engine`'s
/// source does not know its key yet, `resolve` (the flow's own configuration resolve, which
/// records the key) runs first. A failed resolve is logged at debug level only: the
/// credentials call that follows reports what matters (or succeeds from the store, with the
/// configured or default key). Then the engine's credentials, key and value.
///
/// Flows implement [`Authenticator::authorization_header`](auth_core::Authenticator::authorization_header)
/// with it:
///
/// ```
/// use std::sync::Arc;
/// use auth_core::{async_trait, AuthError, Authenticator, Credentials, HeaderValue, TokenEngine};
/// # use auth_core::{AccessToken, EngineOptions, FetchContext, TokenSource};
///
/// #[derive(Debug)]
/// struct MyFlow {
///     engine: TokenEngine,
///     source: Arc<MySource>,
/// }
/// # #[derive(Debug)]
/// # struct MySource;
/// # impl MySource {
/// #     async fn resolve(&self) -> Result<(), AuthError> { Ok(()) }
/// # }
/// # #[async_trait]
/// # impl TokenSource for MySource {
/// #     async fn fetch(&self, _: &FetchContext<'_>) -> Result<Credentials, AuthError> {
/// #         Ok(Credentials::new(AccessToken::new("t0ken")))
/// #     }
/// # }
///
/// #[async_trait]
/// impl Authenticator for MyFlow {
///     async fn credentials(&self) -> Result<Credentials, AuthError> {
///         self.engine.credentials().await
///     }
///     async fn refresh_credentials(&self) -> Result<Credentials, AuthError> {
///         self.engine.refresh_credentials().await
///     }
///     fn header_key(&self) -> String {
///         self.engine.header_key()
///     }
///     async fn authorization_header(&self) -> Result<(String, HeaderValue), AuthError> {
///         auth_oauth2::authorization_header(&self.engine, self.source.resolve()).await
///     }
/// }
/// # let source = Arc::new(MySource);
/// # let engine = TokenEngine::new(source.clone(), EngineOptions::default());
/// # let flow = MyFlow { engine, source };
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
/// # let (key, _) = rt.block_on(flow.authorization_header()).unwrap();
/// # assert_eq!(key, "authorization");
/// ```
pub async fn authorization_header<T>(
    engine: &TokenEngine,
    resolve: impl Future<Output = Result<T, AuthError>>,
) -> Result<(String, HeaderValue), AuthError> {
    if engine.source().header_key().is_none()
        && let Err(e) = resolve.await
    {
        tracing::debug!(error = %e, "could not resolve the client configuration for the header key");
    }
    let credentials = engine.credentials().await?;
    Ok((engine.header_key(), engine.header_value(&credentials)))
}
