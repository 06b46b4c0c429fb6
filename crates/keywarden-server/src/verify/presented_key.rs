//! Reading the key out of an `Authorization` header (SPEC §3): `Basic base64(key + ":")`,
//! `Api-Key <key>` or `Bearer <key>`, one key per request.
//!
//! This runs on every forward-auth request, so it does not allocate: the Basic credentials are
//! decoded into a stack buffer owned by the caller. Every way the header can be wrong gets its
//! own hint, because "401" alone is the most common support ticket of an API key product.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use keywarden_core::key_format::{self, ParsedKey};
use keywarden_core::verdict::{FormatProblem, Refusal};

/// Longest `Authorization` header looked at; anything longer is refused with a hint rather
/// than decoded (hyper itself accepts far larger headers).
pub const MAX_HEADER_LEN: usize = 1024;

/// Room for decoded Basic credentials: a key, a colon, and slack to say what is wrong.
pub type BasicBuffer = [u8; 192];

fn malformed(hint: &'static str) -> Refusal {
    Refusal::Format(FormatProblem::Header(hint))
}

/// The key presented in the request's `Authorization` header, parsed (shape and checksum: the
/// format step of [`keywarden_core::check`], done once). `buffer` holds decoded Basic
/// credentials.
pub fn presented_key<'a>(
    headers: &'a HeaderMap,
    buffer: &'a mut BasicBuffer,
) -> Result<ParsedKey<'a>, Refusal> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next().ok_or(Refusal::NotProvided)?;
    if values.next().is_some() {
        return Err(malformed(
            "The request has more than one Authorization header. Send exactly one key per request.",
        ));
    }
    let bytes = value.as_bytes();
    if bytes.len() > MAX_HEADER_LEN {
        return Err(Refusal::Format(FormatProblem::HeaderTooLong {
            len: bytes.len(),
        }));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| {
        malformed("The Authorization header contains bytes that are not text. Copy the key again: it has only letters, digits and underscores.")
    })?;
    let text = text.trim_matches(|c| c == ' ' || c == '\t');
    if text.is_empty() {
        return Err(malformed(
            "The Authorization header is empty. Send `Api-Key <key>`, `Bearer <key>` or `Basic <base64 of key:>`.",
        ));
    }
    let Some((scheme, credentials)) = text.split_once(' ') else {
        return Err(malformed(
            "The Authorization header needs a scheme before the key: `Api-Key <key>`, `Bearer <key>` or `Basic <base64 of key:>`.",
        ));
    };
    let key = if scheme.eq_ignore_ascii_case("api-key") || scheme.eq_ignore_ascii_case("bearer") {
        if !credentials.starts_with("sk_")
            && !credentials.starts_with("rk_")
            && scheme.eq_ignore_ascii_case("bearer")
            && !credentials.starts_with(char::is_whitespace)
        {
            return Err(malformed(
                "This Bearer value is not an API key (keys start with `sk_` or `rk_`). Console access tokens are not accepted here; send an API key.",
            ));
        }
        credentials
    } else if scheme.eq_ignore_ascii_case("basic") {
        basic_user(credentials, buffer)?
    } else {
        return Err(malformed(
            "Unknown authorization scheme. Use `Api-Key <key>`, `Bearer <key>`, or `Basic` with base64 of the key followed by a colon.",
        ));
    };
    Ok(key_format::parse(key)?)
}

