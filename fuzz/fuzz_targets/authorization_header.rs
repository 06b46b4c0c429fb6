//! The `Authorization` header of every key-checked request: any bytes the HTTP layer accepts as
//! a header value. It must never panic; what it accepts must be a well-formed key.
#![no_main]

use keywarden_server::verify::presented_key::{BasicBuffer, presented_key};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = http::HeaderValue::from_bytes(data) else {
        return;
    };
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::AUTHORIZATION, value);
    let mut buffer: BasicBuffer = [0; 192];
    if let Ok(key) = presented_key(&headers, &mut buffer) {
        assert_eq!(key.text.len(), 46);
        assert!(keywarden_core::key_format::parse(key.text).is_ok());
    }
});
