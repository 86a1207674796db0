//! Commands that fail: exit status, missing program, unusable output, too much output.

use auth_core::{Authenticator, ErrorKind};

use crate::support::{auth, fixture, scratch};

#[tokio::test]
async fn exit_1_gives_command_line_status_and_stderr() {
    let script = fixture("fail.sh");
    let e = auth(&[&script, "--audience", "my api"])
        .credentials()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CommandFailed);
    assert!(!e.is_retryable());
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("`{script} --audience 'my api'`")),
        "copy-pasteable command line: {msg}"
    );
    assert!(msg.contains("exited with status 1"), "{msg}");
    assert!(
        msg.contains("error: not logged in; run `gettoken login` first"),
        "stderr: {msg}"
    );
    assert!(
        !msg.contains("stdout-token-4f9a1c2e"),
        "stdout must never be shown: {msg}"
    );
    assert!(!format!("{e:?}").contains("stdout-token-4f9a1c2e"));
}

#[tokio::test]
async fn a_token_repeated_on_stderr_is_redacted() {
    let e = auth(&[&fixture("echo_stdout_to_stderr.sh")])
        .credentials()
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("exited with status 3"), "{msg}");
    assert!(
        msg.contains("debug: got [redacted] but the server said no"),
        "{msg}"
    );
    assert!(!msg.contains("leaked-token-7d3b9e01"), "{msg}");
}

#[tokio::test]
async fn a_token_from_compact_json_repeated_on_stderr_is_redacted() {
    let e = auth(&[&fixture("echo_json_token_to_stderr.sh")])
        .credentials()
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("exited with status 1"), "{msg}");
    assert!(msg.contains("the API refused [redacted]"), "{msg}");
    assert!(!msg.contains("SECRET"), "{msg}");
    assert!(!format!("{e:?}").contains("SECRET"));
}

#[tokio::test]
async fn killed_by_a_signal() {
    let e = auth(&["sh", "-c", "kill -TERM $$"])
        .credentials()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CommandFailed);
    assert!(e.to_string().contains("was killed by signal 15"), "{e}");
    assert!(e.to_string().contains("printed nothing on stderr"), "{e}");
}

#[tokio::test]
async fn missing_program_is_named() {
    let e = auth(&["flyte-auth-no-such-command-7f3a", "--flag"])
        .credentials()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CommandFailed);
    assert!(!e.is_retryable());
    assert_eq!(
        e.to_string(),
        "command failed: command not found: flyte-auth-no-such-command-7f3a (is it installed and on PATH?)"
    );
    let e = auth(&["/no/such/dir/gettoken"])
        .credentials()
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("command not found: /no/such/dir/gettoken"),
        "{e}"
    );
}

#[tokio::test]
async fn program_that_is_not_executable() {
    let dir = scratch("not-executable");
    let path = dir.join("gettoken");
    std::fs::write(&path, "#!/bin/sh\necho tok\n").expect("write");
    let path = path.display().to_string();
    let e = auth(&[&path]).credentials().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CommandFailed);
    assert!(
        e.to_string()
            .contains(&format!("command not executable: {path}")),
        "{e}"
    );
}

#[tokio::test]
async fn empty_output_is_an_error() {
    let e = auth(&["true"]).credentials().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CommandFailed);
    assert_eq!(
        e.to_string(),
        "command failed: `true`: printed nothing on stdout; expected a token or a JSON document holding one"
    );
    let e = auth(&["printf", "  \\n\\n"])
        .credentials()
        .await
        .unwrap_err();
    assert!(e.to_string().contains("printed nothing on stdout"), "{e}");
}

#[tokio::test]
async fn json_without_a_token_names_the_fields() {
    let dir = scratch("json-without-token");
    let file = dir.join("out.json");
    std::fs::write(&file, r#"{"error":"login required","hint":"sekrit-xyz"}"#).expect("write");
    let e = auth(&["cat", &file.display().to_string()])
        .credentials()
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("printed JSON without a token") && msg.contains("[error, hint]"),
        "{msg}"
    );
    assert!(
        !msg.contains("sekrit-xyz") && !msg.contains("login required"),
        "{msg}"
    );
}

#[tokio::test]
async fn ten_megabytes_of_output_are_refused() {
    let e = auth(&[&fixture("flood.sh")])
        .credentials()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CommandFailed);
    let msg = e.to_string();
    assert!(
        msg.contains("printed more than 1 MiB on stdout and was stopped"),
        "{msg}"
    );
    assert!(!msg.contains("aaaa"), "{msg}");
}

#[tokio::test]
async fn endless_output_is_refused() {
    // `yes` never stops: only the cap ends this run (the time limit is 60 s), so reading
    // cannot be buffering the whole output.
    let e = auth(&["yes", "sekrit"]).credentials().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CommandFailed, "{e}");
    assert!(e.to_string().contains("more than 1 MiB on stdout"), "{e}");
    let e = auth(&["sh", "-c", "yes >&2"])
        .credentials()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CommandFailed, "{e}");
    assert!(e.to_string().contains("more than 64 KiB on stderr"), "{e}");
    assert!(!e.to_string().contains("y\ny"), "{e}");
}
