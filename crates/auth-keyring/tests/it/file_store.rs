//! The explicit file store.

use std::os::unix::fs::PermissionsExt as _;
use std::time::{Duration, UNIX_EPOCH};

use auth_core::{AccessToken, CredentialStore, Credentials};
use auth_keyring::{FileStore, NoStore};

use super::{credentials, in_child_with, runtime};

const EP: &str = "flyte.example.com:443";

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn round_trip_private_modes_overwrite_delete() {
    let rt = runtime();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state").join("flyte-auth");
    let store = FileStore::in_dir(&dir);
    assert!(rt.block_on(store.load(EP)).unwrap().is_none());
    let saved = credentials("f1").with_token_type("DPoP");
    rt.block_on(store.save(EP, &saved)).unwrap();
    let path = store.path_for(EP);
    assert_eq!(path.file_name().unwrap(), "flyte.example.com%3A443.json");
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(
        rt.block_on(store.load(EP)).unwrap(),
        Some(saved.with_endpoint(Some(EP)))
    );

    let plain = Credentials::new(AccessToken::new("access-f2"));
    rt.block_on(store.save(&format!("dns:///{EP}"), &plain))
        .unwrap();
    let loaded = rt.block_on(store.load(EP)).unwrap().unwrap();
    assert_eq!(loaded.access_token().secret(), "access-f2");
    assert!(loaded.refresh_token().is_none());
    assert_eq!(mode(&path), 0o600);
    // Atomic replace leaves no temporary file behind.
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");

    rt.block_on(store.save("other.example.com", &credentials("o")))
        .unwrap();
    rt.block_on(store.delete(EP)).unwrap();
    assert!(rt.block_on(store.load(EP)).unwrap().is_none());
    assert!(!path.exists());
    rt.block_on(store.delete(EP)).unwrap();
    assert!(
        rt.block_on(store.load("other.example.com"))
            .unwrap()
            .is_some()
    );
}

#[test]
fn corrupt_file_is_absent_and_removed() {
    let rt = runtime();
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::in_dir(tmp.path());
    for bad in [
        "{not json",
        r#"{"version":9,"endpoint":"x","access_token":"a"}"#,
        r#"{"version":1,"endpoint":"x","access_token":""}"#,
        "",
    ] {
        std::fs::write(store.path_for(EP), bad).unwrap();
        assert!(rt.block_on(store.load(EP)).unwrap().is_none(), "{bad}");
        assert!(!store.path_for(EP).exists(), "{bad}");
    }
}

#[test]
fn a_file_readable_by_others_is_used_with_a_warning() {
    // In a child process of its own: log capture with tests running on other threads is
    // racy (callsite interest is cached process-wide).
    in_child_with(
        "file_store::a_file_readable_by_others_is_used_with_a_warning",
        |_| {},
        || {
            let capture = auth_testkit::logs::LogCapture::default();
            assert!(capture.install_global());
            let rt = runtime();
            let tmp = tempfile::tempdir().unwrap();
            let store = FileStore::in_dir(tmp.path());
            rt.block_on(store.save(EP, &credentials("shared"))).unwrap();
            std::fs::set_permissions(store.path_for(EP), std::fs::Permissions::from_mode(0o644))
                .unwrap();
            assert!(rt.block_on(store.load(EP)).unwrap().is_some());
            assert!(
                capture.contents().contains("chmod 600"),
                "{}",
                capture.contents()
            );
            capture.assert_none_of(&["access-shared", "refresh-shared", "id-shared"]);
        },
    );
}

#[test]
fn an_unwritable_directory_is_an_error_not_a_failure_of_authentication() {
    let rt = runtime();
    let tmp = tempfile::tempdir().unwrap();
    // A regular file where the directory should be.
    let blocker = tmp.path().join("blocker");
    std::fs::write(&blocker, "").unwrap();
    let store = FileStore::in_dir(blocker.join("sub"));
    let e = rt.block_on(store.save(EP, &credentials("x"))).unwrap_err();
    assert_eq!(e.kind(), auth_core::ErrorKind::Storage);
    assert!(e.to_string().contains("could not create directory"), "{e}");
    super::engine_still_authenticates(&rt, std::sync::Arc::new(store), EP);
}

