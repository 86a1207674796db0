//! Discovery over gRPC (Flyte 1 and Flyte 2 `AuthMetadataService`) and Connect (Flyte 2).

use std::fmt;
use std::time::Duration;

use auth_core::{AuthError, ClientConfig, ClientConfigStore, async_trait};
use auth_oauth2::{FlyteOverrides, HttpClient};
use http::uri::PathAndQuery;
use security_model::flyteidl2_auth::{
    GetOAuth2MetadataRequest, GetOAuth2MetadataResponse, GetPublicClientConfigRequest,
    GetPublicClientConfigResponse,
};
use security_model::{
    OAuth2MetadataRequest, OAuth2MetadataResponse, PublicClientAuthConfigRequest,
    PublicClientAuthConfigResponse,
};
use tokio::sync::OnceCell;
use tonic::transport::Channel;
use tonic::{Code, Status};

/// The default time limit of one discovery RPC.
pub const DEFAULT_RPC_TIMEOUT: Duration = Duration::from_secs(10);

/// How a Flyte deployment's `AuthMetadataService` is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DiscoveryProtocol {
    /// gRPC, `flyteidl.service.AuthMetadataService` (Flyte 1; what flytekit and flytectl call).
    Grpc,
    /// gRPC, `flyteidl2.auth.AuthMetadataService` (Flyte 2).
    Grpc2,
    /// ConnectRPC unary POST with a JSON body, `flyteidl2.auth.AuthMetadataService` (Flyte 2's
    /// SDK).
    Connect,
}

impl DiscoveryProtocol {
    /// The method paths of `GetOAuth2Metadata` and `GetPublicClientConfig`.
    pub fn paths(self) -> (&'static str, &'static str) {
        match self {
            Self::Grpc => (
                "/flyteidl.service.AuthMetadataService/GetOAuth2Metadata",
                "/flyteidl.service.AuthMetadataService/GetPublicClientConfig",
            ),
            Self::Grpc2 | Self::Connect => (
                "/flyteidl2.auth.AuthMetadataService/GetOAuth2Metadata",
                "/flyteidl2.auth.AuthMetadataService/GetPublicClientConfig",
            ),
        }
    }
}

impl fmt::Display for DiscoveryProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Grpc => "gRPC (flyteidl.service)",
            Self::Grpc2 => "gRPC (flyteidl2.auth)",
            Self::Connect => "Connect (flyteidl2.auth)",
        })
    }
}

#[derive(Clone, Debug)]
enum Transport {
    Grpc(Channel),
    /// A channel made when discovery first runs (no connection before it is needed).
    Endpoint(Box<crate::ChannelOptions>),
    Connect {
        http: HttpClient,
        base: String,
    },
}

/// The client configuration of a Flyte deployment, from its `AuthMetadataService` RPCs over
/// gRPC or Connect, mapped exactly as [`auth_oauth2::FlyteDiscovery`] maps the HTTP gateway's
/// answers ([`FlyteOverrides`]). Discovery runs once; concurrent callers share it, and after a
/// failure the next call tries again.
///
/// The RPCs need no credentials: give it a plain channel (or one with
/// [`AuthLayer::allow_anonymous`](crate::AuthLayer::allow_anonymous)), not one whose
/// authenticator uses this discovery.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use auth_core::ClientConfigStore;
/// use auth_tower::{DiscoveryProtocol, RpcDiscovery};
///
/// let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:8089").connect().await?;
/// let discovery = RpcDiscovery::grpc(channel, DiscoveryProtocol::Grpc);
/// let config = discovery.client_config().await?;
/// println!("token endpoint: {}, header: {}", config.token_endpoint, config.header_key);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct RpcDiscovery {
    protocol: DiscoveryProtocol,
    transport: Transport,
    overrides: FlyteOverrides,
    timeout: Duration,
    cache: OnceCell<ClientConfig>,
}

impl RpcDiscovery {
    /// Discovery over gRPC on `channel`: [`DiscoveryProtocol::Grpc`] or
    /// [`DiscoveryProtocol::Grpc2`] (a `Connect` protocol here means `Grpc2`).
    pub fn grpc(channel: Channel, protocol: DiscoveryProtocol) -> Self {
        let protocol = match protocol {
            DiscoveryProtocol::Connect => DiscoveryProtocol::Grpc2,
            p => p,
        };
        Self::with(protocol, Transport::Grpc(channel))
    }

