//! The console tokens' HS256: tokens the JWT library issued still verify, and every kind of
//! forgery or damage is refused without a panic.

use super::hs256::{self, Rejected};
use super::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use keywarden_core::ManualClock;
use serde_json::{Value, json};
use sha2::{Sha256, Sha512};
use time::OffsetDateTime;

const SECRET: &str = "a fixed server secret for the token tests, not used elsewhere";
const IAT: i64 = 1_800_000_000;

/// Issued by the JWT library (jsonwebtoken 11.1, `encode(&Header::new(Algorithm::HS256),
/// &claims(), &EncodingKey::from_secret(&key()))`, as `TokenIssuer::issue` called it) before
/// this module signed tokens itself.
const LIBRARY_TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIwMTkyZjNhMC0xYzJkLTdlNGYtOGE1Yi02YzdkOGU5ZjBhMWIiLCJhY2MiOiIwMTkyZjNhMC0wMDAwLTdhYmMtOWRlZi0wMTIzNDU2Nzg5YWIiLCJzdiI6MywidHlwIjoiYWNjZXNzIiwiaWF0IjoxODAwMDAwMDAwLCJleHAiOjE4MDAwMDA5MDAsImp0aSI6IjViMGU0YzFhLTJmM2QtNGU1Zi05YTZiLTdjOGQ5ZTBmMWEyYiJ9.lEadXiccqpjGSxiGd-UaqTLSIKu7PS50PAQ1EoRNZjA";

fn key() -> Zeroizing<[u8; 32]> {
    ServerSecret::from_text(SECRET)
        .unwrap()
        .derive("console-jwt-hs256/v1")
}

fn claims() -> Claims {
    Claims {
        sub: UserId(Uuid::parse_str("0192f3a0-1c2d-7e4f-8a5b-6c7d8e9f0a1b").unwrap()),
        acc: AccountId(Uuid::parse_str("0192f3a0-0000-7abc-9def-0123456789ab").unwrap()),
        sv: 3,
        typ: TokenType::Access,
        iat: IAT,
        exp: IAT + 900,
        jti: Uuid::parse_str("5b0e4c1a-2f3d-4e5f-9a6b-7c8d9e0f1a2b").unwrap(),
    }
}

fn issuer_at(unix: i64) -> TokenIssuer {
    let clock = ManualClock::new(OffsetDateTime::from_unix_timestamp(unix).unwrap());
    TokenIssuer::new(
        &ServerSecret::from_text(SECRET).unwrap(),
        Arc::new(clock),
        900,
        604_800,
    )
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with this header and payload, tagged with HMAC-SHA-256 under the right key.
fn signed_with_header(header: &Value, payload: &[u8]) -> String {
    signed_raw(header.to_string().as_bytes(), payload)
}

fn signed_raw(header: &[u8], payload: &[u8]) -> String {
    let signed = format!("{}.{}", b64(header), b64(payload));
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key().as_slice()).unwrap();
    mac.update(signed.as_bytes());
    format!("{signed}.{}", b64(&mac.finalize().into_bytes()))
}

fn verify(token: &str) -> Result<Claims, Rejected> {
    hs256::verify(key().as_slice(), token)
}

#[test]
fn a_token_the_jwt_library_issued_still_verifies_and_is_issued_alike() {
    assert_eq!(verify(LIBRARY_TOKEN), Ok(claims()));
    assert_eq!(
        issuer_at(IAT + 60).check(LIBRARY_TOKEN, TokenType::Access),
        Some(claims())
    );
    // The same claims signed here are the same bytes: one encoding before and after.
    assert_eq!(
        hs256::sign(key().as_slice(), &claims()).unwrap(),
        LIBRARY_TOKEN
    );
}

#[test]
fn an_issued_token_checks_as_its_type_only() {
    let issuer = issuer_at(IAT);
    let user = test_user();
    let access = issuer.issue(&user, TokenType::Access).unwrap();
    let refresh = issuer.issue(&user, TokenType::Refresh).unwrap();
    let checked = issuer.check(&access, TokenType::Access).unwrap();
    assert_eq!(
        (checked.sub, checked.acc, checked.sv),
        (user.id, user.account_id, 7)
    );
    assert_eq!((checked.iat, checked.exp), (IAT, IAT + 900));
    assert_eq!(
        issuer.check(&refresh, TokenType::Refresh).unwrap().exp,
        IAT + 604_800
    );
    assert_eq!(issuer.check(&access, TokenType::Refresh), None);
    assert_eq!(issuer.check(&refresh, TokenType::Access), None);
    // Another secret's issuer refuses them.
    let other = TokenIssuer::new(
        &ServerSecret::from_text(&format!("{SECRET}, but another")).unwrap(),
        Arc::new(ManualClock::new(
            OffsetDateTime::from_unix_timestamp(IAT).unwrap(),
        )),
        900,
        604_800,
    );
    assert_eq!(other.check(&access, TokenType::Access), None);
}

