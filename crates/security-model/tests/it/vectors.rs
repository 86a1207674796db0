//! The wire-format vectors of `tests/data/security-idl.json`, produced by Python flyteidl 1.16.8
//! (see `/work/shared/vectors/README.md` in the project's shared files for the format).

use prost::Message;
use security_model::{
    Identity, OAuth2Client, OAuth2MetadataRequest, OAuth2MetadataResponse, OAuth2TokenRequest,
    PublicClientAuthConfigRequest, PublicClientAuthConfigResponse, Secret, SecurityContext,
};
use serde_json::Value;

use crate::support::{ProtoJson, from_hex, parse, to_hex};

const VECTORS: &str = include_str!("../data/security-idl.json");

fn vectors() -> Vec<Value> {
    serde_json::from_str(VECTORS).expect("vector file is a JSON array")
}

/// Runs every check of the vector format on one vector of message type `T`.
fn check<T: ProtoJson>(vector: &Value) {
    let name = vector["name"].as_str().expect("name");
    let hex = vector["proto_hex"].as_str().expect("proto_hex");
    let bytes = from_hex(hex);
    assert_eq!(
        vector["proto_len"].as_u64(),
        Some(bytes.len() as u64),
        "{name}: proto_len"
    );

    // Decoding then encoding gives the same bytes.
    let msg = T::decode(bytes.as_slice()).unwrap_or_else(|e| panic!("{name}: decode: {e}"));
    assert_eq!(
        to_hex(&msg.encode_to_vec()),
        hex,
        "{name}: re-encoded bytes"
    );
    assert_eq!(msg.encoded_len(), bytes.len(), "{name}: encoded_len");

    // Writing JSON gives the canonical ProtoJSON value.
    let written = serde_json::to_value(&msg).unwrap_or_else(|e| panic!("{name}: to JSON: {e}"));
    assert_eq!(written, vector["json"], "{name}: written JSON");

    // Reading either name style gives the decoded message.
    assert_eq!(parse::<T>(&vector["json"]), msg, "{name}: parse json");
    assert_eq!(
        parse::<T>(&vector["json_proto_names"]),
        msg,
        "{name}: parse json_proto_names"
    );

    // The same holds when going through JSON text rather than a `Value`.
    let text = vector["json_text"].as_str().expect("json_text");
    let from_text: T = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(from_text, msg, "{name}: parse json_text");

    // What FlyteAdmin's HTTP gateway sends, with every field present, reads as the same message.
    if vector["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("flyteidl.service."))
    {
        let http = &vector["json_flyteadmin_http"];
        for variant in ["accept_application_json", "accept_other"] {
            assert!(
                http[variant].is_object(),
                "{name}: json_flyteadmin_http.{variant} missing"
            );
            assert_eq!(parse::<T>(&http[variant]), msg, "{name}: parse {variant}");
        }
    }
}

#[test]
fn every_vector_round_trips_through_bytes_and_json() {
    let vectors = vectors();
    assert_eq!(
        vectors.len(),
        10,
        "the vector file changed; review the new vectors"
    );
    for vector in &vectors {
        match vector["message"].as_str().expect("message") {
            "flyteidl.core.Secret" => check::<Secret>(vector),
            "flyteidl.core.OAuth2Client" => check::<OAuth2Client>(vector),
            "flyteidl.core.Identity" => check::<Identity>(vector),
            "flyteidl.core.OAuth2TokenRequest" => check::<OAuth2TokenRequest>(vector),
            "flyteidl.core.SecurityContext" => check::<SecurityContext>(vector),
            "flyteidl.service.OAuth2MetadataRequest" => check::<OAuth2MetadataRequest>(vector),
            "flyteidl.service.OAuth2MetadataResponse" => check::<OAuth2MetadataResponse>(vector),
            "flyteidl.service.PublicClientAuthConfigRequest" => {
                check::<PublicClientAuthConfigRequest>(vector)
            }
            "flyteidl.service.PublicClientAuthConfigResponse" => {
                check::<PublicClientAuthConfigResponse>(vector)
            }
            other => panic!("{}: no Rust type for {other}", vector["name"]),
        }
    }
}

/// The builders produce exactly the messages of the vectors.
#[test]
fn builders_match_the_vectors() {
    use security_model::secret::MountType;

    let by_name = |name: &str| -> Vec<u8> {
        let v = vectors()
            .into_iter()
            .find(|v| v["name"] == name)
            .expect(name);
        from_hex(v["proto_hex"].as_str().expect("proto_hex"))
    };

    let secret = Secret::new("db-creds", "password")
        .with_mount_requirement(MountType::EnvVar)
        .with_env_var("DB_PASSWORD");
    assert_eq!(secret.encode_to_vec(), by_name("secret_env_var_mount"));

    let file = Secret::new("tls-cert", "tls.crt")
        .with_group_version("3")
        .with_mount_requirement(MountType::File);
    assert_eq!(
        file.encode_to_vec(),
        by_name("secret_file_mount_group_version")
    );

    let identity = Identity::iam_role("arn:aws:iam::123456789012:role/flyte-task")
        .with_k8s_service_account("flyte-worker")
        .with_oauth2_client(OAuth2Client::new(
            "flyte-task-client",
            Secret::new("oauth", "client-secret"),
        ))
        .with_execution_identity("alice@example.com");
    assert_eq!(identity.encode_to_vec(), by_name("identity_all_fields"));

    let token = OAuth2TokenRequest::client_credentials(
        "svc-token",
        OAuth2Client::new(
            "svc",
            Secret::new("oauth", "svc-secret").with_mount_requirement(MountType::EnvVar),
        ),
    )
    .with_idp_discovery_endpoint("https://idp.example.com/.well-known/openid-configuration")
    .with_token_endpoint("https://idp.example.com/oauth2/token");
    assert_eq!(token.encode_to_vec(), by_name("oauth2_token_request_full"));

    let ctx = SecurityContext::default()
        .with_run_as(
            Identity::iam_role("arn:aws:iam::123456789012:role/flyte-task")
                .with_k8s_service_account("flyte-worker"),
        )
        .with_secret(secret)
        .with_secret(Secret::new("tls-cert", "tls.crt").with_mount_requirement(MountType::File))
        .with_token(token);
    assert_eq!(ctx.encode_to_vec(), by_name("security_context_full"));
    assert!(ctx.validate().is_ok());
}
