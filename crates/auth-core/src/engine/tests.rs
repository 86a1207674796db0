use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::testing::{ScriptedSource, Step};
use crate::{ErrorKind, MemoryStore, OAuthErrorResponse, TokioClock};

fn engine_with(source: Arc<ScriptedSource>, clock: Arc<TokioClock>) -> TokenEngine {
    TokenEngine::new(source, EngineOptions::default().with_clock(clock))
}

fn setup(source: ScriptedSource) -> (Arc<ScriptedSource>, Arc<TokioClock>) {
    let clock = Arc::new(TokioClock::new());
    (Arc::new(source.with_clock(clock.clone())), clock)
}

fn invalid_grant() -> AuthError {
    AuthError::oauth(OAuthErrorResponse::new("invalid_grant"), Some(400))
}

/// Lets spawned tasks run without moving the paused clock.
async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_cold_callers_cause_one_acquisition() {
    let (source, clock) = setup(ScriptedSource::gated());
    let engine = Arc::new(engine_with(source.clone(), clock));
    let callers: Vec<_> = (0..1000)
        .map(|_| {
            let e = engine.clone();
            tokio::spawn(async move { e.credentials().await })
        })
        .collect();
    // Wait until the one acquisition is under way, then let it finish.
    while source.fetches() == 0 {
        tokio::task::yield_now().await;
    }
    source.release(1);
    for c in callers {
        let creds = c.await.expect("caller task").expect("credentials");
        assert_eq!(creds.access_token().secret(), "fetch-1");
    }
    assert_eq!(source.fetches(), 1);
}

#[tokio::test(start_paused = true)]
async fn refresh_ahead_serves_current_token_while_refresh_is_blocked() {
    let (source, clock) = setup(ScriptedSource::gated());
    source.script_fetch([Step::Token("at-1", Some("rt-1"), Some(3600))]);
    source.script_refresh([Step::Token("at-2", None, Some(3600))]);
    let engine = engine_with(source.clone(), clock);
    source.release(1);
    assert_eq!(
        engine.credentials().await.unwrap().access_token().secret(),
        "at-1"
    );

    // 15 s before expiry: past the soft deadline (window >= 240 s), before the hard one (10 s).
    tokio::time::advance(Duration::from_secs(3600 - 15)).await;
    for _ in 0..100 {
        let c = engine.credentials().await.unwrap();
        assert_eq!(c.access_token().secret(), "at-1");
    }
    settle().await;
    assert_eq!(source.refreshes(), 1, "exactly one background refresh");

    source.release(1);
    settle().await;
    let c = engine.credentials().await.unwrap();
    assert_eq!(c.access_token().secret(), "at-2");
    // The refresh response had no refresh token: the old one is kept.
    assert_eq!(c.refresh_token().map(|r| r.secret()), Some("rt-1"));
    assert_eq!(source.fetches(), 1);
}

#[tokio::test(start_paused = true)]
async fn failed_soft_refresh_keeps_token_then_hard_expiry_fails_all_waiters_then_retries() {
    let (source, clock) = setup(ScriptedSource::gated());
    source.script_fetch([Step::Token("at-1", Some("rt-1"), Some(3600))]);
    let engine = Arc::new(TokenEngine::new(
        source.clone(),
        EngineOptions::default()
            .with_clock(clock)
            .with_retry(RetryPolicy::none()),
    ));
    source.release(1);
    engine.credentials().await.unwrap();

    // Soft refresh fails with a transient error: the valid token is still served.
    source.script_refresh([Step::Fail(AuthError::transport("connection reset"))]);
    tokio::time::advance(Duration::from_secs(3600 - 15)).await;
    assert_eq!(
        engine.credentials().await.unwrap().access_token().secret(),
        "at-1"
    );
    source.release(1);
    settle().await;
    assert_eq!(source.refreshes(), 1);
    assert_eq!(
        engine.credentials().await.unwrap().access_token().secret(),
        "at-1"
    );
    assert_eq!(
        source.refreshes(),
        1,
        "the failed refresh is rate-limited, not retried at once"
    );

    // Past hard expiry every waiter gets the one error.
    source.script_refresh([Step::Fail(AuthError::transport("connection refused"))]);
    tokio::time::advance(Duration::from_secs(10)).await;
    let waiters: Vec<_> = (0..10)
        .map(|_| {
            let e = engine.clone();
            tokio::spawn(async move { e.credentials().await })
        })
        .collect();
    settle().await;
    source.release(1);
    for w in waiters {
        let err = w.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Transport);
        assert!(err.message().contains("refused"), "{err}");
    }
    assert_eq!(source.refreshes(), 2);

    // The next call tries again, and succeeds.
    source.script_refresh([Step::Token("at-2", Some("rt-2"), Some(3600))]);
    source.release(1);
    assert_eq!(
        engine.credentials().await.unwrap().access_token().secret(),
        "at-2"
    );
    assert_eq!(source.refreshes(), 3);
    assert_eq!(
        source.fetches(),
        1,
        "a network error never starts the full flow"
    );
}

