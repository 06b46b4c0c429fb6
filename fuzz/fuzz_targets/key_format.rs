//! The key format (SPEC §2): any text. A key it accepts has the exact shape and its checksum;
//! what it refuses it refuses with a hint, without panicking.
#![no_main]

use keywarden_core::key_format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match key_format::parse(text) {
        Ok(key) => {
            assert_eq!(text.len(), 46);
            assert_eq!(key.text, text);
            assert!(text.starts_with("sk_") || text.starts_with("rk_"));
            assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        }
        Err(error) => assert!(!error.to_string().is_empty()),
    }
});
