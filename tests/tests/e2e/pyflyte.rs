//! The keyring shared with pyflyte, for real (issues 14 and 19): flytekit's own keyring code
//! on Python `keyring` (SecretStorage) and `flyte-auth` on one private Secret Service, taking
//! turns. After every step there is exactly one item per (service, username), written with
//! Python keyring's attributes, and both sides read the same tokens.
//!
//! Needs `FLYTE_AUTH_TEST_PYTHON` (a Python with keyring and flytekit, made by
//! `cargo xtask test` from `tests/python/requirements.txt`).

use std::path::PathBuf;
use std::time::Duration;

use auth_testkit::idp::{TestIdp, require_issuer, stats};
use serde_json::Value;
use tests::{User, keyring_available};

const CLIENT: &str = "flyte-cli-rotating";
/// An audience (a resource, RFC 8707), so that the provider issues JWT access tokens whose
/// expiry both sides can read: pyflyte stores no expiry of its own.
const AUDIENCE: &str = "https://flyte.test/api";
/// Access tokens of the rotating client live 20 s; the hard skew is min(10 s, a quarter of
/// the lifetime) = 5 s, so a stored one stops being handed out 15 s after it was issued.
const EXPIRED_AFTER: Duration = Duration::from_secs(16);

fn python(name: &str) -> Option<PathBuf> {
    match std::env::var_os("FLYTE_AUTH_TEST_PYTHON") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => {
            assert!(
                std::env::var_os("FLYTE_AUTH_TEST_KEYRING").is_none(),
                "{name}: FLYTE_AUTH_TEST_KEYRING is set but FLYTE_AUTH_TEST_PYTHON is not: \
                 run `cargo xtask test`, which makes the Python environment"
            );
            println!("{name}: skipped (set FLYTE_AUTH_TEST_PYTHON, as `cargo xtask test` does)");
            None
        }
    }
}

struct Pyflyte<'a> {
    python: PathBuf,
    user: &'a User,
    endpoint: String,
}

