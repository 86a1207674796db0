//! The Linux kernel keyring (keyutils), in a fresh session keyring per test
//! (`keyctl session -`).

use std::sync::Arc;

use auth_core::{AccessToken, CredentialStore, Credentials, RefreshToken};
use auth_keyring::{KEYUTILS_MAX_VALUE_LEN, KeyringStore, entries};
use auth_testkit::secret_service as ss;
use keyring_core::Entry;

use super::{CHILD_TIMEOUT, credentials, runtime};

/// A service name of this run only: keys are linked into the user's persistent keyring,
/// which outlives the session keyring of a test and is shared with every other session.
fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{name}.{}.{nanos}.keyutils-test:443", std::process::id())
}

/// Runs `body` in a child process inside a new anonymous session keyring.
fn with_session_keyring(name: &str, body: impl FnOnce()) {
    if ss::in_child(name) {
        body();
        return;
    }
    if !ss::should_run(name, ss::KEYUTILS_PROGRAMS) {
        return;
    }
    let out = ss::run_in_child(name, &["keyctl", "session", "-"], |_| {}, CHILD_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"));
    println!("{out}");
}

/// The raw value of `user` in the kernel keyring, read with keyring-core directly.
fn raw(service: &str, user: &str) -> Option<String> {
    let store: Arc<keyring_core::CredentialStore> =
        linux_keyutils_keyring_store::Store::new().unwrap();
    Entry::new_in_store(&store, service, user)
        .unwrap()
        .get_password()
        .ok()
}

#[test]
fn round_trip_overwrite_delete_and_endpoints_apart() {
    with_session_keyring(
        "keyutils::round_trip_overwrite_delete_and_endpoints_apart",
        || {
            let (ep, other) = (&unique("a"), &unique("b"));
            let rt = runtime();
            let store = KeyringStore::keyutils();
            assert!(rt.block_on(store.load(ep)).unwrap().is_none());
            let saved = credentials("k1");
            rt.block_on(store.save(ep, &saved)).unwrap();
            rt.block_on(store.save(other, &credentials("k2"))).unwrap();
            assert_eq!(
                rt.block_on(store.load(ep)).unwrap(),
                Some(saved.with_endpoint(Some(ep)))
            );
            // flytekit's layout: raw tokens under service = endpoint.
            assert_eq!(raw(ep, "access_token").as_deref(), Some("access-k1"));

            let plain = Credentials::new(AccessToken::new("access-k3"));
            rt.block_on(store.save(ep, &plain)).unwrap();
            let loaded = rt.block_on(store.load(ep)).unwrap().unwrap();
            assert_eq!(loaded.access_token().secret(), "access-k3");
            assert!(loaded.refresh_token().is_none());

            rt.block_on(store.delete(ep)).unwrap();
            assert!(rt.block_on(store.load(ep)).unwrap().is_none());
            assert_eq!(raw(ep, entries::META), None);
            let loaded = rt.block_on(store.load(other)).unwrap().unwrap();
            assert_eq!(loaded.access_token().secret(), "access-k2");
            rt.block_on(store.delete(other)).unwrap();
            assert_eq!(raw(other, "access_token"), None);
        },
    );
}

#[test]
fn values_above_the_key_size_limit_are_chunked() {
    with_session_keyring(
        "keyutils::values_above_the_key_size_limit_are_chunked",
        || {
            let ep = &unique("chunks");
            let rt = runtime();
            let store = KeyringStore::keyutils();
            let big = "t".repeat(2 * KEYUTILS_MAX_VALUE_LEN + 10);
            let saved = Credentials::new(AccessToken::new(big.clone()))
                .with_refresh_token(Some(RefreshToken::new("short-refresh")));
            rt.block_on(store.save(ep, &saved)).unwrap();
            let header = raw(ep, "access_token").unwrap();
            assert!(header.starts_with("flyte-auth-chunked:v1:3:"), "{header}");
            let last = raw(ep, &entries::piece("access_token", 3));
            assert_eq!(last.map(|p| p.len()), Some(10));
            let loaded = rt.block_on(store.load(ep)).unwrap().unwrap();
            assert_eq!(loaded.access_token().secret(), big);
            rt.block_on(store.delete(ep)).unwrap();
            for i in 1..=3 {
                assert_eq!(
                    raw(ep, &entries::piece("access_token", i)),
                    None,
                    "piece {i}"
                );
            }
            assert_eq!(raw(ep, "refresh_token"), None);
        },
    );
}
