//! What both backends share of the narrow key feed (`KeyFeed::key_table_since`): its columns,
//! in the order the decoders read them by position, and the strict reading of a closed set.

/// The columns of `api_keys` the key table needs, by position: `change_seq, digest, id,
/// account_id, kind, mode, scopes, lifecycle, expires_at, stopped_at, policy`. `stopped_at` is
/// `KeyRecord::stopped_at` in SQL; the conformance check `narrow_feed_matches_the_full_feed`
/// compares the two on every backend. A macro so it splices into `concat!`.
macro_rules! table_columns {
    () => {
        "change_seq, digest, id, account_id, kind, mode, scopes, lifecycle, expires_at, \
         CASE lifecycle \
             WHEN 'revoked' THEN coalesce(revoked_at, created_at) \
             WHEN 'rotated' THEN coalesce(grace_until, rotated_at, created_at) \
         END AS stopped_at, policy"
    };
}
pub(crate) use table_columns;

use keywarden_core::key_policy::KeyPolicy;
use keywarden_core::store::StoreError;

/// How a decoder reports a column it cannot read: column name and why.
pub(crate) type BadColumn<'a> = &'a dyn Fn(&str, &dyn std::fmt::Display) -> StoreError;

/// A closed set's value from its stored name; an unknown name is an error, never a default.
pub(crate) fn parse_name<T>(
    name: &str,
    column: &str,
    parse: fn(&str) -> Option<T>,
    bad: BadColumn<'_>,
) -> Result<T, StoreError> {
    parse(name).ok_or_else(|| bad(column, &format!("unknown value '{name}'")))
}

/// A key's policy from its stored JSON (NULL: the empty policy).
pub(crate) fn policy_from(text: Option<&str>, bad: BadColumn<'_>) -> Result<KeyPolicy, StoreError> {
    match text {
        None => Ok(KeyPolicy::default()),
        Some(text) => serde_json::from_str(text).map_err(|e| bad("policy", &e)),
    }
}

/// A key's policy as stored: NULL when empty.
pub(crate) fn policy_json(policy: &KeyPolicy) -> Result<Option<String>, StoreError> {
    if policy.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(policy)
        .map(Some)
        .map_err(|e| StoreError::Other(format!("encoding a key's policy: {e}")))
}

/// The error naming a row of the feed by its position in it.
pub(crate) fn bad_column(change_seq: i64, column: &str, why: &dyn std::fmt::Display) -> StoreError {
    StoreError::Other(format!(
        "api_keys.{column} of the row with change_seq {change_seq} cannot be read: {why}"
    ))
}
