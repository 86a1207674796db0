//! The exact poll schedule against a scripted token endpoint, under tokio's paused clock.
//! Every gap is the time from the start of one request to the start of the next; requests
//! take no time on the paused clock.

use std::time::Duration;

use auth_core::{Authenticator, ErrorKind};
use serde_json::json;
use sha2::{Digest as _, Sha256};
use tokio::time::Instant;

use crate::support::*;

/// The instant the device authorization request started.
fn started(clock: &Clocked) -> Instant {
    clock.layer.starts("device_authorization")[0]
}

#[tokio::test(start_paused = true)]
async fn pending_twice_slow_down_twice_then_success() {
    let clock = Clocked::install();
    let server = idp(
        device_response(json!({})),
        vec![pending(), pending(), slow_down(), slow_down()],
        token("at-1", Some("rt-1")),
    )
    .await;
    let (presenter, _rx) = Recorder::new();
    let auth = builder(&server, presenter.clone()).build().unwrap();

    let creds = auth.credentials().await.unwrap();

    assert_eq!(creds.access_token().secret(), "at-1");
    // First poll one interval after the authorization; pending keeps 5 s; each slow_down adds
    // 5 s for every later poll.
    assert_eq!(
        clock.layer.poll_gaps(),
        [SECS(5), SECS(5), SECS(5), SECS(10), SECS(15)]
    );
    assert_eq!(requests_to(&server, "/token").await.len(), 5);
    assert_eq!(presenter.events().last(), Some(&Event::Approved));
}

#[tokio::test(start_paused = true)]
async fn slow_down_from_the_test_client_script_keeps_the_larger_interval() {
    // slow_down, then pending: the interval stays at 10 s after the slow_down.
    let clock = Clocked::install();
    let server = idp(
        device_response(json!({})),
        vec![slow_down(), pending(), pending()],
        token("at", None),
    )
    .await;
    let (presenter, _rx) = Recorder::new();
    builder(&server, presenter)
        .build()
        .unwrap()
        .credentials()
        .await
        .unwrap();
    assert_eq!(
        clock.layer.poll_gaps(),
        [SECS(5), SECS(10), SECS(10), SECS(10)]
    );
}

#[tokio::test(start_paused = true)]
async fn slow_down_with_a_larger_server_interval_uses_it_for_every_later_poll() {
    let clock = Clocked::install();
    let server = idp(
        device_response(json!({})),
        vec![pending(), slow_down_to(30), pending(), slow_down()],
        token("at", None),
    )
    .await;
    let (presenter, _rx) = Recorder::new();
    builder(&server, presenter)
        .build()
        .unwrap()
        .credentials()
        .await
        .unwrap();
    // 5 s; slow_down asking for 30 s (more than 5 + 5): 30 s from then on; a plain slow_down
    // adds 5 s to that.
    assert_eq!(
        clock.layer.poll_gaps(),
        [SECS(5), SECS(5), SECS(30), SECS(30), SECS(35)]
    );
}

#[tokio::test(start_paused = true)]
async fn slow_down_with_a_smaller_server_interval_still_adds_five_seconds() {
    let clock = Clocked::install();
    let server = idp(
        device_response(json!({})),
        vec![slow_down_to(2), pending()],
        token("at", None),
    )
    .await;
    let (presenter, _rx) = Recorder::new();
    builder(&server, presenter)
        .build()
        .unwrap()
        .credentials()
        .await
        .unwrap();
    // A server interval below interval + 5 s never makes polling faster than RFC 8628 asks.
    assert_eq!(clock.layer.poll_gaps(), [SECS(5), SECS(10), SECS(10)]);
}

#[tokio::test(start_paused = true)]
async fn the_code_expiry_is_the_deadline() {
    let clock = Clocked::install();
    let server = idp(
        device_response(json!({ "expires_in": 30 })),
        vec![],
        pending(),
    )
    .await;
    let (presenter, _rx) = Recorder::new();
    let auth = builder(&server, presenter.clone()).build().unwrap();

    let error = auth.credentials().await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::ExpiredToken, "{error}");
    assert!(error.to_string().contains("log in again"), "{error}");
    // Polls at 5, 10, 15, 20 and 25 s, and a last one at the expiry (30 s); that one is still
    // pending (a provider that does not track the expiry), so the flow gives up then.
    assert_eq!(clock.layer.poll_gaps(), [SECS(5); 6]);
    assert_eq!(Instant::now() - started(&clock), SECS(30));
    assert_eq!(
        error.oauth_error_code(),
        None,
        "our deadline, not the provider's answer"
    );
    assert!(matches!(presenter.events().last(), Some(Event::Failed(_))));
}