    /// Discovery over gRPC to the endpoint of `options`, connecting (without credentials)
    /// only when discovery first runs.
    pub fn grpc_endpoint(options: crate::ChannelOptions, protocol: DiscoveryProtocol) -> Self {
        let protocol = match protocol {
            DiscoveryProtocol::Connect => DiscoveryProtocol::Grpc2,
            p => p,
        };
        Self::with(protocol, Transport::Endpoint(Box::new(options)))
    }

    /// Discovery over Connect (Flyte 2): `POST <base>/flyteidl2.auth.AuthMetadataService/...`
    /// with a JSON body, through `http` (the OAuth client's transport: TLS, proxy and
    /// proxy-authorization). `base` is the admin endpoint as a URL (`https://flyte.example.com`).
    pub fn connect(http: HttpClient, base: &str) -> Self {
        let base = base.trim().trim_end_matches('/').to_string();
        Self::with(
            DiscoveryProtocol::Connect,
            Transport::Connect { http, base },
        )
    }

    fn with(protocol: DiscoveryProtocol, transport: Transport) -> Self {
        Self {
            protocol,
            transport,
            overrides: FlyteOverrides::default(),
            timeout: DEFAULT_RPC_TIMEOUT,
            cache: OnceCell::new(),
        }
    }

    /// What the configuration says instead of the server (client id, scopes, audience,
    /// header key).
    pub fn with_overrides(mut self, overrides: FlyteOverrides) -> Self {
        self.overrides = overrides;
        self
    }

    /// The time limit of each RPC (default 10 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The protocol this discovery speaks.
    pub fn protocol(&self) -> DiscoveryProtocol {
        self.protocol
    }

    async fn discover(&self) -> Result<ClientConfig, AuthError> {
        let (metadata_path, client_path) = self.protocol.paths();
        let connected;
        let transport = match &self.transport {
            Transport::Endpoint(options) => {
                connected = Transport::Grpc(crate::channel::plain_channel(options).await?);
                &connected
            }
            t => t,
        };
        let (metadata, public) = match transport {
            Transport::Endpoint(_) => {
                return Err(AuthError::configuration("no channel for gRPC discovery"));
            }
            Transport::Grpc(channel) => match self.protocol {
                DiscoveryProtocol::Grpc => {
                    let (m, p) = tokio::try_join!(
                        unary::<OAuth2MetadataRequest, OAuth2MetadataResponse>(
                            channel.clone(),
                            metadata_path,
                            self.timeout
                        ),
                        unary::<PublicClientAuthConfigRequest, PublicClientAuthConfigResponse>(
                            channel.clone(),
                            client_path,
                            self.timeout
                        ),
                    )?;
                    (m, p)
                }
                _ => {
                    let (m, p) = tokio::try_join!(
                        unary::<GetOAuth2MetadataRequest, GetOAuth2MetadataResponse>(
                            channel.clone(),
                            metadata_path,
                            self.timeout
                        ),
                        unary::<GetPublicClientConfigRequest, GetPublicClientConfigResponse>(
                            channel.clone(),
                            client_path,
                            self.timeout
                        ),
                    )?;
                    (m, PublicClientAuthConfigResponse::from(p))
                }
            },
            Transport::Connect { http, base } => {
                let metadata_url = format!("{base}{metadata_path}");
                let client_url = format!("{base}{client_path}");
                let (m, p) = tokio::try_join!(
                    http.post_json::<GetOAuth2MetadataResponse>(&metadata_url, "{}"),
                    http.post_json::<GetPublicClientConfigResponse>(&client_url, "{}"),
                )
                .map_err(|e| e.context(format!("discovery over {}", self.protocol)))?;
                (m, PublicClientAuthConfigResponse::from(p))
            }
        };
        let config = self.overrides.client_config(
            metadata,
            public,
            false,
            &format!("{} {metadata_path}", self.protocol),
            &format!("{} {client_path}", self.protocol),
        )?;
        tracing::debug!(
            protocol = %self.protocol,
            token_endpoint = %config.token_endpoint,
            header_key = %config.header_key,
            "discovered the Flyte client configuration"
        );
        Ok(config)
    }
}

#[async_trait]
impl ClientConfigStore for RpcDiscovery {
    async fn client_config(&self) -> Result<ClientConfig, AuthError> {
        self.cache
            .get_or_try_init(|| self.discover())
            .await
            .cloned()
    }
}

