//! Finding Keywarden keys in arbitrary bytes (SPEC §8): what `keywarden scan` runs over files,
//! git history and standard input, and what a pasted text is searched with.
//!
//! A finding is 46 bytes with a key's prefix, base62 after it and a matching checksum (the
//! same [`key_format::parse`] the verify path runs), so random text gives no false positives:
//! a look-alike with the right shape passes the checksum once in 62^6 (about 5.7e10) tries.
//! No word boundary is asked for around the key: the checksum alone decides, and a key glued
//! to other text (`KEY=sk_live_…`, `"sk_live_…\n"`, a key followed by more letters) is still
//! a leaked key.
//!
//! The scanner streams: the caller feeds chunks of any size, a key cut by a chunk boundary is
//! still found, and each finding carries its byte offset, line and column. It keeps at most
//! 45 bytes of one chunk for the next, so memory does not grow with the input.
//!
//! Speed: the prefixes are found with `memchr::memmem` (SIMD) on their common `k_`, and only
//! what follows a whole prefix is checked; lines and columns are counted a chunk at a time,
//! in loops the compiler vectorises. No I/O here: the CLI reads, this finds.

use crate::key_format::{self, KEY_LEN, ParsedKey};
use memchr::memmem;
use std::fmt;
use std::sync::LazyLock;

/// Bytes a chunk can leave for the next: one fewer than a key, since a key that fits whole
/// in what has been seen has already been decided.
const CARRY: usize = KEY_LEN - 1;

/// Where the prefixes `sk_` / `rk_` begin, one byte before the `k_` they share.
const PREFIX_K_AT: usize = 1;

/// `sk_test_`, `sk_live_`, `rk_test_`, `rk_live_`: the four ways a key starts.
const PREFIXES: [[u8; 8]; 4] = [*b"sk_test_", *b"sk_live_", *b"rk_test_", *b"rk_live_"];

/// The one searcher every scanner shares (building it is not free; it holds no state).
static K_UNDERSCORE: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(b"k_"));

/// A place in the input: 0-based byte offset, 1-based line and column. The column counts
/// characters as UTF-8 encodes them (each byte that does not continue a multi-byte
/// character), which is what editors show for text; for binary input it is a byte count
/// less the bytes that happen to look like continuations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// Bytes before the key.
    pub offset: u64,
    /// Line of the key's first character, from 1 (a line ends at `\n`).
    pub line: u64,
    /// Column of the key's first character within its line, from 1.
    pub column: u64,
}

impl Position {
    /// The start of the input.
    pub const START: Position = Position {
        offset: 0,
        line: 1,
        column: 1,
    };

    /// Moves past `bytes`, which follow this position in the input.
    #[inline]
    fn advance(&mut self, bytes: &[u8]) {
        self.offset += bytes.len() as u64;
        let newlines = count_bytes(bytes, |b| b == b'\n');
        if newlines == 0 {
            self.column += count_chars(bytes);
            return;
        }
        self.line += newlines;
        let after = memchr::memrchr(b'\n', bytes).map_or(0, |at| at + 1);
        self.column = 1 + count_chars(bytes.get(after..).unwrap_or(&[]));
    }
}

/// A key found in the input: its kind, mode and text (for the caller to hash or hint; it
/// borrows the scanner's input only until the callback returns), and where it starts.
/// `Debug` never prints the key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FoundKey<'a> {
    /// The key, shape and checksum checked.
    pub key: ParsedKey<'a>,
    /// Where its first character is.
    pub at: Position,
}

impl fmt::Debug for FoundKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FoundKey")
            .field("key", &self.key)
            .field("at", &self.at)
            .finish()
    }
}

/// A streaming key finder over one input (a file, a blob, standard input). Feed it the
/// input's bytes in order, in chunks of any size; at the end nothing needs flushing (a key
/// cut short by the end of the input is not a key).
#[derive(Debug, Clone)]
pub struct KeyScanner {
    /// The last bytes fed that could still start a key (at most [`CARRY`]).
    carry: [u8; CARRY],
    carry_len: usize,
    /// The position of `carry`'s first byte: positions are worked out lazily, only as far as
    /// the bytes in hand.
    cursor: Position,
}

impl Default for KeyScanner {
    fn default() -> Self {
        Self::new()
    }
}

