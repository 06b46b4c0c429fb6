//! Generated text for the leak-scan benchmarks: lines of code, configuration, logs and prose
//! with real keys (right checksum) sprinkled in, and look-alikes of five sorts that must not
//! be found. Reproducible from a seed; the counts of what was planted come with it, so a run
//! can check that a scanner found exactly the keys.
//!
//! Shared by `benches/scan.rs` (criterion, in memory) and `examples/scan_corpus.rs` (files on
//! disk for `benches/scan.sh`).

use keywarden_core::key_format::{self, KEY_LEN, KeyKind, Mode};
use keywarden_core::random::{RandomError, RandomSource};
use std::sync::atomic::{AtomicU64, Ordering};

/// A seeded splitmix64: fast and reproducible; key quality does not matter here.
#[derive(Debug)]
pub struct Seeded(AtomicU64);

impl Seeded {
    pub fn new(seed: u64) -> Self {
        Self(AtomicU64::new(seed))
    }

    pub fn next(&self) -> u64 {
        // One thread draws from it: a load and a store are enough.
        let state = self
            .0
            .load(Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        self.0.store(state, Ordering::Relaxed);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n`.
    pub fn below(&self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

impl RandomSource for Seeded {
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError> {
        for chunk in buf.chunks_mut(8) {
            chunk.copy_from_slice(&self.next().to_le_bytes()[..chunk.len()]);
        }
        Ok(())
    }
}

/// What a generated text holds.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Planted {
    /// Real keys: a scanner must find exactly these.
    pub keys: u64,
    /// Look-alikes that match the key format's regular expression (a character changed, so
    /// the checksum fails): a regular expression finds them, the scanner must not.
    pub regex_look_alikes: u64,
    /// Look-alikes that do not match it either (cut short, `sk_prod_`, a `-` inside).
    pub other_look_alikes: u64,
}

impl Planted {
    #[allow(dead_code)] // used by the example, not the bench
    pub fn add(&mut self, other: Planted) {
        self.keys += other.keys;
        self.regex_look_alikes += other.regex_look_alikes;
        self.other_look_alikes += other.other_look_alikes;
    }
}

/// Words of ordinary text. One in about twenty has `k_` in it, about as often as in source
/// code (`task_id`, `lock_file`), so the prefix search meets near misses; a few start like a
/// key and stop (`sk_prod`, `sk_tests`).
const WORDS: &[&str] = &[
    "the",
    "key",
    "request",
    "response",
    "account",
    "token",
    "user",
    "value",
    "return",
    "self",
    "config",
    "server",
    "client",
    "error",
    "true",
    "false",
    "None",
    "let",
    "fn",
    "def",
    "import",
    "from",
    "with",
    "for",
    "in",
    "if",
    "else",
    "match",
    "struct",
    "impl",
    "pub",
    "async",
    "await",
    "string",
    "number",
    "list",
    "map",
    "index",
    "count",
    "length",
    "name",
    "email",
    "id",
    "data",
    "result",
    "status",
    "code",
    "message",
    "detail",
    "time",
    "date",
    "start",
    "end",
    "open",
    "close",
    "read",
    "write",
    "send",
    "receive",
    "path",
    "file",
    "line",
    "column",
    "offset",
    "café",
    "naïve",
    "déjà",
    "über",
    "→",
    "日本語",
    "🔑",
    "=",
    "==",
    ":",
    ";",
    "{",
    "}",
    "(",
    ")",
    "\"",
    "'",
    "//",
    "#",
    "0",
    "42",
    "1024",
    "0x7f",
    "2026-12-06T08:00:00Z",
    "GET",
    "/v1/verify/",
    "INFO",
    "WARN",
    "DEBUG",
    "payroll:read",
    "asset:write",
    "Authorization:",
    "Bearer",
    "Api-Key",
    "task_id",
    "lock_file",
    "check_key",
    "sk_prod",
    "sk_tests",
    "bulk_live_",
];

/// Where a key or look-alike goes, as a line of its own.
const SETTINGS: &[(&str, &str)] = &[
    ("KEYWARDEN_API_KEY=", "\n"),
    ("api_key = \"", "\"\n"),
    ("    headers = {\"Authorization\": \"Api-Key ", "\"}\n"),
    ("curl -u ", ": https://api.example.com/v1/customers/\n"),
    ("export KEY='", "'\n"),
    ("<key>", "</key>\n"),
    ("", "\n"),
];

/// Appends about `bytes` of generated text to `out`; one key per `key_every` bytes on
/// average, and as many look-alikes of each sort.
pub fn generate(random: &Seeded, bytes: usize, key_every: usize, out: &mut Vec<u8>) -> Planted {
    let mut planted = Planted::default();
    let end = out.len() + bytes;
    // Six sorts of plant (a key and five look-alikes), equally likely, at random gaps that
    // average a sixth of `key_every`.
    let mean_gap = (key_every / 6).max(1);
    let mut next_plant = out.len() + random.below(2 * mean_gap);
    while out.len() < end {
        if out.len() >= next_plant {
            next_plant = out.len() + random.below(2 * mean_gap);
            let (before, after) = SETTINGS[random.below(SETTINGS.len())];
            out.extend_from_slice(before.as_bytes());
            let kind = if random.below(2) == 0 {
                KeyKind::Standard
            } else {
                KeyKind::Restricted
            };
            let mode = if random.below(2) == 0 {
                Mode::Test
            } else {
                Mode::Live
            };
            let key = key_format::generate(kind, mode, random).unwrap();
            let key = key.expose().as_bytes();
            match random.below(6) {
                0 => {
                    out.extend_from_slice(key);
                    planted.keys += 1;
                }
                1 => {
                    // A changed character anywhere after the prefix: the checksum no longer
                    // matches (CRC-32 catches every single-character change).
                    let mut damaged = key.to_vec();
                    let at = 8 + random.below(KEY_LEN - 8);
                    let was = damaged[at];
                    damaged[at] = if was == b'a' { b'b' } else { b'a' };
                    out.extend_from_slice(&damaged);
                    planted.regex_look_alikes += 1;
                }
                2 => {
                    out.extend_from_slice(&key[..KEY_LEN - 1]);
                    planted.other_look_alikes += 1;
                }
                3 => {
                    out.extend_from_slice(b"sk_prod_");
                    out.extend_from_slice(&key[8..]);
                    planted.other_look_alikes += 1;
                }
                4 => {
                    let mut damaged = key.to_vec();
                    damaged[8 + random.below(KEY_LEN - 8)] = b'-';
                    out.extend_from_slice(&damaged);
                    planted.other_look_alikes += 1;
                }
                _ => {
                    // Two characters swapped (a typo that keeps the shape).
                    let mut damaged = key.to_vec();
                    let at = 8 + random.below(KEY_LEN - 9);
                    if damaged[at] == damaged[at + 1] {
                        damaged[at] = if damaged[at] == b'Q' { b'R' } else { b'Q' };
                    } else {
                        damaged.swap(at, at + 1);
                    }
                    out.extend_from_slice(&damaged);
                    planted.regex_look_alikes += 1;
                }
            }
            out.extend_from_slice(after.as_bytes());
        }
        // A line of 0 to 16 words.
        for i in 0..random.below(17) {
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(WORDS[random.below(WORDS.len())].as_bytes());
        }
        out.push(b'\n');
    }
    planted
}
