//! The validation rules of `validate()` and `is_valid_env_var_name`.

use proptest::prelude::*;
use regex::Regex;
use security_model::secret::MountType;
use security_model::{
    Identity, OAuth2Client, OAuth2TokenRequest, Secret, SecurityContext, ValidationError,
    is_valid_env_var_name,
};

#[test]
fn env_var_names() {
    for ok in ["A", "_", "DB_PASSWORD", "_PRIVATE", "X1", "A_1_B", "__"] {
        assert!(is_valid_env_var_name(ok), "{ok:?} should be valid");
    }
    for bad in [
        "",
        "1A",
        "db_password",
        "Db",
        "A-B",
        "A B",
        "A.B",
        "É",
        "A\n",
        " A",
        "ÀB",
    ] {
        assert!(!is_valid_env_var_name(bad), "{bad:?} should be invalid");
    }
}

proptest! {
    /// The hand-written check is exactly the regex from flytekit.
    #[test]
    fn env_var_check_matches_the_regex(name in prop_oneof!["[A-Z0-9_a-z -]{0,6}", any::<String>()]) {
        let regex = Regex::new(r"^[A-Z_][A-Z0-9_]*$").unwrap();
        prop_assert_eq!(is_valid_env_var_name(&name), regex.is_match(&name));
    }
}

#[test]
fn secret_needs_a_group() {
    let err = Secret::new("", "key").validate().unwrap_err();
    assert_eq!(
        err,
        ValidationError::Missing {
            field: "group".into()
        }
    );
    assert_eq!(err.field(), "group");
    // Only the group is required.
    assert!(Secret::new("group", "").validate().is_ok());
}

#[test]
fn secret_env_var_must_be_a_valid_name() {
    assert!(
        Secret::new("g", "k")
            .with_env_var("DB_PASSWORD")
            .validate()
            .is_ok()
    );
    let err = Secret::new("g", "k")
        .with_mount_requirement(MountType::EnvVar)
        .with_env_var("db-password")
        .validate()
        .unwrap_err();
    assert_eq!(
        err,
        ValidationError::InvalidEnvVarName {
            field: "env_var".into(),
            value: "db-password".into()
        }
    );
    let message = err.to_string();
    assert!(
        message.contains("env_var") && message.contains("\"db-password\""),
        "{message}"
    );
}

#[test]
fn secret_mount_requirement_must_be_known() {
    for mount in [MountType::Any, MountType::EnvVar, MountType::File] {
        assert!(
            Secret::new("g", "k")
                .with_mount_requirement(mount)
                .validate()
                .is_ok()
        );
    }
    let secret = Secret {
        mount_requirement: 3,
        ..Secret::new("g", "k")
    };
    assert!(matches!(
        secret.validate(),
        Err(ValidationError::UnknownEnumValue { ref field, value: 3, .. }) if field == "mount_requirement"
    ));
}

#[test]
fn oauth2_client_needs_an_id_and_a_valid_secret() {
    let ok = OAuth2Client::new("id", Secret::new("g", "k"));
    assert!(ok.validate().is_ok());

    let no_id = OAuth2Client::new("", Secret::new("g", "k"));
    assert_eq!(no_id.validate().unwrap_err().field(), "client_id");

    let no_secret = OAuth2Client {
        client_id: "id".into(),
        client_secret: None,
    };
    assert_eq!(no_secret.validate().unwrap_err().field(), "client_secret");

    let bad_secret = OAuth2Client::new("id", Secret::new("g", "k").with_env_var("1X"));
    assert_eq!(
        bad_secret.validate().unwrap_err().field(),
        "client_secret.env_var"
    );
}

#[test]
fn identity_checks_only_its_client() {
    assert!(Identity::default().validate().is_ok());
    assert!(Identity::iam_role("arn").validate().is_ok());
    let bad = Identity::oauth2_client(OAuth2Client::new("", Secret::new("g", "k")));
    assert_eq!(
        bad.validate().unwrap_err().field(),
        "oauth2_client.client_id"
    );
}

#[test]
fn token_request_needs_a_name_a_known_type_and_a_client() {
    let client = OAuth2Client::new("id", Secret::new("g", "k"));
    assert!(
        OAuth2TokenRequest::client_credentials("t", client.clone())
            .validate()
            .is_ok()
    );

    let unnamed = OAuth2TokenRequest::client_credentials("", client.clone());
    assert_eq!(unnamed.validate().unwrap_err().field(), "name");

    let unknown_type = OAuth2TokenRequest {
        r#type: 5,
        ..unnamed.clone()
    };
    let unknown_type = OAuth2TokenRequest {
        name: "t".into(),
        ..unknown_type
    };
    assert!(matches!(
        unknown_type.validate(),
        Err(ValidationError::UnknownEnumValue { ref field, value: 5, .. }) if field == "type"
    ));

    let no_client = OAuth2TokenRequest {
        name: "t".into(),
        ..OAuth2TokenRequest::default()
    };
    assert_eq!(no_client.validate().unwrap_err().field(), "client");
}

#[test]
fn security_context_reports_the_first_bad_field_with_its_path() {
    assert!(SecurityContext::default().validate().is_ok());

    let ctx = SecurityContext::default()
        .with_run_as(Identity::k8s_service_account("sa"))
        .with_secret(Secret::new("a", "k"))
        .with_secret(Secret::new("b", "k").with_env_var("bad name"))
        .with_secret(Secret::new("", "k"));
    assert_eq!(
        ctx.validate().unwrap_err(),
        ValidationError::InvalidEnvVarName {
            field: "secrets[1].env_var".into(),
            value: "bad name".into()
        }
    );

    let ctx = SecurityContext::default().with_run_as(Identity::oauth2_client(OAuth2Client {
        client_id: "c".into(),
        client_secret: None,
    }));
    assert_eq!(
        ctx.validate().unwrap_err().field(),
        "run_as.oauth2_client.client_secret"
    );
}
