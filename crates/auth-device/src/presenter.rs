//! Showing the user where to go and which code to enter.
//!
//! The flow calls a [`DevicePresenter`] at each step: once when the authorization starts
//! ([`device_authorization`](DevicePresenter::device_authorization)), before each wait
//! ([`waiting`](DevicePresenter::waiting)), and at the end
//! ([`approved`](DevicePresenter::approved) or [`failed`](DevicePresenter::failed)).
//!
//! - [`TextPresenter`] (the default) writes the URL and, on its own line, the user code to
//!   stderr.
//! - [`JsonLinesPresenter`] writes one JSON object per event, for tools that drive the login.
//! - `QrPresenter` (feature `qr`) adds a QR code of the URL, rendered with Unicode half blocks.
//!
//! The user code is meant to be shown; the device code is a secret and never reaches a
//! presenter.

use std::fmt;
use std::io::{self, Write};
use std::sync::Mutex;
use std::time::Duration;

use auth_core::AuthError;
use auth_oauth2::sanitize_for_terminal;

/// What the user needs to approve a device authorization (RFC 8628 §3.3).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DevicePrompt {
    /// The page where the user enters the code (`verification_uri`, or Google's
    /// `verification_url`).
    pub verification_uri: String,
    /// The page with the code already filled in, when the provider sends one.
    pub verification_uri_complete: Option<String>,
    /// The code the user enters or confirms. Not a secret: it is meant to be shown.
    pub user_code: String,
    /// How long the code stays valid.
    pub expires_in: Duration,
}

/// The longest URI or user code shown, in characters; longer server text is cut.
const MAX_SHOWN: usize = 2048;

impl DevicePrompt {
    /// A prompt. The URIs and the user code come from the identity provider, so they are
    /// made safe to print first ([`auth_oauth2::sanitize_for_terminal`]): terminal escape
    /// sequences and other control characters are removed, and each is cut at 2048
    /// characters.
    pub fn new(
        verification_uri: impl Into<String>,
        verification_uri_complete: Option<String>,
        user_code: impl Into<String>,
        expires_in: Duration,
    ) -> Self {
        let shown = |text: &str| sanitize_for_terminal(text, MAX_SHOWN);
        Self {
            verification_uri: shown(&verification_uri.into()),
            verification_uri_complete: verification_uri_complete
                .map(|u| shown(&u))
                .filter(|u| !u.is_empty()),
            user_code: shown(&user_code.into()),
            expires_in,
        }
    }

    /// The URL to open: `verification_uri_complete` when there is one, else
    /// `verification_uri`.
    pub fn url(&self) -> &str {
        self.verification_uri_complete
            .as_deref()
            .unwrap_or(&self.verification_uri)
    }
}

/// Shows the progress of a device authorization to the user (or to a program).
///
/// Methods are called from the task that runs the flow and must not block for long. Only
/// [`device_authorization`](Self::device_authorization) is required.
pub trait DevicePresenter: Send + Sync + fmt::Debug {
    /// The authorization started: show where to go and which code to enter.
    fn device_authorization(&self, prompt: &DevicePrompt);

    /// The flow is about to wait before polling again; the code (or the configured time
    /// limit) runs out in `remaining`. A terminal presenter can drive a spinner or a
    /// countdown from this.
    fn waiting(&self, remaining: Duration) {
        let _ = remaining;
    }

    /// The user approved; credentials were received.
    fn approved(&self) {}

    /// The flow failed (denied, expired, timed out, or a network or provider error). The
    /// error is returned to the caller as well.
    fn failed(&self, error: &AuthError) {
        let _ = error;
    }
}

/// Where a presenter writes: stderr, or a writer given by the application.
struct Sink(Mutex<Box<dyn Write + Send>>);

impl Sink {
    fn stderr() -> Self {
        Self(Mutex::new(Box::new(io::stderr())))
    }

    fn new(writer: impl Write + Send + 'static) -> Self {
        Self(Mutex::new(Box::new(writer)))
    }

    /// Writes `text` in one go. A presenter cannot fail the flow: a broken terminal is
    /// logged and otherwise ignored.
    fn write(&self, text: &str) {
        // The writer holds no invariant a panic elsewhere could break.
        let mut w = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = w.write_all(text.as_bytes()).and_then(|()| w.flush()) {
            tracing::warn!(error = %e, "could not write the device login prompt");
        }
    }
}

