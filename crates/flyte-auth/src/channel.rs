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
