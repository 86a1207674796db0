//! Nothing this crate prints shows the client secret.

use auth_config::{Loader, vars};

use crate::Fixture;

const PLANTED: &str = "planted-s3cr3t-value";

fn assert_hidden(text: &str) {
    assert!(!text.contains(PLANTED), "secret leaked: {text}");
}

#[test]
fn settings_debug_display_and_entries_hide_every_kind_of_secret() {
    // Inline.
    let mut fx = Fixture::new();
    fx.set(vars::CREDENTIALS_CLIENT_SECRET, PLANTED);
    let inline = fx.load_env().expect("loads");
    // From a file.
    let mut fx = Fixture::new();
    let file = fx.write("secret", format!("{PLANTED}\n"));
    fx.set(
        vars::CREDENTIALS_CLIENT_SECRET_LOCATION,
        file.to_string_lossy(),
    );
    let from_file = fx.load_env().expect("loads");
    // From a named variable.
    let mut fx = Fixture::new();
    fx.set("SECRET_HOLDER", PLANTED);
    let from_var = fx
        .load_yaml("admin:\n  clientSecretEnvVar: SECRET_HOLDER\n")
        .expect("loads");

    for s in [&inline, &from_file, &from_var] {
        assert_eq!(s.client_secret.as_ref().map(|c| c.secret()), Some(PLANTED));
        for text in [
            format!("{s:?}"),
            format!("{s:#?}"),
            s.to_string(),
            format!("{:?}", s.entries()),
            format!("{:?}", s.clone()),
        ] {
            assert_hidden(&text);
            assert!(text.contains("[redacted]"), "{text}");
        }
    }
    assert!(from_var.to_string().contains("SECRET_HOLDER"));
    assert!(
        inline
            .to_string()
            .contains("FLYTE_CREDENTIALS_CLIENT_SECRET")
    );
}

#[test]
fn loader_debug_hides_the_environment() {
    let mut fx = Fixture::new();
    fx.set(vars::CREDENTIALS_CLIENT_SECRET, PLANTED);
    let loader: Loader = fx.loader();
    let text = format!("{loader:?}");
    assert_hidden(&text);
    assert!(text.contains("1 variables"), "{text}");
}

#[test]
fn errors_after_a_secret_was_read_hide_it() {
    // The secret is read, then a later value fails: the error must not carry it.
    let mut fx = Fixture::new();
    fx.set(vars::CREDENTIALS_CLIENT_SECRET, PLANTED)
        .set(vars::PLATFORM_INSECURE, "nope");
    let err = fx.load_env().expect_err("bad boolean");
    assert_hidden(&err.to_string());
    assert_hidden(&format!("{err:?}"));
}

#[test]
fn a_secret_file_given_as_the_config_file_is_not_echoed() {
    let fx = Fixture::new();
    let secret = fx.write("client_secret", format!("{PLANTED}\n"));
    let err = fx
        .loader()
        .config_path(Some(secret))
        .load()
        .expect_err("not a config");
    assert_hidden(&err.to_string());
    assert_hidden(&format!("{err:?}"));
    assert!(err.to_string().contains("found a string"), "{err}");
}
