//! A device authorization answer (RFC 8628 §3.2, and Google's spellings).
//! Properties: no panic; errors are terminal-safe and bounded; Debug redacts the device code;
//! lifetimes and intervals are capped.
#![no_main]

use auth_core::DeviceCode;
use auth_oauth2::__fuzz::device_authorization;
use auth_oauth2::{MAX_DEVICE_CODE_LIFETIME, MAX_POLL_INTERVAL};
use flyte_auth_fuzz::check_error;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let d = match device_authorization(data) {
        Ok(d) => d,
        Err(e) => return check_error(&e),
    };
    // Redaction: Debug does not depend on the device code.
    let mut other = d.clone();
    other.device_code = DeviceCode::new("other-device-code");
    assert_eq!(
        format!("{d:?}"),
        format!("{other:?}"),
        "Debug shows the device code"
    );
    assert!(!d.device_code.secret().trim().is_empty());
    assert!(d.expires_in <= MAX_DEVICE_CODE_LIFETIME);
    assert!(d.interval.is_none_or(|i| i <= MAX_POLL_INTERVAL));
});
