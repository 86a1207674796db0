//! Protobuf-JSON edge cases beyond the vectors: unknown enum numbers, `null`, unknown members and
//! the other spellings a ProtoJSON parser accepts.

use prost::Message;
use security_model::oauth2_token_request::Type;
use security_model::secret::MountType;
use security_model::{
    Identity, OAuth2Client, OAuth2MetadataRequest, OAuth2MetadataResponse, OAuth2TokenRequest,
    PublicClientAuthConfigRequest, PublicClientAuthConfigResponse, Secret, SecurityContext,
};
use serde_json::{Value, json};

use crate::support::{ProtoJson, parse};

#[test]
fn unknown_enum_number_is_kept_and_written_back_as_a_number() {
    let secret: Secret = parse(&json!({"group": "g", "mountRequirement": 7}));
    assert_eq!(secret.mount_requirement, 7);
    // The typed getter falls back to the default, as in prost-generated code.
    assert_eq!(secret.mount_requirement(), MountType::Any);
    assert_eq!(
        serde_json::to_value(&secret).unwrap(),
        json!({"group": "g", "mountRequirement": 7})
    );
    // On the wire the number is kept too: field 4, varint 7.
    assert_eq!(secret.encode_to_vec(), [0x0a, 0x01, b'g', 0x20, 0x07]);
    assert_eq!(
        Secret::decode(&[0x0a, 0x01, b'g', 0x20, 0x07][..]).unwrap(),
        secret
    );

    let negative: OAuth2TokenRequest = parse(&json!({"type": -3}));
    assert_eq!(negative.r#type, -3);
    assert_eq!(
        serde_json::to_value(&negative).unwrap(),
        json!({"type": -3})
    );
}

#[test]
fn enums_are_read_from_names_numbers_and_numeric_strings() {
    for (input, expected) in [
        (json!("ENV_VAR"), MountType::EnvVar),
        (json!(1), MountType::EnvVar),
        (json!("2"), MountType::File),
        (json!(2.0), MountType::File),
        (json!("ANY"), MountType::Any),
        (json!(0), MountType::Any),
        (Value::Null, MountType::Any),
    ] {
        let secret: Secret = parse(&json!({"mount_requirement": input}));
        assert_eq!(secret.mount_requirement(), expected, "input {input}");
    }
    // A known number is written by name.
    let secret: Secret = parse(&json!({"mountRequirement": 1}));
    assert_eq!(
        serde_json::to_value(&secret).unwrap(),
        json!({"mountRequirement": "ENV_VAR"})
    );

    let token: OAuth2TokenRequest = parse(&json!({"type": "CLIENT_CREDENTIALS"}));
    assert_eq!(token.r#type(), Type::ClientCredentials);
    assert_eq!(serde_json::to_value(&token).unwrap(), json!({}));
}

#[test]
fn bad_enum_values_are_errors() {
    for input in [
        json!("SECRET_FILE"),
        json!("env_var"),
        json!(2.5),
        json!(4_294_967_296_i64),
        json!(true),
        json!([]),
    ] {
        let result = serde_json::from_value::<Secret>(json!({"mountRequirement": input}));
        assert!(result.is_err(), "{input} was accepted as a MountType");
    }
    let err = serde_json::from_value::<Secret>(json!({"mountRequirement": "NOPE"})).unwrap_err();
    assert!(
        err.to_string().contains("flyteidl.core.Secret.MountType"),
        "{err}"
    );
}

/// Every member set to `null` reads as the default message.
fn all_null<T: ProtoJson>(names: &[&str]) {
    let object: serde_json::Map<String, Value> = names
        .iter()
        .map(|n| ((*n).to_owned(), Value::Null))
        .collect();
    assert_eq!(
        parse::<T>(&Value::Object(object)),
        T::default(),
        "{names:?}"
    );
}

#[test]
fn null_members_read_as_default() {
    all_null::<Secret>(&["group", "groupVersion", "key", "mountRequirement", "envVar"]);
    all_null::<Secret>(&["group_version", "mount_requirement", "env_var"]);
    all_null::<OAuth2Client>(&["clientId", "clientSecret"]);
    all_null::<OAuth2Client>(&["client_id", "client_secret"]);
    all_null::<Identity>(&[
        "iamRole",
        "k8sServiceAccount",
        "oauth2Client",
        "executionIdentity",
    ]);
    all_null::<Identity>(&[
        "iam_role",
        "k8s_service_account",
        "oauth2_client",
        "execution_identity",
    ]);
    all_null::<OAuth2TokenRequest>(&[
        "name",
        "type",
        "client",
        "idpDiscoveryEndpoint",
        "tokenEndpoint",
    ]);
    all_null::<SecurityContext>(&["runAs", "secrets", "tokens"]);
    all_null::<SecurityContext>(&["run_as"]);
    all_null::<OAuth2MetadataResponse>(&[
        "issuer",
        "authorizationEndpoint",
        "tokenEndpoint",
        "responseTypesSupported",
        "scopesSupported",
        "tokenEndpointAuthMethodsSupported",
        "jwksUri",
        "codeChallengeMethodsSupported",
        "grantTypesSupported",
        "deviceAuthorizationEndpoint",
    ]);
    all_null::<PublicClientAuthConfigResponse>(&[
        "client_id",
        "redirect_uri",
        "scopes",
        "authorization_metadata_key",
        "service_http_endpoint",
        "audience",
    ]);
}

#[test]
fn unknown_members_are_ignored() {
    let secret: Secret = parse(&json!({
        "group": "g",
        "futureField": {"nested": [1, 2, {"x": null}]},
        "mountRequirementV2": "FILE",
        "GROUP": "ignored too: names are case-sensitive",
    }));
    assert_eq!(
        secret,
        Secret {
            group: "g".into(),
            ..Secret::default()
        }
    );

    let ctx: SecurityContext = parse(&json!({
        "secrets": [{"group": "a", "extra": 1}],
        "connections": {"openai": {}},
    }));
    assert_eq!(
        ctx.secrets,
        [Secret {
            group: "a".into(),
            ..Secret::default()
        }]
    );

    assert_eq!(
        parse::<OAuth2MetadataRequest>(&json!({"x": 1})),
        OAuth2MetadataRequest {}
    );
    assert_eq!(
        parse::<PublicClientAuthConfigRequest>(&json!({"x": [null]})),
        PublicClientAuthConfigRequest {}
    );
}

#[test]
fn both_name_styles_may_be_mixed_in_one_object() {
    let token: OAuth2TokenRequest = parse(&json!({
        "name": "t",
        "client": {"client_id": "c", "clientSecret": {"group": "g", "env_var": "X"}},
        "idpDiscoveryEndpoint": "https://idp",
        "token_endpoint": "https://idp/token",
    }));
    let expected = OAuth2TokenRequest::client_credentials(
        "t",
        OAuth2Client::new(
            "c",
            Secret {
                group: "g".into(),
                env_var: "X".into(),
                ..Secret::default()
            },
        ),
    )
    .with_idp_discovery_endpoint("https://idp")
    .with_token_endpoint("https://idp/token");
    assert_eq!(token, expected);
}

#[test]
fn present_but_empty_messages_are_kept() {
    let ctx: SecurityContext = parse(&json!({"runAs": {}, "secrets": [{}]}));
    assert_eq!(ctx.run_as, Some(Identity::default()));
    assert_eq!(
        serde_json::to_value(&ctx).unwrap(),
        json!({"runAs": {}, "secrets": [{}]})
    );
    // `run_as { }` and an empty secret are on the wire as empty length-delimited fields.
    assert_eq!(ctx.encode_to_vec(), [0x0a, 0x00, 0x12, 0x00]);
}

#[test]
fn default_messages_are_written_as_empty_objects() {
    fn empty<T: ProtoJson>() {
        assert_eq!(serde_json::to_value(T::default()).unwrap(), json!({}));
        assert!(T::default().encode_to_vec().is_empty());
    }
    empty::<Secret>();
    empty::<OAuth2Client>();
    empty::<Identity>();
    empty::<OAuth2TokenRequest>();
    empty::<SecurityContext>();
    empty::<OAuth2MetadataRequest>();
    empty::<OAuth2MetadataResponse>();
    empty::<PublicClientAuthConfigRequest>();
    empty::<PublicClientAuthConfigResponse>();
}

/// FlyteAdmin's gateway writes every field; an unset one arrives as `""` or `[]`.
#[test]
fn flyteadmin_empty_fields_read_as_unset() {
    let metadata: OAuth2MetadataResponse = parse(&json!({
        "issuer": "https://flyte.example.com",
        "authorization_endpoint": "",
        "token_endpoint": "https://flyte.example.com/oauth2/token",
        "response_types_supported": [],
        "scopes_supported": [],
        "token_endpoint_auth_methods_supported": [],
        "jwks_uri": "",
        "code_challenge_methods_supported": [],
        "grant_types_supported": [],
        "device_authorization_endpoint": "",
    }));
    assert_eq!(
        metadata,
        OAuth2MetadataResponse {
            issuer: "https://flyte.example.com".into(),
            token_endpoint: "https://flyte.example.com/oauth2/token".into(),
            ..OAuth2MetadataResponse::default()
        }
    );

    let config: PublicClientAuthConfigResponse = parse(&json!({
        "clientId": "flytectl",
        "redirectUri": "",
        "scopes": [],
        "authorizationMetadataKey": "",
        "serviceHttpEndpoint": "",
        "audience": "",
    }));
    assert_eq!(config.client_id, "flytectl");
    assert_eq!(config.authorization_header(), "authorization");
    assert_eq!(
        serde_json::to_value(&config).unwrap(),
        json!({"clientId": "flytectl"})
    );
}

#[test]
fn wrong_json_types_are_errors() {
    assert!(serde_json::from_value::<Secret>(json!({"group": 1})).is_err());
    assert!(serde_json::from_value::<SecurityContext>(json!({"secrets": {}})).is_err());
    assert!(serde_json::from_value::<SecurityContext>(json!({"runAs": "x"})).is_err());
    assert!(
        serde_json::from_value::<OAuth2MetadataResponse>(json!({"scopes_supported": "all"}))
            .is_err()
    );
}
