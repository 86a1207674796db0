//! Captures everything logged at TRACE level, so a test can assert that no secret appears.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;

/// A buffer that collects formatted log lines.
#[derive(Clone, Debug, Default)]
pub struct LogCapture {
    buf: Arc<Mutex<Vec<u8>>>,
}

impl LogCapture {
    /// Everything captured so far.
    pub fn contents(&self) -> String {
        let buf = self.buf.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// Panics with the offending excerpt if any of `secrets` was logged.
    pub fn assert_none_of(&self, secrets: &[&str]) {
        let logs = self.contents();
        assert!(
            !logs.is_empty(),
            "nothing was captured: is the subscriber installed?"
        );
        for s in secrets.iter().filter(|s| !s.is_empty()) {
            if let Some(at) = logs.find(s) {
                let start = logs[..at].rfind('\n').map_or(0, |i| i + 1);
                panic!(
                    "a secret was logged: {}",
                    &logs[start..(at + s.len()).min(logs.len())]
                );
            }
        }
    }

    /// Installs a TRACE-level subscriber for the current thread; logs go to this capture
    /// until the guard is dropped. For multi-threaded runtimes use
    /// [`install_global`](Self::install_global).
    pub fn install_thread(&self) -> tracing::subscriber::DefaultGuard {
        tracing::subscriber::set_default(self.subscriber())
    }

    /// Installs a TRACE-level subscriber for the whole process (once per test binary). Returns
    /// false if another global subscriber was already installed.
    pub fn install_global(&self) -> bool {
        tracing::subscriber::set_global_default(self.subscriber()).is_ok()
    }

    fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + use<> {
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(self.clone())
            .finish()
    }
}

/// The one capture of this test binary, installed as the global subscriber on first use:
/// it sees the events of every thread (a runtime's workers and blocking threads included),
/// which a thread-local subscriber misses. Every test of the binary writes into it, so a
/// test that asserts no secret was logged checks the other tests' logs too.
///
/// # Panics
///
/// If another global subscriber was installed first in this binary.
pub fn global() -> &'static LogCapture {
    static GLOBAL: std::sync::OnceLock<LogCapture> = std::sync::OnceLock::new();
    GLOBAL.get_or_init(|| {
        let capture = LogCapture::default();
        assert!(
            capture.install_global(),
            "another global tracing subscriber is installed in this test binary"
        );
        capture
    })
}

/// One write handle into a [`LogCapture`].
#[derive(Debug)]
pub struct CaptureWriter(Arc<Mutex<Vec<u8>>>);

impl Write for CaptureWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogCapture {
    type Writer = CaptureWriter;

    fn make_writer(&'a self) -> Self::Writer {
        CaptureWriter(self.buf.clone())
    }
}
