//! `connect`: an authenticated Flyte channel from the user's configuration.

use auth_config::Settings;
use auth_core::AuthError;
use auth_tower::{AuthChannel, ChannelOptions};

use crate::select::{Configured, FromConfigOptions, from_config};

/// The authenticator for the configured auth mode ([`from_config`]) and a tonic channel to
/// `admin.endpoint` that authenticates every call with it: TLS unless `admin.insecure`, with
/// the OAuth client's CA bundle, `insecureSkipVerify` (and its warning) and proxy-authorization
/// (`admin.proxyCommand`).
///
/// ```no_run
/// # async fn demo(settings: flyte_auth::config::Settings) -> Result<(), flyte_auth::AuthError> {
/// let (_, channel) = flyte_auth::connect(&settings, &Default::default()).await?;
/// let mut grpc = tonic::client::Grpc::new(channel); // or AdminServiceClient::new(channel)
/// # let _ = grpc; Ok(()) }
/// ```
pub async fn connect(
    settings: &Settings,
    options: &FromConfigOptions,
) -> Result<(Configured, AuthChannel), AuthError> {
    let endpoint = settings.endpoint.clone().ok_or_else(|| {
        AuthError::configuration(
            "connecting needs the Flyte endpoint: set admin.endpoint (or FLYTE_PLATFORM_URL)",
        )
    })?;
    let configured = from_config(settings, options)?;
    let transport = crate::select::transport::transport(settings)?;
    let channel_options =
        ChannelOptions::new(endpoint, settings.insecure).with_transport(transport);
    let channel = auth_tower::connect(
        &channel_options,
        configured.authenticator.clone().into_arc(),
    )
    .await?;
    Ok((configured, channel))
}

/// `http_discovery` (the gateway's GET paths), then the `AuthMetadataService` over gRPC
/// (Flyte 1, then Flyte 2) and over Connect (Flyte 2), the first that answers remembered; or
/// only the method `admin.discovery` names.
#[cfg(any(feature = "pkce", feature = "device", feature = "clientcreds"))]
pub(crate) fn with_rpc_discovery(
    settings: &Settings,
    endpoint: &str,
    http: &auth_oauth2::HttpClient,
    http_discovery: std::sync::Arc<dyn auth_core::ClientConfigStore>,
) -> Result<std::sync::Arc<dyn auth_core::ClientConfigStore>, AuthError> {
    use std::sync::Arc;

    use auth_oauth2::FlyteOverrides;
    use auth_tower::{DiscoveryChain, DiscoveryProtocol, RpcDiscovery};

    let overrides = FlyteOverrides::new()
        .with_client_id(settings.client_id.clone())
        .with_scopes(settings.scopes.clone())
        .with_audience(settings.audience.clone())
        .with_header_key(settings.authorization_header.clone());
    let channel =
        ChannelOptions::new(endpoint, settings.insecure).with_transport(http.options().clone());
    let grpc = |protocol| {
        Arc::new(
            RpcDiscovery::grpc_endpoint(channel.clone(), protocol)
                .with_overrides(overrides.clone()),
        )
    };
    let base = channel.base_url()?;
    let connect =
        || Arc::new(RpcDiscovery::connect(http.clone(), &base).with_overrides(overrides.clone()));
    // A forced method is a chain of one, so that its failure says where it was forced.
    let only = |name, store| Arc::new(DiscoveryChain::new().then(name, store));
    Ok(match settings.discovery.as_deref().unwrap_or("auto") {
        "http" => only(
            "admin.discovery is http (auto tries every method)",
            http_discovery,
        ),
        "grpc" => only(
            "admin.discovery is grpc (auto tries every method)",
            grpc(DiscoveryProtocol::Grpc),
        ),
        "grpc2" => only(
            "admin.discovery is grpc2 (auto tries every method)",
            grpc(DiscoveryProtocol::Grpc2),
        ),
        "connect" => only(
            "admin.discovery is connect (auto tries every method)",
            connect(),
        ),
        _ => Arc::new(
            DiscoveryChain::new()
                .then("HTTP", http_discovery)
                .then("gRPC flyteidl.service", grpc(DiscoveryProtocol::Grpc))
                .then("gRPC flyteidl2.auth", grpc(DiscoveryProtocol::Grpc2))
                .then("Connect flyteidl2.auth", connect()),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connect_without_an_endpoint_says_what_to_set() {
        let e = connect(&Settings::default(), &FromConfigOptions::default())
            .await
            .unwrap_err();
        assert!(e.message().contains("admin.endpoint"), "{e}");
    }
}
