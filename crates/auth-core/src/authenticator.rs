//! The `Authenticator` trait and its cheap-to-clone handle.

use std::fmt::Debug;
use std::ops::Deref;
use std::sync::Arc;

use async_trait::async_trait;

use crate::config::DEFAULT_HEADER_KEY;
use crate::credentials::Credentials;
use crate::error::AuthError;
use crate::secret::HeaderValue;

/// Gives a program the credentials it needs to call an API.
///
/// Every flow of flyte-auth implements it on top of the shared [`TokenEngine`]
/// (caching, single flight, refresh-ahead, persistence), and callers hold it as
/// `Arc<dyn Authenticator>` or [`SharedAuthenticator`].
///
/// # Implementing your own `Authenticator`
///
/// Most implementations should implement [`TokenSource`] (only *acquisition*) and let a
/// [`TokenEngine`] do the rest. An authenticator that needs nothing of that, such as a fixed
/// token, implements the trait directly:
///
/// ```
/// use auth_core::{async_trait, AccessToken, AuthError, Authenticator, Credentials};
///
/// #[derive(Debug)]
/// struct FixedToken(AccessToken);
///
/// #[async_trait]
/// impl Authenticator for FixedToken {
///     async fn credentials(&self) -> Result<Credentials, AuthError> {
///         Ok(Credentials::new(self.0.clone()))
///     }
///     async fn refresh_credentials(&self) -> Result<Credentials, AuthError> {
///         Err(AuthError::configuration("the fixed token was rejected; configure a new one"))
///     }
/// }
///
/// # async fn demo() -> Result<(), AuthError> {
/// let auth = FixedToken(AccessToken::new("t0ken"));
/// let (key, value) = auth.authorization_header().await?;
/// assert_eq!((key.as_str(), value.secret()), ("authorization", "Bearer t0ken"));
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(demo()).unwrap();
/// ```
///
/// [`TokenEngine`]: crate::TokenEngine
/// [`TokenSource`]: crate::TokenSource
#[async_trait]
pub trait Authenticator: Send + Sync + Debug {
    /// Credentials valid now: cached, loaded from the store, refreshed, or newly acquired.
    async fn credentials(&self) -> Result<Credentials, AuthError>;

    /// Called when a server rejected the current token (HTTP 401, gRPC `UNAUTHENTICATED`):
    /// drops that token and gets another.
    async fn refresh_credentials(&self) -> Result<Credentials, AuthError>;

    /// The header or gRPC metadata key that carries the token: `authorization` unless
    /// configured or discovered otherwise (Flyte deployments may use `flyte-authorization`).
    fn header_key(&self) -> String {
        DEFAULT_HEADER_KEY.to_string()
    }

    /// The header value for `credentials`: `Bearer <access token>`.
    fn header_value(&self, credentials: &Credentials) -> HeaderValue {
        HeaderValue::new(format!("Bearer {}", credentials.access_token().secret()))
    }

    /// Credentials valid now, as a header key and value. Prefer this to
    /// [`header_key`](Self::header_key) plus [`credentials`](Self::credentials): a flow whose
    /// key is discovered resolves it here even when the credentials came from a store.
    async fn authorization_header(&self) -> Result<(String, HeaderValue), AuthError> {
        let credentials = self.credentials().await?;
        Ok((self.header_key(), self.header_value(&credentials)))
    }

    /// The credentials held in memory or in the credential store, without any network
    /// request and without starting a login. Expired credentials are returned as they are.
    async fn stored_credentials(&self) -> Result<Option<Credentials>, AuthError> {
        Ok(None)
    }

    /// Forgets the credentials, in memory and in the credential store (logout).
    async fn clear(&self) -> Result<(), AuthError> {
        Ok(())
    }

    /// Acquires new credentials the full way now (a browser or device login, a client
    /// credentials grant, a command run) and replaces the stored ones only when that
    /// succeeded: a login that fails leaves the credentials it found as they were.
    ///
    /// The default drops the current token and gets another
    /// ([`refresh_credentials`](Self::refresh_credentials)).
    async fn login(&self) -> Result<Credentials, AuthError> {
        self.refresh_credentials().await
    }
}

