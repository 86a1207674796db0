//! The PKCE loopback callback: first line the redirect URI (empty: the default), then the
//! request target (`/callback?code=...&state=...`).
//! Properties: no panic; the error fields are terminal-safe and capped.
#![no_main]

use auth_pkce::__fuzz::{callback, redirect_uri};
use auth_pkce::DEFAULT_REDIRECT_URI;
use flyte_auth_fuzz::first_line;
use libfuzzer_sys::fuzz_target;

fn terminal_safe(s: &str, max: usize) {
    assert!(
        !s.chars().any(char::is_control),
        "control character in {s:?}"
    );
    assert!(
        s.chars().count() <= max + 3,
        "{} characters",
        s.chars().count()
    );
}

fuzz_target!(|data: &[u8]| {
    let (first, target) = first_line(data);
    let Ok(first) = std::str::from_utf8(first) else {
        return;
    };
    let redirect = if first.is_empty() {
        DEFAULT_REDIRECT_URI
    } else {
        first
    };
    let _ = redirect_uri(redirect);
    let Ok(cb) = callback(redirect, target) else {
        return;
    };
    if let Some(e) = &cb.error {
        terminal_safe(&e.error, 100);
        e.error_description
            .as_deref()
            .map(|d| terminal_safe(d, 500));
        e.error_uri.as_deref().map(|u| terminal_safe(u, 500));
    }
});
