//! `auth-test-browser URL`: a stand-in for the user's browser, for use as `$BROWSER` in tests.
//!
//! Takes the URL as its last argument (so `BROWSER="auth-test-browser %s"`, `BROWSER=auth-test-browser`
//! and extra leading options all work), plays the browser against the test identity provider
//! with [`auth_testkit::idp::play_browser`] (headless login and consent, then `GET` of the
//! loopback redirect URI), and exits 0 if the callback answered 2xx, 1 otherwise (the reason on
//! stderr), 2 on a usage error. It gives up after 60 s.
//!
//! `auth-test-browser --approve-device URL` approves a device login instead: it opens the
//! `verification_uri_complete` as the user and confirms the code
//! ([`auth_testkit::idp::approve_device`]). The demo uses it.
//!
//! Launchers such as the `webbrowser` crate discard a browser's stderr; set
//! `AUTH_TEST_BROWSER_LOG=/some/file` to have the outcome appended there as well.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

const OVERALL_TIMEOUT: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    let Some(url) = std::env::args().skip(1).next_back() else {
        report("usage: auth-test-browser <url>");
        return ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            report(&format!("auth-test-browser: cannot start a runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    if std::env::args().nth(1).as_deref() == Some("--approve-device") {
        let approved = runtime.block_on(async {
            tokio::time::timeout(
                OVERALL_TIMEOUT,
                auth_testkit::idp::approve_device(&url, true),
            )
            .await
        });
        return match approved {
            Ok(Ok(())) => ExitCode::SUCCESS,
            Ok(Err(e)) => {
                report(&format!(
                    "auth-test-browser: approving the device login failed: {e}"
                ));
                ExitCode::FAILURE
            }
            Err(_) => {
                report(&format!(
                    "auth-test-browser: gave up after {} s",
                    OVERALL_TIMEOUT.as_secs()
                ));
                ExitCode::FAILURE
            }
        };
    }
    let outcome = runtime.block_on(async {
        tokio::time::timeout(OVERALL_TIMEOUT, auth_testkit::idp::play_browser(&url)).await
    });
    match outcome {
        Ok(Ok(outcome)) if (200..300).contains(&outcome.status) => {
            report(&format!(
                "auth-test-browser: callback {} answered {}",
                without_query(&outcome.callback_url),
                outcome.status
            ));
            ExitCode::SUCCESS
        }
        Ok(Ok(outcome)) => {
            report(&format!(
                "auth-test-browser: callback {} answered {}: {}",
                without_query(&outcome.callback_url),
                outcome.status,
                outcome.body.chars().take(500).collect::<String>()
            ));
            ExitCode::FAILURE
        }
        Ok(Err(e)) => {
            report(&format!("auth-test-browser: {e}"));
            ExitCode::FAILURE
        }
        Err(_) => {
            report(&format!(
                "auth-test-browser: gave up after {} s",
                OVERALL_TIMEOUT.as_secs()
            ));
            ExitCode::FAILURE
        }
    }
}

// The callback's query holds the authorization code: never print it.
fn without_query(url: &url::Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.to_string()
}

fn report(line: &str) {
    eprintln!("{line}");
    if let Some(path) = std::env::var_os("AUTH_TEST_BROWSER_LOG")
        && let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    {
        let _ = writeln!(file, "{line}");
    }
}
