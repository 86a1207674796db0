//! Runs one command: argv without a shell, null stdin, capped stdout and stderr, a time limit
//! that kills the whole process group, and a child that is always reaped.
//!
//! On Unix the child is the leader of a new process group (`process_group(0)`), so everything
//! it starts (`sh -c 'helper &'`) can be killed with one `kill(-pgid, SIGKILL)`. The group is
//! killed when the time limit runs out, when an output cap is exceeded, and when the future
//! running the command is dropped (the authenticator was dropped or every caller gave up).
//! The group is never signalled after the child was reaped: from then on its id may belong to
//! someone else.

use std::fmt;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use auth_core::AuthError;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Child;
use tokio::time::Instant;

/// The most a command may print on stdout.
pub(crate) const STDOUT_LIMIT: usize = 1024 * 1024;
/// The most a command may print on stderr.
pub(crate) const STDERR_LIMIT: usize = 64 * 1024;
/// The most of stderr quoted in an error message.
const STDERR_EXCERPT: usize = 2 * 1024;
/// How long output is still read after the command exited, for pipes that a background
/// process it started keeps open.
const DRAIN_GRACE: Duration = Duration::from_millis(500);
/// How long to wait for a killed child to be reaped.
const REAP_LIMIT: Duration = Duration::from_secs(5);

/// What to run and within which limits.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct CommandSpec {
    pub(crate) argv: Vec<String>,
    pub(crate) timeout: Duration,
    pub(crate) stdout_limit: usize,
    pub(crate) stderr_limit: usize,
}

impl fmt::Debug for CommandSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandSpec")
            .field("command", &format_args!("{}", CommandLine(&self.argv)))
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A command that ran to its end (with any exit status).
pub(crate) struct Finished {
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
    pub(crate) status: ExitStatus,
}

/// Shell-quotes argv for messages, so that a user can paste the command line into a shell.
pub(crate) struct CommandLine<'a>(pub(crate) &'a [String]);

impl fmt::Display for CommandLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, arg) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            let plain = !arg.is_empty()
                && arg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&b));
            if plain {
                f.write_str(arg)?;
            } else {
                write!(f, "'{}'", arg.replace('\'', r"'\''"))?;
            }
        }
        Ok(())
    }
}

/// A duration as a person reads it: `60s`, `1.5s`, `300ms`.
pub(crate) struct HumanDuration(pub(crate) Duration);

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.subsec_nanos() == 0 {
            write!(f, "{}s", d.as_secs())
        } else if d < Duration::from_secs(1) {
            write!(f, "{}ms", d.as_millis())
        } else {
            write!(f, "{:.1}s", d.as_secs_f64())
        }
    }
}

