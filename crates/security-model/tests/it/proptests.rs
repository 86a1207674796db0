//! Round trips of arbitrary messages through the wire format and through JSON.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use security_model::{
    Identity, OAuth2Client, OAuth2MetadataResponse, OAuth2TokenRequest,
    PublicClientAuthConfigResponse, Secret, SecurityContext,
};

use crate::support::{ProtoJson, snake_case_keys};

/// Mostly empty or short strings, sometimes any Unicode.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => Just(String::new()),
        4 => "[a-zA-Z0-9_./:@-]{1,12}",
        1 => any::<String>(),
    ]
}

fn texts() -> impl Strategy<Value = Vec<String>> {
    vec(text(), 0..4)
}

/// Mostly a known value in `0..=max_known`, sometimes any number, which must be kept.
fn enum_number(max_known: i32) -> impl Strategy<Value = i32> {
    prop_oneof![3 => 0..=max_known, 1 => any::<i32>()]
}

fn secret() -> impl Strategy<Value = Secret> {
    (text(), text(), text(), enum_number(2), text()).prop_map(
        |(group, group_version, key, mount_requirement, env_var)| Secret {
            group,
            group_version,
            key,
            mount_requirement,
            env_var,
        },
    )
}

fn oauth2_client() -> impl Strategy<Value = OAuth2Client> {
    (text(), option::of(secret())).prop_map(|(client_id, client_secret)| OAuth2Client {
        client_id,
        client_secret,
    })
}

fn identity() -> impl Strategy<Value = Identity> {
    (text(), text(), option::of(oauth2_client()), text()).prop_map(
        |(iam_role, k8s_service_account, oauth2_client, execution_identity)| Identity {
            iam_role,
            k8s_service_account,
            oauth2_client,
            execution_identity,
        },
    )
}

fn token_request() -> impl Strategy<Value = OAuth2TokenRequest> {
    (
        text(),
        enum_number(0),
        option::of(oauth2_client()),
        text(),
        text(),
    )
        .prop_map(
            |(name, r#type, client, idp_discovery_endpoint, token_endpoint)| OAuth2TokenRequest {
                name,
                r#type,
                client,
                idp_discovery_endpoint,
                token_endpoint,
            },
        )
}

fn security_context() -> impl Strategy<Value = SecurityContext> {
    (
        option::of(identity()),
        vec(secret(), 0..3),
        vec(token_request(), 0..3),
    )
        .prop_map(|(run_as, secrets, tokens)| SecurityContext {
            run_as,
            secrets,
            tokens,
        })
}

fn metadata_response() -> impl Strategy<Value = OAuth2MetadataResponse> {
    (
        (text(), text(), text(), texts(), texts()),
        (texts(), text(), texts(), texts(), text()),
    )
        .prop_map(
            |(
                (issuer, authorization_endpoint, token_endpoint, response_types, scopes),
                (auth_methods, jwks_uri, challenge_methods, grant_types, device_endpoint),
            )| OAuth2MetadataResponse {
                issuer,
                authorization_endpoint,
                token_endpoint,
                response_types_supported: response_types,
                scopes_supported: scopes,
                token_endpoint_auth_methods_supported: auth_methods,
                jwks_uri,
                code_challenge_methods_supported: challenge_methods,
                grant_types_supported: grant_types,
                device_authorization_endpoint: device_endpoint,
            },
        )
}

fn public_client_config() -> impl Strategy<Value = PublicClientAuthConfigResponse> {
    (text(), text(), texts(), text(), text(), text()).prop_map(
        |(
            client_id,
            redirect_uri,
            scopes,
            authorization_metadata_key,
            service_http_endpoint,
            audience,
        )| PublicClientAuthConfigResponse {
            client_id,
            redirect_uri,
            scopes,
            authorization_metadata_key,
            service_http_endpoint,
            audience,
        },
    )
}

/// Bytes and JSON (camelCase as written, snake_case, and JSON text) all give `msg` back.
fn round_trips<T: ProtoJson>(msg: &T) -> Result<(), TestCaseError> {
    let bytes = msg.encode_to_vec();
    prop_assert_eq!(bytes.len(), msg.encoded_len());
    prop_assert_eq!(&T::decode(bytes.as_slice()).expect("decode"), msg);

    let json = serde_json::to_value(msg).expect("to JSON");
    prop_assert_eq!(
        &serde_json::from_value::<T>(json.clone()).expect("camelCase"),
        msg
    );
    let snake = snake_case_keys(&json);
    prop_assert_eq!(
        &serde_json::from_value::<T>(snake).expect("snake_case"),
        msg
    );
    let text = serde_json::to_string(msg).expect("to JSON text");
    prop_assert_eq!(&serde_json::from_str::<T>(&text).expect("JSON text"), msg);
    Ok(())
}

proptest! {
    #[test]
    fn secret_round_trips(msg in secret()) {
        round_trips(&msg)?;
    }

    #[test]
    fn oauth2_client_round_trips(msg in oauth2_client()) {
        round_trips(&msg)?;
    }

    #[test]
    fn identity_round_trips(msg in identity()) {
        round_trips(&msg)?;
    }

    #[test]
    fn token_request_round_trips(msg in token_request()) {
        round_trips(&msg)?;
    }

    #[test]
    fn security_context_round_trips(msg in security_context()) {
        round_trips(&msg)?;
    }

    #[test]
    fn metadata_response_round_trips(msg in metadata_response()) {
        round_trips(&msg)?;
    }

    #[test]
    fn public_client_config_round_trips(msg in public_client_config()) {
        round_trips(&msg)?;
    }
}
