//! `logout`: revoke the refresh token at the provider (RFC 7009) when it advertises a
//! revocation endpoint, then delete the stored credentials. A revocation that fails is a
//! warning: the local credentials are deleted in any case.

use flyte_auth::config::AuthMode;
use flyte_auth::oauth2::OAuth2Client;
use flyte_auth::{AuthError, Configured};

/// What happened at the provider.
#[derive(Debug)]
pub(crate) enum Revocation {
    /// The refresh token was revoked at this endpoint.
    Revoked(String),
    /// Nothing to revoke: no stored refresh token.
    NoRefreshToken,
    /// The provider advertises no revocation endpoint (or the flow has none).
    NotAdvertised,
    /// The revocation failed; the credentials are deleted anyway.
    Failed(AuthError),
}

impl Revocation {
    /// For `-o json`.
    pub(crate) fn json(&self) -> serde_json::Value {
        match self {
            Revocation::Revoked(url) => {
                serde_json::json!({"revoked": true, "revocation_endpoint": url})
            }
            Revocation::NoRefreshToken => {
                serde_json::json!({"revoked": false, "reason": "no refresh token stored"})
            }
            Revocation::NotAdvertised => {
                serde_json::json!({"revoked": false, "reason": "the provider advertises no revocation_endpoint"})
            }
            Revocation::Failed(e) => {
                serde_json::json!({"revoked": false, "reason": e.to_string()})
            }
        }
    }

    /// The clause after "Logged out of X: " in text mode.
    pub(crate) fn phrase(&self) -> &'static str {
        match self {
            Revocation::Revoked(_) => "refresh token revoked, stored credentials deleted",
            _ => "stored credentials deleted",
        }
    }
}

/// Revokes the stored refresh token of a public interactive client (browser or device
/// login). Service clients (client credentials, external command) hold no refresh token.
pub(crate) async fn revoke(configured: &Configured) -> Revocation {
    if !matches!(configured.mode, AuthMode::Pkce | AuthMode::DeviceFlow) {
        return Revocation::NotAdvertised;
    }
    let stored = match configured.authenticator.stored_credentials().await {
        Ok(Some(c)) => c,
        Ok(None) => return Revocation::NoRefreshToken,
        Err(e) => return Revocation::Failed(e),
    };
    let Some(refresh_token) = stored.refresh_token() else {
        return Revocation::NoRefreshToken;
    };
    let (Some(store), Some(http)) = (&configured.client_config, &configured.http_client) else {
        return Revocation::NotAdvertised;
    };
    let config = match store.client_config().await {
        Ok(c) => c,
        Err(e) => {
            return Revocation::Failed(e.context("finding the revocation endpoint"));
        }
    };
    let Some(endpoint) = config.revocation_endpoint.clone() else {
        return Revocation::NotAdvertised;
    };
    let client = OAuth2Client::new(http.clone(), config.client_id.clone());
    match client.revoke_refresh_token(&endpoint, refresh_token).await {
        Ok(()) => {
            tracing::debug!(revocation_endpoint = %endpoint, "revoked the refresh token");
            Revocation::Revoked(endpoint)
        }
        Err(e) => Revocation::Failed(e),
    }
}
