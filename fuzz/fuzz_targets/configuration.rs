//! The configuration file: any TOML text. It is either a configuration that passed every check
//! or an error that says what is wrong; never a panic.
#![no_main]

use keywarden_server::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(error) = Config::from_toml(text) {
        assert!(!error.to_string().is_empty());
    }
});
