//! Test support: a scripted identity provider on wiremock, a recording presenter, and the
//! glue that makes wiremock (real sockets, its own thread) work under tokio's paused clock.
//!
//! Under `start_paused = true`, tokio jumps the clock to the next timer whenever the runtime
//! is idle, even while a response from wiremock's thread is on its way; the next timer is
//! then the request's own time-out, which would fire at once. [`Clocked`] installs a tracing
//! layer that holds a `spawn_blocking` task (which inhibits the jump) for as long as a
//! `device_request` span of auth-device is open, that is, exactly while an HTTP call is in
//! flight, and records the paused-clock instant at which each call started. (Checked: without
//! the hold, the schedule test failed 3 of 10 runs on a loaded 2-core machine; with it, none.)

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth_core::{AuthError, RetryPolicy};
use auth_device::{
    DeviceCodeAuthenticator, DeviceCodeAuthenticatorBuilder, DevicePresenter, DevicePrompt,
};
use auth_oauth2::TransportOptions;
use serde_json::{Value, json};
use tokio::time::Instant;
use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, Registry};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub(crate) const SECS: fn(u64) -> Duration = Duration::from_secs;

/// One HTTP call of auth-device: which (`device_authorization`, `device_token`, `refresh`,
/// `client_config`) and when it started, on the paused clock.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) request: String,
    pub(crate) at: Instant,
}

#[derive(Default)]
struct LayerState {
    calls: Vec<Call>,
    holds: HashMap<Id, std::sync::mpsc::Sender<()>>,
}

/// The tracing layer described in the module docs.
#[derive(Clone, Default)]
pub(crate) struct InFlight {
    state: Arc<Mutex<LayerState>>,
}

struct RequestField(Option<String>);

impl Visit for RequestField {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "request" {
            self.0 = Some(value.to_string());
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "request" {
            self.0 = Some(format!("{value:?}").trim_matches('"').to_string());
        }
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for InFlight {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _ctx: Context<'_, S>) {
        if attrs.metadata().name() != "device_request" {
            return;
        }
        let mut request = RequestField(None);
        attrs.record(&mut request);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        // Runs until the span closes (the sender is dropped): no auto-advance meanwhile.
        tokio::task::spawn_blocking(move || {
            let _ = rx.recv();
        });
        let mut state = self.state.lock().unwrap();
        state.calls.push(Call {
            request: request.0.unwrap_or_default(),
            at: Instant::now(),
        });
        state.holds.insert(id.clone(), tx);
    }

    fn on_close(&self, id: Id, _ctx: Context<'_, S>) {
        self.state.lock().unwrap().holds.remove(&id);
    }
}

impl InFlight {
    pub(crate) fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    /// The start instants of the calls named `request`.
    pub(crate) fn starts(&self, request: &str) -> Vec<Instant> {
        self.calls()
            .into_iter()
            .filter(|c| c.request == request)
            .map(|c| c.at)
            .collect()
    }

    /// The gaps from the device authorization request to the first poll and between polls.
    pub(crate) fn poll_gaps(&self) -> Vec<Duration> {
        let mut points = self.starts("device_authorization");
        assert_eq!(
            points.len(),
            1,
            "one device authorization request: {:?}",
            self.calls()
        );
        points.extend(self.starts("device_token"));
        points.windows(2).map(|w| w[1] - w[0]).collect()
    }

