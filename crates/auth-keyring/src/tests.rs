//! Unit tests on `keyring_core::mock::Store` (with error injection) and on small test doubles
//! that fail, block or panic on every call.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth_core::testing::ScriptedSource;
use auth_core::{
    AccessToken, CredentialStore, Credentials, EngineOptions, ErrorKind, IdToken, RefreshToken,
    TokenEngine,
};
use keyring_core::api::{CredentialApi, CredentialStoreApi};
use keyring_core::{Entry, Error as KeyringError, mock};

use crate::KeyringStore;
use crate::layout::{ACCESS_TOKEN, CHUNK_PREFIX, ID_TOKEN, META, REFRESH_TOKEN, piece_name};

const SERVICE: &str = "flyte.example.com:443";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn mock_store() -> Arc<keyring_core::CredentialStore> {
    mock::Store::new().unwrap()
}

fn entry(store: &Arc<keyring_core::CredentialStore>, user: &str) -> Entry {
    Entry::new_in_store(store, SERVICE, user).unwrap()
}

/// The value of `user`, or `None`.
fn value(store: &Arc<keyring_core::CredentialStore>, user: &str) -> Option<String> {
    match entry(store, user).get_password() {
        Ok(v) => Some(v),
        Err(KeyringError::NoEntry) => None,
        Err(e) => panic!("{user}: {e}"),
    }
}

fn inject(store: &Arc<keyring_core::CredentialStore>, user: &str, error: KeyringError) {
    let e = entry(store, user);
    let cred: &mock::Cred = e.as_any().downcast_ref().unwrap();
    cred.set_error(error);
}

