//! Diagnostics on stderr for people: in text mode without `-v`, a warning is one line,
//! `warning: <what happened and what to do>`, said once per run, not tracing's timestamped
//! record. `-v` (or `FLYTE_AUTH_LOG`) keeps the detailed log; `-o json` keeps JSON lines.

use std::collections::HashSet;
use std::fmt::{self, Write as _};
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// `warning: ...` / `error: ...` lines, each distinct line at most once.
#[derive(Debug)]
pub(crate) struct Human {
    said: Mutex<HashSet<String>>,
    /// Clear the line first (a progress line may be on it) when stderr is a terminal.
    tty: bool,
}

impl Human {
    pub(crate) fn new(tty: bool) -> Self {
        Self {
            said: Mutex::new(HashSet::new()),
            tty,
        }
    }

    /// The line for an event, without the newline; `None` if it was said already.
    fn line(&self, level: Level, message: &str, error: Option<&str>) -> Option<String> {
        let prefix = match level {
            Level::ERROR => "error",
            Level::WARN => "warning",
            Level::INFO => "info",
            _ => "debug",
        };
        let mut line = format!("{prefix}: {message}");
        if let Some(e) = error.filter(|e| !message.contains(*e)) {
            let _ = write!(line, " ({e})");
        }
        let mut said = self.said.lock().unwrap_or_else(|p| p.into_inner());
        said.insert(line.clone()).then_some(line)
    }
}

/// The `message` and `error` fields of an event; other fields are for `-v`.
#[derive(Default)]
struct Fields {
    message: String,
    error: Option<String>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_string(),
            "error" => self.error = Some(value.to_string()),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "error" => self.error = Some(format!("{value:?}")),
            _ => {}
        }
    }
}

impl<S, N> FormatEvent<S, N> for Human
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let Some(line) = self.line(
            *event.metadata().level(),
            fields.message.trim(),
            fields.error.as_deref(),
        ) else {
            // Said already: write nothing.
            return Ok(());
        };
        if self.tty {
            writer.write_str("\r\x1b[2K")?;
        }
        writeln!(writer, "{line}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_warning_said_once() {
        let h = Human::new(false);
        assert_eq!(
            h.line(
                Level::WARN,
                "could not open a browser; open the URL above",
                None
            )
            .as_deref(),
            Some("warning: could not open a browser; open the URL above")
        );
        assert_eq!(
            h.line(
                Level::WARN,
                "could not open a browser; open the URL above",
                None
            ),
            None
        );
        assert_eq!(
            h.line(Level::ERROR, "could not save", Some("locked"))
                .as_deref(),
            Some("error: could not save (locked)")
        );
        // An error already in the message is not repeated.
        assert_eq!(
            h.line(Level::WARN, "x: locked; in memory", Some("locked"))
                .as_deref(),
            Some("warning: x: locked; in memory")
        );
    }

    #[test]
    fn the_formatter_writes_human_lines_through_tracing() {
        let buf = std::sync::Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || Sink(sink.clone()))
            .event_format(Human::new(false))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(
                error = "boom",
                "could not open a browser; open the URL above"
            );
            tracing::warn!(
                error = "boom",
                "could not open a browser; open the URL above"
            );
        });
        let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "warning: could not open a browser; open the URL above (boom)\n"
        );
    }

    struct Sink(std::sync::Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
