//! The API key format of SPEC §2:
//!
//! ```text
//! <kind>_<mode>_<body>      e.g. sk_test_ + 38 base62 characters (46 in all)
//! kind = sk (standard) | rk (restricted)     mode = test | live
//! body = 32 random base62 characters + 6 base62 digits of the CRC-32 of all before them
//! ```
//!
//! NEVER CHANGE the prefixes, lengths or checksum: every key ever issued, and every secret
//! scanner that looks for leaked keys, depends on them.
//!
//! Parsing is the first gate of every authenticated request, so it reports precisely what is
//! wrong (the `hint` of the 401 body) without touching storage.

use crate::base62;
use crate::random::{RandomError, RandomSource};
use serde::{Deserialize, Serialize};
use std::fmt;
use zeroize::Zeroize;

/// Length of a whole key.
pub const KEY_LEN: usize = 46;
/// Length of `sk_test_`, `rk_live_`, ...
pub const PREFIX_LEN: usize = 8;
/// Random base62 characters after the prefix.
pub const RANDOM_LEN: usize = 32;
/// Base62 digits of the checksum at the end.
pub const CHECKSUM_LEN: usize = 6;
const CHECKED_LEN: usize = PREFIX_LEN + RANDOM_LEN;

/// Standard keys (one test and one live per account, every product) or restricted keys
/// (labelled, scoped, any number).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    /// `sk_`: the account's standard key of a mode.
    Standard,
    /// `rk_`: a labelled key limited to its scopes.
    Restricted,
}

impl KeyKind {
    /// The two letters that start a key of this kind.
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::Standard => "sk",
            Self::Restricted => "rk",
        }
    }

    /// The wire and storage spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Restricted => "restricted",
        }
    }

    /// Parses the wire and storage spelling.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "standard" => Some(Self::Standard),
            "restricted" => Some(Self::Restricted),
            _ => None,
        }
    }
}

/// Test traffic never touches live data: verification tells the caller the mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// `test`
    Test,
    /// `live`
    Live,
}

impl Mode {
    /// Both modes, test first.
    pub const ALL: [Mode; 2] = [Mode::Test, Mode::Live];

    /// The wire, storage and key-prefix spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Test => "test",
            Self::Live => "live",
        }
    }

    /// Parses `test` or `live`.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "test" => Some(Self::Test),
            "live" => Some(Self::Live),
            _ => None,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A plain API key: the secret itself. It exists only between generation and the one
/// response that shows it; `Debug` never prints it and the memory is wiped on drop.
pub struct PlainKey(String);

impl PlainKey {
    /// The secret text, to show once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The display hint kept in storage: the first 12 and last 4 characters.
    pub fn hint(&self) -> String {
        hint_of(&self.0)
    }
}

impl fmt::Debug for PlainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PlainKey({}…redacted)",
            self.0.get(..PREFIX_LEN).unwrap_or("")
        )
    }
}

impl Drop for PlainKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// The first 12 and last 4 characters of a key, joined by an ellipsis.
pub fn hint_of(key: &str) -> String {
    let head = key.get(..12).unwrap_or(key);
    let tail = key.get(key.len().saturating_sub(4)..).unwrap_or("");
    format!("{head}…{tail}")
}

/// Draws a new key of `kind` and `mode` from `random`.
pub fn generate(
    kind: KeyKind,
    mode: Mode,
    random: &dyn RandomSource,
) -> Result<PlainKey, RandomError> {
    let mut out = Vec::with_capacity(KEY_LEN);
    out.extend_from_slice(kind.prefix().as_bytes());
    out.push(b'_');
    out.extend_from_slice(mode.as_str().as_bytes());
    out.push(b'_');

    // Rejection sampling: 248 = 4 * 62, so `byte % 62` is uniform over the accepted bytes.
    let mut pool = [0u8; 64];
    while out.len() < CHECKED_LEN {
        random.fill(&mut pool)?;
        for &byte in &pool {
            if byte < 248 && out.len() < CHECKED_LEN {
                out.push(
                    base62::ALPHABET
                        .get(usize::from(byte % 62))
                        .copied()
                        .unwrap_or(b'0'),
                );
            }
        }
    }
    pool.zeroize();

    let mut check = [0u8; CHECKSUM_LEN];
    base62::encode_fixed(u64::from(crc32fast::hash(&out)), &mut check);
    out.extend_from_slice(&check);
    // Every byte pushed is ASCII, so this cannot fail; a failure would be a bug, not bad input.
    String::from_utf8(out)
        .map(PlainKey)
        .map_err(|_| RandomError("generated a non-ASCII key".into()))
}

