//! JWT claims read without verification (the `exp` behind every expiry): the input as a
//! token, and the input as the JSON payload of a token.
//! Properties: no panic; an expiry is found only where a numeric `exp` claim is; credentials
//! take the same expiry.
#![no_main]

use auth_core::{AccessToken, Credentials, jwt_claims, jwt_expiry};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use flyte_auth_fuzz::now;
use libfuzzer_sys::fuzz_target;

fn check(token: &str) {
    let claims = jwt_claims(token);
    let expiry = jwt_expiry(token);
    if expiry.is_some() {
        let exp = claims.as_ref().and_then(|c| c.get("exp"));
        assert!(
            exp.is_some_and(serde_json::Value::is_number),
            "expiry without a numeric exp"
        );
    }
    if !token.is_empty() {
        let c = Credentials::new(AccessToken::new(token)).with_expiry_from(None, now());
        assert_eq!(c.expires_at(), expiry);
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(token) = std::str::from_utf8(data) {
        check(token);
    }
    check(&format!(
        "eyJhbGciOiJub25lIn0.{}.c2ln",
        URL_SAFE_NO_PAD.encode(data)
    ));
});