impl fmt::Debug for Sink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sink")
    }
}

/// The default presenter: writes the URL to open and, on its own line, the user code.
///
/// ```text
/// To sign in, open this page in a browser on any device:
///
///     https://idp.example.com/device?user_code=WDJB-MJHT
///
/// and confirm that it shows this code:
///
///     WDJB-MJHT
///
/// The code expires in 10 minutes.
/// ```
///
/// It prints nothing while waiting (a command-line tool can draw a spinner from
/// [`DevicePresenter::waiting`] by wrapping it) and nothing on failure: the error goes to
/// the caller, which reports it.
#[derive(Debug)]
pub struct TextPresenter {
    sink: Sink,
}

impl TextPresenter {
    /// A presenter writing to stderr.
    pub fn new() -> Self {
        Self {
            sink: Sink::stderr(),
        }
    }

    /// A presenter writing to `writer`.
    pub fn with_writer(writer: impl Write + Send + 'static) -> Self {
        Self {
            sink: Sink::new(writer),
        }
    }

    /// Writes `text` as it is (for presenters that add to the prompt).
    #[cfg_attr(not(feature = "qr"), allow(dead_code))]
    pub(crate) fn write_raw(&self, text: &str) {
        self.sink.write(text);
    }

    /// The prompt as written by this presenter.
    pub fn render(prompt: &DevicePrompt) -> String {
        let action = if prompt.verification_uri_complete.is_some() {
            "and confirm that it shows this code"
        } else {
            "and enter this code"
        };
        format!(
            "To sign in, open this page in a browser on any device:\n\n    {}\n\n{action}:\n\n    {}\n\n\
             The code expires in {}.\n",
            prompt.url(),
            prompt.user_code,
            human_duration(prompt.expires_in),
        )
    }
}

impl Default for TextPresenter {
    fn default() -> Self {
        Self::new()
    }
}

impl DevicePresenter for TextPresenter {
    fn device_authorization(&self, prompt: &DevicePrompt) {
        self.sink.write(&Self::render(prompt));
    }

    fn approved(&self) {
        self.sink.write("Sign-in approved.\n");
    }
}

/// A machine-readable presenter: one JSON object per line and event.
///
/// ```text
/// {"event":"device_authorization","verification_uri":"https://idp/device","verification_uri_complete":"https://idp/device?user_code=WDJB-MJHT","user_code":"WDJB-MJHT","expires_in":600}
/// {"event":"waiting","remaining_secs":595}
/// {"event":"approved"}
/// {"event":"failed","error":"access denied: ..."}
/// ```
///
/// `verification_uri_complete` is `null` when the provider sent none; `expires_in` and
/// `remaining_secs` are whole seconds.
#[derive(Debug)]
pub struct JsonLinesPresenter {
    sink: Sink,
}

impl JsonLinesPresenter {
    /// A presenter writing to stderr.
    pub fn new() -> Self {
        Self {
            sink: Sink::stderr(),
        }
    }

    /// A presenter writing to `writer`.
    pub fn with_writer(writer: impl Write + Send + 'static) -> Self {
        Self {
            sink: Sink::new(writer),
        }
    }

    fn emit(&self, value: serde_json::Value) {
        self.sink.write(&format!("{value}\n"));
    }
}

impl Default for JsonLinesPresenter {
    fn default() -> Self {
        Self::new()
    }
}

impl DevicePresenter for JsonLinesPresenter {
    fn device_authorization(&self, prompt: &DevicePrompt) {
        self.emit(serde_json::json!({
            "event": "device_authorization",
            "verification_uri": prompt.verification_uri,
            "verification_uri_complete": prompt.verification_uri_complete,
            "user_code": prompt.user_code,
            "expires_in": prompt.expires_in.as_secs(),
        }));
    }

    fn waiting(&self, remaining: Duration) {
        self.emit(serde_json::json!({ "event": "waiting", "remaining_secs": remaining.as_secs() }));
    }

    fn approved(&self) {
        self.emit(serde_json::json!({ "event": "approved" }));
    }

    fn failed(&self, error: &AuthError) {
        self.emit(serde_json::json!({ "event": "failed", "error": error.to_string() }));
    }
}

