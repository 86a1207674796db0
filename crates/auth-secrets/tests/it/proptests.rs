//! Property tests: the case rules and whitespace stripping hold for any names and values.

use std::collections::HashMap;

use auth_secrets::{Secret, SecretsManager};
use proptest::prelude::*;

/// Python's `str.isspace()` characters, including the four that Rust's `char::is_whitespace`
/// leaves out (U+001C..U+001F).
const PY_SPACE: &[char] = &[
    '\t', '\n', '\u{b}', '\u{c}', '\r', '\u{1c}', '\u{1d}', '\u{1e}', '\u{1f}', ' ', '\u{85}',
    '\u{a0}', '\u{1680}', '\u{2000}', '\u{200a}', '\u{2028}', '\u{2029}', '\u{202f}', '\u{205f}',
    '\u{3000}',
];

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9.-]{0,12}"
}

fn padding() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(PY_SPACE), 0..6)
        .prop_map(|v| v.into_iter().collect())
}

/// A value that starts and ends with a visible character.
fn value() -> impl Strategy<Value = String> {
    "[!-~]([ -~]{0,20}[!-~])?"
}

fn dir_with(path: &[&str], contents: &[u8]) -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut p = tmp.path().to_owned();
    for part in path {
        p.push(part);
    }
    std::fs::create_dir_all(p.parent().expect("parent")).expect("dirs");
    std::fs::write(&p, contents).expect("write");
    let dir = tmp.path().to_str().expect("utf-8").to_owned();
    (tmp, dir)
}

proptest! {
    #[test]
    fn any_case_of_a_request_names_the_same_variable_and_file(group in name(), key in name()) {
        let env: HashMap<String, String> = HashMap::new();
        let secrets = SecretsManager::with_environment(env);
        let as_given = Secret::new(group.clone(), key.clone());
        let lower = Secret::new(group.to_lowercase(), key.to_lowercase());
        let upper = Secret::new(group.to_uppercase(), key.to_uppercase());
        let var = format!("_FSEC_{}_{}", group.to_uppercase(), key.to_uppercase());
        let file = format!("/etc/secrets/{}/{}", group.to_lowercase(), key.to_lowercase());
        for s in [&as_given, &lower, &upper] {
            prop_assert_eq!(secrets.env_var_name(s), var.clone());
            prop_assert_eq!(secrets.file_path(s).map(|p| p.display().to_string()), Some(file.clone()));
        }
    }

    #[test]
    fn the_variable_name_is_case_sensitive(group in "[a-z][a-z0-9]{0,8}", key in "[a-z][a-z0-9]{0,8}") {
        // Only the upper-cased name counts; a lower-case variable is not the secret.
        let env = HashMap::from([(format!("_FSEC_{group}_{key}"), "wrong".to_owned())]);
        let secrets = SecretsManager::with_environment(env);
        let err = secrets.get(&Secret::new(group, key)).expect_err("lower-case name ignored");
        prop_assert!(err.is_not_found());
    }

    #[test]
    fn variables_are_stripped_of_python_whitespace(
        group in name(), key in name(), v in value(), before in padding(), after in padding()
    ) {
        let var = format!("_FSEC_{}_{}", group.to_uppercase(), key.to_uppercase());
        let env = HashMap::from([(var, format!("{before}{v}{after}"))]);
        let got = SecretsManager::with_environment(env).get(&Secret::new(group, key)).expect("found");
        prop_assert_eq!(got.secret(), v.as_str());
    }

    #[test]
    fn text_files_are_stripped_of_python_whitespace(
        group in name(), key in name(), v in value(), before in padding(), after in padding()
    ) {
        let (_tmp, dir) = dir_with(
            &[&group.to_lowercase(), &key.to_lowercase()],
            format!("{before}{v}{after}").as_bytes(),
        );
        let env = HashMap::from([("FLYTE_SECRETS_DEFAULT_DIR".to_owned(), dir)]);
        let got = SecretsManager::with_environment(env).get(&Secret::new(group, key)).expect("found");
        prop_assert_eq!(got.secret(), v.as_str());
    }

    #[test]
    fn binary_files_lose_only_ascii_whitespace(
        inner in proptest::collection::vec(any::<u8>(), 1..40),
        before in proptest::collection::vec(proptest::sample::select(&b" \t\n\r\x0b\x0c"[..]), 0..5),
        after in proptest::collection::vec(proptest::sample::select(&b" \t\n\r\x0b\x0c"[..]), 0..5),
    ) {
        let space = |c: &u8| b" \t\n\r\x0b\x0c".contains(c);
        let start = inner.iter().position(|c| !space(c)).unwrap_or(inner.len());
        let end = inner.iter().rposition(|c| !space(c)).map_or(start, |i| i + 1);
        let expected = inner[start..end].to_vec();
        let mut contents = before.clone();
        contents.extend(&inner);
        contents.extend(&after);
        let (_tmp, dir) = dir_with(&["g", "k"], &contents);
        let env = HashMap::from([("FLYTE_SECRETS_DEFAULT_DIR".to_owned(), dir)]);
        let got = SecretsManager::with_environment(env).get_bytes(&Secret::new("G", "K")).expect("found");
        prop_assert_eq!(got.secret(), expected.as_slice());
    }
}
