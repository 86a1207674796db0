//! No token reaches the logs, whatever goes wrong.

use std::sync::Arc;

use auth_core::{AccessToken, CredentialStore, Credentials, IdToken, RefreshToken};
use auth_keyring::{KeyringStore, entries};
use keyring_core::{Entry, Error as KeyringError, mock};

use super::{in_child_with, runtime};

const EP: &str = "flyte.example.com:443";

#[test]
fn no_secret_is_logged() {
    // In a child process of its own, with a global subscriber: log capture while other
    // tests run on other threads is racy.
    in_child_with(
        "logs::no_secret_is_logged",
        |_| {},
        || {
            let capture = auth_testkit::logs::LogCapture::default();
            assert!(capture.install_global());
            let rt = runtime();
            let store: Arc<keyring_core::CredentialStore> = mock::Store::new().unwrap();
            let entry = |user: &str| Entry::new_in_store(&store, EP, user).unwrap();
            let inject = |user: &str, error: KeyringError| {
                let e = entry(user);
                e.as_any()
                    .downcast_ref::<mock::Cred>()
                    .unwrap()
                    .set_error(error);
            };
            let ks = KeyringStore::with_store(store.clone()).with_max_value_len(Some(128));
            let c = Credentials::new(AccessToken::new(format!(
                "planted-access-{}",
                "x".repeat(300)
            )))
            .with_refresh_token(Some(RefreshToken::new("planted-refresh")))
            .with_id_token(Some(IdToken::new("planted-id")));
            rt.block_on(ks.save(EP, &c)).unwrap();
            rt.block_on(ks.load(EP)).unwrap();
            // Corrupt pieces, corrupt metadata, failures: all logged, none with a token.
            entry(&entries::piece(entries::ACCESS_TOKEN, 1))
                .set_password("planted-piece")
                .unwrap();
            entry(entries::META).set_password("planted-meta{").unwrap();
            rt.block_on(ks.load(EP)).unwrap();
            rt.block_on(ks.save(EP, &c)).unwrap();
            inject(
                entries::REFRESH_TOKEN,
                KeyringError::PlatformFailure("boom".to_string().into()),
            );
            let _ = rt.block_on(ks.save(EP, &c));
            inject(
                entries::ACCESS_TOKEN,
                KeyringError::BadEncoding(b"planted-bytes".to_vec()),
            );
            let _ = rt.block_on(ks.load(EP));
            let logs = capture.contents();
            assert!(
                logs.contains("corrupt"),
                "the corruption was logged: {logs}"
            );
            assert!(logs.contains("boom"), "the failure was logged: {logs}");
            capture.assert_none_of(&[
                "planted-access",
                "planted-refresh",
                "planted-id",
                "planted-piece",
                "planted-meta",
                "planted-bytes",
            ]);
            assert!(!format!("{ks:?}").contains("planted"));
        },
    );
}
