//! How the device flow talks to the person at the terminal: the prompt, a spinner with the
//! time left while waiting (only when stderr is a terminal), or JSON lines with `-o json`.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use flyte_auth::AuthError;
use flyte_auth::device::{DevicePresenter, DevicePrompt, JsonLinesPresenter, TextPresenter};
use flyte_auth::pkce::LoginProgress;

/// The presenter for this run.
pub(crate) fn device_presenter(json: bool, qr: bool) -> Arc<dyn DevicePresenter> {
    if json {
        return Arc::new(JsonLinesPresenter::new());
    }
    Arc::new(Terminal {
        text: TextPresenter::new(),
        qr,
        frame: AtomicUsize::new(0),
        tty: std::io::stderr().is_terminal(),
    })
}

#[derive(Debug)]
struct Terminal {
    text: TextPresenter,
    qr: bool,
    frame: AtomicUsize,
    tty: bool,
}

const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

impl DevicePresenter for Terminal {
    fn device_authorization(&self, prompt: &DevicePrompt) {
        self.text.device_authorization(prompt);
        if self.qr {
            match flyte_auth::device::QrPresenter::render(prompt.url(), false) {
                Some(code) => eprintln!("{code}"),
                None => eprintln!("(the URL is too long for a QR code)"),
            }
        }
    }

    fn waiting(&self, remaining: Duration) {
        if !self.tty {
            return;
        }
        let f = FRAMES[self.frame.fetch_add(1, Ordering::Relaxed) % FRAMES.len()];
        let s = remaining.as_secs();
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r{f} Waiting for approval in the browser… {}:{:02} left ",
            s / 60,
            s % 60
        );
        let _ = err.flush();
    }

    fn approved(&self) {
        if self.tty {
            eprint!("\r\x1b[2K");
        }
        eprintln!("Approved.");
    }

    fn failed(&self, _error: &AuthError) {
        if self.tty {
            eprint!("\r\x1b[2K");
        }
    }
}

/// The progress line of a browser login: a spinner with the time left on a terminal (cleared
/// when the wait ends), JSON lines with `-o json`, nothing when stderr is not a terminal.
/// With `paste` the person types on the terminal: no spinner then, it would overwrite the
/// typing.
pub(crate) fn pkce_progress(json: bool, paste: bool) -> Arc<dyn LoginProgress> {
    Arc::new(BrowserWait {
        json,
        tty: std::io::stderr().is_terminal() && !paste,
        frame: AtomicUsize::new(0),
    })
}

#[derive(Debug)]
struct BrowserWait {
    json: bool,
    tty: bool,
    frame: AtomicUsize,
}

impl LoginProgress for BrowserWait {
    fn waiting(&self, remaining: Duration) {
        let s = remaining.as_secs();
        if self.json {
            eprintln!(
                "{}",
                serde_json::json!({"event": "waiting", "remaining_secs": s})
            );
            return;
        }
        if !self.tty {
            return;
        }
        let f = FRAMES[self.frame.fetch_add(1, Ordering::Relaxed) % FRAMES.len()];
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2K{f} Waiting for the login in the browser… {}:{:02} left (Ctrl-C to cancel)",
            s / 60,
            s % 60
        );
        let _ = err.flush();
    }

    fn finished(&self) {
        if self.tty && !self.json {
            eprint!("\r\x1b[2K");
        }
    }
}