/// A presented key that has the right shape and checksum (it may still be unknown).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ParsedKey<'a> {
    /// `sk` or `rk`.
    pub kind: KeyKind,
    /// `test` or `live`.
    pub mode: Mode,
    /// The whole key text.
    pub text: &'a str,
}

impl fmt::Debug for ParsedKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedKey")
            .field("kind", &self.kind)
            .field("mode", &self.mode)
            .field("text", &"<redacted>")
            .finish()
    }
}

/// What exactly is wrong with a presented key; `Display` is the hint shown to the caller.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    /// Nothing where the key should be.
    #[error(
        "The API key is empty. Send the whole key, for example `Authorization: Api-Key sk_test_…`."
    )]
    Empty,
    /// A space, tab or line break inside or around the key.
    #[error(
        "The API key contains whitespace. Remove spaces and line breaks from inside and around the key."
    )]
    Whitespace,
    /// Does not start with `sk_` or `rk_`.
    #[error(
        "An API key starts with `sk_` (standard key) or `rk_` (restricted key). Check that you copied the key itself, not its label, id or hint."
    )]
    UnknownKind,
    /// `sk_`/`rk_` is not followed by `test_` or `live_`.
    #[error("After `sk_` or `rk_`, an API key continues with `test_` or `live_`.")]
    UnknownMode,
    /// Not 46 characters.
    #[error(
        "An API key is 46 characters long; this one has {found}. It was probably truncated or pasted twice: copy the whole key again."
    )]
    WrongLength {
        /// Characters found.
        found: usize,
    },
    /// A character outside `0-9A-Za-z` after the prefix, or any non-ASCII character.
    #[error(
        "Character {position} of the API key is not allowed ({found:?}): after its `sk_test_`-style prefix a key has only the letters A-Z and a-z and the digits 0-9."
    )]
    InvalidCharacter {
        /// 1-based position of the first offending character.
        position: usize,
        /// The offending character.
        found: char,
    },
    /// The last six characters do not match the rest.
    #[error(
        "The API key's checksum does not match: the key was mistyped or altered. Copy it again, whole, from where you stored it."
    )]
    BadChecksum,
}

const PREFIXES: [&str; 4] = ["sk_test_", "sk_live_", "rk_test_", "rk_live_"];

/// Checks a presented key's shape and checksum.
#[inline]
pub fn parse(text: &str) -> Result<ParsedKey<'_>, KeyFormatError> {
    match parse_shaped(text) {
        Shaped::Key(parsed) => Ok(parsed),
        Shaped::BadChecksum => Err(KeyFormatError::BadChecksum),
        Shaped::No => parse_damaged(text),
    }
}

/// What the fast path makes of a text.
enum Shaped<'a> {
    /// A key of the right shape whose checksum matches.
    Key(ParsedKey<'a>),
    /// The right shape, but the checksum does not match.
    BadChecksum,
    /// Not the right shape: [`parse_damaged`] finds out exactly what is wrong.
    No,
}

/// `sk_test_`, `sk_live_`, `rk_test_`, `rk_live_` as little-endian words.
const PREFIX_WORDS: [(u64, KeyKind, Mode); 4] = [
    (
        u64::from_le_bytes(*b"sk_test_"),
        KeyKind::Standard,
        Mode::Test,
    ),
    (
        u64::from_le_bytes(*b"sk_live_"),
        KeyKind::Standard,
        Mode::Live,
    ),
    (
        u64::from_le_bytes(*b"rk_test_"),
        KeyKind::Restricted,
        Mode::Test,
    ),
    (
        u64::from_le_bytes(*b"rk_live_"),
        KeyKind::Restricted,
        Mode::Live,
    ),
];

/// The fast path for what nearly every request presents: 46 bytes, a known prefix, base62
/// after it. The prefix is one 8-byte compare, the alphabet check runs over all 38 bytes
/// without an early exit (so the compiler can vectorise it), then the CRC-32. Anything else
/// goes to [`parse_damaged`], which reports precisely what is wrong; for every text the two
/// paths give the same answer (a shaped text has no whitespace and no non-ASCII byte, so the
/// slow path's earlier checks cannot fire).
#[inline]
fn parse_shaped(text: &str) -> Shaped<'_> {
    let Ok(bytes) = <&[u8; KEY_LEN]>::try_from(text.as_bytes()) else {
        return Shaped::No;
    };
    let (prefix, body) = bytes.split_at(PREFIX_LEN);
    let Ok(prefix) = <[u8; PREFIX_LEN]>::try_from(prefix) else {
        return Shaped::No;
    };
    let word = u64::from_le_bytes(prefix);
    let Some(&(_, kind, mode)) = PREFIX_WORDS.iter().find(|(w, _, _)| *w == word) else {
        return Shaped::No;
    };
    let all_digits = body
        .iter()
        .fold(true, |ok, &b| ok & b.is_ascii_alphanumeric());
    if !all_digits {
        return Shaped::No;
    }
    let (checked, check) = bytes.split_at(CHECKED_LEN);
    // Six base62 digits are below 62^6 < 2^36: no overflow, and every byte is a digit here.
    let stated = check.iter().fold(0u64, |acc, &b| {
        acc * 62 + u64::from(base62::digit_value(b).unwrap_or(0))
    });
    if stated == u64::from(crc32fast::hash(checked)) {
        Shaped::Key(ParsedKey { kind, mode, text })
    } else {
        Shaped::BadChecksum
    }
}