impl KeyScanner {
    /// A scanner at the start of an input.
    pub fn new() -> Self {
        Self {
            carry: [0; CARRY],
            carry_len: 0,
            cursor: Position::START,
        }
    }

    /// Bytes fed so far.
    pub fn bytes_seen(&self) -> u64 {
        self.cursor.offset + self.carry_len as u64
    }

    /// Scans the next `chunk` of the input and calls `on_key` for every key that ends in it,
    /// in the order of the input.
    pub fn feed(&mut self, chunk: &[u8], mut on_key: impl FnMut(FoundKey<'_>)) {
        let carried = self.carry_len;
        let carry = self.carry.get(..carried).unwrap_or(&[]);

        // 1. Keys that start in the carried bytes and end in this chunk: search the carry and
        //    the chunk's first bytes (at most 90 bytes, copied).
        let mut seam = [0u8; 2 * CARRY];
        let head = chunk.get(..CARRY.min(chunk.len())).unwrap_or(&[]);
        let seam_len = carried + head.len();
        let (left, right) = seam.split_at_mut(carried);
        left.copy_from_slice(carry);
        if let Some(right) = right.get_mut(..head.len()) {
            right.copy_from_slice(head);
        }
        let seam = seam.get(..seam_len).unwrap_or(&[]);
        let mut cursor = self.cursor;
        let mut done = 0;
        for start in key_starts(seam).take_while(|&start| start < carried) {
            if let Some(key) = key_at(seam, start) {
                cursor.advance(seam.get(done..start).unwrap_or(&[]));
                done = start;
                on_key(FoundKey { key, at: cursor });
            }
        }

        if chunk.len() < CARRY {
            // 2a. A short chunk: nothing can start in it and end in it. Keep the last bytes of
            //     carry + chunk, and move the cursor to the first of them.
            let keep = seam_len.min(CARRY);
            let drop = seam_len - keep;
            cursor.advance(seam.get(done..drop.max(done)).unwrap_or(&[]));
            if let (Some(dst), Some(src)) = (self.carry.get_mut(..keep), seam.get(drop..)) {
                dst.copy_from_slice(src);
            }
            self.carry_len = keep;
            self.cursor = cursor;
            return;
        }

        // 2b. Every start in the carry is decided now; the cursor moves to the chunk's start.
        cursor.advance(seam.get(done..carried).unwrap_or(&[]));
        let mut done = 0;
        for start in key_starts(chunk) {
            if let Some(key) = key_at(chunk, start) {
                cursor.advance(chunk.get(done..start).unwrap_or(&[]));
                done = start;
                on_key(FoundKey { key, at: cursor });
            }
        }
        // 3. Carry the last bytes, which may start a key the next chunk ends.
        let drop = chunk.len() - CARRY;
        cursor.advance(chunk.get(done..drop).unwrap_or(&[]));
        if let Some(tail) = chunk.get(drop..) {
            self.carry.copy_from_slice(tail);
        }
        self.carry_len = CARRY;
        self.cursor = cursor;
    }
}

/// Every key in `bytes`, for a text held whole in memory (a pasted log, a request body).
pub fn find_keys(bytes: &[u8]) -> impl Iterator<Item = FoundKey<'_>> {
    let mut cursor = Position::START;
    let mut done = 0;
    key_starts(bytes).filter_map(move |start| {
        let key = key_at(bytes, start)?;
        cursor.advance(bytes.get(done..start).unwrap_or(&[]));
        done = start;
        Some(FoundKey { key, at: cursor })
    })
}

/// Offsets in `hay` where one of the four prefixes starts, in order. The prefixes cannot
/// overlap one another (each holds `_` where the others hold a letter), so every start is
/// found.
#[inline]
fn key_starts(hay: &[u8]) -> impl Iterator<Item = usize> + '_ {
    K_UNDERSCORE.find_iter(hay).filter_map(move |k_at| {
        let start = k_at.checked_sub(PREFIX_K_AT)?;
        let prefix = hay.get(start..start + 8)?;
        PREFIXES.iter().any(|p| p == prefix).then_some(start)
    })
}

