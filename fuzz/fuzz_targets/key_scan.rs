//! The leak scanner (SPEC §8): any bytes, as a file, a blob or a pasted text. It never panics,
//! what it finds are keys, and fed in chunks of any size it finds exactly what it finds in the
//! whole text, at the same places.
#![no_main]

use keywarden_core::key_format;
use keywarden_core::key_scan::{KeyScanner, find_keys};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte chooses the chunk size.
    let Some((&size, text)) = data.split_first() else {
        return;
    };
    let whole: Vec<_> = find_keys(text)
        .map(|found| (found.key.text.to_owned(), found.at))
        .collect();
    for (key, at) in &whole {
        assert!(key_format::parse(key).is_ok());
        let start = usize::try_from(at.offset).unwrap();
        assert_eq!(&text[start..start + key.len()], key.as_bytes());
    }
    let mut streamed = Vec::new();
    let mut scanner = KeyScanner::new();
    for chunk in text.chunks(usize::from(size).max(1)) {
        scanner.feed(chunk, |found| {
            streamed.push((found.key.text.to_owned(), found.at));
        });
    }
    assert_eq!(whole, streamed);
    assert_eq!(scanner.bytes_seen(), text.len() as u64);
});