#[test]
fn default_directory_is_the_xdg_state_home() {
    let state = tempfile::tempdir().unwrap();
    let expected = state.path().join("flyte-auth").join("credentials");
    in_child_with(
        "file_store::default_directory_is_the_xdg_state_home",
        |c| {
            c.env("XDG_STATE_HOME", state.path());
        },
        || {
            let store = FileStore::new().unwrap();
            let state = std::env::var_os("XDG_STATE_HOME").unwrap();
            assert_eq!(
                store.dir(),
                std::path::Path::new(&state)
                    .join("flyte-auth")
                    .join("credentials")
            );
            let rt = runtime();
            rt.block_on(store.save(EP, &credentials("x"))).unwrap();
        },
    );
    if !auth_testkit::secret_service::in_child(
        "file_store::default_directory_is_the_xdg_state_home",
    ) {
        assert!(expected.join("flyte.example.com%3A443.json").exists());
    }
}

#[test]
fn default_directory_falls_back_to_home() {
    let home = tempfile::tempdir().unwrap();
    in_child_with(
        "file_store::default_directory_falls_back_to_home",
        |c| {
            c.env_remove("XDG_STATE_HOME").env("HOME", home.path());
        },
        || {
            let store = FileStore::new().unwrap();
            let home = std::env::var_os("HOME").unwrap();
            let expected = std::path::Path::new(&home).join(".local/state/flyte-auth/credentials");
            assert_eq!(store.dir(), expected);
        },
    );
}

#[test]
fn expiry_survives_to_the_second() {
    let rt = runtime();
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::in_dir(tmp.path());
    let at = UNIX_EPOCH + Duration::from_secs(1_950_000_001);
    let c = Credentials::new(AccessToken::new("t")).with_expires_at(Some(at));
    rt.block_on(store.save(EP, &c)).unwrap();
    assert_eq!(
        rt.block_on(store.load(EP)).unwrap().unwrap().expires_at(),
        Some(at)
    );
}

#[test]
fn no_store_keeps_nothing() {
    let rt = runtime();
    rt.block_on(NoStore.save(EP, &credentials("n"))).unwrap();
    assert!(rt.block_on(NoStore.load(EP)).unwrap().is_none());
    rt.block_on(NoStore.delete(EP)).unwrap();
}

#[test]
fn a_symlink_at_the_credentials_path_is_refused_and_left_alone() {
    let rt = runtime();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("creds");
    std::fs::create_dir(&dir).unwrap();
    let store = FileStore::in_dir(&dir);
    let elsewhere = tmp.path().join("elsewhere.json");
    std::fs::write(&elsewhere, "not yours").unwrap();
    std::os::unix::fs::symlink(&elsewhere, store.path_for(EP)).unwrap();

    let err = rt.block_on(store.save(EP, &credentials("s"))).unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    let err = rt.block_on(store.load(EP)).unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "not yours");
    assert!(
        std::fs::symlink_metadata(store.path_for(EP))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn every_write_leaves_mode_0600_even_over_a_widened_file() {
    let rt = runtime();
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::in_dir(tmp.path().join("c"));
    rt.block_on(store.save(EP, &credentials("a"))).unwrap();
    let path = store.path_for(EP);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    rt.block_on(store.save(EP, &credentials("b"))).unwrap();
    assert_eq!(mode(&path), 0o600);
}

/// Found by review while fuzzing the file codec (fuzz/, `cargo xtask fuzz`): an `expires_at`
/// past what `SystemTime` holds panicked on load; it is an unknown expiry now.
#[test]
fn a_file_with_an_absurd_expiry_loads_with_an_unknown_expiry() {
    let rt = runtime();
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::in_dir(tmp.path());
    let json = format!(
        r#"{{"version":1,"endpoint":"{EP}","access_token":"a-1","expires_at":{}}}"#,
        u64::MAX
    );
    std::fs::write(store.path_for(EP), json).unwrap();
    let loaded = rt.block_on(store.load(EP)).unwrap().expect("credentials");
    assert_eq!(loaded.access_token().secret(), "a-1");
    assert_eq!(loaded.expires_at(), None);
}