/// The slow path: names the first thing wrong with a text that is not a well-shaped key.
/// Not `#[cold]`: LLVM optimises cold functions for size, which keeps the byte scans below
/// from being vectorised, and a flood of damaged keys should stay cheap too.
#[inline(never)]
fn parse_damaged(text: &str) -> Result<ParsedKey<'_>, KeyFormatError> {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return Err(KeyFormatError::Empty);
    }
    // One pass over the bytes tells both whether the text is pure ASCII (nearly every
    // damaged key) and whether it holds ASCII whitespace: the ASCII characters that
    // `char::is_whitespace` accepts are exactly tab to carriage return, and space. Only a text
    // with other characters is scanned again, for Unicode's whitespace.
    let (ascii, ascii_whitespace) = bytes.iter().fold((true, false), |(ascii, space), &b| {
        (
            ascii & b.is_ascii(),
            space | matches!(b, b'\t'..=b'\r' | b' '),
        )
    });
    let whitespace = ascii_whitespace || (!ascii && text.chars().any(char::is_whitespace));
    if whitespace {
        return Err(KeyFormatError::Whitespace);
    }
    // Lengths below count bytes; a non-ASCII character would make them disagree with what the
    // person sees, so name it first.
    if !ascii && let Some((position, found)) = text.chars().enumerate().find(|(_, c)| !c.is_ascii())
    {
        return Err(KeyFormatError::InvalidCharacter {
            position: position + 1,
            found,
        });
    }
    // From here on the text is ASCII: its byte length is its character count.
    if bytes.len() < PREFIX_LEN && PREFIXES.iter().any(|p| p.starts_with(text)) {
        return Err(KeyFormatError::WrongLength { found: bytes.len() });
    }
    let kind = match bytes.get(..3) {
        Some(b"sk_") => KeyKind::Standard,
        Some(b"rk_") => KeyKind::Restricted,
        _ => return Err(KeyFormatError::UnknownKind),
    };
    let mode = match bytes.get(3..PREFIX_LEN) {
        Some(b"test_") => Mode::Test,
        Some(b"live_") => Mode::Live,
        _ => return Err(KeyFormatError::UnknownMode),
    };
    if bytes.len() != KEY_LEN {
        return Err(KeyFormatError::WrongLength { found: bytes.len() });
    }
    let (checked, check) = bytes.split_at(CHECKED_LEN);
    let body = checked.get(PREFIX_LEN..).unwrap_or(&[]);
    if let Some(i) = body
        .iter()
        .chain(check)
        .position(|&b| base62::digit_value(b).is_none())
    {
        // The text is ASCII here, so byte and character positions agree.
        let found = bytes.get(PREFIX_LEN + i).map_or('?', |&b| char::from(b));
        return Err(KeyFormatError::InvalidCharacter {
            position: PREFIX_LEN + i + 1,
            found,
        });
    }
    if base62::decode(check) != Some(u64::from(crc32fast::hash(checked))) {
        return Err(KeyFormatError::BadChecksum);
    }
    Ok(ParsedKey { kind, mode, text })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::OsRandom;
    use proptest::prelude::*;

    /// `parse` as it was before the fast path: the two must agree on every text.
    fn parse_reference(text: &str) -> Result<ParsedKey<'_>, KeyFormatError> {
        let bytes = text.as_bytes();
        if bytes.is_empty() {
            return Err(KeyFormatError::Empty);
        }
        if text.chars().any(char::is_whitespace) {
            return Err(KeyFormatError::Whitespace);
        }
        if let Some((position, found)) = text.chars().enumerate().find(|(_, c)| !c.is_ascii()) {
            return Err(KeyFormatError::InvalidCharacter {
                position: position + 1,
                found,
            });
        }
        if bytes.len() < PREFIX_LEN && PREFIXES.iter().any(|p| p.starts_with(text)) {
            return Err(KeyFormatError::WrongLength {
                found: text.chars().count(),
            });
        }
        let kind = match bytes.get(..3) {
            Some(b"sk_") => KeyKind::Standard,
            Some(b"rk_") => KeyKind::Restricted,
            _ => return Err(KeyFormatError::UnknownKind),
        };
        let mode = match bytes.get(3..PREFIX_LEN) {
            Some(b"test_") => Mode::Test,
            Some(b"live_") => Mode::Live,
            _ => return Err(KeyFormatError::UnknownMode),
        };
        if bytes.len() != KEY_LEN {
            return Err(KeyFormatError::WrongLength {
                found: text.chars().count(),
            });
        }
        let (checked, check) = bytes.split_at(CHECKED_LEN);
        let body = &checked[PREFIX_LEN..];
        if let Some(i) = body
            .iter()
            .chain(check)
            .position(|&b| base62::digit_value(b).is_none())
        {
            return Err(KeyFormatError::InvalidCharacter {
                position: PREFIX_LEN + i + 1,
                found: char::from(bytes[PREFIX_LEN + i]),
            });
        }
        if base62::decode(check) != Some(u64::from(crc32fast::hash(checked))) {
            return Err(KeyFormatError::BadChecksum);
        }
        Ok(ParsedKey { kind, mode, text })
    }

    #[test]
    fn every_ascii_control_and_space_agrees_with_the_reference() {
        let good = key(KeyKind::Standard, Mode::Test);
        let good = good.expose();
        for b in 0u8..=127 {
            for at in [0, 10, 45, 46] {
                let mut text = good.to_owned();
                text.insert(at, char::from(b));
                assert_eq!(parse(&text), parse_reference(&text), "{b} at {at}");
                let mut text = good.to_owned();
                if at < KEY_LEN {
                    text.replace_range(at..=at, &char::from(b).to_string());
                    assert_eq!(parse(&text), parse_reference(&text), "{b} at {at}");
                }
            }
        }
    }

    fn key(kind: KeyKind, mode: Mode) -> PlainKey {
        generate(kind, mode, &OsRandom).unwrap()
    }

    #[test]
    fn generated_keys_have_the_documented_shape() {
        for kind in [KeyKind::Standard, KeyKind::Restricted] {
            for mode in Mode::ALL {
                let k = key(kind, mode);
                let text = k.expose();
                assert_eq!(text.len(), KEY_LEN);
                assert!(text.starts_with(&format!("{}_{}_", kind.prefix(), mode.as_str())));
                assert!(
                    text[PREFIX_LEN..]
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric())
                );
                let parsed = parse(text).unwrap();
                assert_eq!((parsed.kind, parsed.mode), (kind, mode));
            }
        }
    }

    #[test]
    fn checksum_matches_zlib_crc32_in_base62() {
        // Computed independently with Python: zlib.crc32(...) in base62, 6 digits.
        let a = parse("sk_test_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA0z02M7").unwrap();
        assert_eq!((a.kind, a.mode), (KeyKind::Standard, Mode::Test));
        let b = parse("rk_live_0123456789ABCDEFGHIJKLMNOPQRSTUV41OCdw").unwrap();
        assert_eq!((b.kind, b.mode), (KeyKind::Restricted, Mode::Live));
        assert_eq!(
            parse("rk_live_0123456789ABCDEFGHIJKLMNOPQRSTUV41OCdx"),
            Err(KeyFormatError::BadChecksum)
        );
    }

    #[test]
    fn each_kind_of_damage_gets_its_own_hint() {
        let good = key(KeyKind::Standard, Mode::Test);
        let good = good.expose();
        assert_eq!(parse(""), Err(KeyFormatError::Empty));
        assert_eq!(parse(&format!(" {good}")), Err(KeyFormatError::Whitespace));
        assert_eq!(parse(&format!("{good}\n")), Err(KeyFormatError::Whitespace));
        assert_eq!(
            parse("sk_te"),
            Err(KeyFormatError::WrongLength { found: 5 })
        );
        assert_eq!(
            parse(&good[..45]),
            Err(KeyFormatError::WrongLength { found: 45 })
        );
        assert_eq!(
            parse(&format!("pk{}", &good[2..])),
            Err(KeyFormatError::UnknownKind)
        );
        assert_eq!(
            parse(&format!("sk_prod_{}", &good[8..])),
            Err(KeyFormatError::UnknownMode)
        );
        let bad_char = format!("{}-{}", &good[..20], &good[21..]);
        assert_eq!(
            parse(&bad_char),
            Err(KeyFormatError::InvalidCharacter {
                position: 21,
                found: '-'
            })
        );
        let accented = format!("{}é{}", &good[..30], &good[31..]);
        assert_eq!(
            parse(&accented),
            Err(KeyFormatError::InvalidCharacter {
                position: 31,
                found: 'é'
            })
        );
        let flipped = format!(
            "{}{}",
            &good[..45],
            if good.ends_with('0') { '1' } else { '0' }
        );
        assert_eq!(parse(&flipped), Err(KeyFormatError::BadChecksum));
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let k = key(KeyKind::Restricted, Mode::Live);
        let shown = format!("{k:?} {:?}", parse(k.expose()).unwrap());
        assert!(!shown.contains(&k.expose()[PREFIX_LEN..]), "{shown}");
    }

    #[test]
    fn hint_is_first_twelve_and_last_four() {
        let k = key(KeyKind::Standard, Mode::Live);
        let t = k.expose();
        assert_eq!(k.hint(), format!("{}…{}", &t[..12], &t[42..]));
    }

    fn any_key() -> impl Strategy<Value = String> {
        (any::<bool>(), any::<bool>()).prop_map(|(std, live)| {
            let kind = if std {
                KeyKind::Standard
            } else {
                KeyKind::Restricted
            };
            let mode = if live { Mode::Live } else { Mode::Test };
            key(kind, mode).expose().to_owned()
        })
    }

    fn mutation_char() -> impl Strategy<Value = char> {
        prop_oneof![
            proptest::char::range('0', '9'),
            proptest::char::range('A', 'Z'),
            proptest::char::range('a', 'z'),
            Just('_'),
            Just(' '),
            Just('-'),
            Just('é'),
            any::<char>(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn generated_keys_always_parse(k in any_key()) {
            prop_assert!(parse(&k).is_ok());
        }

        #[test]
        fn any_substitution_is_rejected(k in any_key(), at in 0..KEY_LEN, c in mutation_char()) {
            let mut chars: Vec<char> = k.chars().collect();
            prop_assume!(chars[at] != c);
            chars[at] = c;
            let damaged: String = chars.into_iter().collect();
            prop_assert!(parse(&damaged).is_err(), "accepted {damaged}");
        }

        #[test]
        fn any_deletion_is_rejected(k in any_key(), at in 0..KEY_LEN) {
            let mut damaged = k.clone();
            damaged.remove(at);
            prop_assert!(parse(&damaged).is_err());
        }

        #[test]
        fn any_insertion_is_rejected(k in any_key(), at in 0..=KEY_LEN, c in mutation_char()) {
            let mut damaged = k.clone();
            damaged.insert(at, c);
            prop_assert!(parse(&damaged).is_err());
        }

        #[test]
        fn any_adjacent_swap_is_rejected(k in any_key(), at in 0..KEY_LEN - 1) {
            let mut bytes = k.clone().into_bytes();
            prop_assume!(bytes[at] != bytes[at + 1]);
            bytes.swap(at, at + 1);
            let damaged = String::from_utf8(bytes).unwrap();
            prop_assert!(parse(&damaged).is_err(), "accepted {damaged}");
        }

        #[test]
        fn any_truncation_is_rejected(k in any_key(), len in 0..KEY_LEN) {
            prop_assert!(parse(&k[..len]).is_err());
        }

        #[test]
        fn arbitrary_text_never_panics(s in ".{0,80}") {
            let _ = parse(&s);
        }

        #[test]
        fn fast_path_agrees_with_the_reference(k in any_key(), at in 0..KEY_LEN, c in mutation_char(), cut in 0..=KEY_LEN + 2) {
            let mut chars: Vec<char> = k.chars().collect();
            chars[at] = c;
            let damaged: String = chars.into_iter().collect();
            prop_assert_eq!(parse(&damaged), parse_reference(&damaged));
            prop_assert_eq!(parse(&k), parse_reference(&k));
            let cut_text: String = k.chars().chain("Zz".chars()).take(cut).collect();
            prop_assert_eq!(parse(&cut_text), parse_reference(&cut_text));
        }

        #[test]
        fn arbitrary_text_agrees_with_the_reference(s in ".{0,80}", t in "[a-z_A-Z0-9 ]{40,50}") {
            prop_assert_eq!(parse(&s), parse_reference(&s));
            prop_assert_eq!(parse(&t), parse_reference(&t));
            let prefixed = format!("sk_test_{t}");
            prop_assert_eq!(parse(&prefixed), parse_reference(&prefixed));
        }
    }
}
