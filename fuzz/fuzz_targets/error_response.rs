//! A non-2xx answer: first line `STATUS [RETRY-AFTER]`, then the body.
//! Properties: no panic; the error is terminal-safe and bounded; `Retry-After` is honoured
//! only as whole seconds.
#![no_main]

use auth_oauth2::__fuzz::error_response;
use flyte_auth_fuzz::{check_error, first_line};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (head, body) = first_line(data);
    let head = String::from_utf8_lossy(head);
    let mut words = head.split_whitespace();
    let status = words
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .unwrap_or(400);
    let retry_after = words.next().map(str::as_bytes);
    let e = error_response(status, retry_after, body);
    check_error(&e);
    if e.retry_after().is_some() {
        let raw = retry_after.expect("a retry-after from a header");
        assert!(std::str::from_utf8(raw).is_ok_and(|s| s.trim().parse::<u64>().is_ok()));
    }
});
