//! The JSON codec of the file store and of the session-keyring cache.
//! Properties: no panic; Debug redacts the tokens; what decodes encodes and decodes back the
//! same.
#![no_main]

use auth_keyring::__fuzz::{decode_credentials, encode_credentials};
use flyte_auth_fuzz::check_credentials;
use libfuzzer_sys::fuzz_target;

const ENDPOINT: &str = "flyte.example.com";

fuzz_target!(|data: &[u8]| {
    let Ok(c) = decode_credentials(data, ENDPOINT) else {
        return;
    };
    check_credentials(&c);
    let bytes = encode_credentials(&c, ENDPOINT).expect("decoded credentials encode");
    let back = decode_credentials(&bytes, ENDPOINT).expect("what we write, we read");
    assert_eq!(back.access_token().secret(), c.access_token().secret());
    assert_eq!(
        back.refresh_token().map(|t| t.secret()),
        c.refresh_token().map(|t| t.secret())
    );
    assert_eq!(
        back.id_token().map(|t| t.secret()),
        c.id_token().map(|t| t.secret())
    );
    assert_eq!(back.token_type(), c.token_type());
    assert_eq!(back.scopes(), c.scopes());
    assert_eq!(back.expires_at(), c.expires_at());
});