#[tokio::test(start_paused = true)]
async fn invalid_grant_drops_refresh_token_and_runs_full_flow_once() {
    let (source, clock) = setup(ScriptedSource::new().interactive());
    let store = Arc::new(MemoryStore::new());
    source.script_fetch([
        Step::Token("at-1", Some("rt-1"), Some(60)),
        Step::Token("at-2", Some("rt-2"), Some(60)),
    ]);
    source.script_refresh([Step::Fail(invalid_grant())]);
    let engine = TokenEngine::new(
        source.clone(),
        EngineOptions::default()
            .with_clock(clock)
            .with_store(Some(store.clone()), "idp"),
    );
    engine.credentials().await.unwrap();
    tokio::time::advance(Duration::from_secs(61)).await;
    let c = engine.credentials().await.unwrap();
    assert_eq!(c.access_token().secret(), "at-2");
    assert_eq!((source.refreshes(), source.fetches()), (1, 2));
    let stored = store.load("idp").await.unwrap().unwrap();
    assert_eq!(stored.refresh_token().map(|r| r.secret()), Some("rt-2"));
}

#[tokio::test(start_paused = true)]
async fn transient_refresh_error_is_retried_and_never_starts_full_flow() {
    let (source, clock) = setup(ScriptedSource::new().interactive());
    source.script_fetch([Step::Token("at-1", Some("rt-1"), Some(60))]);
    source.script_refresh([
        Step::Fail(AuthError::transport("reset")),
        Step::Fail(AuthError::timeout("no answer within 30s")),
        Step::Fail(AuthError::transport("reset again")),
    ]);
    let engine = engine_with(source.clone(), clock);
    engine.credentials().await.unwrap();
    tokio::time::advance(Duration::from_secs(61)).await;
    let err = engine.credentials().await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(source.refreshes(), 3, "default policy: three attempts");
    assert_eq!(source.fetches(), 1, "no browser for a network blip");
}

#[tokio::test(start_paused = true)]
async fn interaction_off_returns_interaction_required() {
    let (source, clock) = setup(ScriptedSource::new().interactive());
    let engine = TokenEngine::new(
        source.clone(),
        EngineOptions::default()
            .with_clock(clock)
            .with_interactive(false),
    );
    let err = engine.credentials().await.unwrap_err();
    assert!(err.is_interaction_required(), "{err}");
    assert_eq!(source.fetches(), 0);
}

