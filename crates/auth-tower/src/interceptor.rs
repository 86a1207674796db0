//! A synchronous tonic interceptor, and the call-site retry for streams.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwapOption;
use auth_core::{AuthError, Authenticator, Clock, Credentials, SystemClock};
use tonic::metadata::{Ascii, MetadataKey, MetadataValue};
use tonic::{Code, Status};

/// How long before expiry the interceptor asks for new credentials (in the background).
const REFRESH_AHEAD: Duration = Duration::from_secs(60);
/// The least time between two background checks.
const CHECK_INTERVAL_MS: u64 = 1_000;

struct Entry {
    credentials: Credentials,
    key: MetadataKey<Ascii>,
    value: MetadataValue<Ascii>,
}

struct Shared {
    auth: Arc<dyn Authenticator>,
    entry: ArcSwapOption<Entry>,
    updating: AtomicBool,
    /// Milliseconds since the epoch before which no background check starts.
    next_check_ms: AtomicU64,
    clock: SystemClock,
}

/// A synchronous interceptor for tonic's `InterceptedService` (the
/// `FnMut(Request<()>) -> Result<Request<()>, Status>` shape): it sets the authenticator's
/// header from a value kept in memory, and never blocks.
///
/// [`AuthInterceptor::new`] gets the first credentials. Each call then costs about one atomic
/// load and two reference counts; when the credentials near their expiry the interceptor asks
/// the authenticator for new ones on a background task (the token engine refreshes ahead, so
/// calls keep their valid token meanwhile). It cannot see answers: for a refresh after a
/// rejection, use [`AuthLayer`](crate::AuthLayer), or call [`refresh`](Self::refresh) (as
/// [`retry_unauthenticated`] does).
///
/// ```no_run
/// # async fn demo(auth: std::sync::Arc<dyn auth_core::Authenticator>) -> Result<(), Box<dyn std::error::Error>> {
/// use auth_tower::AuthInterceptor;
/// use tonic::service::interceptor::InterceptedService;
///
/// let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:8089").connect().await?;
/// let interceptor = AuthInterceptor::new(auth).await?;
/// let channel = InterceptedService::new(channel, interceptor);
/// # let _ = channel; Ok(()) }
/// ```
#[derive(Clone)]
pub struct AuthInterceptor {
    shared: Arc<Shared>,
}

impl fmt::Debug for AuthInterceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthInterceptor")
            .field("auth", &self.shared.auth)
            .finish_non_exhaustive()
    }
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Shared {
    fn install(&self, credentials: Credentials, key: &str) -> Result<(), AuthError> {
        if let Some(e) = self.entry.load().as_ref()
            && e.credentials.same_as(&credentials)
        {
            return Ok(());
        }
        let key =
            MetadataKey::from_bytes(key.trim().to_ascii_lowercase().as_bytes()).map_err(|_| {
                AuthError::configuration(format!(
                    "the authorization header key {key:?} is not a valid gRPC metadata key"
                ))
            })?;
        let mut value = MetadataValue::try_from(self.auth.header_value(&credentials).secret())
            .map_err(|_| {
                AuthError::invalid_response(
                    "the token holds characters not allowed in gRPC metadata",
                )
            })?;
        value.set_sensitive(true);
        self.entry.store(Some(Arc::new(Entry {
            credentials,
            key,
            value,
        })));
        Ok(())
    }

    async fn update(&self) -> Result<(), AuthError> {
        let (key, _) = self.auth.authorization_header().await?;
        let credentials = self.auth.credentials().await?;
        self.install(credentials, &key)
    }

    async fn refresh(&self) -> Result<(), AuthError> {
        let credentials = self.auth.refresh_credentials().await?;
        self.install(credentials, &self.auth.header_key())
    }

    /// Starts one background update, at most once per [`CHECK_INTERVAL_MS`].
    fn kick(self: &Arc<Self>, now_ms: u64) {
        if now_ms < self.next_check_ms.load(Ordering::Relaxed)
            || self.updating.swap(true, Ordering::AcqRel)
        {
            return;
        }
        self.next_check_ms
            .store(now_ms + CHECK_INTERVAL_MS, Ordering::Relaxed);
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            self.updating.store(false, Ordering::Release);
            return;
        };
        let shared = Arc::clone(self);
        handle.spawn(async move {
            if let Err(e) = shared.update().await {
                tracing::warn!(error = %e, "could not renew the credentials of the interceptor");
            }
            shared.updating.store(false, Ordering::Release);
        });
    }
}

impl AuthInterceptor {
    /// An interceptor for `auth`, with its first credentials (acquired now if need be).
    pub async fn new(auth: Arc<dyn Authenticator>) -> Result<Self, AuthError> {
        let shared = Arc::new(Shared {
            auth,
            entry: ArcSwapOption::empty(),
            updating: AtomicBool::new(false),
            next_check_ms: AtomicU64::new(0),
            clock: SystemClock,
        });
        shared.update().await?;
        Ok(Self { shared })
    }

    /// Drops the current credentials (a server rejected them) and gets others.
    pub async fn refresh(&self) -> Result<(), AuthError> {
        self.shared.refresh().await
    }

    /// The credentials the interceptor sends now.
    pub fn current_credentials(&self) -> Option<Credentials> {
        self.shared
            .entry
            .load()
            .as_ref()
            .map(|e| e.credentials.clone())
    }

    /// Sets the header on `metadata`; the shape of tonic's interceptor.
    pub fn intercept<T>(
        &self,
        mut request: tonic::Request<T>,
    ) -> Result<tonic::Request<T>, Status> {
        let guard = self.shared.entry.load();
        let Some(entry) = guard.as_ref() else {
            return Err(Status::unauthenticated(
                "no credentials yet: build the interceptor with AuthInterceptor::new",
            ));
        };
        if let Some(expires_at) = entry.credentials.expires_at() {
            let now = self.shared.clock.now();
            if now + REFRESH_AHEAD >= expires_at {
                self.shared.kick(millis(now));
                if now >= expires_at {
                    return Err(Status::unauthenticated(
                        "the credentials expired and are being renewed; try the call again",
                    ));
                }
            }
        }
        request
            .metadata_mut()
            .insert(entry.key.clone(), entry.value.clone());
        Ok(request)
    }
}

impl tonic::service::Interceptor for AuthInterceptor {
    fn call(&mut self, request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        self.intercept(request)
    }
}

/// Runs `call`; if it fails with `UNAUTHENTICATED`, refreshes `auth`'s credentials and runs it
/// once more. For calls the layer does not replay (streams), at the call site:
///
/// ```no_run
/// # async fn demo(auth: std::sync::Arc<dyn auth_core::Authenticator>,
/// #     mut grpc: tonic::client::Grpc<tonic::transport::Channel>) -> Result<(), tonic::Status> {
/// let stream = auth_tower::retry_unauthenticated(&*auth, || async {
///     // client.watch(request.clone()).await
///     # Ok::<_, tonic::Status>(())
/// })
/// .await?;
/// # Ok(()) }
/// ```
///
/// The token engine makes one refresh for many rejections at once, and a refresh right after
/// the layer's own is answered with the token it just got.
pub async fn retry_unauthenticated<T, F, Fut>(
    auth: &dyn Authenticator,
    mut call: F,
) -> Result<T, Status>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    match call().await {
        Err(status) if status.code() == Code::Unauthenticated => {
            if let Err(e) = auth.refresh_credentials().await {
                tracing::warn!(error = %e, "could not refresh the rejected credentials");
                return Err(status);
            }
            call().await
        }
        other => other,
    }
}
