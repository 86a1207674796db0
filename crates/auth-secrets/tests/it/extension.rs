//! What flytekit does not pin: `Secret.env_var`, refusing files that could block or are
//! huge, and redaction.

use std::collections::HashMap;

use auth_secrets::{MAX_SECRET_FILE_BYTES, Secret, SecretError, SecretsManager};
use security_model::secret::MountType;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn resolve_reads_the_custom_variable_first() {
    let secrets = SecretsManager::with_environment(env(&[
        ("OPENAI_API_KEY", " sk-custom\n"),
        ("_FSEC_AI_KEY", "sk-default"),
    ]));
    let secret = Secret::new("ai", "key")
        .with_mount_requirement(MountType::EnvVar)
        .with_env_var("OPENAI_API_KEY");
    assert_eq!(
        secrets.resolve(&secret).expect("custom").secret(),
        "sk-custom"
    );
    // `get` is flytekit's and ignores env_var.
    assert_eq!(
        secrets.get(&secret).expect("default").secret(),
        "sk-default"
    );
}

#[test]
fn resolve_reads_the_file_a_custom_variable_names() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let path = tmp.path().join("mounted");
    std::fs::write(&path, "file-secret\r\n").expect("write");
    let secrets =
        SecretsManager::with_environment(env(&[("MY_SECRET_PATH", path.to_str().expect("utf-8"))]));
    let secret = Secret::new("g", "k")
        .with_mount_requirement(MountType::File)
        .with_env_var("MY_SECRET_PATH");
    assert_eq!(
        secrets.resolve(&secret).expect("file").secret(),
        "file-secret"
    );
}

#[test]
fn resolve_falls_back_to_flytekit_rules_without_the_custom_variable() {
    let secrets = SecretsManager::with_environment(env(&[("_FSEC_G_K", "fallback")]));
    let secret = Secret::new("g", "k").with_env_var("NOT_SET_HERE");
    assert_eq!(
        secrets.resolve(&secret).expect("fallback").secret(),
        "fallback"
    );
}

#[test]
fn a_device_is_refused_instead_of_read_forever() {
    let tmp = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(tmp.path().join("g")).expect("group dir");
    std::os::unix::fs::symlink("/dev/zero", tmp.path().join("g/k")).expect("symlink");
    let secrets = SecretsManager::with_environment(env(&[(
        "FLYTE_SECRETS_DEFAULT_DIR",
        tmp.path().to_str().expect("utf-8"),
    )]));
    let err = secrets.get(&Secret::new("g", "k")).expect_err("refused");
    assert!(matches!(err, SecretError::Unreadable { .. }), "{err:?}");
    assert!(err.to_string().contains("not a regular file"), "{err}");
}

#[test]
fn a_huge_file_is_refused() {
    let tmp = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(tmp.path().join("g")).expect("group dir");
    let f = std::fs::File::create(tmp.path().join("g/k")).expect("create");
    f.set_len(MAX_SECRET_FILE_BYTES + 1).expect("sparse file");
    let secrets = SecretsManager::with_environment(env(&[(
        "FLYTE_SECRETS_DEFAULT_DIR",
        tmp.path().to_str().expect("utf-8"),
    )]));
    let err = secrets
        .get_bytes(&Secret::new("g", "k"))
        .expect_err("refused");
    assert!(err.to_string().contains("larger than"), "{err}");
}

#[test]
fn no_value_appears_in_debug_or_errors() {
    let secrets = SecretsManager::with_environment(env(&[
        ("_FSEC_G_K", "planted-secret-1"),
        ("OTHER", "planted-secret-2"),
    ]));
    let value = secrets.get(&Secret::new("g", "k")).expect("found");
    let err = secrets
        .get(&Secret::new("g", "missing"))
        .expect_err("missing");
    for text in [
        format!("{secrets:?}"),
        format!("{value:?}"),
        format!("{err:?}"),
        err.to_string(),
    ] {
        assert!(!text.contains("planted-secret"), "{text}");
    }
    assert_eq!(format!("{value:?}"), "SecretString([redacted])");
}
