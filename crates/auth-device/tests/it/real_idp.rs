//! Against the real test identity provider (`$FLYTE_AUTH_TEST_ISSUER`, set by
//! `cargo xtask test`): approve or deny through HTTP as the user would, let the time run out
//! (the configured limit, and the code's own expiry on a provider of our own with 3-second
//! device codes), refresh a 2-second token, and honour the provider's `slow_down`.
//!
//! The user is played by a presenter that, at a chosen step, approves or denies on a thread
//! of its own (with its own runtime and real clock) and returns when the provider confirmed.
//! Most tests run on tokio's paused clock (see `support`), which makes the poll gaps exact
//! and the waits instant; the provider itself does not enforce the interval.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use auth_core::{Authenticator, CredentialStore, ErrorKind, MemoryStore, RetryPolicy};
use auth_device::{
    DeviceCodeAuthenticator, DeviceCodeAuthenticatorBuilder, DevicePresenter, DevicePrompt,
};
use auth_oauth2::{FlyteDiscovery, HttpClient, IssuerDiscovery, TransportOptions};
use auth_testkit::idp;
use tokio::time::Instant;

use crate::support::{Clocked, SECS};

/// When the played user acts.
#[derive(Debug, Clone, Copy)]
enum When {
    /// As soon as the prompt is shown.
    OnPrompt,
    /// At the n-th wait (1-based): after n - 1 polls were answered.
    AtWait(usize),
    /// Never.
    Never,
}

/// A presenter that plays the user: approves (or denies) at `when`.
#[derive(Debug)]
struct User {
    when: When,
    approve: bool,
    prompts: AtomicUsize,
    waits: AtomicUsize,
    acted: AtomicUsize,
    url: std::sync::Mutex<Option<String>>,
}

impl User {
    fn new(when: When, approve: bool) -> Arc<Self> {
        Arc::new(Self {
            when,
            approve,
            prompts: AtomicUsize::new(0),
            waits: AtomicUsize::new(0),
            acted: AtomicUsize::new(0),
            url: std::sync::Mutex::new(None),
        })
    }

    /// Approves or denies on a thread with its own runtime, and waits for it.
    fn act(&self) {
        let url = self
            .url
            .lock()
            .unwrap()
            .clone()
            .expect("a prompt came first");
        let approve = self.approve;
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(idp::approve_device(&url, approve))
        })
        .join()
        .expect("the user thread")
        .expect("the provider took the user's answer");
        self.acted.fetch_add(1, Ordering::SeqCst);
    }
}

impl DevicePresenter for User {
    fn device_authorization(&self, prompt: &DevicePrompt) {
        self.prompts.fetch_add(1, Ordering::SeqCst);
        let complete = prompt
            .verification_uri_complete
            .clone()
            .expect("the provider sends the complete URI");
        assert!(complete.starts_with(&prompt.verification_uri), "{complete}");
        assert!(complete.contains(&prompt.user_code), "{complete}");
        *self.url.lock().unwrap() = Some(complete);
        if matches!(self.when, When::OnPrompt) {
            self.act();
        }
    }

    fn waiting(&self, _remaining: Duration) {
        let n = self.waits.fetch_add(1, Ordering::SeqCst) + 1;
        if matches!(self.when, When::AtWait(at) if at == n) {
            self.act();
        }
    }
}

fn http() -> HttpClient {
    HttpClient::new(&TransportOptions::new().with_retry(RetryPolicy::none())).unwrap()
}

/// A builder for `client_id` at the provider `issuer`, through OAuth/OIDC discovery.
fn at_issuer(issuer: &str, client_id: &str, user: Arc<User>) -> DeviceCodeAuthenticatorBuilder {
    let discovery =
        IssuerDiscovery::new(http(), issuer, client_id).with_scopes(vec!["openid".into()]);
    DeviceCodeAuthenticator::builder()
        .config_store(Arc::new(discovery))
        .http_client(http())
        .presenter(user)
}