#[tokio::test(start_paused = true)]
async fn the_providers_expired_token_at_the_expiry_is_the_error() {
    let clock = Clocked::install();
    let server = idp(
        device_response(json!({ "expires_in": 12 })),
        vec![pending(), pending()],
        oauth_error("expired_token"),
    )
    .await;
    let (presenter, _rx) = Recorder::new();
    let auth = builder(&server, presenter.clone()).build().unwrap();

    let error = auth.credentials().await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::ExpiredToken, "{error}");
    assert_eq!(error.oauth_error_code(), Some("expired_token"));
    assert!(error.to_string().contains("log in again"), "{error}");
    // Polls at 5 and 10 s; the next regular one (15 s) is after the expiry (12 s), and 12 s
    // would be sooner than the interval: the last poll comes at 15 s.
    assert_eq!(clock.layer.poll_gaps(), [SECS(5), SECS(5), SECS(5)]);
    assert_eq!(Instant::now() - started(&clock), SECS(15));
    assert!(matches!(presenter.events().last(), Some(Event::Failed(_))));
}

#[tokio::test(start_paused = true)]
async fn an_approval_since_the_previous_poll_is_picked_up_at_the_expiry() {
    let clock = Clocked::install();
    let server = idp(
        device_response(json!({ "expires_in": 30 })),
        vec![pending(), pending(), pending(), pending(), pending()],
        token("at-last-moment", None),
    )
    .await;
    let (presenter, _rx) = Recorder::new();
    let auth = builder(&server, presenter.clone()).build().unwrap();

    let creds = auth.credentials().await.unwrap();

    assert_eq!(creds.access_token().secret(), "at-last-moment");
    assert_eq!(clock.layer.poll_gaps(), [SECS(5); 6]);
    assert_eq!(Instant::now() - started(&clock), SECS(30));
    assert_eq!(presenter.events().last(), Some(&Event::Approved));
}

#[tokio::test(start_paused = true)]
async fn no_last_poll_long_after_the_expiry() {
    let clock = Clocked::install();
    // A 40 s interval and a 49 s code: after the poll at 40 s, a last poll one interval later
    // (80 s) would come 31 s after the expiry, more than the 30 s allowed; the flow gives up
    // at the expiry.
    let server = idp(
        device_response(json!({ "expires_in": 49, "interval": 40 })),
        vec![],
        pending(),
    )
    .await;
    let (presenter, _rx) = Recorder::new();
    let error = builder(&server, presenter)
        .build()
        .unwrap()
        .credentials()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ExpiredToken, "{error}");
    assert_eq!(clock.layer.poll_gaps(), [SECS(40)]);
    assert_eq!(Instant::now() - started(&clock), SECS(49));
}

#[tokio::test(start_paused = true)]
async fn a_shorter_configured_limit_is_the_deadline() {
    let clock = Clocked::install();
    let server = idp(device_response(json!({})), vec![], pending()).await;
    let (presenter, _rx) = Recorder::new();
    let auth = builder(&server, presenter)
        .time_limit(SECS(12))
        .build()
        .unwrap();

    let error = auth.credentials().await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    assert!(error.to_string().contains("time limit of 12 s"), "{error}");
    assert_eq!(clock.layer.poll_gaps(), [SECS(5), SECS(5)]);
    assert_eq!(Instant::now() - started(&clock), SECS(12));
}

#[tokio::test(start_paused = true)]
async fn a_longer_configured_limit_does_not_outlive_the_code() {
    let clock = Clocked::install();
    let server = idp(
        device_response(json!({ "expires_in": 20 })),
        vec![],
        pending(),
    )
    .await;
    let (presenter, _rx) = Recorder::new();
    let auth = builder(&server, presenter)
        .time_limit(SECS(3600))
        .build()
        .unwrap();

    let error = auth.credentials().await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::ExpiredToken, "{error}");
    assert_eq!(Instant::now() - started(&clock), SECS(20));
}

