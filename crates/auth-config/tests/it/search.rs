//! The config file search: --config, $FLYTECTL_CONFIG, ~/.flyte/config.yaml.

use std::collections::HashMap;

use auth_config::{ConfigError, FileSource, find_config_file, vars};

use crate::{Fixture, err_text};

#[test]
fn explicit_path_first() {
    let mut fx = Fixture::new();
    let explicit = fx.write("explicit.yaml", "admin:\n  endpoint: explicit\n");
    let from_env = fx.write("env.yaml", "admin:\n  endpoint: from-env\n");
    fx.write("home/.flyte/config.yaml", "admin:\n  endpoint: home\n");
    fx.set(vars::FLYTECTL_CONFIG, from_env.to_string_lossy());
    let s = fx
        .loader()
        .config_path(Some(explicit.clone()))
        .load()
        .expect("loads");
    assert_eq!(s.endpoint.as_deref(), Some("explicit"));
    assert_eq!(s.source_file, Some(explicit));
}

#[test]
fn flytectl_config_before_home() {
    let mut fx = Fixture::new();
    let from_env = fx.write("env.yaml", "admin:\n  endpoint: from-env\n");
    fx.write("home/.flyte/config.yaml", "admin:\n  endpoint: home\n");
    fx.set(vars::FLYTECTL_CONFIG, from_env.to_string_lossy());
    let s = fx.load_env().expect("loads");
    assert_eq!(s.endpoint.as_deref(), Some("from-env"));
    assert_eq!(s.source_file, Some(from_env));
}

#[test]
fn home_last() {
    let fx = Fixture::new();
    let home_config = fx.write("home/.flyte/config.yaml", "admin:\n  endpoint: home\n");
    let s = fx.load_env().expect("loads");
    assert_eq!(s.endpoint.as_deref(), Some("home"));
    assert_eq!(s.source_file, Some(home_config));
}

#[test]
fn no_file_anywhere_gives_defaults() {
    let fx = Fixture::new();
    let s = fx.load_env().expect("loads");
    assert_eq!(s.source_file, None);
    assert_eq!(s.endpoint, None);
    // An empty FLYTECTL_CONFIG counts as not set.
    let mut fx = Fixture::new();
    fx.set(vars::FLYTECTL_CONFIG, "");
    assert_eq!(fx.load_env().expect("loads").source_file, None);
}

#[test]
fn a_missing_explicit_file_is_an_error() {
    let fx = Fixture::new();
    fx.write("home/.flyte/config.yaml", "admin:\n  endpoint: home\n");
    let missing = fx.missing("nope.yaml");
    let (err, text) = err_text(fx.loader().config_path(Some(missing.clone())).load());
    assert!(
        matches!(&err, ConfigError::FileNotFound { path, source_of_path: FileSource::Explicit, .. } if *path == missing),
        "{err:?}"
    );
    assert!(text.contains(&missing.display().to_string()), "{text}");
    assert!(text.contains("--config"), "{text}");
}

#[test]
fn a_missing_flytectl_config_file_is_an_error() {
    let mut fx = Fixture::new();
    fx.write("home/.flyte/config.yaml", "admin:\n  endpoint: home\n");
    let missing = fx.missing("gone.yaml");
    fx.set(vars::FLYTECTL_CONFIG, missing.to_string_lossy());
    let (err, text) = err_text(fx.load_env());
    assert!(
        matches!(
            &err,
            ConfigError::FileNotFound {
                source_of_path: FileSource::FlytectlConfigEnv,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(text.contains("FLYTECTL_CONFIG"), "{text}");
}

#[test]
fn find_config_file_order() {
    let fx = Fixture::new();
    let home = fx.home();
    let empty = HashMap::new();
    assert_eq!(find_config_file(None, &empty, Some(&home)), None);
    assert_eq!(find_config_file(None, &empty, None), None);

    let home_config = fx.write("home/.flyte/config.yaml", "");
    assert_eq!(
        find_config_file(None, &empty, Some(&home)),
        Some(home_config)
    );

    let env = HashMap::from([(
        vars::FLYTECTL_CONFIG.to_owned(),
        "/from/env.yaml".to_owned(),
    )]);
    assert_eq!(
        find_config_file(None, &env, Some(&home)),
        Some("/from/env.yaml".into())
    );
    let explicit = fx.missing("x.yaml");
    assert_eq!(
        find_config_file(Some(&explicit), &env, Some(&home)),
        Some(explicit)
    );
}

#[test]
fn a_directory_named_config_yaml_in_home_is_skipped() {
    let fx = Fixture::new();
    std::fs::create_dir_all(fx.home().join(".flyte/config.yaml")).expect("dir");
    assert_eq!(
        find_config_file(None, &HashMap::new(), Some(&fx.home())),
        None
    );
    assert_eq!(fx.load_env().expect("loads").source_file, None);
}