    /// Waits (on the paused clock) until `n` polls have started.
    pub(crate) async fn wait_for_polls(&self, n: usize) {
        while self.starts("device_token").len() < n {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The layer installed as this thread's subscriber for the life of the value.
pub(crate) struct Clocked {
    pub(crate) layer: InFlight,
    _guard: tracing::subscriber::DefaultGuard,
}

impl Clocked {
    pub(crate) fn install() -> Self {
        let layer = InFlight::default();
        let guard = tracing::subscriber::set_default(Registry::default().with(layer.clone()));
        Self {
            layer,
            _guard: guard,
        }
    }

    /// The layer under a subscriber that also writes every event at TRACE level into
    /// `capture`.
    pub(crate) fn install_with_capture(capture: &auth_testkit::logs::LogCapture) -> Self {
        let layer = InFlight::default();
        let fmt = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(capture.clone());
        let subscriber = Registry::default()
            .with(layer.clone())
            .with(fmt.with_filter(tracing_subscriber::filter::LevelFilter::TRACE));
        let guard = tracing::subscriber::set_default(subscriber);
        Self {
            layer,
            _guard: guard,
        }
    }
}

/// Answers the token endpoint from a script, then with `fallback`.
pub(crate) struct Script {
    answers: Mutex<VecDeque<ResponseTemplate>>,
    fallback: ResponseTemplate,
}

impl Respond for Script {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        self.answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| self.fallback.clone())
    }
}

pub(crate) fn oauth_error(code: &str) -> ResponseTemplate {
    ResponseTemplate::new(400).set_body_json(json!({ "error": code }))
}

pub(crate) fn pending() -> ResponseTemplate {
    oauth_error("authorization_pending")
}

pub(crate) fn slow_down() -> ResponseTemplate {
    oauth_error("slow_down")
}

/// `slow_down` with the server's new `interval` (whole seconds) in the error body.
pub(crate) fn slow_down_to(interval: u64) -> ResponseTemplate {
    ResponseTemplate::new(400).set_body_json(json!({ "error": "slow_down", "interval": interval }))
}

pub(crate) fn unavailable() -> ResponseTemplate {
    ResponseTemplate::new(503).set_body_string("<html>Service Unavailable</html>")
}

pub(crate) fn token(access: &str, refresh: Option<&str>) -> ResponseTemplate {
    let mut body = json!({ "access_token": access, "token_type": "Bearer", "expires_in": 3600 });
    if let Some(r) = refresh {
        body["refresh_token"] = json!(r);
    }
    ResponseTemplate::new(200).set_body_json(body)
}

/// A device authorization response with the given extra fields (`null` removes one).
pub(crate) fn device_response(changes: Value) -> Value {
    let mut body = json!({
        "device_code": "dc-SECRET-device-code-4711",
        "user_code": "WDJB-MJHT",
        "verification_uri": "https://idp.example/device",
        "verification_uri_complete": "https://idp.example/device?user_code=WDJB-MJHT",
        "expires_in": 600,
        "interval": 5,
    });
    if let (Some(body), Some(changes)) = (body.as_object_mut(), changes.as_object()) {
        for (k, v) in changes {
            if v.is_null() {
                body.remove(k);
            } else {
                body.insert(k.clone(), v.clone());
            }
        }
    }
    body
}

/// A wiremock identity provider: `POST /device` answers `device`, `POST /token` follows
/// `script` and then answers `fallback`.
pub(crate) async fn idp(
    device: Value,
    script: Vec<ResponseTemplate>,
    fallback: ResponseTemplate,
) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/device"))
        .respond_with(ResponseTemplate::new(200).set_body_json(device))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(Script {
            answers: Mutex::new(script.into()),
            fallback,
        })
        .mount(&server)
        .await;
    server
}

/// A builder for `server` with static endpoints, no transport retries and `presenter`.
pub(crate) fn builder(
    server: &MockServer,
    presenter: Arc<Recorder>,
) -> DeviceCodeAuthenticatorBuilder {
    DeviceCodeAuthenticator::builder()
        .client_id("flyte-cli")
        .device_authorization_endpoint(format!("{}/device", server.uri()))
        .token_endpoint(format!("{}/token", server.uri()))
        .transport(TransportOptions::new().with_retry(RetryPolicy::none()))
        .presenter(presenter)
}

/// The form parameters of a received request.
pub(crate) fn form(request: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect()
}

/// The requests `server` received at `path`.
pub(crate) async fn requests_to(server: &MockServer, at: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == at)
        .collect()
}

/// What a presenter was told.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Event {
    Prompt(DevicePrompt),
    Waiting(Duration),
    Approved,
    Failed(String),
}

/// A presenter that records every event and sends each prompt over a channel (tests that
/// approve on a real identity provider read the URL from there).
#[derive(Debug)]
pub(crate) struct Recorder {
    events: Mutex<Vec<Event>>,
    prompts: tokio::sync::mpsc::UnboundedSender<DevicePrompt>,
}

impl Recorder {
    pub(crate) fn new() -> (
        Arc<Self>,
        tokio::sync::mpsc::UnboundedReceiver<DevicePrompt>,
    ) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (
            Arc::new(Self {
                events: Mutex::new(Vec::new()),
                prompts: tx,
            }),
            rx,
        )
    }

    pub(crate) fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }

    pub(crate) fn prompts(&self) -> Vec<DevicePrompt> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Prompt(p) => Some(p),
                _ => None,
            })
            .collect()
    }
}

impl DevicePresenter for Recorder {
    fn device_authorization(&self, prompt: &DevicePrompt) {
        self.events
            .lock()
            .unwrap()
            .push(Event::Prompt(prompt.clone()));
        let _ = self.prompts.send(prompt.clone());
    }

    fn waiting(&self, remaining: Duration) {
        self.events.lock().unwrap().push(Event::Waiting(remaining));
    }

    fn approved(&self) {
        self.events.lock().unwrap().push(Event::Approved);
    }

    fn failed(&self, error: &AuthError) {
        self.events
            .lock()
            .unwrap()
            .push(Event::Failed(error.to_string()));
    }
}

/// A writer the test reads back.
#[derive(Clone, Default)]
pub(crate) struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for SharedBuf {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedBuf {
    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}