#[tokio::test(start_paused = true)]
async fn transient_503s_back_off_exponentially_and_reset_after_a_good_answer() {
    let clock = Clocked::install();
    let server = idp(
        device_response(json!({})),
        vec![
            pending(),
            unavailable(),
            unavailable(),
            unavailable(),
            pending(),
            unavailable(),
        ],
        token("at", None),
    )
    .await;
    let (presenter, _rx) = Recorder::new();
    let creds = builder(&server, presenter)
        .build()
        .unwrap()
        .credentials()
        .await
        .unwrap();

    assert_eq!(creds.access_token().secret(), "at");
    assert_eq!(
        clock.layer.poll_gaps(),
        // first, pending, 503 x3 (10, 20, 40), pending (reset), 503 (10 again)
        [
            SECS(5),
            SECS(5),
            SECS(10),
            SECS(20),
            SECS(40),
            SECS(5),
            SECS(10)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn the_back_off_is_capped() {
    let clock = Clocked::install();
    let server = idp(
        device_response(json!({})),
        vec![unavailable(); 4],
        token("at", None),
    )
    .await;
    let (presenter, _rx) = Recorder::new();
    builder(&server, presenter)
        .max_poll_backoff(SECS(30))
        .build()
        .unwrap()
        .credentials()
        .await
        .unwrap();
    assert_eq!(
        clock.layer.poll_gaps(),
        [SECS(5), SECS(10), SECS(20), SECS(30), SECS(30)]
    );
}

#[tokio::test(start_paused = true)]
async fn network_errors_back_off_until_the_deadline() {
    let clock = Clocked::install();
    let server = idp(
        device_response(json!({ "expires_in": 100 })),
        vec![],
        pending(),
    )
    .await;
    // A port nobody listens on: every poll fails to connect.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (presenter, _rx) = Recorder::new();
    let auth = builder(&server, presenter)
        .token_endpoint(format!("http://{dead}/token"))
        .build()
        .unwrap();

    let error = auth.credentials().await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::ExpiredToken, "{error}");
    // Polls at 5, 15, 35 and 75 s; the next would come at 135 s, after the code expired, so
    // the last one comes at the expiry (100 s).
    assert_eq!(
        clock.layer.poll_gaps(),
        [SECS(5), SECS(10), SECS(20), SECS(40), SECS(25)]
    );
    assert_eq!(Instant::now() - started(&clock), SECS(100));
}

#[tokio::test(start_paused = true)]
async fn access_denied_is_a_typed_error_and_ends_polling() {
    let clock = Clocked::install();
    let server = idp(
        device_response(json!({})),
        vec![pending(), oauth_error("access_denied")],
        pending(),
    )
    .await;
    let (presenter, _rx) = Recorder::new();
    let auth = builder(&server, presenter.clone()).build().unwrap();

    let error = auth.credentials().await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::AccessDenied, "{error}");
    assert_eq!(error.oauth_error_code(), Some("access_denied"));
    assert!(error.to_string().contains("denied"), "{error}");
    assert_eq!(Instant::now() - started(&clock), SECS(10));
    tokio::time::sleep(SECS(60)).await;
    assert_eq!(
        clock.layer.starts("device_token").len(),
        2,
        "no poll after the denial"
    );
    assert!(matches!(presenter.events().last(), Some(Event::Failed(e)) if e.contains("denied")));
}

#[tokio::test(start_paused = true)]
async fn expired_token_is_a_typed_error() {
    let _clock = Clocked::install();
    let server = idp(
        device_response(json!({})),
        vec![pending(), oauth_error("expired_token")],
        pending(),
    )
    .await;
    let (presenter, _rx) = Recorder::new();
    let error = builder(&server, presenter)
        .build()
        .unwrap()
        .credentials()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ExpiredToken, "{error}");
    assert_eq!(error.oauth_error_code(), Some("expired_token"));
}