#[tokio::test(start_paused = true)]
async fn stored_credentials_are_used_without_acquisition_and_rotation_is_saved_first() {
    let clock = Arc::new(TokioClock::new());
    let store = Arc::new(MemoryStore::new());
    let stored = Credentials::new(crate::AccessToken::new("stored-at"))
        .with_refresh_token(Some(crate::RefreshToken::new("stored-rt")))
        .with_expires_at(Some(clock.now() + Duration::from_secs(30)));
    store.save("idp", &stored).await.unwrap();

    let source = Arc::new(ScriptedSource::new().with_clock(clock.clone()));
    source.script_refresh([Step::Token("at-2", Some("rt-rotated"), Some(3600))]);
    let engine = TokenEngine::new(
        source.clone(),
        EngineOptions::default()
            .with_clock(clock)
            .with_store(Some(store.clone()), "idp"),
    );
    assert_eq!(
        engine.credentials().await.unwrap().access_token().secret(),
        "stored-at"
    );
    assert_eq!((source.fetches(), source.refreshes()), (0, 0));

    tokio::time::advance(Duration::from_secs(31)).await;
    let c = engine.credentials().await.unwrap();
    assert_eq!(c.access_token().secret(), "at-2");
    // By the time the caller holds the new token, the rotated refresh token is stored.
    let saved = store.load("idp").await.unwrap().unwrap();
    assert_eq!(
        saved.refresh_token().map(|r| r.secret()),
        Some("rt-rotated")
    );
    assert_eq!(saved.access_token().secret(), "at-2");
}

#[tokio::test(start_paused = true)]
async fn short_lived_tokens_refresh_once_per_token_not_in_a_loop() {
    let (source, clock) = setup(ScriptedSource::new());
    source.script_fetch([Step::Token("at-0", Some("rt"), Some(2))]);
    source.script_refresh((0..100).map(|_| Step::Token("at-n", Some("rt"), Some(2))));
    let engine = engine_with(source.clone(), clock);
    // Call every 50 ms for 20 s: ten 2-second lifetimes.
    for _ in 0..400 {
        let c = engine.credentials().await.unwrap();
        assert!(
            c.expires_at().unwrap() > engine.options().clock.now(),
            "never an expired token"
        );
        tokio::time::advance(Duration::from_millis(50)).await;
        settle().await;
    }
    let refreshes = source.refreshes();
    assert!(
        (9..=20).contains(&refreshes),
        "about one refresh per token, got {refreshes}"
    );
}