/// A cheap-to-clone, shareable `Authenticator`.
#[derive(Clone, Debug)]
pub struct SharedAuthenticator(Arc<dyn Authenticator>);

impl SharedAuthenticator {
    /// Wraps an authenticator.
    pub fn new(authenticator: impl Authenticator + 'static) -> Self {
        Self(Arc::new(authenticator))
    }

    /// Wraps an authenticator that is already shared.
    pub fn from_arc(authenticator: Arc<dyn Authenticator>) -> Self {
        Self(authenticator)
    }

    /// The shared authenticator.
    pub fn into_arc(self) -> Arc<dyn Authenticator> {
        self.0
    }
}

impl Deref for SharedAuthenticator {
    type Target = dyn Authenticator;

    fn deref(&self) -> &Self::Target {
        self.0.as_ref()
    }
}

crate::forward_authenticator!(SharedAuthenticator => 0);

/// Implements [`Authenticator`] for a type by forwarding every method to one of its fields
/// (usually its [`TokenEngine`](crate::TokenEngine)), so that each flow's authenticator is its
/// builder's product and nothing else.
///
/// ```
/// use std::sync::Arc;
/// use auth_core::{async_trait, AccessToken, AuthError, Credentials, EngineOptions, FetchContext,
///                 TokenEngine, TokenSource};
///
/// #[derive(Debug)]
/// struct Source;
///
/// #[async_trait]
/// impl TokenSource for Source {
///     async fn fetch(&self, _: &FetchContext<'_>) -> Result<Credentials, AuthError> {
///         Ok(Credentials::new(AccessToken::new("t0ken")))
///     }
/// }
///
/// /// A flow's public authenticator type.
/// #[derive(Debug)]
/// pub struct MyAuthenticator {
///     engine: TokenEngine,
/// }
///
/// auth_core::forward_authenticator!(MyAuthenticator => engine);
/// # let _ = MyAuthenticator { engine: TokenEngine::new(Arc::new(Source), EngineOptions::default()) };
/// ```
#[macro_export]
macro_rules! forward_authenticator {
    ($ty:ty => $field:tt) => {
        const _: () = {
            // Method-call syntax below reaches the field's inherent methods (a `TokenEngine`'s)
            // or its `Authenticator` impl (an `Arc<dyn Authenticator>`), whichever it has.
            #[allow(unused_imports)]
            use $crate::Authenticator as _;

            #[$crate::async_trait]
            impl $crate::Authenticator for $ty {
                async fn credentials(
                    &self,
                ) -> ::core::result::Result<$crate::Credentials, $crate::AuthError> {
                    self.$field.credentials().await
                }

                async fn refresh_credentials(
                    &self,
                ) -> ::core::result::Result<$crate::Credentials, $crate::AuthError> {
                    self.$field.refresh_credentials().await
                }

                fn header_key(&self) -> ::std::string::String {
                    self.$field.header_key()
                }

                fn header_value(&self, credentials: &$crate::Credentials) -> $crate::HeaderValue {
                    self.$field.header_value(credentials)
                }

                async fn authorization_header(
                    &self,
                ) -> ::core::result::Result<
                    (::std::string::String, $crate::HeaderValue),
                    $crate::AuthError,
                > {
                    self.$field.authorization_header().await
                }

                async fn stored_credentials(
                    &self,
                ) -> ::core::result::Result<
                    ::core::option::Option<$crate::Credentials>,
                    $crate::AuthError,
                > {
                    self.$field.stored_credentials().await
                }

                async fn login(
                    &self,
                ) -> ::core::result::Result<$crate::Credentials, $crate::AuthError> {
                    self.$field.login().await
                }

                async fn clear(&self) -> ::core::result::Result<(), $crate::AuthError> {
                    self.$field.clear().await
                }
            }
        };
    };
}