#[tokio::test(start_paused = true)]
async fn other_oauth_errors_end_the_flow() {
    let _clock = Clocked::install();
    let server = idp(
        device_response(json!({})),
        vec![oauth_error("invalid_client")],
        pending(),
    )
    .await;
    let (presenter, _rx) = Recorder::new();
    let error = builder(&server, presenter)
        .build()
        .unwrap()
        .credentials()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::OAuth, "{error}");
    assert_eq!(error.oauth_error_code(), Some("invalid_client"));
}

#[tokio::test(start_paused = true)]
async fn google_verification_url_alias() {
    let _clock = Clocked::install();
    let server = idp(
        device_response(json!({
            "verification_uri": null,
            "verification_uri_complete": null,
            "verification_url": "https://www.google.com/device",
        })),
        vec![],
        token("at", None),
    )
    .await;
    let (presenter, _rx) = Recorder::new();
    builder(&server, presenter.clone())
        .build()
        .unwrap()
        .credentials()
        .await
        .unwrap();
    let prompt = &presenter.prompts()[0];
    assert_eq!(prompt.verification_uri, "https://www.google.com/device");
    assert_eq!(prompt.verification_uri_complete, None);
    assert_eq!(prompt.url(), "https://www.google.com/device");
    assert_eq!(prompt.user_code, "WDJB-MJHT");
    assert_eq!(prompt.expires_in, SECS(600));
}

#[tokio::test(start_paused = true)]
async fn no_interval_means_five_seconds() {
    let clock = Clocked::install();
    let server = idp(
        device_response(json!({ "interval": null })),
        vec![pending(), pending()],
        token("at", None),
    )
    .await;
    let (presenter, _rx) = Recorder::new();
    builder(&server, presenter)
        .build()
        .unwrap()
        .credentials()
        .await
        .unwrap();
    assert_eq!(clock.layer.poll_gaps(), [SECS(5), SECS(5), SECS(5)]);
}

#[tokio::test(start_paused = true)]
async fn the_default_interval_applies_when_the_server_names_none() {
    let clock = Clocked::install();
    let server = idp(
        device_response(json!({ "interval": null })),
        vec![pending(), pending()],
        token("at", None),
    )
    .await;
    let (presenter, _rx) = Recorder::new();
    builder(&server, presenter)
        .default_interval(SECS(2))
        .build()
        .unwrap()
        .credentials()
        .await
        .unwrap();
    assert_eq!(clock.layer.poll_gaps(), [SECS(2), SECS(2), SECS(2)]);
}

#[tokio::test(start_paused = true)]
async fn the_server_interval_beats_the_default_interval() {
    let clock = Clocked::install();
    let server = idp(
        device_response(json!({ "interval": 7 })),
        vec![pending()],
        token("at", None),
    )
    .await;
    let (presenter, _rx) = Recorder::new();
    builder(&server, presenter)
        .default_interval(SECS(2))
        .build()
        .unwrap()
        .credentials()
        .await
        .unwrap();
    assert_eq!(clock.layer.poll_gaps(), [SECS(7), SECS(7)]);
}

#[tokio::test(start_paused = true)]
async fn the_server_interval_is_used() {
    let clock = Clocked::install();
    let server = idp(
        device_response(json!({ "interval": 7 })),
        vec![pending(), slow_down()],
        token("at", None),
    )
    .await;
    let (presenter, _rx) = Recorder::new();
    builder(&server, presenter)
        .build()
        .unwrap()
        .credentials()
        .await
        .unwrap();
    assert_eq!(clock.layer.poll_gaps(), [SECS(7), SECS(7), SECS(12)]);
}