/// The key starting at `start`, if the 46 bytes there are one (shape and checksum).
#[inline]
fn key_at(hay: &[u8], start: usize) -> Option<ParsedKey<'_>> {
    let candidate = hay.get(start..start.checked_add(KEY_LEN)?)?;
    let text = std::str::from_utf8(candidate).ok()?;
    key_format::parse(text).ok()
}

/// How many bytes of `bytes` satisfy `is`. Counted in blocks of 255 into a byte-wide
/// counter, a loop LLVM turns into vector compares and adds.
#[inline]
fn count_bytes(bytes: &[u8], is: impl Fn(u8) -> bool + Copy) -> u64 {
    bytes
        .chunks(255)
        .map(|block| {
            u64::from(
                block
                    .iter()
                    .fold(0u8, |n, &b| n.wrapping_add(u8::from(is(b)))),
            )
        })
        .sum()
}

/// Characters in UTF-8 `bytes`: the bytes that are not continuation bytes (`10xxxxxx`).
#[inline]
fn count_chars(bytes: &[u8]) -> u64 {
    count_bytes(bytes, |b| (b as i8) >= -0x40)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key_format::{KeyKind, Mode, generate};
    use crate::random::OsRandom;
    use proptest::prelude::*;

    fn new_key(kind: KeyKind, mode: Mode) -> String {
        generate(kind, mode, &OsRandom).unwrap().expose().to_owned()
    }

    /// (text, offset, line, column) of every key, feeding `input` in chunks of `sizes` (cycled).
    fn scan_in_chunks(input: &[u8], sizes: &[usize]) -> Vec<(String, u64, u64, u64)> {
        let mut scanner = KeyScanner::new();
        let mut found = Vec::new();
        let mut rest = input;
        let mut i = 0;
        while !rest.is_empty() {
            let size = sizes[i % sizes.len()].clamp(1, rest.len());
            let (chunk, after) = rest.split_at(size);
            scanner.feed(chunk, |f| {
                found.push((f.key.text.to_owned(), f.at.offset, f.at.line, f.at.column))
            });
            rest = after;
            i += 1;
        }
        assert_eq!(scanner.bytes_seen(), input.len() as u64);
        found
    }

    /// The answer by brute force: every offset tried (keys that overlap are each found, as
    /// the scanner finds them: the checksum alone decides), line and column counted naively.
    fn reference(input: &[u8]) -> Vec<(String, u64, u64, u64)> {
        let mut found = Vec::new();
        let mut start = 0;
        while start + KEY_LEN <= input.len() {
            let window = &input[start..start + KEY_LEN];
            if let Ok(text) = std::str::from_utf8(window)
                && key_format::parse(text).is_ok()
            {
                let before = &input[..start];
                let line = 1 + before.iter().filter(|&&b| b == b'\n').count() as u64;
                let line_start = before
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |i| i + 1);
                let column = 1 + before[line_start..]
                    .iter()
                    .filter(|&&b| b & 0xC0 != 0x80)
                    .count() as u64;
                found.push((text.to_owned(), start as u64, line, column));
            }
            start += 1;
        }
        found
    }

    #[test]
    fn finds_keys_with_line_and_column_in_characters() {
        let a = new_key(KeyKind::Standard, Mode::Live);
        let b = new_key(KeyKind::Restricted, Mode::Test);
        let text = format!("first line\nKEY=\"{a}\"\nnaïve café {b}\n");
        let found = scan_in_chunks(text.as_bytes(), &[1 << 16]);
        assert_eq!(
            found,
            vec![
                (a.clone(), 16, 2, 6),
                (b.clone(), text.find(&b).unwrap() as u64, 3, 12),
            ]
        );
        let all: Vec<_> = find_keys(text.as_bytes())
            .map(|f| (f.key.kind, f.key.mode, f.at))
            .collect();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].0, KeyKind::Standard);
        assert_eq!(all[1].1, Mode::Test);
        assert_eq!(
            all[1].2,
            Position {
                offset: text.find(&b).unwrap() as u64,
                line: 3,
                column: 12
            }
        );
    }

    #[test]
    fn a_key_cut_by_every_possible_chunk_boundary_is_found_once() {
        let key = new_key(KeyKind::Standard, Mode::Test);
        let text = format!("ab\ncd {key} ef");
        for size in 1..=text.len() {
            assert_eq!(
                scan_in_chunks(text.as_bytes(), &[size]),
                vec![(key.clone(), 6, 2, 4)],
                "chunks of {size}"
            );
        }
        for split in 0..=text.len() {
            assert_eq!(
                scan_in_chunks(text.as_bytes(), &[split.max(1), text.len()]),
                vec![(key.clone(), 6, 2, 4)],
                "split at {split}"
            );
        }
    }

    #[test]
    fn look_alikes_are_not_keys() {
        let key = new_key(KeyKind::Restricted, Mode::Live);
        let mut wrong_checksum = key.clone().into_bytes();
        wrong_checksum[45] = if wrong_checksum[45] == b'0' {
            b'1'
        } else {
            b'0'
        };
        let wrong_checksum = String::from_utf8(wrong_checksum).unwrap();
        let dash = format!("{}-{}", &key[..20], &key[21..]);
        let text = format!(
            "{wrong_checksum}\n{short}\nsk_prod_{body}\npk_live_{body}\n{dash}\nsk_test\n",
            short = &key[..45],
            body = &key[8..],
        );
        assert_eq!(scan_in_chunks(text.as_bytes(), &[7]), vec![]);
        assert_eq!(find_keys(text.as_bytes()).count(), 0);
    }

    #[test]
    fn keys_glued_to_other_text_and_to_each_other_are_found() {
        let a = new_key(KeyKind::Standard, Mode::Test);
        let b = new_key(KeyKind::Standard, Mode::Live);
        let text = format!("x{a}{b}Zz_{a}");
        let found: Vec<_> = scan_in_chunks(text.as_bytes(), &[13])
            .into_iter()
            .map(|f| f.1)
            .collect();
        assert_eq!(found, vec![1, 47, 96]);
    }

    #[test]
    fn binary_input_with_invalid_utf8_around_a_key() {
        let key = new_key(KeyKind::Restricted, Mode::Test);
        let mut bytes = vec![0u8, 0xFF, 0xC3, b'\n', 0x80, 0x80, 0xE2];
        bytes.extend_from_slice(key.as_bytes());
        bytes.extend_from_slice(&[0, 0xFE, b'k', b'_']);
        assert_eq!(
            scan_in_chunks(&bytes, &[3, 5]),
            vec![(key.clone(), 7, 2, 2)]
        );
        assert_eq!(scan_in_chunks(&bytes, &[3, 5]), reference(&bytes));
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = new_key(KeyKind::Standard, Mode::Live);
        let shown = format!("{:?}", find_keys(key.as_bytes()).collect::<Vec<_>>());
        assert!(shown.contains("FoundKey"), "{shown}");
        assert!(!shown.contains(&key[8..]), "{shown}");
    }

    /// Pieces a generated text is made of: keys, near misses and filler with line breaks
    /// and multi-byte characters.
    fn piece() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(b"\n".to_vec()),
            Just("é€😀".as_bytes().to_vec()),
            Just(b"sk_test_".to_vec()),
            Just(b"k_live_".to_vec()),
            "[a-zA-Z0-9_ =\"]{0,60}".prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 0..20),
            (any::<bool>(), any::<bool>(), 0..KEY_LEN + 1).prop_map(|(std, live, cut)| {
                let kind = if std {
                    KeyKind::Standard
                } else {
                    KeyKind::Restricted
                };
                let mode = if live { Mode::Live } else { Mode::Test };
                new_key(kind, mode).into_bytes()[..cut].to_vec()
            }),
            (any::<bool>(), any::<bool>()).prop_map(|(std, live)| {
                let kind = if std {
                    KeyKind::Standard
                } else {
                    KeyKind::Restricted
                };
                let mode = if live { Mode::Live } else { Mode::Test };
                new_key(kind, mode).into_bytes()
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn streaming_agrees_with_brute_force(
            pieces in proptest::collection::vec(piece(), 0..40),
            sizes in proptest::collection::vec(1usize..200, 1..6),
        ) {
            let input = pieces.concat();
            let expected = reference(&input);
            prop_assert_eq!(scan_in_chunks(&input, &sizes), expected.clone());
            let whole: Vec<_> = find_keys(&input)
                .map(|f| (f.key.text.to_owned(), f.at.offset, f.at.line, f.at.column))
                .collect();
            prop_assert_eq!(whole, expected);
        }
    }
}
