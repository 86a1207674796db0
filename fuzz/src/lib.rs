//! Helpers shared by the fuzz targets: input splitting and the properties every target checks.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth_core::{AccessToken, AuthError, Credentials, IdToken, RefreshToken};

/// A fixed "now" (2023-11-14), so that every run of an input behaves the same.
pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// Splits `data` at its first newline: (first line, rest). No newline: (`data`, empty).
pub fn first_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// Whether `c` could move the cursor, rewrite the screen or reorder text on a terminal.
fn unsafe_on_terminal(c: char) -> bool {
    c == '\u{1b}'
        || ('\u{80}'..='\u{9f}').contains(&c)
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The longest error message allowed: a server must not be able to flood logs or terminals
/// through the messages made of its answers.
pub const MAX_MESSAGE_CHARS: usize = 4096;

/// Properties of every error made from untrusted input: it prints on one terminal line with
/// no escape sequence, bidi override or C1 control, and it is of bounded length.
pub fn check_error(e: &AuthError) {
    let message = e.to_string();
    if let Some(c) = message.chars().find(|&c| unsafe_on_terminal(c)) {
        panic!("the error message holds the control character {c:?}: {message:?}");
    }
    let chars = message.chars().count();
    assert!(
        chars <= MAX_MESSAGE_CHARS,
        "the error message is {chars} characters long"
    );
}

/// Redaction: `Debug` of credentials does not depend on their tokens (it equals `Debug` of the
/// same credentials with other tokens), so it shows none of them.
pub fn check_credentials(c: &Credentials) {
    let other = Credentials::new(AccessToken::new("other-access-token"))
        .with_refresh_token(
            c.refresh_token()
                .map(|_| RefreshToken::new("other-refresh")),
        )
        .with_id_token(c.id_token().map(|_| IdToken::new("other-id-token")))
        .with_token_type(c.token_type())
        .with_expires_at(c.expires_at())
        .with_issued_at(c.issued_at())
        .with_scopes(c.scopes().iter().cloned())
        .with_endpoint(c.endpoint());
    let debug = format!("{c:?}");
    assert_eq!(
        debug,
        format!("{other:?}"),
        "Debug of credentials shows a token"
    );
}

/// Two optional times within a second of each other (a JWT `exp` may carry a fraction).
pub fn close(a: Option<SystemTime>, b: Option<SystemTime>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            let d = a.duration_since(b).or_else(|_| b.duration_since(a));
            d.is_ok_and(|d| d < Duration::from_secs(1))
        }
        _ => false,
    }
}