/// RFC 7617 with the key as user name and an empty password.
fn basic_user<'a>(credentials: &str, buffer: &'a mut BasicBuffer) -> Result<&'a str, Refusal> {
    if credentials.starts_with(char::is_whitespace) || credentials.contains(char::is_whitespace) {
        return Err(malformed(
            "The Basic credentials contain whitespace. Send one space after `Basic` and the base64 text with no spaces or line breaks.",
        ));
    }
    let len = STANDARD.decode_slice(credentials.as_bytes(), buffer).map_err(|e| match e {
        base64::DecodeSliceError::OutputSliceTooSmall => malformed(
            "The Basic credentials are far longer than an API key. Encode only the key followed by a colon.",
        ),
        base64::DecodeSliceError::DecodeError(_) => malformed(
            "The Basic credentials are not valid base64. Encode the key followed by a colon (`sk_…:`) with standard base64.",
        ),
    })?;
    let decoded = buffer.get(..len).unwrap_or(&[]);
    let decoded = std::str::from_utf8(decoded).map_err(|_| {
        malformed("The Basic credentials decode to bytes that are not text. Encode the key followed by a colon.")
    })?;
    let Some((user, password)) = decoded.split_once(':') else {
        return Err(malformed(
            "The Basic credentials have no colon. Encode the key followed by a colon (`sk_…:`): the key is the user name, the password is empty.",
        ));
    };
    if !password.is_empty() {
        return Err(malformed(
            "The Basic credentials carry a password. Use the key as the user name and leave the password empty: base64 of `sk_…:`.",
        ));
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const KEY: &str = "sk_test_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA0z02M7";

    fn run(value: Option<&[u8]>) -> Result<String, String> {
        let mut headers = HeaderMap::new();
        if let Some(v) = value {
            headers.insert(AUTHORIZATION, HeaderValue::from_bytes(v).unwrap());
        }
        let mut buf = [0u8; 192];
        presented_key(&headers, &mut buf)
            .map(|key| key.text.to_owned())
            .map_err(|e| match e {
                Refusal::Format(problem) => problem.to_string(),
                other => format!("{other:?}"),
            })
    }

    fn b64(s: &str) -> String {
        STANDARD.encode(s)
    }

    #[test]
    fn the_three_schemes_yield_the_key() {
        assert_eq!(run(Some(format!("Api-Key {KEY}").as_bytes())).unwrap(), KEY);
        assert_eq!(run(Some(format!("Bearer {KEY}").as_bytes())).unwrap(), KEY);
        assert_eq!(
            run(Some(
                format!("Basic {}", b64(&format!("{KEY}:"))).as_bytes()
            ))
            .unwrap(),
            KEY
        );
        assert_eq!(run(Some(format!("api-key {KEY}").as_bytes())).unwrap(), KEY);
    }

    #[test]
    fn each_malformation_has_its_own_hint() {
        let cases: Vec<(String, &str)> = vec![
            (format!("Token {KEY}"), "Unknown authorization scheme"),
            (KEY.to_owned(), "needs a scheme"),
            ("Basic !!!notbase64".into(), "not valid base64"),
            (format!("Basic {}", b64(KEY)), "no colon"),
            (
                format!("Basic {}", b64(&format!("{KEY}:secret"))),
                "carry a password",
            ),
            (format!("Basic {}", b64(&format!(" {KEY}:"))), "whitespace"),
            (format!("Api-Key  {KEY}"), "whitespace"),
            (
                format!("Api-Key {} {}", &KEY[..20], &KEY[20..]),
                "whitespace",
            ),
            (format!("Api-Key {}", &KEY[..30]), "46 characters"),
            (format!("Api-Key {}x", &KEY[..45]), "checksum"),
            (
                format!("Api-Key {}-{}", &KEY[..20], &KEY[21..]),
                "Character 21",
            ),
            (
                "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig".into(),
                "not an API key",
            ),
            (format!("Api-Key {}", "A".repeat(2000)), "bytes long"),
            (format!("Basic {}", b64(&"A".repeat(400))), "far longer"),
        ];
        for (header, expected) in cases {
            let hint = run(Some(header.as_bytes())).unwrap_err();
            assert!(hint.contains(expected), "{header:?}: {hint}");
        }
    }

    #[test]
    fn non_text_headers_are_refused_with_a_hint() {
        let hint = run(Some(b"Api-Key sk_test_\xff\xfe")).unwrap_err();
        assert!(hint.contains("not text"), "{hint}");
    }

    #[test]
    fn a_missing_header_is_not_provided() {
        assert_eq!(run(None).unwrap_err(), "NotProvided");
    }
}
