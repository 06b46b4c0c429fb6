//! Every JSON request body of the API: any bytes, read as each body type. Never a panic.
#![no_main]

use keywarden_api_types::keys::{
    CreateKeyRequest, RotateKeyRequest, RotateStandardKeyRequest, UpdateKeyRequest,
};
use keywarden_api_types::session::{RefreshRequest, TokenRequest};
use keywarden_api_types::users::{CreateUserRequest, UpdateAccountRequest, UpdateUserRequest};
use keywarden_api_types::verify::VerifyRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<CreateKeyRequest>(data);
    let _ = serde_json::from_slice::<UpdateKeyRequest>(data);
    let _ = serde_json::from_slice::<RotateKeyRequest>(data);
    let _ = serde_json::from_slice::<RotateStandardKeyRequest>(data);
    let _ = serde_json::from_slice::<TokenRequest>(data);
    let _ = serde_json::from_slice::<RefreshRequest>(data);
    let _ = serde_json::from_slice::<CreateUserRequest>(data);
    let _ = serde_json::from_slice::<UpdateUserRequest>(data);
    let _ = serde_json::from_slice::<UpdateAccountRequest>(data);
    let _ = serde_json::from_slice::<VerifyRequest>(data);
});
