//! Discovery documents: RFC 8414 / OpenID metadata (both spellings, through the discovery
//! reader) and Flyte's `/config/v1/flyte_client`.
//! Properties: no panic; what was read survives a JSON round trip and a protobuf round trip.
#![no_main]

use auth_oauth2::__fuzz::metadata_document;
use libfuzzer_sys::fuzz_target;
use prost::Message;
use security_model::{OAuth2MetadataResponse, PublicClientAuthConfigResponse};

fn round_trips<T>(value: &T)
where
    T: Message + Default + PartialEq + std::fmt::Debug + serde::Serialize,
    T: for<'de> serde::Deserialize<'de>,
{
    let json = serde_json::to_vec(value).expect("serializes");
    let back: T = serde_json::from_slice(&json).expect("what we write, we read");
    assert_eq!(&back, value, "JSON round trip");
    let back = T::decode(value.encode_to_vec().as_slice()).expect("protobuf decodes");
    assert_eq!(&back, value, "protobuf round trip");
}

fuzz_target!(|data: &[u8]| {
    if let Ok((metadata, _iss)) = metadata_document(data) {
        round_trips(&metadata);
    }
    if let Ok(metadata) = serde_json::from_slice::<OAuth2MetadataResponse>(data) {
        round_trips(&metadata);
    }
    if let Ok(client) = serde_json::from_slice::<PublicClientAuthConfigResponse>(data) {
        round_trips(&client);
    }
});
