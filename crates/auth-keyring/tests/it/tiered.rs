//! The tiered store: the Secret Service (a private gnome-keyring) fronted by a cache in a
//! fresh kernel session keyring per test (`keyctl session -`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth_core::{AccessToken, CredentialStore, Credentials, ErrorKind, RefreshToken};
use auth_keyring::{KeyringStore, SESSION_CACHE_MAX_TTL};
use auth_testkit::logs::LogCapture;
use auth_testkit::secret_service::{self as ss, SecretService};
use linux_keyutils::{Key, KeyRing, KeyRingIdentifier};

use super::{CHILD_TIMEOUT, credentials, jwt, runtime};

const EP: &str = "flyte.example.com:443";

/// Runs `body` in a child process inside a new session keyring (`wrapper` runs first: a
/// shell script that may break that keyring), pointed at a fresh private Secret Service;
/// `prepare` runs in this process first, with the service started.
fn with_wrapped(
    name: &str,
    wrapper: &[&str],
    prepare: impl FnOnce(&SecretService),
    body: impl FnOnce(),
) {
    if ss::in_child(name) {
        body();
        return;
    }
    if !ss::should_run(name, ss::PROGRAMS) || !ss::should_run(name, ss::KEYUTILS_PROGRAMS) {
        return;
    }
    let service = SecretService::start().unwrap_or_else(|e| panic!("{name}: {e}"));
    prepare(&service);
    let out = ss::run_in_child(name, wrapper, |c| service.apply_env(c), CHILD_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"));
    println!("{out}");
}

/// [`with_wrapped`] in a new, working session keyring.
fn with_tiered(name: &str, prepare: impl FnOnce(&SecretService), body: impl FnOnce()) {
    with_wrapped(name, &["keyctl", "session", "-"], prepare, body);
}

/// The keyring daemon's PID (in a child).
fn daemon_pid() -> u32 {
    std::env::var(ss::KEYRING_PID_ENV).unwrap().parse().unwrap()
}

/// The cache entry of `store` for `key` in this process's session keyring, if any.
fn cache_entry(store: &KeyringStore, key: &str) -> Option<Key> {
    let description = store.session_cache_description(key).unwrap();
    KeyRing::from_special_id(KeyRingIdentifier::Session, false)
        .unwrap()
        .search(&description)
        .ok()
}

/// The remaining life of `key` as `/proc/keys` shows it (`perm`, `35s`, `9m`, …): the only
/// place the kernel reports a key's timeout.
fn timeout_of(key: Key) -> String {
    let id = format!("{:08x}", key.get_id().as_raw_id());
    let keys = std::fs::read_to_string("/proc/keys").unwrap();
    let line = keys
        .lines()
        .find(|l| l.split_whitespace().next() == Some(id.as_str()))
        .unwrap_or_else(|| panic!("key {id} is not in /proc/keys"));
    line.split_whitespace().nth(3).unwrap().to_string()
}

/// Seconds of a `/proc/keys` timeout shorter than a minute (`35s`).
fn seconds(timeout: &str) -> u64 {
    timeout
        .strip_suffix('s')
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a timeout in seconds: {timeout}"))
}

fn lookup(user: &str) -> Option<String> {
    ss::secret_tool(&["lookup", "service", EP, "username", user], None).ok()
}

fn store_item(user: &str, value: &str) {
    ss::secret_tool(
        &["store", "--label=pyflyte", "service", EP, "username", user],
        Some(value),
    )
    .unwrap();
}

fn in_seconds(secs: u64) -> SystemTime {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    UNIX_EPOCH + Duration::from_secs(now + secs)
}

#[test]
fn a_load_after_save_is_served_from_the_cache() {
    with_tiered(
        "tiered::a_load_after_save_is_served_from_the_cache",
        |_| {},
        || {
            let rt = runtime();
            let store = KeyringStore::tiered().with_timeout(Duration::from_millis(500));
            assert!(store.has_session_cache());
            let saved = credentials("cached");
            rt.block_on(store.save(EP, &saved)).unwrap();
            // Durable first: the Secret Service has it, in flytekit's layout.
            assert_eq!(lookup("access_token").as_deref(), Some("access-cached"));
            assert!(cache_entry(&store, EP).is_some());

            // SIGSTOP: the Secret Service keeps its bus name and answers nothing, so any
            // D-Bus call would miss the 500 ms deadline.
            ss::pause_process(daemon_pid()).unwrap();
            let expected = Some(saved.clone().with_endpoint(Some(EP)));
            let plain = KeyringStore::secret_service().with_timeout(Duration::from_millis(300));
            let e = rt.block_on(plain.load(EP)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
            assert_eq!(rt.block_on(store.load(EP)).unwrap(), expected);
            // A miss goes to the Secret Service, which misses its deadline; its abandoned
            // call does not keep the cache from answering.
            let e = rt.block_on(store.load("other.example.com")).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
            assert_eq!(rt.block_on(store.load(EP)).unwrap(), expected);
            // A new store (as in a new process) never connects to D-Bus for a hit.
            let fresh = KeyringStore::tiered().with_timeout(Duration::from_millis(500));
            assert_eq!(
                rt.block_on(fresh.load(&format!("dns:///{EP}"))).unwrap(),
                expected
            );
            ss::resume_process(daemon_pid()).unwrap();

            // Without the cache, the same store reads the Secret Service.
            let uncached = KeyringStore::tiered().with_session_cache(false);
            assert!(!uncached.has_session_cache());
            assert_eq!(uncached.session_cache_description(EP), None);
            assert_eq!(rt.block_on(uncached.load(EP)).unwrap(), expected);
        },
    );
}

#[test]
fn a_miss_reads_entries_secret_tool_wrote_and_fills_the_cache() {
    let token = jwt(2_100_000_000, 10);
    let for_prepare = token.clone();
    with_tiered(
        "tiered::a_miss_reads_entries_secret_tool_wrote_and_fills_the_cache",
        move |service| {
            // flytekit's layout, as pyflyte leaves it: no metadata entry of ours.
            for (user, value) in [
                ("access_token", for_prepare.as_str()),
                ("refresh_token", "py-refresh"),
                ("id_token", "py-id"),
            ] {
                service
                    .secret_tool(
                        &["store", "--label=pyflyte", "service", EP, "username", user],
                        Some(value),
                    )
                    .unwrap();
            }
        },
        move || {
            let rt = runtime();
            let store = KeyringStore::tiered().with_timeout(Duration::from_millis(500));
            assert!(cache_entry(&store, EP).is_none());
            let loaded = rt.block_on(store.load(EP)).unwrap().unwrap();
            assert_eq!(loaded.access_token().secret(), token);
            assert_eq!(loaded.refresh_token().unwrap().secret(), "py-refresh");
            assert_eq!(loaded.id_token().unwrap().secret(), "py-id");
            assert_eq!(
                loaded.expires_at(),
                Some(UNIX_EPOCH + Duration::from_secs(2_100_000_000))
            );
            // The miss filled the cache: the next load needs no Secret Service.
            assert!(cache_entry(&store, EP).is_some());
            ss::pause_process(daemon_pid()).unwrap();
            let fresh = KeyringStore::tiered().with_timeout(Duration::from_millis(500));
            assert_eq!(rt.block_on(fresh.load(EP)).unwrap(), Some(loaded));
            ss::resume_process(daemon_pid()).unwrap();
            // Nothing is written to the Secret Service by a load.
            assert_eq!(lookup(auth_keyring::entries::META), None);
        },
    );
}

#[test]
fn a_corrupt_cache_entry_is_a_miss_and_is_replaced() {
    with_tiered(
        "tiered::a_corrupt_cache_entry_is_a_miss_and_is_replaced",
        |_| {},
        || {
            let capture = LogCapture::default();
            assert!(capture.install_global());
            let rt = runtime();
            let store = KeyringStore::tiered();
            rt.block_on(store.save(EP, &credentials("durable")))
                .unwrap();
            let session = KeyRing::from_special_id(KeyRingIdentifier::Session, false).unwrap();
            let description = store.session_cache_description(EP).unwrap();
            session.add_key(&description, "planted-garbage{").unwrap();
            let loaded = rt.block_on(store.load(EP)).unwrap().unwrap();
            assert_eq!(loaded.access_token().secret(), "access-durable");
            let mut buf = vec![0u8; 65536];
            let key = cache_entry(&store, EP).unwrap();
            let len = key.read(&mut buf).unwrap();
            assert!(
                String::from_utf8_lossy(&buf[..len]).contains("access-durable"),
                "the corrupt entry was replaced"
            );
            let logs = capture.contents();
            assert!(!logs.contains(" WARN "), "{logs}");
            // Without the durable store's stamp, garbage is stale before it is unusable.
            assert!(
                logs.contains("cache entry is unusable") || logs.contains("cache entry is stale"),
                "{logs}"
            );
            capture.assert_none_of(&["planted-garbage", "access-durable", "refresh-durable"]);
        },
    );
}

#[test]
fn delete_clears_both_tiers() {
    with_tiered(
        "tiered::delete_clears_both_tiers",
        |_| {},
        || {
            let rt = runtime();
            let store = KeyringStore::tiered();
            rt.block_on(store.save(EP, &credentials("gone"))).unwrap();
            rt.block_on(store.save("other.example.com", &credentials("kept")))
                .unwrap();
            assert!(cache_entry(&store, EP).is_some());
            rt.block_on(store.delete(EP)).unwrap();
            assert!(cache_entry(&store, EP).is_none());
            assert_eq!(lookup("access_token"), None);
            assert_eq!(lookup("refresh_token"), None);
            assert!(rt.block_on(store.load(EP)).unwrap().is_none());
            // The other endpoint is untouched, in both tiers.
            assert!(cache_entry(&store, "other.example.com").is_some());
            let other = rt.block_on(store.load("other.example.com")).unwrap();
            assert_eq!(other.unwrap().access_token().secret(), "access-kept");
            rt.block_on(store.delete(EP)).unwrap();
        },
    );
}

#[test]
fn the_cache_entry_has_a_timeout() {
    with_tiered(
        "tiered::the_cache_entry_has_a_timeout",
        |_| {},
        || {
            let rt = runtime();
            // Far from expiry: the default maximum, 10 minutes.
            let store = KeyringStore::tiered();
            rt.block_on(store.save(EP, &credentials("far"))).unwrap();
            let timeout = timeout_of(cache_entry(&store, EP).unwrap());
            assert_eq!(SESSION_CACHE_MAX_TTL, Duration::from_secs(600));
            assert!(timeout == "10m" || timeout == "9m", "{timeout}");

            // A token that expires in 65 s: the entry goes 30 s before it, after 35 s.
            let soon = credentials("soon").with_expires_at(Some(in_seconds(65)));
            rt.block_on(store.save(EP, &soon)).unwrap();
            let left = seconds(&timeout_of(cache_entry(&store, EP).unwrap()));
            assert!((1..=35).contains(&left), "{left}");

            // A configured maximum.
            let short = KeyringStore::tiered().with_session_cache_max_ttl(Duration::from_secs(45));
            rt.block_on(short.save(EP, &credentials("max"))).unwrap();
            let left = seconds(&timeout_of(cache_entry(&short, EP).unwrap()));
            assert!((1..=45).contains(&left), "{left}");

            // A token that expires within 35 s is not cached (and the old entry is gone),
            // but it is stored durably.
            let brief = credentials("brief").with_expires_at(Some(in_seconds(20)));
            rt.block_on(store.save(EP, &brief)).unwrap();
            assert!(cache_entry(&store, EP).is_none());
            assert_eq!(lookup("access_token").as_deref(), Some("access-brief"));
            let loaded = rt.block_on(store.load(EP)).unwrap().unwrap();
            assert_eq!(loaded.access_token().secret(), "access-brief");
            assert!(cache_entry(&store, EP).is_none());
        },
    );
}

#[test]
fn credentials_larger_than_a_kernel_key_are_not_cached() {
    with_tiered(
        "tiered::credentials_larger_than_a_kernel_key_are_not_cached",
        |_| {},
        || {
            let rt = runtime();
            let store = KeyringStore::tiered();
            rt.block_on(store.save(EP, &credentials("small"))).unwrap();
            assert!(cache_entry(&store, EP).is_some());
            let big = Credentials::new(AccessToken::new("a".repeat(40_000)))
                .with_refresh_token(Some(RefreshToken::new("big-refresh")));
            rt.block_on(store.save(EP, &big)).unwrap();
            assert!(cache_entry(&store, EP).is_none());
            let loaded = rt.block_on(store.load(EP)).unwrap().unwrap();
            assert_eq!(loaded.access_token().secret().len(), 40_000);
            assert!(cache_entry(&store, EP).is_none());
        },
    );
}

#[test]
fn another_clients_login_and_logout_are_seen_at_the_next_load() {
    with_tiered(
        "tiered::another_clients_login_and_logout_are_seen_at_the_next_load",
        |_| {},
        || {
            let rt = runtime();
            let store = KeyringStore::tiered();
            rt.block_on(store.save(EP, &credentials("ours"))).unwrap();
            assert!(cache_entry(&store, EP).is_some());
            // pyflyte logs in: it rewrites the Secret Service only. The cache entry's stamp
            // (gnome-keyring's collection files) no longer matches: the next load reads the
            // Secret Service.
            store_item("access_token", "pyflyte-access");
            let loaded = rt.block_on(store.load(EP)).unwrap().unwrap();
            assert_eq!(loaded.access_token().secret(), "pyflyte-access");
            // That read is cached again, and served while nothing changes.
            assert!(cache_entry(&store, EP).is_some());
            let again = rt.block_on(store.load(EP)).unwrap().unwrap();
            assert_eq!(again.access_token().secret(), "pyflyte-access");
            // pyflyte logs out: seen at once too.
            ss::secret_tool(&["clear", "service", EP, "username", "access_token"], None).unwrap();
            assert!(rt.block_on(store.load(EP)).unwrap().is_none());
            // A save of ours replaces the cached entry at once.
            rt.block_on(store.save(EP, &credentials("again"))).unwrap();
            let loaded = rt.block_on(store.load(EP)).unwrap().unwrap();
            assert_eq!(loaded.access_token().secret(), "access-again");
        },
    );
}

/// The tiered store in a session keyring that the kernel refuses (`wrapper` breaks it):
/// everything works through the Secret Service, with no warning.
fn behaves_like_the_secret_service_store(wrapper: &[&str]) {
    let capture = LogCapture::default();
    assert!(capture.install_global());
    let rt = runtime();
    let store = KeyringStore::tiered();
    assert!(rt.block_on(store.load(EP)).unwrap().is_none());
    let saved = credentials("nocache");
    rt.block_on(store.save(EP, &saved)).unwrap();
    assert_eq!(lookup("access_token").as_deref(), Some("access-nocache"));
    assert_eq!(
        rt.block_on(store.load(EP)).unwrap(),
        Some(saved.with_endpoint(Some(EP)))
    );
    rt.block_on(store.delete(EP)).unwrap();
    assert_eq!(lookup("access_token"), None);
    assert!(rt.block_on(store.load(EP)).unwrap().is_none());
    let logs = capture.contents();
    assert!(
        !logs.contains(" WARN ") && !logs.contains(" ERROR "),
        "{wrapper:?}: {logs}"
    );
    assert!(
        logs.contains("session keyring cache not used"),
        "the cache failure is a debug event: {logs}"
    );
    capture.assert_none_of(&["access-nocache", "refresh-nocache", "id-nocache"]);
}

const KEEP_ARGS: &str = "exec \"$0\" \"$@\"";

#[test]
fn a_session_keyring_without_permissions_is_a_silent_fallback() {
    let script = format!("keyctl setperm @s 0 >/dev/null && {KEEP_ARGS}");
    let wrapper = ["keyctl", "session", "-", "sh", "-c", script.as_str()];
    with_wrapped(
        "tiered::a_session_keyring_without_permissions_is_a_silent_fallback",
        &wrapper,
        |_| {},
        || behaves_like_the_secret_service_store(&wrapper),
    );
}

#[test]
fn a_revoked_session_keyring_is_a_silent_fallback() {
    let script = format!("keyctl revoke @s >/dev/null && {KEEP_ARGS}");
    let wrapper = ["keyctl", "session", "-", "sh", "-c", script.as_str()];
    with_wrapped(
        "tiered::a_revoked_session_keyring_is_a_silent_fallback",
        &wrapper,
        |_| {},
        || behaves_like_the_secret_service_store(&wrapper),
    );
}

#[test]
fn a_failing_secret_service_still_warns_as_before() {
    with_tiered(
        "tiered::a_failing_secret_service_still_warns_as_before",
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
            let capture = LogCapture::default();
            assert!(capture.install_global());
            let rt = runtime();
            let store = KeyringStore::tiered();
            let e = rt.block_on(store.load(EP)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Storage, "{e}");
            assert!(e.to_string().contains("unlock your keyring"), "{e}");
            // A failed durable save leaves nothing in the cache.
            assert!(rt.block_on(store.save(EP, &credentials("x"))).is_err());
            assert!(cache_entry(&store, EP).is_none());
            let logs = capture.contents();
            assert!(logs.contains(" WARN "), "{logs}");
        },
    );
}