/// One unary gRPC call with tonic's generic client and the prost codec.
async fn unary<Req, Res>(
    channel: Channel,
    path: &'static str,
    timeout: Duration,
) -> Result<Res, AuthError>
where
    Req: prost::Message + Default + Send + Sync + 'static,
    Res: prost::Message + Default + Send + Sync + 'static,
{
    let call = async {
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready()
            .await
            .map_err(|e| AuthError::transport(format!("gRPC {path}: {e}")))?;
        let mut request = tonic::Request::new(Req::default());
        request.set_timeout(timeout);
        grpc.unary(
            request,
            PathAndQuery::from_static(path),
            tonic_prost::ProstCodec::<Req, Res>::default(),
        )
        .await
        .map(tonic::Response::into_inner)
        .map_err(|s| status_error(path, &s))
    };
    tokio::time::timeout(timeout, call).await.map_err(|_| {
        AuthError::timeout(format!(
            "gRPC {path}: no answer within {} s",
            timeout.as_secs_f32()
        ))
    })?
}

/// An [`AuthError`] for a failed discovery RPC, saying what to do.
fn status_error(path: &str, status: &Status) -> AuthError {
    let message = status.message();
    match status.code() {
        Code::Unimplemented => AuthError::configuration(format!(
            "gRPC {path}: the server does not implement it ({message}); \
             try another discovery protocol, or configure tokenUrl and clientId"
        )),
        Code::Unavailable => AuthError::transport(format!(
            "gRPC {path}: the server is unavailable ({message}); check the endpoint and insecure"
        )),
        Code::DeadlineExceeded => AuthError::timeout(format!("gRPC {path}: {message}")),
        code => AuthError::invalid_response(format!("gRPC {path}: {code:?}: {message}"))
            .with_retryable(false),
    }
}

/// Tries several ways to discover a Flyte deployment's client configuration, in order, and
/// remembers the first that answers: for example gRPC Flyte 1, gRPC Flyte 2, Connect, then the
/// HTTP gateway ([`auth_oauth2::FlyteDiscovery`]). After a success every call goes to that one;
/// if all fail, the error lists why each did.
///
/// ```no_run
/// # async fn demo(channel: tonic::transport::Channel, http: auth_oauth2::HttpClient) -> Result<(), auth_core::AuthError> {
/// use std::sync::Arc;
/// use auth_core::ClientConfigStore;
/// use auth_tower::{DiscoveryChain, DiscoveryProtocol, RpcDiscovery};
///
/// let chain = DiscoveryChain::new()
///     .then("gRPC", Arc::new(RpcDiscovery::grpc(channel, DiscoveryProtocol::Grpc)))
///     .then("Connect", Arc::new(RpcDiscovery::connect(http, "https://flyte.example.com")));
/// let config = chain.client_config().await?;
/// println!("discovered over {}", chain.chosen().unwrap_or("nothing"));
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct DiscoveryChain {
    candidates: Vec<(&'static str, std::sync::Arc<dyn ClientConfigStore>)>,
    chosen: std::sync::OnceLock<usize>,
}

impl DiscoveryChain {
    /// An empty chain.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a way to discover, tried after the ones added before.
    pub fn then(
        mut self,
        name: &'static str,
        store: std::sync::Arc<dyn ClientConfigStore>,
    ) -> Self {
        self.candidates.push((name, store));
        self
    }

    /// The name of the way that answered, once one did.
    pub fn chosen(&self) -> Option<&'static str> {
        self.chosen
            .get()
            .and_then(|&i| self.candidates.get(i))
            .map(|c| c.0)
    }
}

#[async_trait]
impl ClientConfigStore for DiscoveryChain {
    async fn client_config(&self) -> Result<ClientConfig, AuthError> {
        if let Some((_, store)) = self.chosen.get().and_then(|&i| self.candidates.get(i)) {
            return store.client_config().await;
        }
        let mut first: Option<(&str, AuthError)> = None;
        let mut others = Vec::new();
        for (i, (name, store)) in self.candidates.iter().enumerate() {
            match store.client_config().await {
                Ok(config) => {
                    let _ = self.chosen.set(i);
                    tracing::debug!(method = name, "discovery answered; remembering it");
                    return Ok(config);
                }
                Err(e) => {
                    tracing::debug!(method = name, error = %e, "discovery failed; trying the next");
                    if first.is_none() {
                        first = Some((name, e));
                    } else {
                        others.push(format!("{name}: {e}"));
                    }
                }
            }
        }
        // The first method's error, with its kind (network, configuration...), leads: it is
        // what a build without the other methods would have said.
        match first {
            Some((name, e)) if others.is_empty() => Err(e.context(name)),
            Some((name, e)) => Err(e.context(format!(
                "discovery failed over every method (also tried {}); {name}",
                others.join("; ")
            ))),
            None => Err(AuthError::configuration(
                "no discovery method is configured: configure tokenUrl and clientId",
            )),
        }
    }
}
