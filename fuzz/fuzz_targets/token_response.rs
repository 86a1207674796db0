//! A token endpoint's 2xx answer (token or OAuth error), as every grant reads it.
//! Properties: no panic; errors are terminal-safe and bounded; Debug redacts every token; what
//! was read, written back as a token response, reads the same.
#![no_main]

use std::time::UNIX_EPOCH;

use auth_oauth2::__fuzz::token_response;
use flyte_auth_fuzz::{check_credentials, check_error, close, now};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let requested = ["openid".to_string(), "offline_access".to_string()];
    let c = match token_response(data, &requested, now()) {
        Ok(c) => c,
        Err(e) => return check_error(&e),
    };
    check_credentials(&c);
    let mut doc = serde_json::json!({
        "access_token": c.access_token().secret(),
        "token_type": c.token_type(),
        "scope": c.scopes().join(" "),
    });
    if let Some(t) = c.refresh_token() {
        doc["refresh_token"] = t.secret().into();
    }
    if let Some(t) = c.id_token() {
        doc["id_token"] = t.secret().into();
    }
    if let Some(at) = c.expires_at() {
        let secs = at
            .duration_since(UNIX_EPOCH)
            .expect("an expiry after 1970")
            .as_secs();
        doc["expires_on"] = secs.into();
    }
    let again = token_response(doc.to_string().as_bytes(), &requested, now())
        .expect("a token response written from parsed credentials reads back");
    assert_eq!(again.access_token().secret(), c.access_token().secret());
    assert_eq!(again.token_type(), c.token_type());
    assert_eq!(
        again.refresh_token().map(|t| t.secret()),
        c.refresh_token().map(|t| t.secret())
    );
    assert_eq!(
        again.id_token().map(|t| t.secret()),
        c.id_token().map(|t| t.secret())
    );
    assert!(close(again.expires_at(), c.expires_at()), "expiry changed");
    let words = |s: &[String]| -> Vec<String> {
        s.iter()
            .flat_map(|s| s.split_whitespace())
            .map(str::to_string)
            .collect()
    };
    if !words(c.scopes()).is_empty() {
        assert_eq!(words(again.scopes()), words(c.scopes()));
    }
});
