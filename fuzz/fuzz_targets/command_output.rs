//! A token command's stdout: a raw token, JSON, a Kubernetes ExecCredential or `az` output.
//! Properties: no panic; a token read is one word of printable ASCII (it goes into a header);
//! Debug redacts it; errors never quote the output and are terminal-safe.
#![no_main]

use auth_command::__fuzz::command_output;
use flyte_auth_fuzz::{check_credentials, check_error, now};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match command_output(data, now()) {
        Ok(c) => {
            check_credentials(&c);
            let token = c.access_token().secret();
            assert!(!token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic()));
        }
        Err(e) => {
            check_error(&e);
            let text = String::from_utf8_lossy(data);
            let text = text.trim();
            if text.len() >= 24 {
                assert!(!e.to_string().contains(text), "the error quotes the output");
            }
        }
    }
});
