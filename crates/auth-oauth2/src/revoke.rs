//! Token revocation (RFC 7009): `logout` tells the provider to forget a refresh token.

use auth_core::{AuthError, RefreshToken};

use crate::client::OAuth2Client;
use crate::transport::{Resend, parse_url};

impl OAuth2Client {
    /// Revokes `refresh_token` at the revocation endpoint (RFC 7009 §2.1), with
    /// `token_type_hint=refresh_token` and this client's authentication. A 200 answer means
    /// revoked, also for a token the provider did not know (§2.2). Sent at most once: a
    /// revocation that fails is the caller's to report, never a reason to keep the token.
    pub async fn revoke_refresh_token(
        &self,
        revocation_endpoint: &str,
        refresh_token: &RefreshToken,
    ) -> Result<(), AuthError> {
        let url = parse_url(revocation_endpoint, "revocation endpoint")?;
        let what = format!("revocation request to {url}");
        let params = vec![
            ("token", refresh_token.secret()),
            ("token_type_hint", "refresh_token"),
        ];
        let response = self
            .post_form(&url, params, Resend::SingleUse, &what)
            .await
            .map_err(|e| e.with_retryable(false))?;
        if response.status.is_success() {
            Ok(())
        } else {
            Err(AuthError::invalid_response(format!(
                "{what}: unexpected answer {}",
                response.status
            ))
            .with_status(response.status.as_u16()))
        }
    }
}
