//! The keyring layout (flytekit's entries, our metadata, chunked values) read from entries
//! another client or an old version left: the input's lines are `user<TAB>value`.
//! Properties: no panic; Debug redacts the tokens; what was loaded saves and loads back the
//! same, chunked (a small per-value limit) or not; a value too long for 64 pieces under a
//! limit is refused with an error.
#![no_main]

use std::collections::BTreeMap;

use auth_keyring::__fuzz::{MemoryEntries, keyring_load, keyring_save};
use flyte_auth_fuzz::{check_credentials, now};
use libfuzzer_sys::fuzz_target;

const ENDPOINT: &str = "flyte.example.com";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let values: BTreeMap<String, String> = text
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let entries = MemoryEntries::new(values);
    let Some(c) = keyring_load(&entries, ENDPOINT, now()).expect("memory entries never fail")
    else {
        return;
    };
    check_credentials(&c);
    for max_len in [None, Some(128)] {
        let fresh = MemoryEntries::default();
        if let Err(e) = keyring_save(&fresh, &c, max_len) {
            // A store with a per-value limit holds at most 64 pieces of a value: a longer
            // token (another client may have written one where there is no limit) is refused
            // with an error, never cut or crashed on.
            let longest = [
                Some(c.access_token().secret().len()),
                c.refresh_token().map(|t| t.secret().len()),
                c.id_token().map(|t| t.secret().len()),
            ]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(0);
            let limit = max_len.expect("saving without a limit always works");
            assert!(
                longest > limit * 64 && e.contains("longer than"),
                "saving loaded credentials failed: {e}"
            );
            continue;
        }
        let back = keyring_load(&fresh, ENDPOINT, now())
            .expect("memory entries never fail")
            .expect("saved credentials load");
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
        let secs = |t: Option<std::time::SystemTime>| {
            t.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_secs())
        };
        assert_eq!(secs(back.expires_at()), secs(c.expires_at()));
    }
});
