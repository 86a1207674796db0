//! A device authorization answer (RFC 8628 §3.2, and Google's spellings).
//! Properties: no panic; errors are terminal-safe and bounded; Debug redacts the device code;
//! lifetimes and intervals are capped.
#![no_main]

use auth_oauth2::__fuzz::device_authorization;
use auth_oauth2::{MAX_DEVICE_CODE_LIFETIME, MAX_POLL_INTERVAL};
use flyte_auth_fuzz::{check_error, leaks};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let d = match device_authorization(data) {
        Ok(d) => d,
        Err(e) => return check_error(&e),
    };
    let debug = format!("{d:?}");
    let public = format!(
        "DeviceAuthorization device_code DeviceCode([redacted]) user_code verification_uri \
         verification_uri_complete expires_in interval Some None {:?} {:?} {:?} {:?} {:?}",
        d.user_code, d.verification_uri, d.verification_uri_complete, d.expires_in, d.interval
    );
    assert!(
        !leaks(&debug, d.device_code.secret(), &public),
        "Debug shows the device code: {debug}"
    );
    assert!(!d.device_code.secret().trim().is_empty());
    assert!(d.expires_in <= MAX_DEVICE_CODE_LIFETIME);
    assert!(d.interval.is_none_or(|i| i <= MAX_POLL_INTERVAL));
});