/// "10 minutes", "90 seconds", "1 minute": for the expiry line.
fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let plural = |n: u64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if (secs >= 120 && secs.is_multiple_of(60)) || secs >= 600 {
        // Rounded down: the code never lasts less than it says.
        plural(secs / 60, "minute")
    } else {
        plural(secs, "second")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Buf {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn prompt(complete: bool) -> DevicePrompt {
        DevicePrompt::new(
            "https://idp.example/device",
            complete.then(|| "https://idp.example/device?user_code=WDJB-MJHT".to_string()),
            "WDJB-MJHT",
            Duration::from_secs(600),
        )
    }

    #[test]
    fn text_prefers_the_complete_uri_and_shows_the_code_on_its_own_line() {
        let buf = Buf::default();
        let p = TextPresenter::with_writer(buf.clone());
        p.device_authorization(&prompt(true));
        p.waiting(Duration::from_secs(5));
        p.failed(&AuthError::timeout("x"));
        assert_eq!(
            buf.text(),
            "To sign in, open this page in a browser on any device:\n\n    \
             https://idp.example/device?user_code=WDJB-MJHT\n\n\
             and confirm that it shows this code:\n\n    WDJB-MJHT\n\n\
             The code expires in 10 minutes.\n"
        );
        assert!(buf.text().lines().any(|l| l.trim() == "WDJB-MJHT"));
    }

    #[test]
    fn text_without_complete_uri_asks_to_enter_the_code() {
        let text = TextPresenter::render(&prompt(false));
        assert!(
            text.contains("\n    https://idp.example/device\n"),
            "{text}"
        );
        assert!(
            text.contains("and enter this code:\n\n    WDJB-MJHT\n"),
            "{text}"
        );
    }

    #[test]
    fn json_lines_events() {
        let buf = Buf::default();
        let p = JsonLinesPresenter::with_writer(buf.clone());
        p.device_authorization(&prompt(true));
        p.device_authorization(&prompt(false));
        p.waiting(Duration::from_millis(595_900));
        p.approved();
        p.failed(&AuthError::new(
            auth_core::ErrorKind::AccessDenied,
            "the sign-in was denied",
        ));
        let lines: Vec<serde_json::Value> = buf
            .text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            lines,
            [
                serde_json::json!({"event": "device_authorization",
                    "verification_uri": "https://idp.example/device",
                    "verification_uri_complete": "https://idp.example/device?user_code=WDJB-MJHT",
                    "user_code": "WDJB-MJHT", "expires_in": 600}),
                serde_json::json!({"event": "device_authorization",
                    "verification_uri": "https://idp.example/device",
                    "verification_uri_complete": null,
                    "user_code": "WDJB-MJHT", "expires_in": 600}),
                serde_json::json!({"event": "waiting", "remaining_secs": 595}),
                serde_json::json!({"event": "approved"}),
                serde_json::json!({"event": "failed", "error": "access denied: the sign-in was denied"}),
            ]
        );
    }

    #[test]
    fn server_text_cannot_drive_the_terminal() {
        let p = DevicePrompt::new(
            "https://idp.example/device\u{1b}]8;;https://evil.example\u{7}",
            Some("\u{1b}[2J\u{1b}[H".to_string()),
            "WDJB-\u{1b}[1A\u{1b}[2KMJHT\u{9b}31m\u{202e}",
            Duration::from_secs(600),
        );
        let text = TextPresenter::render(&p);
        assert!(
            !text
                .chars()
                .any(|c| (c.is_control() && c != '\n') || c == '\u{202e}'),
            "{text:?}"
        );
        assert_eq!(p.user_code, "WDJB- MJHT 31m");
        // A complete URI that was nothing but escapes counts as none.
        assert_eq!(p.verification_uri_complete, None);
        assert_eq!(
            p.verification_uri,
            "https://idp.example/device ]8;;https://evil.example"
        );
    }

    #[test]
    fn empty_complete_uri_counts_as_none() {
        let p = DevicePrompt::new(
            "https://a/device",
            Some(" ".into()),
            "C",
            Duration::from_secs(1),
        );
        assert_eq!(p.verification_uri_complete, None);
        assert_eq!(p.url(), "https://a/device");
    }

    #[test]
    fn human_durations() {
        let h = |s| human_duration(Duration::from_secs(s));
        assert_eq!(h(600), "10 minutes");
        assert_eq!(h(1800), "30 minutes");
        assert_eq!(h(120), "2 minutes");
        assert_eq!(h(90), "90 seconds");
        assert_eq!(h(1), "1 second");
        assert_eq!(h(659), "10 minutes");
    }
}