fn test_user() -> User {
    User {
        id: claims().sub,
        account_id: claims().acc,
        email: "a@example.com".into(),
        password_hash: String::new(),
        role: keywarden_core::account::Role::Admin,
        two_factor_enabled: false,
        session_version: 7,
        created_at: OffsetDateTime::from_unix_timestamp(IAT).unwrap(),
    }
}

#[test]
fn expiry_is_exact_with_no_leeway() {
    assert!(
        issuer_at(IAT + 899)
            .check(LIBRARY_TOKEN, TokenType::Access)
            .is_some()
    );
    assert_eq!(
        issuer_at(IAT + 900).check(LIBRARY_TOKEN, TokenType::Access),
        None
    );
    assert_eq!(
        issuer_at(IAT + 86_400).check(LIBRARY_TOKEN, TokenType::Access),
        None
    );
    // Expiry pushed out, under the old tag: refused as forged, not accepted as unexpired.
    let parts: Vec<&str> = LIBRARY_TOKEN.split('.').collect();
    let mut later = serde_json::to_value(claims()).unwrap();
    later["exp"] = json!(IAT + 86_400 * 365);
    let extended = format!(
        "{}.{}.{}",
        parts[0],
        b64(later.to_string().as_bytes()),
        parts[2]
    );
    assert_eq!(verify(&extended), Err(Rejected::Signature));
    assert_eq!(
        issuer_at(IAT + 1_000).check(&extended, TokenType::Access),
        None
    );
}

#[test]
fn a_tampered_payload_or_signature_is_refused() {
    let parts: Vec<&str> = LIBRARY_TOKEN.split('.').collect();
    // Other claims under the original tag.
    let mut admin_elsewhere = serde_json::to_value(claims()).unwrap();
    admin_elsewhere["acc"] = json!("0192f3a0-0000-7abc-9def-ffffffffffff");
    let swapped = format!(
        "{}.{}.{}",
        parts[0],
        b64(admin_elsewhere.to_string().as_bytes()),
        parts[2]
    );
    assert_eq!(verify(&swapped), Err(Rejected::Signature));
    // A tag made under another key.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(b"not the server's key").unwrap();
    mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
    let foreign = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        b64(&mac.finalize().into_bytes())
    );
    assert_eq!(verify(&foreign), Err(Rejected::Signature));
    // The tag cut short, lengthened, or empty.
    let tag = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    for bad in [&tag[..31], &[tag.as_slice(), &[0]].concat()[..], &[][..]] {
        let token = format!("{}.{}.{}", parts[0], parts[1], b64(bad));
        assert_eq!(verify(&token), Err(Rejected::Signature), "{token}");
    }
    // Every single character of the token changed, one at a time: never accepted.
    for (i, original) in LIBRARY_TOKEN.char_indices() {
        for replacement in ['A', 'g', '_', '-', '.', '0'] {
            if replacement == original {
                continue;
            }
            let mut token = LIBRARY_TOKEN.to_owned();
            token.replace_range(i..=i, &replacement.to_string());
            assert!(
                verify(&token).is_err(),
                "accepted with {replacement} at {i}"
            );
        }
    }
}

#[test]
fn a_header_naming_another_algorithm_is_refused() {
    let payload = serde_json::to_vec(&claims()).unwrap();
    let parts: Vec<&str> = LIBRARY_TOKEN.split('.').collect();
    for alg in [
        "none", "None", "HS512", "HS384", "RS256", "ES256", "hs256", "HS256 ", "",
    ] {
        let header = json!({ "typ": "JWT", "alg": alg });
        // Tagged correctly (so only the algorithm can refuse it), and with no tag at all.
        let tagged = signed_with_header(&header, &payload);
        assert_eq!(verify(&tagged), Err(Rejected::Header), "{alg}");
        let bare = format!("{}.{}.", b64(header.to_string().as_bytes()), parts[1]);
        assert_eq!(verify(&bare), Err(Rejected::Header), "{alg}");
    }
    // HS512 really signed with HMAC-SHA-512 under the key.
    let header = json!({ "typ": "JWT", "alg": "HS512" });
    let signed = format!("{}.{}", b64(header.to_string().as_bytes()), parts[1]);
    let mut mac = <Hmac<Sha512> as KeyInit>::new_from_slice(key().as_slice()).unwrap();
    mac.update(signed.as_bytes());
    let hs512 = format!("{signed}.{}", b64(&mac.finalize().into_bytes()));
    assert_eq!(verify(&hs512), Err(Rejected::Header));
    // An alg that is not a string, given twice, or a header that is not an object: refused.
    for header in [
        r#"{"alg":null}"#,
        r#"{"alg":256}"#,
        r#"{"alg":["HS256"]}"#,
        r#"{"alg":"HS256","alg":"none"}"#,
        r#"{"typ":"JWT"}"#,
        r#"["HS256"]"#,
        r#""HS256""#,
    ] {
        let token = format!("{}.{}.{}", b64(header.as_bytes()), parts[1], parts[2]);
        assert_eq!(verify(&token), Err(Rejected::Header), "{header}");
    }
    // HS256 in another header (members reordered or added, spaced) is not the header issued,
    // even correctly tagged.
    for header in [
        r#"{"alg":"HS256","typ":"JWT"}"#,
        r#"{"typ":"JWT","alg":"HS256","kid":"x"}"#,
        r#"{"typ": "JWT", "alg": "HS256"}"#,
        r#"{"alg":"HS256"}"#,
    ] {
        let token = signed_raw(header.as_bytes(), &payload);
        assert_eq!(verify(&token), Err(Rejected::Header), "{header}");
    }
    // The header issued is the one the JWT library wrote.
    assert_eq!(
        URL_SAFE_NO_PAD.decode(hs256::HEADER_SEGMENT).unwrap(),
        br#"{"typ":"JWT","alg":"HS256"}"#
    );
    assert_eq!(parts[0], hs256::HEADER_SEGMENT);
}

