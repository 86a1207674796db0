#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod body;
#[cfg(feature = "tonic")]
mod channel;
mod classify;
#[cfg(feature = "tonic")]
mod discovery;
#[cfg(feature = "tonic")]
mod interceptor;
mod layer;
mod passthrough;

pub use body::{Buffered, Prefixed, ReplayBody};
#[cfg(feature = "tonic")]
#[cfg_attr(docsrs, doc(cfg(feature = "tonic")))]
pub use channel::{AuthChannel, ChannelOptions, connect};
pub use classify::{
    AuthFailure, GRPC_PERMISSION_DENIED, GRPC_UNAUTHENTICATED, classify, is_grpc,
    trailers_only_status,
};
#[cfg(feature = "tonic")]
#[cfg_attr(docsrs, doc(cfg(feature = "tonic")))]
pub use discovery::{DEFAULT_RPC_TIMEOUT, DiscoveryChain, DiscoveryProtocol, RpcDiscovery};
#[cfg(feature = "tonic")]
#[cfg_attr(docsrs, doc(cfg(feature = "tonic")))]
pub use interceptor::{AuthInterceptor, retry_unauthenticated};
pub use layer::{AuthBody, AuthLayer, AuthService, BoxError, DEFAULT_MAX_REPLAY_BODY, Unary};
pub use passthrough::{PassthroughLayer, PassthroughService, auth_metadata, with_auth_metadata};