#[tokio::test(start_paused = true)]
async fn real_approve_through_flyte_discovery() {
    let Some(issuer) = idp::require_issuer("real_approve_through_flyte_discovery") else {
        return;
    };
    let clock = Clocked::install();
    let user = User::new(When::OnPrompt, true);
    let endpoint = issuer.trim_start_matches("http://").to_string();
    let discovery = FlyteDiscovery::new(http(), &endpoint, true);
    let store = Arc::new(MemoryStore::new());
    let auth = DeviceCodeAuthenticator::builder()
        .config_store(Arc::new(discovery))
        .http_client(http())
        .presenter(user.clone())
        .credential_store(store.clone())
        .store_key(endpoint.clone())
        .build()
        .unwrap();

    let (key, value) = auth.authorization_header().await.unwrap();

    // The Flyte admin emulation names the public client, the scopes and the header key.
    assert_eq!(key, "flyte-authorization");
    let creds = auth.credentials().await.unwrap();
    assert_eq!(
        value.secret(),
        format!("Bearer {}", creds.access_token().secret())
    );
    assert!(
        creds.refresh_token().is_some(),
        "the provider issues refresh tokens for device grants"
    );
    assert!(creds.expires_at().is_some());
    let stored = store.load(&endpoint).await.unwrap().expect("stored");
    assert_eq!(stored.access_token(), creds.access_token());
    // Approved before the first poll, which came one interval (1 s) after the authorization.
    assert_eq!(clock.layer.poll_gaps(), [SECS(1)]);
    assert_eq!(user.prompts.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn real_deny_is_access_denied() {
    let Some(issuer) = idp::require_issuer("real_deny_is_access_denied") else {
        return;
    };
    let clock = Clocked::install();
    let user = User::new(When::AtWait(2), false);
    let auth = at_issuer(&issuer, "flyte-cli", user.clone())
        .build()
        .unwrap();

    let error = auth.credentials().await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::AccessDenied, "{error}");
    assert_eq!(error.oauth_error_code(), Some("access_denied"));
    assert_eq!(user.acted.load(Ordering::SeqCst), 1);
    // Pending at 1 s, then the user denied, and the next poll got access_denied.
    assert_eq!(clock.layer.poll_gaps(), [SECS(1), SECS(1)]);
}

#[tokio::test(start_paused = true)]
async fn real_time_runs_out() {
    let Some(issuer) = idp::require_issuer("real_time_runs_out") else {
        return;
    };
    let clock = Clocked::install();
    let user = User::new(When::Never, true);
    let auth = at_issuer(&issuer, "flyte-cli", user)
        .time_limit(SECS(3))
        .build()
        .unwrap();

    let error = auth.credentials().await.unwrap_err();

    // The provider's codes live 600 s; the configured limit of 3 s ends the wait first.
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    assert_eq!(clock.layer.poll_gaps(), [SECS(1), SECS(1)]);
    let started = clock.layer.starts("device_authorization")[0];
    assert_eq!(Instant::now() - started, SECS(3));
}

/// Real clock: the provider's device code expires in wall-clock time. Runs on a provider of
/// its own (`IDP_DEVICE_CODE_TTL=3`), started only when the real-provider tests run.
#[tokio::test]
async fn real_code_expiry_is_the_providers_expired_token() {
    if idp::require_issuer("real_code_expiry_is_the_providers_expired_token").is_none() {
        return;
    }
    let own = idp::TestIdp::start_with(&[("IDP_DEVICE_CODE_TTL", "3")])
        .expect("a test identity provider with 3-second device codes starts");
    let clock = Clocked::install();
    let user = User::new(When::Never, true);
    // No time limit: the code's expiry is the only deadline.
    let auth = at_issuer(own.issuer(), "flyte-cli", user.clone())
        .build()
        .unwrap();

    let error = auth.credentials().await.unwrap_err();

    // The provider's own answer, not our deadline (whose ExpiredToken carries no OAuth code).
    assert_eq!(error.kind(), ErrorKind::ExpiredToken, "{error}");
    assert_eq!(error.oauth_error_code(), Some("expired_token"), "{error}");
    assert_eq!(error.status(), Some(400));
    assert!(error.to_string().contains("log in again"), "{error}");
    assert_eq!(user.prompts.load(Ordering::SeqCst), 1);
    assert_eq!(user.acted.load(Ordering::SeqCst), 0);
    let polls = clock.layer.starts("device_token").len();
    assert!(
        (1..=3).contains(&polls),
        "interval 1 s, code 3 s: {polls} polls"
    );
    let stats = idp::stats(own.issuer()).await.unwrap();
    assert_eq!(stats.token_requests("flyte-cli"), polls as u64);
}

#[tokio::test(start_paused = true)]
async fn real_slow_down_is_honoured() {
    let Some(issuer) = idp::require_issuer("real_slow_down_is_honoured") else {
        return;
    };
    let clock = Clocked::install();
    // `device-slow` answers slow_down to the first two polls that would be pending; the user
    // approves only after those.
    let user = User::new(When::AtWait(3), true);
    let auth = at_issuer(&issuer, "device-slow", user.clone())
        .build()
        .unwrap();

    let creds = auth.credentials().await.unwrap();

    assert!(!creds.access_token().secret().is_empty());
    assert_eq!(user.acted.load(Ordering::SeqCst), 1);
    // Interval 1 s; each slow_down adds 5 s to every later poll.
    assert_eq!(clock.layer.poll_gaps(), [SECS(1), SECS(6), SECS(11)]);
}

/// Real clock here: the provider's 2-second tokens expire in wall-clock time.
#[tokio::test]
async fn real_refresh_after_a_two_second_token_without_a_second_prompt() {
    let Some(issuer) =
        idp::require_issuer("real_refresh_after_a_two_second_token_without_a_second_prompt")
    else {
        return;
    };
    let clock = Clocked::install();
    let user = User::new(When::OnPrompt, true);
    let auth = at_issuer(&issuer, "flyte-cli-short", user.clone())
        .build()
        .unwrap();

    let first = auth.credentials().await.unwrap();
    let expires_at = first.expires_at().expect("expiry");
    let life = expires_at
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    assert!(life <= SECS(2), "a 2-second token: {life:?}");
    // Past the token's expiry on the wall clock.
    tokio::time::sleep(life + Duration::from_millis(500)).await;
    let second = auth.credentials().await.unwrap();

    assert_ne!(second.access_token(), first.access_token());
    assert_ne!(
        second.refresh_token(),
        first.refresh_token(),
        "public clients' refresh tokens rotate"
    );
    assert_eq!(
        user.prompts.load(Ordering::SeqCst),
        1,
        "no second device prompt"
    );
    assert_eq!(clock.layer.starts("device_authorization").len(), 1);
    assert_eq!(clock.layer.starts("refresh").len(), 1);
    // The rotated refresh token works for the next refresh (after the engine's minimum time
    // between two refreshes of 1 s).
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let third = auth.refresh_credentials().await.unwrap();
    assert_ne!(third.access_token(), second.access_token());
}
