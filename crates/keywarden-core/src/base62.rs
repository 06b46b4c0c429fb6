//! Base62 digits in the order SPEC §2 fixes: `0-9`, then `A-Z`, then `a-z`.

/// The 62 digits, index = value.
pub const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The value of one base62 digit, or `None` for any other byte.
#[inline]
pub const fn digit_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'A'..=b'Z' => Some(byte - b'A' + 10),
        b'a'..=b'z' => Some(byte - b'a' + 36),
        _ => None,
    }
}

/// Writes `value` as exactly `out.len()` base62 digits, most significant first, zero-padded.
/// Digits that do not fit are dropped (callers size `out` so that they always fit).
pub fn encode_fixed(mut value: u64, out: &mut [u8]) {
    for slot in out.iter_mut().rev() {
        // `value % 62` is below 62, so the lookup cannot miss.
        *slot = ALPHABET.get((value % 62) as usize).copied().unwrap_or(b'0');
        value /= 62;
    }
}

/// Reads base62 digits, most significant first. `None` if a byte is not a digit.
pub fn decode(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |acc, &b| {
        let d = digit_value(b)?;
        acc.checked_mul(62)?.checked_add(u64::from(d))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_values_follow_the_alphabet() {
        for (i, &b) in ALPHABET.iter().enumerate() {
            assert_eq!(digit_value(b), Some(i as u8));
        }
        assert_eq!(digit_value(b'_'), None);
        assert_eq!(digit_value(b' '), None);
        assert_eq!(digit_value(0xC3), None);
    }

    #[test]
    fn fixed_width_round_trips() {
        for value in [0u64, 1, 61, 62, 3_843, u64::from(u32::MAX)] {
            let mut out = [0u8; 6];
            encode_fixed(value, &mut out);
            assert_eq!(decode(&out), Some(value));
        }
        let mut out = [0u8; 6];
        encode_fixed(62, &mut out);
        assert_eq!(&out, b"000010");
    }
}
