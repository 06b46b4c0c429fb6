//! The `order` and `cursor` of `GET /v1/api-keys/` on the wire.
//!
//! A cursor is opaque to clients: base64url (no padding) of a small JSON object naming the order
//! it belongs to, the last key's sort value and its id, e.g.
//! `{"o":"label","v":"Payroll sync","id":"0193…"}`. Times are whole microseconds since the
//! epoch (what both stores keep), so the next page starts exactly after the last key; no `v`
//! means none (no expiry, never used, or creation order, where the id is the value). Naming the
//! order lets a cursor of another order be refused instead of read as nonsense. Nothing in it
//! is secret: it only repeats what the page showed.

use crate::error::ApiError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keywarden_core::ids::KeyId;
use keywarden_core::store::{KeyOrder, KeyPosition, KeySort, SortValue};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

/// Longer than any cursor this server writes (a 100-character label of 4-byte characters
/// encodes to about 700): anything longer is not one, and is not decoded.
const MAX_CURSOR: usize = 1024;

const ORDER_HELP: &str = "use created_at, -created_at, label, -label, expires_at, -expires_at, \
                          last_used_at or -last_used_at (a leading - sorts descending)";
const CURSOR_HELP: &str = "pass the next_cursor of the previous page";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    /// The order's name.
    o: String,
    /// The sort value; absent for none.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    v: Value,
    /// The key's id.
    id: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// The `order` parameter; absent is newest first.
pub fn order(param: Option<&str>) -> Result<KeyOrder, ApiError> {
    match param {
        None => Ok(KeyOrder::default()),
        Some(name) => KeyOrder::from_name(name).ok_or_else(|| invalid("order", ORDER_HELP)),
    }
}

/// The cursor that starts the page after `position`, in `order`.
pub fn encode(order: KeyOrder, position: &KeyPosition) -> String {
    let v = match &position.value {
        SortValue::Id | SortValue::Time(None) => Value::Null,
        SortValue::Label(label) => Value::from(label.as_str()),
        SortValue::Time(Some(at)) => Value::from(micros(*at)),
    };
    let wire = Wire {
        o: order.name().to_owned(),
        v,
        id: position.id.to_string(),
    };
    // A struct of strings and numbers always serializes.
    let json = serde_json::to_vec(&wire).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// The position a `cursor` of a page in `order` stands for. A cursor of another order, or
/// anything that is not a cursor, is a 400 naming `cursor`.
pub fn decode(order: KeyOrder, cursor: &str) -> Result<KeyPosition, ApiError> {
    // A bare key id is what cursors were before there were orders; it still means "after
    // this key, newest first".
    if order == KeyOrder::default()
        && let Ok(id) = cursor.parse::<KeyId>()
    {
        return Ok(KeyPosition {
            value: SortValue::Id,
            id,
        });
    }
    let garbage = || invalid("cursor", CURSOR_HELP);
    if cursor.len() > MAX_CURSOR {
        return Err(garbage());
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| garbage())?;
    let wire: Wire = serde_json::from_slice(&bytes).map_err(|_| garbage())?;
    let id: KeyId = wire.id.parse().map_err(|_| garbage())?;
    let Some(its_order) = KeyOrder::from_name(&wire.o) else {
        return Err(garbage());
    };
    if its_order != order {
        return Err(invalid(
            "cursor",
            format!(
                "this cursor continues a listing in order {}: pass that order with it, or \
                 leave the cursor out to start from the first page",
                its_order.name()
            ),
        ));
    }
    let value = match (order.sort, wire.v) {
        (KeySort::CreatedAt, Value::Null) => SortValue::Id,
        (KeySort::Label, Value::String(label)) => SortValue::Label(label),
        (KeySort::ExpiresAt | KeySort::LastUsedAt, Value::Null) => SortValue::Time(None),
        (KeySort::ExpiresAt | KeySort::LastUsedAt, Value::Number(n)) => {
            let at = n.as_i64().and_then(from_micros).ok_or_else(garbage)?;
            SortValue::Time(Some(at))
        }
        _ => return Err(garbage()),
    };
    Ok(KeyPosition { value, id })
}

fn micros(at: OffsetDateTime) -> i64 {
    // Stored times are within ±292,000 years of the epoch, well inside i64 microseconds.
    i64::try_from(at.unix_timestamp_nanos().div_euclid(1_000)).unwrap_or(i64::MAX)
}

fn from_micros(micros: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn every_cursor_reads_back_in_its_own_order_only() {
        let id = KeyId::new_at(datetime!(2026-03-01 12:00 UTC));
        let at = datetime!(2026-03-01 12:00:00.123456 UTC);
        let values = |order: KeyOrder| match order.sort {
            KeySort::CreatedAt => vec![SortValue::Id],
            KeySort::Label => vec![
                SortValue::Label(String::new()),
                SortValue::Label("Zapier \"test\" / ünïcode 🦀".into()),
            ],
            KeySort::ExpiresAt | KeySort::LastUsedAt => {
                vec![SortValue::Time(None), SortValue::Time(Some(at))]
            }
        };
        for order in KeyOrder::all() {
            for value in values(order) {
                let position = KeyPosition { value, id };
                let cursor = encode(order, &position);
                assert!(
                    cursor
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                    "{cursor}"
                );
                assert_eq!(decode(order, &cursor).unwrap(), position);
                for other in KeyOrder::all().filter(|o| *o != order) {
                    assert!(decode(other, &cursor).is_err(), "{order:?} → {other:?}");
                }
            }
        }
        // The longest label there is fits well within the limit.
        let longest = KeyPosition {
            value: SortValue::Label("\u{10FFFF}".repeat(100)),
            id,
        };
        assert!(encode(KeyOrder::from_name("label").unwrap(), &longest).len() < MAX_CURSOR);
    }

    #[test]
    fn anything_else_is_refused() {
        let label = KeyOrder::from_name("label").unwrap();
        let expiry = KeyOrder::from_name("expires_at").unwrap();
        let b64 = |json: &str| URL_SAFE_NO_PAD.encode(json);
        let id = "0193b2a4-0000-7000-8000-000000000000";
        for (order, cursor) in [
            (label, String::new()),
            (label, "%%%".into()),
            (label, id.into()),
            (label, b64("[]")),
            (label, b64(&format!(r#"{{"o":"label","id":"{id}"}}"#))),
            (label, b64(&format!(r#"{{"o":"label","v":7,"id":"{id}"}}"#))),
            (label, b64(r#"{"o":"label","v":"x","id":"nope"}"#)),
            (
                label,
                b64(&format!(r#"{{"o":"label","v":"x","id":"{id}","x":1}}"#)),
            ),
            (
                label,
                b64(&format!(r#"{{"o":"name","v":"x","id":"{id}"}}"#)),
            ),
            (
                expiry,
                b64(&format!(r#"{{"o":"expires_at","v":"x","id":"{id}"}}"#)),
            ),
            (
                expiry,
                b64(&format!(r#"{{"o":"expires_at","v":1.5,"id":"{id}"}}"#)),
            ),
            (
                expiry,
                b64(&format!(
                    r#"{{"o":"expires_at","v":9223372036854775807,"id":"{id}"}}"#
                )),
            ),
            (label, "A".repeat(MAX_CURSOR + 1)),
        ] {
            assert!(decode(order, &cursor).is_err(), "{cursor}");
        }
        // A bare id is a cursor of the default order only.
        assert!(decode(KeyOrder::default(), id).is_ok());
    }
}