fn human_size(bytes: usize) -> String {
    if bytes >= 1024 * 1024 && bytes.is_multiple_of(1024 * 1024) {
        format!("{} MiB", bytes / (1024 * 1024))
    } else if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

/// Why reading the output stopped early.
enum Stop {
    TooLong { stream: &'static str, limit: usize },
    Io(&'static str, std::io::Error),
}

/// The child and its process group, killed unless the child was reaped.
struct Running {
    child: Child,
    /// The process group id (= the child's pid), while the child is not reaped.
    #[cfg_attr(not(unix), allow(dead_code))]
    pgid: Option<u32>,
}

impl Running {
    fn kill_group(&mut self) {
        #[cfg(unix)]
        if let Some(pgid) = self.pgid {
            let pid = i32::try_from(pgid)
                .ok()
                .and_then(rustix::process::Pid::from_raw);
            if let Some(pid) = pid {
                // ESRCH (the group is already gone) is the only expected failure.
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            }
        }
        // Without process groups, kill the child itself; on Unix this is a no-op after the
        // group kill, and it makes tokio reap the child if it is dropped.
        let _ = self.child.start_kill();
    }

    /// Kills the group and waits (bounded) until the child is reaped.
    async fn kill_and_reap(&mut self) {
        self.kill_group();
        match tokio::time::timeout(REAP_LIMIT, self.child.wait()).await {
            Ok(Ok(_)) => self.pgid = None,
            Ok(Err(e)) => tracing::warn!(error = %e, "could not reap the killed command"),
            Err(_) => tracing::warn!(
                "the killed command was not reaped within {}; leaving it to the runtime",
                HumanDuration(REAP_LIMIT)
            ),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.pgid.is_some() {
            tracing::debug!("the token command is being abandoned; killing its process group");
            // `kill_on_drop` then has tokio reap the child in the background.
            self.kill_group();
        }
    }
}

async fn read_capped<R: AsyncRead + Unpin>(
    reader: Option<R>,
    buf: &mut Vec<u8>,
    limit: usize,
    stream: &'static str,
) -> Result<(), Stop> {
    let Some(mut reader) = reader else {
        return Ok(());
    };
    let mut chunk = [0u8; 8192];
    loop {
        let n = reader
            .read(&mut chunk)
            .await
            .map_err(|e| Stop::Io(stream, e))?;
        if n == 0 {
            return Ok(());
        }
        if buf.len() + n > limit {
            return Err(Stop::TooLong { stream, limit });
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Runs `spec` to its end. Errors: the program could not be started, the time limit ran out,
/// or the output was too long. A non-zero exit status is not an error here.
pub(crate) async fn run(spec: &CommandSpec) -> Result<Finished, AuthError> {
    let line = CommandLine(&spec.argv);
    let Some((program, args)) = spec.argv.split_first() else {
        return Err(AuthError::configuration("the token command is empty"));
    };
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    command.process_group(0);

    tracing::debug!(command = %line, timeout = %HumanDuration(spec.timeout), "running the token command");
    let child = command
        .spawn()
        .map_err(|e| spawn_error(program, &line, e))?;
    let pgid = child.id();
    let mut running = Running { child, pgid };
    let stdout = running.child.stdout.take();
    let stderr = running.child.stderr.take();
    let deadline = Instant::now() + spec.timeout;

    let mut out = Vec::new();
    let mut err = Vec::new();
    let outcome = {
        let reading = async {
            tokio::try_join!(
                read_capped(stdout, &mut out, spec.stdout_limit, "stdout"),
                read_capped(stderr, &mut err, spec.stderr_limit, "stderr"),
            )
            .map(|_| ())
        };
        let mut reading = std::pin::pin!(reading);
        let running = &mut running;
        tokio::time::timeout_at(deadline, async move {
            let (status, drained) = tokio::select! {
                read = &mut reading => {
                    read?;
                    (running.child.wait().await, true)
                }
                status = running.child.wait() => (status, false),
            };
            let status = status.map_err(|e| Stop::Io("the exit status", e))?;
            running.pgid = None;
            if !drained {
                // Everything the command wrote before it exited is in the pipes; a process it
                // left running in the background may keep them open, so do not wait for EOF.
                match tokio::time::timeout(DRAIN_GRACE, &mut reading).await {
                    Ok(read) => read?,
                    Err(_) => tracing::debug!(
                        "the token command exited but a process it started keeps its output open; \
                         using the output read so far"
                    ),
                }
            }
            Ok::<_, Stop>(status)
        })
        .await
    };

    match outcome {
        Ok(Ok(status)) => {
            tracing::debug!(
                command = %line,
                %status,
                stdout_bytes = out.len(),
                stderr_bytes = err.len(),
                "the token command finished"
            );
            Ok(Finished {
                stdout: out,
                stderr: err,
                status,
            })
        }
        Ok(Err(Stop::TooLong { stream, limit })) => {
            running.kill_and_reap().await;
            Err(AuthError::command_failed(format!(
                "`{line}` printed more than {} on {stream} and was stopped; a token command must \
                 print only a token or a small JSON document on stdout, and diagnostics on stderr",
                human_size(limit)
            )))
        }
        Ok(Err(Stop::Io(what, e))) => {
            running.kill_and_reap().await;
            Err(
                AuthError::command_failed(format!("could not read {what} of `{line}`"))
                    .with_source(e),
            )
        }
        Err(_elapsed) => {
            running.kill_and_reap().await;
            let mut message = format!(
                "`{line}` did not finish within {}; it was stopped together with every process \
                 it started. If it needs longer (for example to wait for a login), raise the \
                 command timeout",
                HumanDuration(spec.timeout)
            );
            let excerpt = stderr_excerpt(&err, &[&out]);
            if !excerpt.is_empty() {
                message.push_str(&format!("; its stderr so far: {excerpt}"));
            }
            // The command already used its whole time: running it again at once would only
            // make the caller wait twice as long.
            Err(AuthError::timeout(message).with_retryable(false))
        }
    }
}

fn spawn_error(program: &str, line: &CommandLine<'_>, e: std::io::Error) -> AuthError {
    let message = match e.kind() {
        std::io::ErrorKind::NotFound => {
            format!("command not found: {program} (is it installed and on PATH?)")
        }
        std::io::ErrorKind::PermissionDenied => {
            format!("command not executable: {program} (permission denied; check its file mode)")
        }
        _ => format!("could not start `{line}`"),
    };
    AuthError::command_failed(message).with_source(e)
}

/// The error for a command that exited unsuccessfully: its command line, exit status and
/// stderr. `stdout` is never quoted; it is only used to scrub a token that a command may have
/// repeated on stderr.
pub(crate) fn exit_error(argv: &[String], finished: &Finished) -> AuthError {
    let line = CommandLine(argv);
    let mut message = format!("`{line}` {}", describe_status(&finished.status));
    let excerpt = stderr_excerpt(&finished.stderr, &[&finished.stdout]);
    if excerpt.is_empty() {
        message.push_str(" and printed nothing on stderr");
    } else {
        message.push_str(&format!("; stderr: {excerpt}"));
    }
    AuthError::command_failed(message)
}

fn describe_status(status: &ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exited with status {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("was killed by signal {signal}");
        }
    }
    format!("ended with {status}")
}

/// At most [`STDERR_EXCERPT`] bytes of stderr (the end, where errors usually are), trimmed,
/// with control characters replaced and anything found in `scrub` (the command's stdout, which
/// may hold a token) redacted.
pub(crate) fn stderr_excerpt(stderr: &[u8], scrub: &[&[u8]]) -> String {
    let text = String::from_utf8_lossy(stderr);
    // Terminal escapes and bidi controls too: the message reaches a terminal.
    let mut text = auth_core::text::sanitize_lines(text.trim())
        .trim()
        .to_string();
    for secret in secrets_in(scrub) {
        text = text.replace(&secret, "[redacted]");
    }
    if text.len() > STDERR_EXCERPT {
        let mut start = text.len() - STDERR_EXCERPT;
        while !text.is_char_boundary(start) {
            start += 1;
        }
        text = format!("[…] {}", &text[start..]);
    }
    text
}

/// The shortest piece of stdout treated as a possible token: shorter words (`{`, `null`,
/// `true`, `Bearer`) are not tokens, and redacting them only garbles the message.
const MIN_SECRET_LEN: usize = 8;

/// Every token-like substring of `outputs` (a command's stdout): the words between
/// whitespace and JSON punctuation (`"{}[],:`), so that a compact `{"access_token":"eyJ..."}`
/// gives up its token, and, when an output is JSON, every string value in it (escapes
/// decoded). Longest first, so that a secret is redacted whole before any part of it.
fn secrets_in(outputs: &[&[u8]]) -> Vec<String> {
    let mut secrets: Vec<String> = Vec::new();
    for output in outputs {
        let text = String::from_utf8_lossy(output);
        secrets.extend(
            text.split(|c: char| c.is_whitespace() || "\"{}[],:".contains(c))
                .filter(|w| w.len() >= MIN_SECRET_LEN)
                .map(str::to_string),
        );
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(output) {
            json_strings(&value, &mut secrets);
        }
    }
    secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    secrets.dedup();
    secrets
}

/// Collects the string values (not the keys) of `value` that are at least
/// [`MIN_SECRET_LEN`] long.
fn json_strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) if s.len() >= MIN_SECRET_LEN => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| json_strings(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| json_strings(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn command_line_is_shell_quoted() {
        let a = argv(&[
            "az",
            "account",
            "get-access-token",
            "--resource",
            "api://x y",
            "it's",
            "",
        ]);
        assert_eq!(
            CommandLine(&a).to_string(),
            r"az account get-access-token --resource 'api://x y' 'it'\''s' ''"
        );
        let a = argv(&[
            "/usr/bin/gettoken",
            "--scope=a,b",
            "user@host",
            "$HOME",
            "a;b",
        ]);
        assert_eq!(
            CommandLine(&a).to_string(),
            "/usr/bin/gettoken --scope=a,b user@host '$HOME' 'a;b'"
        );
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(HumanDuration(Duration::from_secs(60)).to_string(), "60s");
        assert_eq!(
            HumanDuration(Duration::from_millis(300)).to_string(),
            "300ms"
        );
        assert_eq!(
            HumanDuration(Duration::from_millis(1500)).to_string(),
            "1.5s"
        );
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_size(STDOUT_LIMIT), "1 MiB");
        assert_eq!(human_size(STDERR_LIMIT), "64 KiB");
        assert_eq!(human_size(100), "100 bytes");
    }

    #[test]
    fn stderr_excerpt_is_capped_trimmed_and_scrubbed() {
        let long = format!("{}END", "x".repeat(10_000));
        let e = stderr_excerpt(long.as_bytes(), &[]);
        assert!(
            e.len() <= STDERR_EXCERPT + 8 && e.ends_with("END") && e.starts_with("[…]"),
            "{e}"
        );

        let e = stderr_excerpt(
            b"  \x1b[31merror\x1b[0m: token eyJhbGciOiJIUzI1 rejected\r\n",
            &[b"eyJhbGciOiJIUzI1\n"],
        );
        // Escape sequences go whole, bidi overrides too (they would reorder the message).
        assert_eq!(e, "error : token [redacted] rejected");
        let e = stderr_excerpt("bad \u{202e}txt.exe\u{2066} file".as_bytes(), &[]);
        assert_eq!(e, "bad  txt.exe  file");

        // Compact JSON on stdout: the token inside it is found and redacted.
        let e = stderr_excerpt(
            b"refused tok-SECRET-123456 (expired at 2030-01-01)",
            &[br#"{"access_token":"tok-SECRET-123456","expiry":"2030-01-01"}"#],
        );
        assert_eq!(e, "refused [redacted] (expired at [redacted])");
        // A JSON string with an escape: its decoded value is redacted too.
        let e = stderr_excerpt(b"got a/b-SECRET-99", &[br#"{"token":"a\/b-SECRET-99"}"#]);
        assert_eq!(e, "got [redacted]");

        // Multi-byte characters at the cut do not panic.
        let wide = "é".repeat(3000);
        let e = stderr_excerpt(wide.as_bytes(), &[]);
        assert!(e.ends_with('é'));
    }
}
