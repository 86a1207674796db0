//! The Secret Service: gnome-keyring on a private D-Bus session bus.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use auth_core::{AccessToken, CredentialStore, Credentials, ErrorKind, RefreshToken};
use auth_keyring::{KeyringStore, entries};
use auth_testkit::secret_service as ss;

use super::{
    credentials, engine_still_authenticates, in_child_with, jwt, runtime, with_secret_service,
};

const EP: &str = "flyte.example.com:443";

/// Every secret-tool item of `service`, as `secret-tool search --all` prints them.
fn items_of(service: &str) -> String {
    // secret-tool search prints items on stdout and their attributes on stderr; an empty
    // result is success with no output.
    ss::secret_tool(&["search", "--all", "service", service], None).unwrap_or_default()
}

/// One Secret Service item, as the daemon reports it.
#[derive(Debug)]
struct Item {
    user: String,
    label: String,
    attributes: std::collections::BTreeMap<String, String>,
    secret: String,
}

impl Item {
    /// Whether this is exactly the item Python keyring's `set_password(service, user, ..)`
    /// writes (keyring/backends/SecretService.py, keyring 25).
    fn is_python_keyring_item(&self) -> bool {
        let service = self.attributes.get("service").cloned().unwrap_or_default();
        let want: std::collections::BTreeMap<String, String> = [
            ("application", "Python keyring library"),
            ("service", service.as_str()),
            ("username", self.user.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        // gnome-keyring adds the generic schema itself; Python keyring names none.
        let mut got = self.attributes.clone();
        got.remove("xdg:schema");
        got == want && self.label == format!("Password for '{}' on '{service}'", self.user)
    }
}

/// Every item whose `service` attribute is `service`, in any collection, sorted by user
/// name: read straight from the daemon.
fn python_items(service: &str) -> Vec<Item> {
    use dbus_secret_service::{EncryptionType, SecretService};
    let ss = SecretService::connect(EncryptionType::Plain).expect("connect");
    let found = ss
        .search_items(std::collections::HashMap::from([("service", service)]))
        .expect("search");
    let mut items: Vec<Item> = found
        .unlocked
        .iter()
        .map(|i| {
            let attributes: std::collections::BTreeMap<String, String> = i
                .get_attributes()
                .expect("attributes")
                .into_iter()
                .collect();
            Item {
                user: attributes.get("username").cloned().unwrap_or_default(),
                label: i.get_label().expect("label"),
                secret: String::from_utf8(i.get_secret().expect("secret")).expect("utf-8"),
                attributes,
            }
        })
        .collect();
    items.sort_by(|a, b| a.user.cmp(&b.user).then(a.secret.cmp(&b.secret)));
    items
}

fn lookup(service: &str, user: &str) -> Option<String> {
    ss::secret_tool(&["lookup", "service", service, "username", user], None).ok()
}

#[test]
fn round_trip_overwrite_delete() {
    with_secret_service(
        "secret_service::round_trip_overwrite_delete",
        |_| {},
        || {
            let rt = runtime();
            let store = KeyringStore::secret_service();
            assert!(rt.block_on(store.load(EP)).unwrap().is_none());
            let saved = credentials("one");
            rt.block_on(store.save(EP, &saved)).unwrap();
            assert_eq!(
                rt.block_on(store.load(EP)).unwrap(),
                Some(saved.with_endpoint(Some(EP)))
            );

            // Overwrite with credentials that have no refresh or ID token.
            let plain = Credentials::new(AccessToken::new("access-two"));
            rt.block_on(store.save(&format!("dns:///{EP}"), &plain))
                .unwrap();
            let loaded = rt.block_on(store.load(EP)).unwrap().unwrap();
            assert_eq!(loaded.access_token().secret(), "access-two");
            assert!(loaded.refresh_token().is_none() && loaded.id_token().is_none());
            assert_eq!(lookup(EP, entries::REFRESH_TOKEN), None);

            rt.block_on(store.delete(EP)).unwrap();
            assert!(rt.block_on(store.load(EP)).unwrap().is_none());
            assert_eq!(lookup(EP, entries::ACCESS_TOKEN), None);
            assert_eq!(lookup(EP, entries::META), None);
            rt.block_on(store.delete(EP)).unwrap();
        },
    );
}

#[test]
fn two_endpoints_are_kept_apart() {
    with_secret_service(
        "secret_service::two_endpoints_are_kept_apart",
        |_| {},
        || {
            let rt = runtime();
            let store = KeyringStore::secret_service();
            rt.block_on(store.save("a.example.com", &credentials("a")))
                .unwrap();
            rt.block_on(store.save("b.example.com:8089", &credentials("b")))
                .unwrap();
            let a = rt.block_on(store.load("a.example.com")).unwrap().unwrap();
            let b = rt
                .block_on(store.load("b.example.com:8089"))
                .unwrap()
                .unwrap();
            assert_eq!(a.access_token().secret(), "access-a");
            assert_eq!(b.access_token().secret(), "access-b");
            rt.block_on(store.delete("a.example.com")).unwrap();
            assert!(rt.block_on(store.load("a.example.com")).unwrap().is_none());
            let b = rt
                .block_on(store.load("b.example.com:8089"))
                .unwrap()
                .unwrap();
            assert_eq!(b.refresh_token().unwrap().secret(), "refresh-b");
        },
    );
}

#[test]
fn entries_written_by_secret_tool_are_read() {
    with_secret_service(
        "secret_service::entries_written_by_secret_tool_are_read",
        |_| {},
        || {
            // secret-tool sets exactly the attributes `service` and `username`, as flytekit's
            // Python keyring does (plus its own `application`, which the search ignores).
            let token = jwt(2_100_000_000, 10);
            let store_item = |service: &str, user: &str, value: &str| {
                ss::secret_tool(
                    &[
                        "store",
                        "--label=pyflyte",
                        "service",
                        service,
                        "username",
                        user,
                    ],
                    Some(value),
                )
                .unwrap();
            };
            store_item(EP, "access_token", &token);
            store_item(EP, "refresh_token", "py-refresh");
            store_item(EP, "id_token", "py-id");
            store_item("id-only.example.com", "id_token", "lonely-id");

            let rt = runtime();
            let store = KeyringStore::secret_service();
            let loaded = rt.block_on(store.load(EP)).unwrap().unwrap();
            assert_eq!(loaded.access_token().secret(), token);
            assert_eq!(loaded.refresh_token().unwrap().secret(), "py-refresh");
            assert_eq!(loaded.id_token().unwrap().secret(), "py-id");
            assert_eq!(
                loaded.expires_at(),
                Some(UNIX_EPOCH + Duration::from_secs(2_100_000_000))
            );
            // An ID token without an access token is not credentials.
            assert!(
                rt.block_on(store.load("id-only.example.com"))
                    .unwrap()
                    .is_none()
            );

            // Our save replaces those items instead of adding a second copy.
            rt.block_on(store.save(EP, &credentials("ours"))).unwrap();
            assert_eq!(lookup(EP, "access_token").as_deref(), Some("access-ours"));
            // Four items: the three tokens, now written as Python keyring writes them
            // (secret-tool's items are replaced, not duplicated), and our metadata.
            let items = python_items(EP);
            assert_eq!(
                items.iter().map(|i| i.user.as_str()).collect::<Vec<_>>(),
                [
                    "access_token",
                    "flyte_auth_meta",
                    "id_token",
                    "refresh_token"
                ],
                "{items:?}"
            );
            for item in &items {
                assert!(item.is_python_keyring_item(), "{item:?}");
            }
        },
    );
}

#[test]
fn entries_written_here_are_read_by_secret_tool() {
    with_secret_service(
        "secret_service::entries_written_here_are_read_by_secret_tool",
        |_| {},
        || {
            let rt = runtime();
            let store = KeyringStore::secret_service();
            rt.block_on(store.save(EP, &credentials("rs"))).unwrap();
            // What pyflyte's keyring.get_password(service, username) finds.
            assert_eq!(lookup(EP, "access_token").as_deref(), Some("access-rs"));
            assert_eq!(lookup(EP, "refresh_token").as_deref(), Some("refresh-rs"));
            assert_eq!(lookup(EP, "id_token").as_deref(), Some("id-rs"));
            let meta = lookup(EP, entries::META).unwrap();
            let meta: serde_json::Value = serde_json::from_str(&meta).unwrap();
            assert_eq!(meta["expires_at"], 2_000_000_000u64);
            // secret-tool (and flytekit) can delete them; then nothing is loaded.
            for user in ["access_token", "refresh_token", "id_token"] {
                ss::secret_tool(&["clear", "service", EP, "username", user], None).unwrap();
            }
            assert!(rt.block_on(store.load(EP)).unwrap().is_none());
        },
    );
}

#[test]
fn large_values_are_chunked_and_fully_deleted() {
    with_secret_service(
        "secret_service::large_values_are_chunked_and_fully_deleted",
        |_| {},
        || {
            let rt = runtime();
            // Windows' limit, on a real store: a 4 kB Entra-ID-like JWT takes 4 pieces.
            let store = KeyringStore::secret_service()
                .with_max_value_len(Some(auth_keyring::WINDOWS_MAX_VALUE_LEN));
            let token = jwt(2_100_000_000, 3600);
            let saved = Credentials::new(AccessToken::new(token.clone()))
                .with_refresh_token(Some(RefreshToken::new("r".repeat(3000))))
                .with_expires_at(Some(UNIX_EPOCH + Duration::from_secs(2_100_000_000)));
            rt.block_on(store.save(EP, &saved)).unwrap();
            let header = lookup(EP, "access_token").unwrap();
            assert!(header.starts_with(entries::CHUNK_PREFIX), "{header}");
            assert!(lookup(EP, &entries::piece("access_token", 4)).is_some());
            assert_eq!(
                rt.block_on(store.load(EP)).unwrap(),
                Some(saved.with_endpoint(Some(EP)))
            );
            rt.block_on(store.delete(EP)).unwrap();
            assert_eq!(items_of(EP), "", "every piece was deleted");
        },
    );
}

#[test]
fn a_locked_keyring_fails_fast_and_is_not_fatal() {
    with_secret_service(
        "secret_service::a_locked_keyring_fails_fast_and_is_not_fatal",
        |service| {
            service
                .secret_tool(
                    &[
                        "store",
                        "--label=x",
                        "service",
                        EP,
                        "username",
                        "access_token",
                    ],
                    Some("at"),
                )
                .unwrap();
            service.lock().unwrap();
        },
        || {
            let rt = runtime();
            let store = Arc::new(KeyringStore::secret_service());
            let e = rt.block_on(store.load(EP)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Storage, "{e}");
            assert!(e.to_string().contains("unlock your keyring"), "{e}");
            let e = rt.block_on(store.save(EP, &credentials("x"))).unwrap_err();
            assert!(e.to_string().contains("unlock"), "{e}");
            engine_still_authenticates(&rt, store, EP);
        },
    );
}

#[test]
fn no_bus_at_all_fails_fast_and_is_not_fatal() {
    in_child_with(
        "secret_service::no_bus_at_all_fails_fast_and_is_not_fatal",
        |c| {
            c.env(
                "DBUS_SESSION_BUS_ADDRESS",
                "unix:path=/nonexistent/flyte-auth-test-bus",
            );
        },
        || {
            let rt = runtime();
            let store = Arc::new(KeyringStore::secret_service());
            let e = rt.block_on(store.load(EP)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Storage, "{e}");
            assert!(e.to_string().contains("Secret Service"), "{e}");
            assert!(e.to_string().contains("--store file"), "{e}");
            assert!(rt.block_on(store.save(EP, &credentials("x"))).is_err());
            engine_still_authenticates(&rt, store, EP);
        },
    );
}

#[test]
fn no_bus_address_fails_fast_and_is_not_fatal() {
    in_child_with(
        "secret_service::no_bus_address_fails_fast_and_is_not_fatal",
        |c| {
            c.env_remove("DBUS_SESSION_BUS_ADDRESS");
        },
        || {
            let rt = runtime();
            let store = KeyringStore::new();
            let e = rt.block_on(store.load(EP)).unwrap_err();
            assert!(e.to_string().contains("DBUS_SESSION_BUS_ADDRESS"), "{e}");
        },
    );
}

#[test]
fn a_service_that_never_answers_returns_at_the_deadline() {
    with_secret_service(
        "secret_service::a_service_that_never_answers_returns_at_the_deadline",
        |_| {},
        || {
            let pid: u32 = std::env::var(ss::KEYRING_PID_ENV).unwrap().parse().unwrap();
            let rt = runtime();
            let store =
                Arc::new(KeyringStore::secret_service().with_timeout(Duration::from_millis(500)));
            // Works while the daemon answers.
            rt.block_on(store.save(EP, &credentials("before"))).unwrap();

            // SIGSTOP: the daemon keeps its bus name but answers nothing.
            ss::pause_process(pid).unwrap();
            let e = rt.block_on(store.load(EP)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
            // The abandoned call still waits on the daemon: the next call does not pile up.
            let e = rt
                .block_on(store.save(EP, &credentials("during")))
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
            // A fresh store (new connection) also returns at its deadline.
            let fresh =
                Arc::new(KeyringStore::secret_service().with_timeout(Duration::from_millis(300)));
            assert_eq!(
                rt.block_on(fresh.load(EP)).unwrap_err().kind(),
                ErrorKind::Timeout
            );
            engine_still_authenticates(&rt, fresh as Arc<dyn CredentialStore>, EP);

            // SIGCONT: once the stuck call returns, the store is used again.
            ss::resume_process(pid).unwrap();
            let mut loaded = None;
            for _ in 0..200 {
                match rt.block_on(store.load(EP)) {
                    Ok(c) => {
                        loaded = c;
                        break;
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
            let loaded = loaded.expect("the store answers again after SIGCONT");
            assert_eq!(loaded.access_token().secret(), "access-before");
        },
    );
}

#[test]
fn a_restarted_keyring_daemon_is_reconnected() {
    with_secret_service(
        "secret_service::a_restarted_keyring_daemon_is_reconnected",
        |_| {},
        || {
            let pid: u32 = std::env::var(ss::KEYRING_PID_ENV).unwrap().parse().unwrap();
            let rt = runtime();
            let store = KeyringStore::secret_service();
            rt.block_on(store.save(EP, &credentials("kept"))).unwrap();
            // The daemon goes away and another one takes its place on the same bus: the
            // store's open session died with the first one.
            ss::terminate_process(pid).unwrap();
            let mut gone = false;
            for _ in 0..500 {
                if ss::default_collection().is_err() {
                    gone = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            assert!(gone, "the first daemon did not stop");
            let _daemon = ss::start_keyring_daemon().unwrap();
            // The first call may fail on the dead session (and drops it); the next one
            // connects again.
            let first = rt.block_on(store.load(EP));
            let loaded = match first {
                Ok(c) => c,
                Err(e) => {
                    println!("first call after the restart: {e}");
                    rt.block_on(store.load(EP)).unwrap()
                }
            };
            assert_eq!(loaded.unwrap().access_token().secret(), "access-kept");
        },
    );
}

#[test]
fn duplicates_of_any_attribute_set_heal_on_write_and_delete() {
    with_secret_service(
        "secret_service::duplicates_of_any_attribute_set_heal_on_write_and_delete",
        |_| {},
        || {
            // What older flyte-auth versions wrote (service, username only), what Python
            // keyring writes, and a third client's item with an extra attribute: three items
            // for one (service, username).
            let store_item = |extra: &[&str], value: &str| {
                let mut args = vec!["store", "--label=other", "service", EP, "username"];
                args.push("access_token");
                args.extend_from_slice(extra);
                ss::secret_tool(&args, Some(value)).unwrap();
            };
            store_item(&[], "old-flyte-auth");
            store_item(&["application", "Python keyring library"], "pyflyte");
            store_item(&["xdg:schema", "com.example.Other"], "third");
            assert_eq!(python_items(EP).len(), 3);

            let rt = runtime();
            let store = KeyringStore::secret_service();
            rt.block_on(store.save(EP, &credentials("healed"))).unwrap();
            let items = python_items(EP);
            let access: Vec<&Item> = items.iter().filter(|i| i.user == "access_token").collect();
            assert_eq!(access.len(), 1, "exactly one access_token item: {items:?}");
            assert_eq!(access[0].secret, "access-healed");
            assert!(access[0].is_python_keyring_item(), "{:?}", access[0]);

            // A delete removes every match, whoever wrote it.
            store_item(&[], "again");
            store_item(&["application", "Python keyring library"], "again-py");
            rt.block_on(store.delete(EP)).unwrap();
            assert!(python_items(EP).is_empty(), "{:?}", python_items(EP));
        },
    );
}