fn jwt(exp: u64) -> String {
    use base64::Engine as _;
    let enc = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.c2ln",
        enc.encode(r#"{"alg":"RS256"}"#),
        enc.encode(format!(r#"{{"exp":{exp},"sub":"someone"}}"#))
    )
}

fn full_credentials(access: &str) -> Credentials {
    Credentials::new(AccessToken::new(access))
        .with_refresh_token(Some(RefreshToken::new("refresh-secret-1")))
        .with_id_token(Some(IdToken::new("id-secret-1")))
        .with_token_type("DPoP")
        .with_expires_at(Some(UNIX_EPOCH + Duration::from_secs(2_000_000_000)))
        .with_scopes(["openid", "offline_access", "all"])
}

fn platform_failure(msg: &str) -> KeyringError {
    KeyringError::PlatformFailure(msg.to_string().into())
}

#[test]
fn round_trip_with_metadata() {
    let rt = runtime();
    let store = mock_store();
    let ks = KeyringStore::with_store(store.clone());
    let saved = full_credentials("access-secret-1");
    rt.block_on(ks.save(SERVICE, &saved)).unwrap();
    let loaded = rt.block_on(ks.load(SERVICE)).unwrap().unwrap();
    assert_eq!(loaded, saved.clone().with_endpoint(Some(SERVICE)));
    // flytekit's entries hold the raw tokens.
    assert_eq!(
        value(&store, ACCESS_TOKEN).as_deref(),
        Some("access-secret-1")
    );
    assert_eq!(
        value(&store, REFRESH_TOKEN).as_deref(),
        Some("refresh-secret-1")
    );
    assert_eq!(value(&store, ID_TOKEN).as_deref(), Some("id-secret-1"));
    let meta: serde_json::Value = serde_json::from_str(&value(&store, META).unwrap()).unwrap();
    assert_eq!(meta["version"], 1);
    assert_eq!(meta["expires_at"], 2_000_000_000u64);
    assert_eq!(meta["token_type"], "DPoP");
    assert_eq!(
        meta["scopes"],
        serde_json::json!(["openid", "offline_access", "all"])
    );
}

#[test]
fn dns_prefix_is_stripped_from_the_service() {
    let rt = runtime();
    let store = mock_store();
    let ks = KeyringStore::with_store(store.clone());
    rt.block_on(ks.save(&format!("dns:///{SERVICE}"), &full_credentials("a")))
        .unwrap();
    assert_eq!(value(&store, ACCESS_TOKEN).as_deref(), Some("a"));
    let loaded = rt.block_on(ks.load(SERVICE)).unwrap().unwrap();
    assert_eq!(loaded.endpoint(), Some(SERVICE));
}

#[test]
fn overwrite_removes_tokens_the_new_credentials_lack() {
    let rt = runtime();
    let store = mock_store();
    let ks = KeyringStore::with_store(store.clone());
    rt.block_on(ks.save(SERVICE, &full_credentials("a1")))
        .unwrap();
    let plain = Credentials::new(AccessToken::new("a2"));
    rt.block_on(ks.save(SERVICE, &plain)).unwrap();
    let loaded = rt.block_on(ks.load(SERVICE)).unwrap().unwrap();
    assert_eq!(loaded.access_token().secret(), "a2");
    assert!(loaded.refresh_token().is_none() && loaded.id_token().is_none());
    assert_eq!(loaded.expires_at(), None);
    assert_eq!(value(&store, REFRESH_TOKEN), None);
    assert_eq!(value(&store, ID_TOKEN), None);
}

#[test]
fn flytekit_entries_without_metadata_are_read_with_jwt_expiry() {
    let rt = runtime();
    let store = mock_store();
    let token = jwt(2_100_000_000);
    entry(&store, ACCESS_TOKEN).set_password(&token).unwrap();
    entry(&store, REFRESH_TOKEN)
        .set_password("py-refresh")
        .unwrap();
    let ks = KeyringStore::with_store(store);
    let loaded = rt.block_on(ks.load(SERVICE)).unwrap().unwrap();
    assert_eq!(loaded.access_token().secret(), token);
    assert_eq!(loaded.refresh_token().unwrap().secret(), "py-refresh");
    assert_eq!(
        loaded.expires_at(),
        Some(UNIX_EPOCH + Duration::from_secs(2_100_000_000))
    );
    assert_eq!(loaded.token_type(), "Bearer");
}

#[test]
fn metadata_of_a_replaced_access_token_is_ignored() {
    let rt = runtime();
    let store = mock_store();
    let ks = KeyringStore::with_store(store.clone());
    rt.block_on(ks.save(SERVICE, &full_credentials("ours")))
        .unwrap();
    // pyflyte logs in again and writes only its own entries.
    let token = jwt(2_200_000_000);
    entry(&store, ACCESS_TOKEN).set_password(&token).unwrap();
    let loaded = rt.block_on(ks.load(SERVICE)).unwrap().unwrap();
    assert_eq!(loaded.access_token().secret(), token);
    assert_eq!(
        loaded.expires_at(),
        Some(UNIX_EPOCH + Duration::from_secs(2_200_000_000))
    );
    assert!(
        loaded.scopes().is_empty(),
        "the scopes were for the other token"
    );
}

#[test]
fn id_token_or_refresh_token_alone_is_not_credentials() {
    let rt = runtime();
    let store = mock_store();
    entry(&store, ID_TOKEN).set_password("lonely-id").unwrap();
    let ks = KeyringStore::with_store(store.clone());
    assert!(rt.block_on(ks.load(SERVICE)).unwrap().is_none());
    entry(&store, REFRESH_TOKEN)
        .set_password("lonely-refresh")
        .unwrap();
    assert!(rt.block_on(ks.load(SERVICE)).unwrap().is_none());
    // An empty access token is no token either.
    entry(&store, ACCESS_TOKEN).set_password("").unwrap();
    assert!(rt.block_on(ks.load(SERVICE)).unwrap().is_none());
}

#[test]
fn delete_removes_everything_and_deleting_nothing_is_fine() {
    let rt = runtime();
    let store = mock_store();
    let ks = KeyringStore::with_store(store.clone()).with_max_value_len(Some(200));
    let mut c = full_credentials(&"A".repeat(1000));
    c = c.with_refresh_token(Some(RefreshToken::new("R".repeat(450))));
    rt.block_on(ks.save(SERVICE, &c)).unwrap();
    assert!(value(&store, &piece_name(ACCESS_TOKEN, 5)).is_some());
    rt.block_on(ks.delete(SERVICE)).unwrap();
    for user in [ACCESS_TOKEN, REFRESH_TOKEN, ID_TOKEN, META] {
        assert_eq!(value(&store, user), None, "{user}");
    }
    for i in 1..=6 {
        assert_eq!(value(&store, &piece_name(ACCESS_TOKEN, i)), None);
        assert_eq!(value(&store, &piece_name(REFRESH_TOKEN, i)), None);
    }
    assert!(rt.block_on(ks.load(SERVICE)).unwrap().is_none());
    rt.block_on(ks.delete(SERVICE)).unwrap();
    rt.block_on(ks.delete("never-stored")).unwrap();
}

#[test]
fn chunking_round_trip_and_shrinking() {
    let rt = runtime();
    let store = mock_store();
    // Windows' limit: 1280 UTF-8 bytes per entry.
    let ks = KeyringStore::with_store(store.clone())
        .with_max_value_len(Some(crate::WINDOWS_MAX_VALUE_LEN));
    // An Entra-ID-sized JWT with some multi-byte characters, to cut at character boundaries.
    let big = format!("{}é{}", "x".repeat(2000), "ÿ".repeat(700));
    let saved = full_credentials(&big).with_id_token(Some(IdToken::new("i".repeat(3000))));
    rt.block_on(ks.save(SERVICE, &saved)).unwrap();
    let header = value(&store, ACCESS_TOKEN).unwrap();
    assert!(header.starts_with(CHUNK_PREFIX), "{header}");
    assert!(header.starts_with("flyte-auth-chunked:v1:3:"), "{header}");
    for i in 1..=3 {
        let piece = value(&store, &piece_name(ACCESS_TOKEN, i)).unwrap();
        assert!(piece.len() <= crate::WINDOWS_MAX_VALUE_LEN);
    }
    assert_eq!(value(&store, &piece_name(ACCESS_TOKEN, 4)), None);
    let meta: serde_json::Value = serde_json::from_str(&value(&store, META).unwrap()).unwrap();
    assert_eq!(meta["chunks"]["access_token"], 3);
    assert_eq!(meta["chunks"]["id_token"], 3);
    let loaded = rt.block_on(ks.load(SERVICE)).unwrap().unwrap();
    assert_eq!(loaded, saved.with_endpoint(Some(SERVICE)));

    // A shorter token replaces the pieces: no piece is left behind.
    let small = full_credentials("short");
    rt.block_on(ks.save(SERVICE, &small)).unwrap();
    assert_eq!(value(&store, ACCESS_TOKEN).as_deref(), Some("short"));
    for i in 1..=3 {
        assert_eq!(value(&store, &piece_name(ACCESS_TOKEN, i)), None);
    }
    let loaded = rt.block_on(ks.load(SERVICE)).unwrap().unwrap();
    assert_eq!(loaded.access_token().secret(), "short");
}

#[test]
fn a_raw_value_that_looks_like_a_header_is_stored_unambiguously() {
    let rt = runtime();
    let store = mock_store();
    let ks = KeyringStore::with_store(store.clone());
    let odd = format!("{CHUNK_PREFIX}v1:1:5:0000000000000000");
    rt.block_on(ks.save(SERVICE, &Credentials::new(AccessToken::new(odd.clone()))))
        .unwrap();
    let loaded = rt.block_on(ks.load(SERVICE)).unwrap().unwrap();
    assert_eq!(loaded.access_token().secret(), odd);
}

#[test]
fn corrupt_chunk_header_is_absent_and_cleaned_up() {
    let rt = runtime();
    let store = mock_store();
    let ks = KeyringStore::with_store(store.clone()).with_max_value_len(Some(128));
    rt.block_on(ks.save(SERVICE, &full_credentials(&"a".repeat(300))))
        .unwrap();
    for bad in [
        format!("{CHUNK_PREFIX}v1:many:300:0000000000000000"),
        format!("{CHUNK_PREFIX}v9:3:300:0000000000000000"),
        CHUNK_PREFIX.to_string(),
    ] {
        entry(&store, ACCESS_TOKEN).set_password(&bad).unwrap();
        entry(&store, &piece_name(ACCESS_TOKEN, 1))
            .set_password("stale")
            .unwrap();
        assert!(rt.block_on(ks.load(SERVICE)).unwrap().is_none(), "{bad}");
        assert_eq!(value(&store, ACCESS_TOKEN), None, "the header was removed");
        assert_eq!(
            value(&store, &piece_name(ACCESS_TOKEN, 1)),
            None,
            "pieces were removed"
        );
    }
}

#[test]
fn partial_or_mismatched_pieces_are_absent_and_cleaned_up() {
    let rt = runtime();
    let store = mock_store();
    let ks = KeyringStore::with_store(store.clone()).with_max_value_len(Some(128));
    // A missing middle piece.
    rt.block_on(ks.save(SERVICE, &full_credentials(&"b".repeat(300))))
        .unwrap();
    entry(&store, &piece_name(ACCESS_TOKEN, 2))
        .delete_credential()
        .unwrap();
    assert!(rt.block_on(ks.load(SERVICE)).unwrap().is_none());
    for i in 1..=3 {
        assert_eq!(
            value(&store, &piece_name(ACCESS_TOKEN, i)),
            None,
            "piece {i}"
        );
    }
    assert_eq!(value(&store, ACCESS_TOKEN), None);
    // A piece from another value: the checksum does not match.
    rt.block_on(ks.save(SERVICE, &full_credentials(&"c".repeat(300))))
        .unwrap();
    entry(&store, &piece_name(ACCESS_TOKEN, 1))
        .set_password(&"d".repeat(128))
        .unwrap();
    assert!(rt.block_on(ks.load(SERVICE)).unwrap().is_none());
    assert_eq!(value(&store, ACCESS_TOKEN), None);
    // A corrupt refresh token only loses the refresh token.
    rt.block_on(ks.save(
        SERVICE,
        &full_credentials("e").with_refresh_token(Some(RefreshToken::new("r".repeat(300)))),
    ))
    .unwrap();
    entry(&store, &piece_name(REFRESH_TOKEN, 3))
        .delete_credential()
        .unwrap();
    let loaded = rt.block_on(ks.load(SERVICE)).unwrap().unwrap();
    assert_eq!(loaded.access_token().secret(), "e");
    assert!(loaded.refresh_token().is_none());
    assert_eq!(value(&store, REFRESH_TOKEN), None);
}

#[test]
fn corrupt_metadata_is_ignored_and_removed() {
    let rt = runtime();
    let store = mock_store();
    let ks = KeyringStore::with_store(store.clone());
    let token = jwt(2_300_000_000);
    rt.block_on(ks.save(SERVICE, &full_credentials(&token)))
        .unwrap();
    entry(&store, META).set_password("{not json").unwrap();
    let loaded = rt.block_on(ks.load(SERVICE)).unwrap().unwrap();
    assert_eq!(loaded.access_token().secret(), token);
    assert_eq!(
        loaded.expires_at(),
        Some(UNIX_EPOCH + Duration::from_secs(2_300_000_000))
    );
    assert_eq!(value(&store, META), None);
    // Metadata of a newer layout is ignored but left for the client that wrote it.
    entry(&store, META)
        .set_password(r#"{"version":2,"expires_at":1}"#)
        .unwrap();
    let loaded = rt.block_on(ks.load(SERVICE)).unwrap().unwrap();
    assert_eq!(
        loaded.expires_at(),
        Some(UNIX_EPOCH + Duration::from_secs(2_300_000_000))
    );
    assert!(value(&store, META).is_some());
}

#[test]
fn non_utf8_value_is_absent_and_removed() {
    let rt = runtime();
    let store = mock_store();
    entry(&store, ACCESS_TOKEN)
        .set_secret(&[0xff, 0xfe, 0x00])
        .unwrap();
    let ks = KeyringStore::with_store(store.clone());
    assert!(rt.block_on(ks.load(SERVICE)).unwrap().is_none());
    assert!(entry(&store, ACCESS_TOKEN).get_secret().is_err(), "removed");
}

#[test]
fn injected_errors_on_the_mock_are_reported_with_advice_and_do_not_stick() {
    let rt = runtime();
    let store = mock_store();
    let ks = KeyringStore::with_store(store.clone());
    rt.block_on(ks.save(SERVICE, &full_credentials("a")))
        .unwrap();

    inject(
        &store,
        ACCESS_TOKEN,
        KeyringError::NoStorageAccess("locked".to_string().into()),
    );
    let e = rt.block_on(ks.load(SERVICE)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Storage);
    assert!(e.to_string().contains("unlock"), "{e}");
    assert!(e.to_string().contains("access_token"), "{e}");
    assert!(
        rt.block_on(ks.load(SERVICE)).unwrap().is_some(),
        "the next call works"
    );

    inject(&store, REFRESH_TOKEN, platform_failure("dbus went away"));
    let e = rt
        .block_on(ks.save(SERVICE, &full_credentials("b")))
        .unwrap_err();
    assert!(e.to_string().contains("dbus went away"), "{e}");
    rt.block_on(ks.save(SERVICE, &full_credentials("b")))
        .unwrap();
    assert_eq!(value(&store, ACCESS_TOKEN).as_deref(), Some("b"));

    // An ambiguous entry (two items match) is read from the first one.
    let other = Entry::new_in_store(&store, "elsewhere", ACCESS_TOKEN).unwrap();
    other.set_password("from-the-first-match").unwrap();
    inject(&store, ACCESS_TOKEN, KeyringError::Ambiguous(vec![other]));
    let loaded = rt.block_on(ks.load(SERVICE)).unwrap().unwrap();
    assert_eq!(loaded.access_token().secret(), "from-the-first-match");
}

/// A keyring-core store whose every call fails with the error `make` builds, blocks until
/// released, or panics.
#[derive(Debug)]
struct Faulty {
    mode: Mode,
    gate: Arc<(Mutex<bool>, Condvar)>,
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    Fail(MakeError),
    Block,
    Panic,
}

impl Faulty {
    fn store(
        mode: Mode,
    ) -> (
        Arc<keyring_core::CredentialStore>,
        Arc<(Mutex<bool>, Condvar)>,
    ) {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        (
            Arc::new(Faulty {
                mode,
                gate: gate.clone(),
            }),
            gate,
        )
    }

    fn call(&self) -> keyring_core::Result<()> {
        match self.mode {
            Mode::Fail(make) => Err(make()),
            Mode::Panic => panic!("keyring library bug"),
            Mode::Block => {
                let (lock, cv) = &*self.gate;
                let mut open = lock.lock().unwrap();
                while !*open {
                    open = cv.wait(open).unwrap();
                }
                Err(KeyringError::NoEntry)
            }
        }
    }
}

fn release(gate: &(Mutex<bool>, Condvar)) {
    *gate.0.lock().unwrap() = true;
    gate.1.notify_all();
}

#[derive(Debug)]
struct FaultyCred(Arc<Faulty>);

impl CredentialApi for FaultyCred {
    fn set_secret(&self, _: &[u8]) -> keyring_core::Result<()> {
        self.0.call()
    }
    fn get_secret(&self) -> keyring_core::Result<Vec<u8>> {
        self.0.call().map(|()| Vec::new())
    }
    fn delete_credential(&self) -> keyring_core::Result<()> {
        self.0.call()
    }
    fn get_credential(&self) -> keyring_core::Result<Option<Arc<keyring_core::Credential>>> {
        self.0.call().map(|()| None)
    }
    fn get_specifiers(&self) -> Option<(String, String)> {
        None
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl CredentialStoreApi for Faulty {
    fn vendor(&self) -> String {
        "faulty".into()
    }
    fn id(&self) -> String {
        "faulty".into()
    }
    fn build(
        &self,
        _: &str,
        _: &str,
        _: Option<&HashMap<&str, &str>>,
    ) -> keyring_core::Result<Entry> {
        let me = Arc::new(Faulty {
            mode: self.mode,
            gate: self.gate.clone(),
        });
        Ok(Entry::new_with_credential(Arc::new(FaultyCred(me))))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Builds one kind of keyring-core error, fresh each time.
type MakeError = fn() -> KeyringError;

/// Every kind of keyring-core error.
const KINDS: &[(&str, MakeError)] = &[
    ("PlatformFailure", || platform_failure("boom")),
    ("NoStorageAccess", || {
        KeyringError::NoStorageAccess("locked".to_string().into())
    }),
    ("NoEntry", || KeyringError::NoEntry),
    ("BadEncoding", || KeyringError::BadEncoding(vec![0xff])),
    ("BadDataFormat", || {
        KeyringError::BadDataFormat(vec![1], "bad".to_string().into())
    }),
    ("BadStoreFormat", || {
        KeyringError::BadStoreFormat("bad store".into())
    }),
    ("TooLong", || KeyringError::TooLong("password".into(), 10)),
    ("Invalid", || {
        KeyringError::Invalid("user".into(), "bad".into())
    }),
    ("Ambiguous", || KeyringError::Ambiguous(Vec::new())),
    ("NoDefaultStore", || KeyringError::NoDefaultStore),
    ("NotSupportedByStore", || {
        KeyringError::NotSupportedByStore("nope".into())
    }),
];

#[test]
fn every_error_kind_is_non_fatal() {
    let rt = runtime();
    for (name, make) in KINDS {
        let (store, _) = Faulty::store(Mode::Fail(*make));
        let ks = Arc::new(KeyringStore::with_store(store));
        // Each operation returns (an error or nothing) and never panics.
        let load = rt.block_on(ks.load(SERVICE));
        let save = rt.block_on(ks.save(SERVICE, &full_credentials("a")));
        let delete = rt.block_on(ks.delete(SERVICE));
        match *name {
            // Nothing stored: an empty store, not an error.
            "NoEntry" => {
                assert!(matches!(load, Ok(None)), "{name}: {load:?}");
                assert!(delete.is_ok(), "{name}: {delete:?}");
            }
            // Unreadable values are treated as absent.
            "BadEncoding" | "BadDataFormat" => {
                assert!(matches!(load, Ok(None)), "{name}: {load:?}")
            }
            // An empty ambiguity list reads as nothing found.
            "Ambiguous" => {}
            _ => {
                let e = load.unwrap_err();
                assert_eq!(e.kind(), ErrorKind::Storage, "{name}");
                assert!(
                    e.to_string().contains("flyte-auth"),
                    "{name}: no advice in {e}"
                );
                assert!(delete.is_err(), "{name}");
            }
        }
        if *name != "Ambiguous" {
            assert!(save.is_err(), "{name}: save reported success");
        }
        // The engine goes on without the store.
        let engine = TokenEngine::new(
            Arc::new(ScriptedSource::new()),
            EngineOptions::default()
                .with_store(Some(ks.clone() as Arc<dyn CredentialStore>), SERVICE),
        );
        let c = rt
            .block_on(engine.credentials())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(c.access_token().secret(), "fetch-1");
    }
}

#[test]
fn a_hung_store_returns_at_the_deadline_and_is_skipped_until_it_returns() {
    let rt = runtime();
    let (store, gate) = Faulty::store(Mode::Block);
    let ks = KeyringStore::with_store(store).with_timeout(Duration::from_millis(200));
    let e = rt.block_on(ks.load(SERVICE)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.to_string().contains("no answer within"), "{e}");
    // The abandoned call still blocks: the next one fails at once without a new thread.
    let e = rt
        .block_on(ks.save(SERVICE, &full_credentials("a")))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(e.to_string().contains("has not returned yet"), "{e}");
    // Once the keyring answers, the store is used again.
    release(&gate);
    let mut answered = false;
    for _ in 0..500 {
        if !ks.runner_is_stuck() {
            answered = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(answered, "the abandoned call never finished");
    assert!(matches!(rt.block_on(ks.load(SERVICE)), Ok(None)));
}

#[test]
fn the_engine_authenticates_while_the_store_hangs() {
    let rt = runtime();
    let (store, gate) = Faulty::store(Mode::Block);
    let ks = Arc::new(KeyringStore::with_store(store).with_timeout(Duration::from_millis(100)));
    let engine = TokenEngine::new(
        Arc::new(ScriptedSource::new()),
        EngineOptions::default().with_store(Some(ks as Arc<dyn CredentialStore>), SERVICE),
    );
    let c = rt.block_on(engine.credentials()).unwrap();
    assert_eq!(c.access_token().secret(), "fetch-1");
    release(&gate);
}

#[test]
fn a_panicking_store_is_an_error_not_a_crash() {
    let rt = runtime();
    let (store, _) = Faulty::store(Mode::Panic);
    let ks = KeyringStore::with_store(store);
    let e = rt.block_on(ks.load(SERVICE)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Storage);
    assert!(e.to_string().contains("panicked"), "{e}");
    // Not stuck: the next call runs (and fails the same way).
    assert!(
        rt.block_on(ks.delete(SERVICE))
            .unwrap_err()
            .to_string()
            .contains("panicked")
    );
}

#[test]
fn outside_a_tokio_runtime_it_is_an_error_not_a_panic() {
    let ks = KeyringStore::with_store(mock_store());
    let e = futures::executor::block_on(ks.load(SERVICE)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Configuration);
    assert!(e.to_string().contains("Tokio runtime"), "{e}");
}

#[test]
fn expiry_is_kept_to_the_second() {
    let rt = runtime();
    let ks = KeyringStore::with_store(mock_store());
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_900_000_123);
    let c = Credentials::new(AccessToken::new("t")).with_expires_at(Some(at));
    rt.block_on(ks.save(SERVICE, &c)).unwrap();
    assert_eq!(
        rt.block_on(ks.load(SERVICE)).unwrap().unwrap().expires_at(),
        Some(at)
    );
}

#[test]
fn flyte2_layout_is_read_written_when_present_and_deleted() {
    use crate::KeyringLayout;
    use crate::layout::FLYTE2_TOKENS;
    let rt = runtime();
    let store = mock_store();
    let ks = KeyringStore::with_store(store.clone());
    // What Flyte 2's SDK writes: one entry, JSON.
    let exp = 2_100_000_000;
    entry(&store, FLYTE2_TOKENS)
        .set_password(&format!(
            r#"{{"access_token": "{}", "refresh_token": "rt-flyte2"}}"#,
            jwt(exp)
        ))
        .unwrap();
    let loaded = rt.block_on(ks.load(SERVICE)).unwrap().unwrap();
    assert_eq!(loaded.access_token().secret(), jwt(exp));
    assert_eq!(loaded.refresh_token().unwrap().secret(), "rt-flyte2");
    assert_eq!(
        loaded.expires_at(),
        Some(UNIX_EPOCH + Duration::from_secs(exp))
    );

    // Auto: Flyte 2's entry was there, so both layouts are written.
    rt.block_on(ks.save(SERVICE, &full_credentials("at-new")))
        .unwrap();
    assert_eq!(value(&store, ACCESS_TOKEN).as_deref(), Some("at-new"));
    let v: serde_json::Value =
        serde_json::from_str(&value(&store, FLYTE2_TOKENS).unwrap()).unwrap();
    assert_eq!(v["access_token"], "at-new");
    assert_eq!(v["refresh_token"], "refresh-secret-1");

    // Logout removes both.
    rt.block_on(ks.delete(SERVICE)).unwrap();
    assert_eq!(value(&store, FLYTE2_TOKENS), None);
    assert_eq!(value(&store, ACCESS_TOKEN), None);

    // Auto without a Flyte 2 entry writes flytekit's only; Flyte2 writes only Flyte 2's.
    rt.block_on(ks.save(SERVICE, &full_credentials("at-fk")))
        .unwrap();
    assert_eq!(value(&store, FLYTE2_TOKENS), None);
    let only2 = KeyringStore::with_store(store.clone()).with_layout(KeyringLayout::Flyte2);
    rt.block_on(only2.save(SERVICE, &full_credentials("at-2")))
        .unwrap();
    assert_eq!(value(&store, ACCESS_TOKEN), None);
    assert_eq!(
        rt.block_on(ks.load(SERVICE))
            .unwrap()
            .unwrap()
            .access_token()
            .secret(),
        "at-2"
    );
    assert_eq!(
        KeyringLayout::parse(" Flyte2 "),
        Some(KeyringLayout::Flyte2)
    );
    assert_eq!(KeyringLayout::parse("nope"), None);
}

// Found while fuzzing the keyring layout and the file codec (fuzz/, `cargo xtask fuzz`):
// entries another client or a corrupt keyring left must never take the process down.

#[test]
fn a_chunk_header_with_an_absurd_length_is_absent_not_a_crash() {
    let rt = runtime();
    let store = mock_store();
    let ks = KeyringStore::with_store(store.clone());
    // The header's length was allocated up front: usize::MAX panicked (capacity overflow)
    // and a merely huge one aborted the process (allocation failure).
    entry(&store, ACCESS_TOKEN)
        .set_password(&format!(
            "{CHUNK_PREFIX}v1:1:{}:0000000000000000",
            usize::MAX
        ))
        .unwrap();
    entry(&store, &piece_name(ACCESS_TOKEN, 1))
        .set_password("abc")
        .unwrap();
    assert!(rt.block_on(ks.load(SERVICE)).unwrap().is_none());
    assert_eq!(value(&store, ACCESS_TOKEN), None, "the header was removed");
    assert_eq!(value(&store, &piece_name(ACCESS_TOKEN, 1)), None);
}

#[test]
fn a_metadata_expiry_past_what_system_time_holds_is_unknown() {
    let rt = runtime();
    let store = mock_store();
    let ks = KeyringStore::with_store(store.clone());
    rt.block_on(ks.save(SERVICE, &full_credentials("opaque-token")))
        .unwrap();
    let meta = value(&store, META).unwrap();
    let meta = meta.replace("2000000000", &u64::MAX.to_string());
    entry(&store, META).set_password(&meta).unwrap();
    let loaded = rt.block_on(ks.load(SERVICE)).unwrap().unwrap();
    assert_eq!(loaded.access_token().secret(), "opaque-token");
    assert_eq!(loaded.expires_at(), None);
    assert_eq!(
        loaded.token_type(),
        "DPoP",
        "the rest of the metadata is used"
    );
}

#[test]
fn a_file_expiry_past_what_system_time_holds_is_unknown() {
    let json = format!(
        r#"{{"version":1,"endpoint":"e","access_token":"a","expires_at":{}}}"#,
        u64::MAX
    );
    let c =
        auth_store::codec::decode_credentials(json.as_bytes(), "e").expect("usable credentials");
    assert_eq!(c.access_token().secret(), "a");
    assert_eq!(c.expires_at(), None);
}

/// Entries in memory, for the layout alone.
#[derive(Default)]
struct Plain(Mutex<HashMap<String, String>>);

impl crate::layout::Entries for Plain {
    fn get(&self, user: &str) -> Result<Option<zeroize::Zeroizing<String>>, KeyringError> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .get(user)
            .cloned()
            .map(zeroize::Zeroizing::new))
    }

    fn set(&self, user: &str, value: &str) -> Result<(), KeyringError> {
        self.0.lock().unwrap().insert(user.into(), value.into());
        Ok(())
    }

    fn delete(&self, user: &str) -> Result<bool, KeyringError> {
        Ok(self.0.lock().unwrap().remove(user).is_some())
    }
}

// Found by fuzzing (keyring_layout): another client may store a token longer than 64 pieces
// of a store's per-value limit; saving it where there is such a limit must be an error that
// says so (nothing cut, nothing written half), and where there is none it must work.
#[test]
fn a_token_too_long_for_64_pieces_is_refused_with_an_error() {
    let long = "t".repeat(128 * 64 + 1);
    let credentials = Credentials::new(AccessToken::new(long.as_str()));
    let limited = Plain::default();
    let e = crate::layout::save(
        &limited,
        &credentials,
        Some(128),
        crate::KeyringLayout::Flytekit,
    )
    .unwrap_err();
    assert!(e.to_string().contains("longer than"), "{e}");
    assert!(
        limited.0.lock().unwrap().get(ACCESS_TOKEN).is_none(),
        "no header without its pieces"
    );
    let unlimited = Plain::default();
    crate::layout::save(
        &unlimited,
        &credentials,
        None,
        crate::KeyringLayout::Flytekit,
    )
    .expect("no limit, no refusal");
    let back = crate::layout::load(&unlimited, SERVICE, SystemTime::now())
        .unwrap()
        .expect("loads");
    assert_eq!(back.access_token().secret(), long);
}
