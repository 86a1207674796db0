//! Flyte's config.yaml (the `admin:` section) and the FLYTE_* environment (the input's
//! `NAME=value` lines).
//! Properties: no panic, no hang.
#![no_main]

use std::collections::HashMap;

use auth_config::__fuzz::{config_yaml, environment};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = config_yaml(text);
    let env: HashMap<String, String> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if !env.is_empty() {
        let _ = environment(&env);
    }
});