#[test]
fn malformed_segments_and_non_base64_are_refused() {
    let parts: Vec<&str> = LIBRARY_TOKEN.split('.').collect();
    let (h, p, s) = (parts[0], parts[1], parts[2]);
    let cases = [
        String::new(),
        ".".into(),
        "..".into(),
        "...".into(),
        "not-a-token".into(),
        format!("{h}.{p}"),
        format!("{h}.{p}.{s}."),
        format!("{h}.{p}.{s}.{s}"),
        format!(".{p}.{s}"),
        // Standard base64's alphabet, padding, spaces, and bytes outside ASCII.
        format!("{h}=.{p}.{s}"),
        format!("{h}.{p}.{s}="),
        format!("{}.{p}.{s}", h.replace('_', "/").replace('-', "+") + "+/"),
        format!(
            "{h}.{p}.{}",
            s.replacen(|c: char| c.is_ascii_alphanumeric(), "+", 1)
        ),
        format!(" {h}.{p}.{s}"),
        format!("{h}.{p}.{s} "),
        format!("{h}.{p}.é{s}"),
        // A length base64 never produces (45 characters), and a 33-byte tag.
        format!("{h}.{p}.{s}AA"),
        format!("{h}.{p}.{s}A"),
        // A header that is not JSON.
        format!("{}.{p}.{s}", b64(b"not json")),
        format!("{}.{p}.{s}", b64(&[0xff, 0xfe, 0x00])),
    ];
    for token in &cases {
        assert!(verify(token).is_err(), "{token}");
        assert_eq!(issuer_at(IAT).check(token, TokenType::Access), None);
    }
    // A tag or payload that is not base64url is refused as such, before any JSON is read.
    for token in [
        format!("{h}.{p}.{s}="),
        format!("{h}.{p}.{s}AA"),
        format!(
            "{h}.{p}.{}",
            s.replacen(|c: char| c.is_ascii_alphanumeric(), "+", 1)
        ),
        format!("{h}.{p}.é{s}"),
        format!("{h}.{p}"),
        format!("{h}.{p}.{s}.{s}"),
    ] {
        assert_eq!(verify(&token), Err(Rejected::Malformed), "{token}");
    }
    // Correctly tagged, but the payload is not the claims.
    let header = json!({ "typ": "JWT", "alg": "HS256" });
    for payload in [&b"not json"[..], b"{}", br#"{"sub":"x"}"#, b"[]", &[0xff]] {
        let token = signed_with_header(&header, payload);
        assert_eq!(verify(&token), Err(Rejected::Claims));
    }
}

#[test]
fn huge_and_hostile_input_is_refused_without_a_panic() {
    let issuer = issuer_at(IAT);
    let huge = [
        "a".repeat(1 << 20),
        ".".repeat(1 << 20),
        format!("{LIBRARY_TOKEN}{}", "A".repeat(5_000)),
        "é".repeat(100_000),
        "\0".repeat(10_000),
    ];
    for token in &huge {
        assert_eq!(issuer.check(token, TokenType::Access), None);
        // Below the issuer's length limit too: the verifier alone copes.
        assert!(verify(token).is_err());
    }
    // Claims nested deep, correctly tagged: read without a stack overflow, and refused.
    for claims in [
        format!(
            r#"{{"sub":{}{}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        ),
        format!(r#"{{"x":{}{}}}"#, "[".repeat(100_000), "]".repeat(100_000)),
    ] {
        let token = signed_raw(br#"{"typ":"JWT","alg":"HS256"}"#, claims.as_bytes());
        assert_eq!(verify(&token), Err(Rejected::Claims));
    }
}
