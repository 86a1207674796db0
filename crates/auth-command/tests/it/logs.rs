//! No token in TRACE-level logs, whatever happens.

use auth_core::Authenticator;

use crate::support::{auth, fixture, scratch};

#[tokio::test]
async fn trace_logs_hold_no_token() {
    // Global, not per thread: the command runs under a runtime whose blocking and timer work
    // can happen on other threads, and a thread-local subscriber then misses (intermittently)
    // the events logged there.
    let logs = auth_testkit::logs::global();
    // The token comes from a file, not from argv (which is logged).
    let dir = scratch("logs");
    let file = dir.join("out.json");
    std::fs::write(
        &file,
        r#"{"access_token":"planted-at-5c1d","expires_in":"0"}"#,
    )
    .expect("write");
    let ok = auth(&["cat", &file.display().to_string()]);
    let c = ok.credentials().await.expect("credentials");
    assert_eq!(c.access_token().secret(), "planted-at-5c1d");
    let _ = ok.authorization_header().await.expect("header");
    let _ = ok.refresh_credentials().await.expect("refresh");
    let failing = auth(&[&fixture("echo_stdout_to_stderr.sh")]);
    let e = failing.credentials().await.unwrap_err();
    tracing::error!(error = %e, "as an application would log it");
    let contents = logs.contents();
    assert!(contents.contains("running the token command"), "{contents}");
    logs.assert_none_of(&["planted-at-5c1d", "leaked-token-7d3b9e01"]);
}