impl Pyflyte<'_> {
    fn run(&self, args: &[&str]) -> String {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/pyflyte_keyring.py");
        let mut all = vec![script];
        all.extend_from_slice(args);
        let out = self
            .user
            .other_command(&self.python, &all)
            .output()
            .expect("run python");
        assert!(
            out.status.success(),
            "pyflyte_keyring.py {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A pyflyte refresh: the refresh grant with the stored refresh token, then
    /// `KeyringStore.store`. Returns the new access token.
    fn refresh(&self, idp: &TestIdp) -> String {
        let token_url = format!("{}/token", idp.issuer());
        self.run(&["refresh", &self.endpoint, &token_url, CLIENT, AUDIENCE])
    }

    fn retrieve(&self) -> Value {
        serde_json::from_str(&self.run(&["retrieve", &self.endpoint])).expect("json")
    }

    /// Checks that there is exactly one item per user name, each written as Python keyring
    /// writes it, and returns the user names.
    fn one_item_each(&self, step: &str) -> Vec<String> {
        let items: Vec<Value> =
            serde_json::from_str(&self.run(&["items", &self.endpoint])).expect("json");
        let mut users: Vec<String> = items
            .iter()
            .map(|i| i["username"].as_str().unwrap_or_default().to_string())
            .collect();
        let n = users.len();
        users.dedup();
        assert_eq!(
            users.len(),
            n,
            "{step}: one item per (service, username): {items:#?}"
        );
        for item in &items {
            let user = item["username"].as_str().unwrap_or_default();
            let mut attributes = item["attributes"].as_object().cloned().unwrap_or_default();
            attributes.remove("xdg:schema");
            assert_eq!(
                Value::Object(attributes),
                serde_json::json!({
                    "application": "Python keyring library",
                    "service": self.endpoint,
                    "username": user,
                }),
                "{step}: Python keyring's attributes"
            );
            assert_eq!(
                item["label"],
                format!("Password for '{user}' on '{}'", self.endpoint),
                "{step}"
            );
        }
        users
    }
}

fn token_requests(idp: &TestIdp) -> u64 {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(stats(idp.issuer()))
        .expect("stats")
        .token_requests(CLIENT)
}

/// A JWT-shaped access token that expires in an hour (flyte-auth reads its `exp`).
fn jwt_for_an_hour(sub: &str) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let b64 = |s: &str| base64_url(s.as_bytes());
    format!(
        "{}.{}.sig",
        b64(r#"{"alg":"none"}"#),
        b64(&format!(r#"{{"sub":"{sub}","exp":{exp}}}"#))
    )
}

fn base64_url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n =
            chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[test]
fn pyflyte_and_flyte_auth_take_turns_on_one_keyring() {
    let name = "pyflyte_and_flyte_auth_take_turns_on_one_keyring";
    let Some(_shared) = require_issuer(name) else {
        return;
    };
    if !keyring_available(name) {
        return;
    }
    let Some(python) = python(name) else {
        return;
    };
    let idp = TestIdp::start().expect("start the identity provider");
    let u = User::with_keyring(idp.issuer());
    let py = Pyflyte {
        python,
        user: &u,
        endpoint: u.endpoint(),
    };
    let cfg = u.config(
        "rotating",
        &format!("  authType: Pkce\n  redirectUri: http://localhost:0/callback\n  clientId: {CLIENT}\n  audience: {AUDIENCE}\n"),
    );
    let cfg = cfg.to_str().unwrap();
    let token = |extra: &[&str]| {
        let mut args = vec!["--config", cfg];
        args.extend_from_slice(extra);
        args.push("token");
        let r = u.run(&args);
        (r.code, r.stdout.trim().to_string(), r.stderr)
    };

    // 1. flyte-auth logs in; pyflyte reads the same tokens.
    let r = u.run(&["--config", cfg, "login"]);
    assert_eq!(r.code, 0, "{r:?}");
    let (code, ours, err) = token(&["--non-interactive"]);
    assert_eq!(code, 0, "{err}");
    let theirs = py.retrieve();
    assert_eq!(theirs["access_token"], ours, "1: pyflyte reads our login");
    assert!(theirs["refresh_token"].is_string());
    assert_eq!(
        py.one_item_each("1 login"),
        [
            "access_token",
            "flyte_auth_meta",
            "id_token",
            "refresh_token"
        ]
    );

    // 2. pyflyte refreshes (rotating the refresh token); the next flyte-auth call uses its
    //    tokens without a request.
    let before = token_requests(&idp);
    let py_access = py.refresh(&idp);
    assert_eq!(token_requests(&idp), before + 1);
    py.one_item_each("2 pyflyte refresh");
    let (code, ours, err) = token(&["--non-interactive"]);
    assert_eq!((code, ours.as_str()), (0, py_access.as_str()), "2: {err}");
    assert_eq!(token_requests(&idp), before + 1, "2: no request");

    // 3. After expiry flyte-auth refreshes with pyflyte's rotated refresh token (the old one
    //    would be reuse, and revoke the grant); pyflyte then reads ours.
    std::thread::sleep(EXPIRED_AFTER);
    let (code, ours, err) = token(&["--non-interactive"]);
    assert_eq!(
        code, 0,
        "3: flyte-auth refreshed with pyflyte's token: {err}"
    );
    assert_ne!(ours, py_access);
    assert_eq!(token_requests(&idp), before + 2);
    assert_eq!(
        py.retrieve()["access_token"],
        ours,
        "3: pyflyte reads our refresh"
    );
    py.one_item_each("3 flyte-auth refresh");

    // 4. pyflyte refreshes again with flyte-auth's rotated token: the chain is intact.
    let py_access = py.refresh(&idp);
    let (code, ours, _) = token(&["--non-interactive"]);
    assert_eq!((code, ours.as_str()), (0, py_access.as_str()), "4");
    py.one_item_each("4 pyflyte refresh");

    // 5. A pyflyte logout is seen at the next flyte-auth call.
    py.run(&["delete", &py.endpoint]);
    assert!(py.retrieve().is_null());
    let r = u.run(&["--config", cfg, "status"]);
    assert_eq!(r.code, 1, "5: logged out: {r:?}");
    let (code, _, _) = token(&["--non-interactive"]);
    assert_eq!(code, 1, "5: no token after pyflyte's logout");

    // 6. A pyflyte re-login is seen at the next flyte-auth call.
    let relogin = jwt_for_an_hour("py-relogin");
    py.run(&["store", &py.endpoint, &relogin, "py-relogin-refresh"]);
    let (code, ours, err) = token(&["--non-interactive"]);
    assert_eq!((code, ours.as_str()), (0, relogin.as_str()), "6: {err}");
    py.one_item_each("6 pyflyte re-login");

    // 7. A flyte-auth logout is seen by pyflyte, and leaves no item behind.
    let r = u.run(&["--config", cfg, "logout"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(py.retrieve().is_null(), "7: pyflyte sees the logout");
    assert!(py.one_item_each("7 flyte-auth logout").is_empty());
}

/// Flyte 2's SDK keeps one `tokens` item (JSON with both tokens) per endpoint. Its own
/// keyring code (from the flyte 2.12.1 wheel) and `flyte-auth` take turns on one Secret
/// Service: each reads what the other wrote, and a logout on either side is seen by the other.
#[test]
fn flyte2_and_flyte_auth_take_turns_on_its_tokens_item() {
    let name = "flyte2_and_flyte_auth_take_turns_on_its_tokens_item";
    let Some(issuer) = require_issuer(name) else {
        return;
    };
    if !keyring_available(name) {
        return;
    }
    let Some(python) = python(name) else {
        return;
    };
    let u = User::with_keyring(&issuer);
    let py = Pyflyte {
        python,
        user: &u,
        endpoint: u.endpoint(),
    };
    let cfg = u.config(
        "flyte2",
        "  authType: Pkce\n  redirectUri: http://localhost:0/callback\n  clientId: flyte-cli\n",
    );
    let cfg = cfg.to_str().unwrap();
    let token = || {
        let r = u.run(&["--config", cfg, "--non-interactive", "token"]);
        (r.code, r.stdout.trim().to_string(), r.stderr)
    };

    // 1. A Flyte 2 login: flyte-auth reads its tokens item.
    let theirs = jwt_for_an_hour("flyte2-login");
    py.run(&["flyte2-store", &py.endpoint, &theirs, "flyte2-refresh"]);
    assert_eq!(py.one_item_each("1 flyte2 login"), ["tokens"]);
    let (code, ours, err) = token();
    assert_eq!((code, ours.as_str()), (0, theirs.as_str()), "1: {err}");

    // 2. A flyte-auth login updates the tokens item too (it exists: layout auto), so the
    //    Flyte 2 SDK reads the new tokens.
    let r = u.run(&["--config", cfg, "login"]);
    assert_eq!(r.code, 0, "{r:?}");
    let (code, ours, err) = token();
    assert_eq!(code, 0, "{err}");
    assert_ne!(ours, theirs);
    let read = py.run(&["flyte2-retrieve", &py.endpoint]);
    let read: Value = serde_json::from_str(&read).expect("json");
    assert_eq!(read["access_token"], ours, "2: Flyte 2 reads our login");
    assert!(
        read["refresh_token"].is_string() && read["refresh_token"] != "flyte2-refresh",
        "2: and our refresh token: {read}"
    );
    assert!(
        py.one_item_each("2 flyte-auth login")
            .contains(&"tokens".to_string())
    );

    // 3. A Flyte 2 logout (it deletes its item and flytekit's token items) is seen at once.
    py.run(&["flyte2-delete", &py.endpoint]);
    let (code, _, _) = token();
    assert_eq!(code, 1, "3: no token after Flyte 2's logout");

    // 4. A flyte-auth logout after a Flyte 2 login leaves Flyte 2 nothing to read.
    py.run(&["flyte2-store", &py.endpoint, &theirs, "flyte2-refresh"]);
    let r = u.run(&["--config", cfg, "logout"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(py.run(&["flyte2-retrieve", &py.endpoint]), "null", "4");
    assert!(py.one_item_each("4 flyte-auth logout").is_empty());
}