#[tokio::test(start_paused = true)]
async fn already_expired_tokens_do_not_cause_a_busy_loop() {
    let (source, clock) = setup(ScriptedSource::new());
    source.script_fetch((0..100).map(|_| Step::Token("stale", None, Some(0))));
    let engine = engine_with(source.clone(), clock);
    for _ in 0..100 {
        engine.credentials().await.unwrap();
    }
    assert_eq!(
        source.fetches(),
        1,
        "an expired token lives min_refresh_interval"
    );
    tokio::time::advance(Duration::from_millis(1100)).await;
    engine.credentials().await.unwrap();
    assert_eq!(source.fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn refresh_credentials_replaces_rejected_token_once_for_many_callers() {
    let (source, clock) = setup(ScriptedSource::new());
    source.script_fetch([
        Step::Token("at-1", None, None),
        Step::Token("at-2", None, None),
    ]);
    let engine = Arc::new(engine_with(source.clone(), clock));
    assert_eq!(
        engine.credentials().await.unwrap().access_token().secret(),
        "at-1"
    );
    for _ in 0..5 {
        let c = engine.refresh_credentials().await.unwrap();
        assert_eq!(c.access_token().secret(), "at-2");
    }
    assert_eq!(source.fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_engine_ends_its_background_work() {
    let (source, clock) = setup(ScriptedSource::gated());
    source.script_fetch([Step::Token("at-1", Some("rt-1"), Some(3600))]);
    let engine = engine_with(source.clone(), clock);
    source.release(1);
    engine.credentials().await.unwrap();
    tokio::time::advance(Duration::from_secs(3600 - 15)).await;
    engine.credentials().await.unwrap();
    settle().await;
    assert_eq!(
        source.refreshes(),
        1,
        "a background refresh is blocked in the source"
    );

    let weak = Arc::downgrade(&source);
    drop(source);
    assert!(
        weak.upgrade().is_some(),
        "the refresh task still holds the source"
    );
    drop(engine);
    settle().await;
    assert!(
        weak.upgrade().is_none(),
        "dropping the engine aborted the refresh task"
    );
}

#[tokio::test(start_paused = true)]
async fn a_caller_giving_up_cancels_the_foreground_acquisition() {
    let (source, clock) = setup(ScriptedSource::gated());
    let engine = engine_with(source.clone(), clock);
    let r = tokio::time::timeout(Duration::from_secs(1), engine.credentials()).await;
    assert!(r.is_err(), "timed out while the source is blocked");
    settle().await;
    let weak = Arc::downgrade(&source);
    let source_count_before = Arc::strong_count(&source);
    assert_eq!(
        source_count_before, 2,
        "only this test and the engine hold the source"
    );
    drop(source);
    drop(engine);
    assert!(weak.upgrade().is_none());
}

#[tokio::test(start_paused = true)]
async fn clear_forgets_memory_and_store() {
    let (source, clock) = setup(ScriptedSource::new());
    let store = Arc::new(MemoryStore::new());
    let engine = TokenEngine::new(
        source.clone(),
        EngineOptions::default()
            .with_clock(clock)
            .with_store(Some(store.clone()), "k"),
    );
    engine.credentials().await.unwrap();
    assert!(store.load("k").await.unwrap().is_some());
    engine.clear().await.unwrap();
    assert!(store.load("k").await.unwrap().is_none());
    assert!(engine.cached().is_none());
    assert_eq!(
        engine.credentials().await.unwrap().access_token().secret(),
        "fetch-2"
    );
}

#[test]
fn deadlines_shrink_for_short_tokens_and_never_exceed_half_the_lifetime() {
    let opts = EngineOptions::default();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    for life in [1u64, 2, 5, 30, 120, 600, 3600, 86_400] {
        let exp = now + Duration::from_secs(life);
        let (soft, hard) = deadlines(now, &expiring(exp, None), &opts);
        let (soft, hard) = (soft.unwrap(), hard.unwrap());
        assert!(soft <= hard && hard < exp, "life {life}");
        let margin = exp.duration_since(soft).unwrap();
        assert!(
            margin <= Duration::from_secs(life) / 2,
            "life {life}: margin {margin:?}"
        );
    }
    let exp = now + Duration::from_secs(3600);
    let (soft, hard) = deadlines(now, &expiring(exp, None), &opts);
    assert_eq!(
        exp.duration_since(hard.unwrap()).unwrap(),
        Duration::from_secs(10)
    );
    let window = hard.unwrap().duration_since(soft.unwrap()).unwrap();
    assert!(
        window >= Duration::from_secs(240) && window <= Duration::from_secs(300),
        "{window:?}"
    );
    let unknown = Credentials::new(crate::AccessToken::new("t"));
    assert_eq!(deadlines(now, &unknown, &opts), (None, None));
}

fn expiring(exp: SystemTime, issued: Option<SystemTime>) -> Credentials {
    Credentials::new(crate::AccessToken::new("t"))
        .with_expires_at(Some(exp))
        .with_issued_at(issued)
}

/// `status` and `token` in a new process decide with `Credentials::is_usable_at`; a token the
/// engine would hand out right after it was obtained must pass that rule too.
#[test]
fn a_short_lived_token_is_usable_by_the_shared_rule_right_after_it_was_issued() {
    let skew = crate::DEFAULT_HARD_SKEW;
    let issued = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let two_seconds = expiring(issued + Duration::from_secs(2), Some(issued));
    // A quarter of the lifetime (0.5 s), not the whole 10 s skew.
    assert!(two_seconds.is_usable_at(issued + Duration::from_millis(100), skew));
    assert!(two_seconds.is_usable_at(issued + Duration::from_millis(1400), skew));
    assert!(!two_seconds.is_usable_at(issued + Duration::from_millis(1500), skew));
    // An hour-long token stops 10 s before its expiry, wherever in its life it is looked at.
    let hour = expiring(issued + Duration::from_secs(3600), Some(issued));
    assert!(hour.is_usable_at(issued + Duration::from_secs(3589), skew));
    assert!(!hour.is_usable_at(issued + Duration::from_secs(3591), skew));
    // Without a known issue time the whole skew applies (the old rule).
    let unknown = expiring(issued + Duration::from_secs(2), None);
    assert!(!unknown.is_usable_at(issued, skew));
    // The engine's deadline agrees with the rule for a token installed when it was issued.
    let (_, hard) = deadlines(issued, &two_seconds, &EngineOptions::default());
    assert_eq!(hard, two_seconds.hard_deadline(skew));
    // A token that arrives late in its life (a JWT issued long ago) is never past its deadline
    // on arrival.
    let late = expiring(
        issued + Duration::from_secs(4),
        Some(issued - Duration::from_secs(3600)),
    );
    let (_, hard) = deadlines(issued, &late, &EngineOptions::default());
    assert!(hard.unwrap() > issued);
}

#[test]
fn backoff_is_capped_and_jittered() {
    let p = RetryPolicy::default();
    for retry in 0..30 {
        let b = p.backoff(retry);
        assert!(b <= p.max_backoff, "{b:?}");
        let full = p
            .initial_backoff
            .saturating_mul(1 << retry.min(20))
            .min(p.max_backoff);
        assert!(b >= full / 2, "{b:?} < half of {full:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn refresh_ahead_never_starts_an_interactive_login_in_the_background() {
    let (source, clock) = setup(ScriptedSource::new().interactive());
    source.script_fetch([
        Step::Token("at-1", None, Some(3600)),
        Step::Token("at-2", None, Some(3600)),
    ]);
    let engine = engine_with(source.clone(), clock);
    engine.credentials().await.unwrap();
    // Inside the soft window, with no refresh token: keep serving, no background login.
    tokio::time::advance(Duration::from_secs(3600 - 15)).await;
    for _ in 0..10 {
        assert_eq!(
            engine.credentials().await.unwrap().access_token().secret(),
            "at-1"
        );
        tokio::time::advance(Duration::from_millis(500)).await;
        settle().await;
    }
    assert_eq!(source.fetches(), 1, "no login while nobody waits for one");
    // Past the hard deadline the caller waits for the one login.
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(
        engine.credentials().await.unwrap().access_token().secret(),
        "at-2"
    );
    assert_eq!(source.fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn rejected_refresh_token_ahead_of_expiry_keeps_the_valid_token_and_defers_login() {
    let (source, clock) = setup(ScriptedSource::new().interactive());
    let store = Arc::new(MemoryStore::new());
    source.script_fetch([
        Step::Token("at-1", Some("rt-1"), Some(3600)),
        Step::Token("at-2", Some("rt-2"), Some(3600)),
    ]);
    source.script_refresh([Step::Fail(invalid_grant())]);
    let engine = TokenEngine::new(
        source.clone(),
        EngineOptions::default()
            .with_clock(clock)
            .with_store(Some(store.clone()), "k"),
    );
    engine.credentials().await.unwrap();
    tokio::time::advance(Duration::from_secs(3600 - 15)).await;
    assert_eq!(
        engine.credentials().await.unwrap().access_token().secret(),
        "at-1"
    );
    settle().await;
    assert_eq!((source.refreshes(), source.fetches()), (1, 1));
    let stored = store
        .load("k")
        .await
        .unwrap()
        .expect("the valid token stays stored");
    assert_eq!(stored.access_token().secret(), "at-1");
    assert!(
        stored.refresh_token().is_none(),
        "the rejected refresh token is gone"
    );
    for _ in 0..5 {
        assert_eq!(
            engine.credentials().await.unwrap().access_token().secret(),
            "at-1"
        );
        settle().await;
    }
    assert_eq!(source.fetches(), 1, "no background login");
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(
        engine.credentials().await.unwrap().access_token().secret(),
        "at-2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_racing_a_finishing_acquisition_do_not_start_another() {
    // Callers that saw an empty cache just before the acquisition installed its token, and
    // take the lock just after it finished, must use that token.
    for round in 0..200 {
        let source = Arc::new(ScriptedSource::new());
        let engine = Arc::new(TokenEngine::new(source.clone(), EngineOptions::default()));
        let callers: Vec<_> = (0..64)
            .map(|_| {
                let e = engine.clone();
                tokio::spawn(async move { e.credentials().await })
            })
            .collect();
        for c in callers {
            c.await.expect("caller").expect("credentials");
        }
        assert_eq!(source.fetches(), 1, "round {round}: a second acquisition");
    }
}

/// Providers answer a dead refresh token with a bare 400 or 401 (no `invalid_grant` body):
/// that is a rejection too, never a reason to fail forever.
#[tokio::test(start_paused = true)]
async fn a_bare_4xx_answer_to_the_refresh_grant_drops_the_refresh_token() {
    let bare = |status: u16| {
        AuthError::invalid_response("token request: unexpected answer with an empty body")
            .with_status(status)
            .with_retryable(false)
    };
    let with_body = AuthError::oauth(OAuthErrorResponse::new("invalid_request"), Some(400));
    for rejection in [bare(400), bare(401), bare(403), with_body] {
        let (source, clock) = setup(ScriptedSource::new().interactive());
        let store = Arc::new(MemoryStore::new());
        source.script_fetch([
            Step::Token("at-1", Some("rt-1"), Some(60)),
            Step::Token("at-2", Some("rt-2"), Some(60)),
        ]);
        source.script_refresh([Step::Fail(rejection.clone())]);
        let engine = TokenEngine::new(
            source.clone(),
            EngineOptions::default()
                .with_clock(clock)
                .with_store(Some(store.clone()), "idp"),
        );
        engine.credentials().await.unwrap();
        tokio::time::advance(Duration::from_secs(61)).await;
        let c = engine.credentials().await.unwrap();
        assert_eq!(c.access_token().secret(), "at-2", "{rejection}");
        assert_eq!(
            (source.refreshes(), source.fetches()),
            (1, 2),
            "{rejection}"
        );
        let stored = store.load("idp").await.unwrap().unwrap();
        assert_eq!(stored.refresh_token().map(|r| r.secret()), Some("rt-2"));
    }
}

#[tokio::test(start_paused = true)]
async fn a_dead_refresh_token_without_interaction_says_to_log_in_and_is_forgotten() {
    let (source, clock) = setup(ScriptedSource::new().interactive());
    let store = Arc::new(MemoryStore::new());
    let expired = Credentials::new(crate::AccessToken::new("at-old"))
        .with_refresh_token(Some(RefreshToken::new("rt-dead")))
        .with_expires_at(Some(clock.now() - Duration::from_secs(5)));
    store.save("idp", &expired).await.unwrap();
    source.script_refresh([Step::Fail(
        AuthError::invalid_response("token request: unexpected answer with an empty body")
            .with_status(400),
    )]);
    let engine = TokenEngine::new(
        source.clone(),
        EngineOptions::default()
            .with_clock(clock)
            .with_interactive(false)
            .with_store(Some(store.clone()), "idp"),
    );
    let err = engine.credentials().await.unwrap_err();
    assert!(err.is_interaction_required(), "{err}");
    assert!(err.to_string().contains("flyte-auth login"), "{err}");
    assert!(err.to_string().contains("refresh token"), "{err}");
    assert!(
        store.load("idp").await.unwrap().is_none(),
        "the dead refresh token (and its expired access token) are deleted"
    );
    assert_eq!(source.fetches(), 0);
}

#[tokio::test(start_paused = true)]
async fn transient_and_wrong_url_answers_keep_the_refresh_token() {
    for keep in [
        AuthError::transport("reset").with_status(503),
        AuthError::transport("slow down").with_status(429),
        AuthError::invalid_response("timeout").with_status(408),
        AuthError::configuration("token request: not found; check the URL").with_status(404),
    ] {
        assert!(!keep.is_grant_rejected(), "{keep}");
    }
}

#[tokio::test(start_paused = true)]
async fn login_replaces_stored_credentials_only_when_it_succeeds() {
    let (source, clock) = setup(ScriptedSource::new().interactive());
    let store = Arc::new(MemoryStore::new());
    source.script_fetch([
        Step::Token("at-1", Some("rt-1"), Some(3600)),
        Step::Fail(AuthError::timeout("the browser login timed out")),
        Step::Token("at-3", Some("rt-3"), Some(3600)),
    ]);
    let engine = TokenEngine::new(
        source.clone(),
        EngineOptions::default()
            .with_clock(clock)
            .with_store(Some(store.clone()), "idp"),
    );
    assert_eq!(
        engine.login().await.unwrap().access_token().secret(),
        "at-1"
    );
    // A valid token is cached, yet a login runs the full flow; it fails here.
    let err = engine.login().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    let stored = store.load("idp").await.unwrap().expect("still stored");
    assert_eq!(stored.access_token().secret(), "at-1");
    assert_eq!(
        engine.credentials().await.unwrap().access_token().secret(),
        "at-1",
        "the cached token survives a failed login"
    );
    assert_eq!(
        engine.login().await.unwrap().access_token().secret(),
        "at-3"
    );
    let stored = store.load("idp").await.unwrap().unwrap();
    assert_eq!(stored.refresh_token().map(|r| r.secret()), Some("rt-3"));
    assert_eq!((source.fetches(), source.refreshes()), (3, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_logins_share_one_flow() {
    let (source, clock) = setup(ScriptedSource::gated().interactive());
    let engine = Arc::new(engine_with(source.clone(), clock));
    let logins: Vec<_> = (0..8)
        .map(|_| {
            let e = engine.clone();
            tokio::spawn(async move { e.login().await })
        })
        .collect();
    while source.fetches() == 0 {
        tokio::task::yield_now().await;
    }
    source.release(1);
    for l in logins {
        let c = l.await.expect("task").expect("login");
        assert_eq!(c.access_token().secret(), "fetch-1");
    }
    assert_eq!(source.fetches(), 1);
}

#[tokio::test(start_paused = true)]
async fn login_with_interaction_off_is_refused_without_touching_the_store() {
    let (source, clock) = setup(ScriptedSource::new().interactive());
    let store = Arc::new(MemoryStore::new());
    let kept = Credentials::new(crate::AccessToken::new("at-kept"));
    store.save("idp", &kept).await.unwrap();
    let engine = TokenEngine::new(
        source.clone(),
        EngineOptions::default()
            .with_clock(clock)
            .with_interactive(false)
            .with_store(Some(store.clone()), "idp"),
    );
    let err = engine.login().await.unwrap_err();
    assert!(err.is_interaction_required(), "{err}");
    assert_eq!(store.load("idp").await.unwrap(), Some(kept));
    assert_eq!(source.fetches(), 0);
}

/// Library code never panics for want of a runtime: an acquisition outside tokio is an error
/// that says what to do; a fresh cached token is still served.
#[test]
fn outside_a_tokio_runtime_acquisition_is_an_error_not_a_panic() {
    let source = Arc::new(ScriptedSource::new());
    let engine = TokenEngine::new(
        source.clone(),
        EngineOptions::default().with_store(Some(Arc::new(MemoryStore::new())), "k"),
    );
    for err in [
        futures::executor::block_on(engine.credentials()).unwrap_err(),
        futures::executor::block_on(engine.refresh_credentials()).unwrap_err(),
        futures::executor::block_on(engine.login()).unwrap_err(),
        futures::executor::block_on(engine.authorization_header()).unwrap_err(),
        futures::executor::block_on(engine.clear()).unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::Configuration, "{err}");
        assert!(err.to_string().contains("tokio runtime"), "{err}");
        assert!(err.to_string().contains("BlockingAuthenticator"), "{err}");
    }
    assert_eq!(source.fetches(), 0);

    // Acquired inside a runtime, the token is served from the cache outside one.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let got = rt.block_on(engine.credentials()).unwrap();
    drop(rt);
    let cached = futures::executor::block_on(engine.credentials()).unwrap();
    assert_eq!(cached.access_token().secret(), got.access_token().secret());
}