#[tokio::test(start_paused = true)]
async fn request_parameters() {
    let _clock = Clocked::install();
    let server = idp(
        device_response(json!({})),
        vec![pending()],
        token("at", None),
    )
    .await;
    let (presenter, _rx) = Recorder::new();
    builder(&server, presenter.clone())
        .scopes(["openid", "offline"])
        .audience("https://api.example")
        .build()
        .unwrap()
        .credentials()
        .await
        .unwrap();

    let device = requests_to(&server, "/device").await;
    assert_eq!(device.len(), 1);
    let form_device = form(&device[0]);
    assert_eq!(
        form_device.get("client_id").map(String::as_str),
        Some("flyte-cli")
    );
    assert_eq!(
        form_device.get("scope").map(String::as_str),
        Some("openid offline")
    );
    assert_eq!(
        form_device.get("audience").map(String::as_str),
        Some("https://api.example")
    );
    assert!(
        !form_device.contains_key("code_challenge"),
        "no PKCE unless asked"
    );
    for poll in requests_to(&server, "/token").await {
        let f = form(&poll);
        assert_eq!(
            f["grant_type"],
            "urn:ietf:params:oauth:grant-type:device_code"
        );
        assert_eq!(f["device_code"], "dc-SECRET-device-code-4711");
        assert_eq!(f["client_id"], "flyte-cli");
        assert!(!f.contains_key("code_verifier"));
    }

    // Empty scopes and audience are not sent at all.
    let server = idp(device_response(json!({})), vec![], token("at", None)).await;
    builder(&server, presenter)
        .scopes(Vec::<String>::new())
        .audience("")
        .build()
        .unwrap()
        .credentials()
        .await
        .unwrap();
    let f = form(&requests_to(&server, "/device").await[0]);
    assert!(
        !f.contains_key("scope") && !f.contains_key("audience"),
        "{f:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn pkce_challenge_and_verifier() {
    let _clock = Clocked::install();
    let server = idp(
        device_response(json!({})),
        vec![pending()],
        token("at", None),
    )
    .await;
    let (presenter, _rx) = Recorder::new();
    builder(&server, presenter)
        .pkce(true)
        .build()
        .unwrap()
        .credentials()
        .await
        .unwrap();

    let device = form(&requests_to(&server, "/device").await[0]);
    assert_eq!(device["code_challenge_method"], "S256");
    let polls = requests_to(&server, "/token").await;
    assert_eq!(polls.len(), 2);
    let verifier = form(&polls[0])["code_verifier"].clone();
    assert_eq!(
        form(&polls[1])["code_verifier"],
        verifier,
        "one verifier per authorization"
    );
    // The shared `auth_oauth2::pkce` verifier: 64 random bytes, 86 characters.
    assert_eq!(verifier.len(), 86, "{verifier}");
    use base64::Engine as _;
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    assert_eq!(device["code_challenge"], challenge);
}

#[tokio::test(start_paused = true)]
async fn the_presenter_sees_every_step() {
    let _clock = Clocked::install();
    let server = idp(
        device_response(json!({})),
        vec![pending()],
        token("at", None),
    )
    .await;
    let (presenter, _rx) = Recorder::new();
    builder(&server, presenter.clone())
        .build()
        .unwrap()
        .credentials()
        .await
        .unwrap();
    assert_eq!(
        presenter.events(),
        [
            Event::Prompt(auth_device::DevicePrompt::new(
                "https://idp.example/device",
                Some("https://idp.example/device?user_code=WDJB-MJHT".into()),
                "WDJB-MJHT",
                SECS(600),
            )),
            Event::Waiting(SECS(600)),
            Event::Waiting(SECS(595)),
            Event::Approved,
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn json_lines_presenter_end_to_end() {
    let _clock = Clocked::install();
    let server = idp(
        device_response(json!({ "expires_in": 300 })),
        vec![pending()],
        token("at", None),
    )
    .await;
    let buf = SharedBuf::default();
    let auth = builder(&server, Recorder::new().0)
        .presenter(std::sync::Arc::new(
            auth_device::JsonLinesPresenter::with_writer(buf.clone()),
        ))
        .build()
        .unwrap();
    auth.credentials().await.unwrap();
    let lines: Vec<serde_json::Value> = buf
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            json!({"event": "device_authorization", "verification_uri": "https://idp.example/device",
                   "verification_uri_complete": "https://idp.example/device?user_code=WDJB-MJHT",
                   "user_code": "WDJB-MJHT", "expires_in": 300}),
            json!({"event": "waiting", "remaining_secs": 300}),
            json!({"event": "waiting", "remaining_secs": 295}),
            json!({"event": "approved"}),
        ]
    );

    let server = idp(
        device_response(json!({})),
        vec![oauth_error("access_denied")],
        pending(),
    )
    .await;
    let buf = SharedBuf::default();
    let auth = builder(&server, Recorder::new().0)
        .presenter(std::sync::Arc::new(
            auth_device::JsonLinesPresenter::with_writer(buf.clone()),
        ))
        .build()
        .unwrap();
    let error = auth.credentials().await.unwrap_err();
    let last: serde_json::Value = serde_json::from_str(buf.text().lines().last().unwrap()).unwrap();
    assert_eq!(last, json!({"event": "failed", "error": error.to_string()}));
}

#[tokio::test(start_paused = true)]
async fn waiting_reports_the_remaining_time_of_the_deadline() {
    let _clock = Clocked::install();
    let server = idp(
        device_response(json!({})),
        vec![pending(), unavailable()],
        token("at", None),
    )
    .await;
    let (presenter, _rx) = Recorder::new();
    builder(&server, presenter.clone())
        .time_limit(SECS(100))
        .build()
        .unwrap()
        .credentials()
        .await
        .unwrap();
    let waits: Vec<Duration> = presenter
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Waiting(d) => Some(d),
            _ => None,
        })
        .collect();
    assert_eq!(waits, [SECS(100), SECS(95), SECS(90)]);
}

