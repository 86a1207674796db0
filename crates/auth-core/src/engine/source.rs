//! What a flow implements: [`TokenSource`], and what it is told about an acquisition.

use super::*;

/// Why an acquisition runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AcquireReason {
    /// Nothing usable is cached or stored.
    Initial,
    /// The cached token is past its hard deadline.
    Expired,
    /// Inside the refresh-ahead window: callers are still served the current token.
    RefreshAhead,
    /// A server rejected the current token.
    Rejected,
    /// An explicit login ([`TokenEngine::login`]): the full flow runs whatever is cached
    /// or stored.
    Login,
}

/// What a [`TokenSource`] is told about an acquisition.
#[derive(Debug)]
#[non_exhaustive]
pub struct FetchContext<'a> {
    /// Why the acquisition runs.
    pub reason: AcquireReason,
    /// The previous credentials, if any (expired, rejected, or with a rejected refresh token).
    pub previous: Option<&'a Credentials>,
}

/// What a flow implements: how to get new credentials. Everything else is the engine's.
#[async_trait]
pub trait TokenSource: Send + Sync + fmt::Debug {
    /// Acquires new credentials the full way: a client credentials grant, a command run, a
    /// browser login or a device flow.
    async fn fetch(&self, context: &FetchContext<'_>) -> Result<Credentials, AuthError>;

    /// Exchanges a refresh token for new credentials. `Ok(None)` means this source does not
    /// refresh, and the engine goes on to [`fetch`](Self::fetch). The engine merges the
    /// result onto `previous` (a response without a refresh token keeps the old one).
    async fn refresh(
        &self,
        refresh_token: &RefreshToken,
        previous: &Credentials,
    ) -> Result<Option<Credentials>, AuthError> {
        let _ = (refresh_token, previous);
        Ok(None)
    }

    /// Whether [`fetch`](Self::fetch) needs a person (browser or device login). Interactive
    /// fetches are never retried and are refused when interaction is off.
    fn is_interactive(&self) -> bool {
        false
    }

    /// The header key, when the source knows it (configured or discovered).
    fn header_key(&self) -> Option<String> {
        None
    }

    /// Resolves what the source learns from its configuration (such as a discovered header
    /// key, Flyte's `flyte-authorization`) without acquiring credentials. The engine calls it
    /// from `authorization_header` while [`header_key`](Self::header_key) is `None`, because
    /// credentials loaded from a store need no acquisition and so no resolve.
    async fn prepare(&self) -> Result<(), AuthError> {
        Ok(())
    }
}
