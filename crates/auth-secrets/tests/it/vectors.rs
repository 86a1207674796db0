//! Replays `tests/data/secrets-vectors.json`, written by `vectors/gen.sh` with the real
//! flytekit and flyte from PyPI.

use std::collections::HashMap;
use std::path::Path;

use auth_secrets::{ExecutionMode, Secret, SecretError, SecretsManager, flyte2_env_var};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Vectors {
    flytekit: String,
    flyte: String,
    secrets_manager: Vec<Case>,
    flyte2_as_env_var: Vec<Flyte2Case>,
}

#[derive(Debug, Deserialize)]
struct Case {
    name: String,
    mode: String,
    env: HashMap<String, String>,
    files: HashMap<String, FileSpec>,
    request: Request,
    env_var: String,
    file: Option<String>,
    result: Outcome,
}

#[derive(Debug, Deserialize)]
struct FileSpec {
    text: Option<String>,
    b64: Option<String>,
    #[serde(default)]
    dir: bool,
}

#[derive(Debug, Deserialize)]
struct Request {
    group: Option<String>,
    key: Option<String>,
    group_version: Option<String>,
    encode_mode: String,
}

#[derive(Debug, Deserialize)]
struct Outcome {
    text: Option<String>,
    b64: Option<String>,
    error: Option<String>,
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Flyte2Case {
    request: Flyte2Request,
    as_env_var: Option<String>,
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Flyte2Request {
    key: String,
    group: Option<String>,
    as_env_var: Option<String>,
}

fn load() -> Vectors {
    let text = include_str!("../data/secrets-vectors.json");
    serde_json::from_str(text).expect("the vector file parses")
}

fn b64(s: &str) -> Vec<u8> {
    STANDARD.decode(s).expect("vector base64")
}

/// Sets up a case's files under a fresh directory; returns it and the `{dir}` it stands for.
fn materialise(case: &Case) -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().join("secrets");
    std::fs::create_dir(&root).expect("secrets dir");
    for (rel, spec) in &case.files {
        let path = root.join(rel);
        if spec.dir {
            std::fs::create_dir_all(&path).expect("dir");
            continue;
        }
        std::fs::create_dir_all(path.parent().expect("parent")).expect("parent dir");
        let data = match (&spec.text, &spec.b64) {
            (Some(t), _) => t.as_bytes().to_vec(),
            (None, Some(b)) => b64(b),
            (None, None) => panic!("{}: file spec without contents", case.name),
        };
        std::fs::write(&path, data).expect("write");
    }
    let dir = root.to_str().expect("utf-8 temp path").to_owned();
    (tmp, dir)
}

fn secret_of(r: &Request) -> Secret {
    let mut s = Secret::new(
        r.group.clone().unwrap_or_default(),
        r.key.clone().unwrap_or_default(),
    );
    if let Some(v) = &r.group_version {
        s = s.with_group_version(v.clone());
    }
    s
}

fn run(case: &Case) -> Result<(), String> {
    let (_tmp, dir) = materialise(case);
    let env: HashMap<String, String> = case
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.replace("{dir}", &dir)))
        .collect();
    let mode = match case.mode.as_str() {
        "local" => ExecutionMode::Local,
        "task" => ExecutionMode::Task,
        other => return Err(format!("unknown mode {other}")),
    };
    let secrets = SecretsManager::with_environment(env).mode(mode);
    let secret = secret_of(&case.request);
    let unroot = |p: &Path| p.display().to_string().replace(&dir, "{dir}");

    if secrets.env_var_name(&secret) != case.env_var {
        return Err(format!(
            "env var {:?}, flytekit {:?}",
            secrets.env_var_name(&secret),
            case.env_var
        ));
    }
    let file = secrets.file_path(&secret).map(|p| unroot(&p));
    if file != case.file {
        return Err(format!("file {file:?}, flytekit {:?}", case.file));
    }

    let binary = case.request.encode_mode == "rb";
    let got: Result<Vec<u8>, SecretError> = if binary {
        secrets.get_bytes(&secret).map(|v| v.secret().to_vec())
    } else {
        secrets.get(&secret).map(|v| v.secret().as_bytes().to_vec())
    };
    let want = &case.result;
    match (got, &want.error) {
        (Ok(value), None) => {
            let expected = match (&want.text, &want.b64) {
                (Some(t), _) => t.as_bytes().to_vec(),
                (None, Some(b)) => b64(b),
                (None, None) => return Err("vector without a value".into()),
            };
            if value != expected {
                return Err(format!("value {value:?}, flytekit {expected:?}"));
            }
        }
        (Ok(value), Some(kind)) => {
            return Err(format!("got {value:?}, flytekit raised {kind}"));
        }
        (Err(e), None) => return Err(format!("error {e}, flytekit returned {want:?}")),
        (Err(e), Some(kind)) => {
            let matches = match (kind.as_str(), &e) {
                ("ValueError", SecretError::NotFound { .. }) => {
                    let text = e.to_string().replace(&dir, "{dir}");
                    if Some(&text) != want.message.as_ref() {
                        return Err(format!("message\n  {text}\nflytekit\n  {:?}", want.message));
                    }
                    true
                }
                ("IndexError", SecretError::EmptyRequest { .. }) => true,
                ("UnicodeDecodeError", SecretError::NotUtf8 { .. }) => true,
                ("IsADirectoryError", SecretError::Unreadable { .. }) => true,
                _ => false,
            };
            if !matches {
                return Err(format!("error {e:?}, flytekit raised {kind}"));
            }
        }
    }
    Ok(())
}

#[test]
fn flytekit_secrets_manager_vectors() {
    let v = load();
    assert_eq!(
        v.flytekit, "1.16.31",
        "regenerate the tests and docs with the vectors"
    );
    assert!(v.secrets_manager.len() >= 50, "too few cases");
    let failures: Vec<String> = v
        .secrets_manager
        .iter()
        .filter_map(|c| run(c).err().map(|e| format!("{}: {e}", c.name)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} vectors differ from flytekit {}:\n{}",
        failures.len(),
        v.secrets_manager.len(),
        v.flytekit,
        failures.join("\n")
    );
}

#[test]
fn flyte2_as_env_var_vectors() {
    let v = load();
    assert_eq!(v.flyte, "2.12.1");
    for case in &v.flyte2_as_env_var {
        let r = &case.request;
        let got = flyte2_env_var(r.group.as_deref(), &r.key, r.as_env_var.as_deref());
        match (&got, &case.as_env_var, &case.message) {
            (Ok(name), Some(want), _) => assert_eq!(name, want, "{r:?}"),
            (Err(e), None, Some(message)) => assert_eq!(&e.to_string(), message, "{r:?}"),
            _ => panic!("{r:?}: got {got:?}, flyte gave {case:?}"),
        }
    }
}