/// The lifetime the prompt announced.
fn announced_lifetime(presenter: &Recorder) -> Duration {
    presenter.prompts()[0].expires_in
}

#[tokio::test(start_paused = true)]
async fn an_absurd_expires_in_and_interval_are_capped_not_a_panic() {
    let clock = Clocked::install();
    let server = idp(
        device_response(json!({ "expires_in": 1e30, "interval": 9_999_999_999_999u64 })),
        vec![pending()],
        token("at", None),
    )
    .await;
    let (presenter, _rx) = Recorder::new();
    let creds = builder(&server, presenter.clone())
        .build()
        .unwrap()
        .credentials()
        .await
        .unwrap();
    assert_eq!(creds.access_token().secret(), "at");
    // One day of code lifetime, one hour between polls.
    assert_eq!(announced_lifetime(&presenter), SECS(24 * 3600));
    assert_eq!(clock.layer.poll_gaps(), [SECS(3600), SECS(3600)]);
}

#[tokio::test(start_paused = true)]
async fn a_u64_max_expires_in_is_capped_not_a_panic() {
    let clock = Clocked::install();
    let server = idp(
        device_response(json!({ "expires_in": u64::MAX })),
        vec![pending()],
        token("at", None),
    )
    .await;
    let (presenter, _rx) = Recorder::new();
    builder(&server, presenter.clone())
        .build()
        .unwrap()
        .credentials()
        .await
        .unwrap();
    assert_eq!(announced_lifetime(&presenter), SECS(24 * 3600));
    assert_eq!(clock.layer.poll_gaps(), [SECS(5), SECS(5)]);
}

#[tokio::test(start_paused = true)]
async fn an_absurd_slow_down_interval_is_capped_not_a_panic() {
    let clock = Clocked::install();
    let server = idp(
        device_response(json!({ "expires_in": 86_400 })),
        vec![pending(), slow_down_to(9_999_999_999_999), pending()],
        token("at", None),
    )
    .await;
    let (presenter, _rx) = Recorder::new();
    builder(&server, presenter)
        .build()
        .unwrap()
        .credentials()
        .await
        .unwrap();
    assert_eq!(
        clock.layer.poll_gaps(),
        [SECS(5), SECS(5), SECS(3600), SECS(3600)]
    );
}

#[tokio::test(start_paused = true)]
async fn escape_sequences_from_the_provider_never_reach_the_terminal() {
    let _clock = Clocked::install();
    let server = idp(
        device_response(json!({
            // Clear the screen, then OSC 52: write to the clipboard.
            "user_code": "WDJB-\u{1b}[2J\u{1b}]52;c;ZXZpbA==\u{7}MJHT",
            "verification_uri_complete": "https://idp.example/device\u{1b}[8m",
        })),
        vec![],
        token("at", None),
    )
    .await;
    let buf = SharedBuf::default();
    builder(&server, Recorder::new().0)
        .presenter(std::sync::Arc::new(
            auth_device::TextPresenter::with_writer(buf.clone()),
        ))
        .build()
        .unwrap()
        .credentials()
        .await
        .unwrap();
    let text = buf.text();
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "{text:?}"
    );
    assert!(text.contains("WDJB- ]52;c;ZXZpbA== MJHT"), "{text:?}");
    assert!(text.contains("https://idp.example/device\n"), "{text:?}");
}
