//! Inputs found by the `command_output` fuzz target in `fuzz/` (`cargo xtask fuzz`), printed
//! by real child processes.

use auth_core::Authenticator;

use crate::support::auth;

/// The error of a command that prints `output` (from a file, so that the command line,
/// which the message names, stays short).
async fn error_of(output: &str) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("out");
    std::fs::write(&file, output).expect("write output");
    auth(&["cat", file.to_str().expect("UTF-8 path")])
        .credentials()
        .await
        .expect_err("no usable token")
        .to_string()
}

/// fuzz/artifacts/command_output/crash-*: a field name with a right-to-left override reached
/// the message ("found the fields [...]") unchanged, so a terminal showed it reordered.
#[tokio::test]
async fn field_names_in_the_message_are_printable_ascii() {
    let output = "{\"acce\u{202e}ss_token\": \"tok\", \"token_type\": \"aeBrer\", \
                  \"expiry\": \"0001-01-01T00:00:00Z\", \"\\u001b[2Jx\": 1}";
    let message = error_of(output).await;
    assert!(
        !message.contains('\u{202e}') && !message.contains('\u{1b}'),
        "{message:?}"
    );
    assert!(message.contains("acce?ss_token"), "{message}");
    assert!(message.contains("expiry"), "{message}");
}

/// Long field names are cut, so the message stays short.
#[tokio::test]
async fn long_field_names_are_cut() {
    let long = "k".repeat(5000);
    let message = error_of(&format!("{{\"{long}\": 1}}")).await;
    assert!(message.len() < 600, "{} bytes", message.len());
    assert!(
        message.contains(&format!("{}...", "k".repeat(40))),
        "{message}"
    );
}
