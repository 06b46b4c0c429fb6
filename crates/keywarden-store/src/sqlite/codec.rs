//! How domain values are written to and read from SQLite columns (see the conventions at the
//! top of the migration): ids as hyphenated TEXT, times as INTEGER microseconds since the
//! epoch, booleans as 0/1, digests as 32-byte BLOBs, scopes as a JSON array.
//!
//! Reading is strict: a row that does not decode into a valid domain value is an error
//! naming the table, column and row id, never silently a default.

use crate::narrow_feed::{bad_column, parse_name, policy_from};
use keywarden_core::account::{Account, Role, User};
use keywarden_core::account_key_policy::{AccountKeyPolicy, LeakAction};
use keywarden_core::audit::{Action, Actor, AuditEvent};
use keywarden_core::digest::KeyDigest;
use keywarden_core::ids::{AccountId, DeliveryId, EndpointId, EventId, KeyId, UserId};
use keywarden_core::key_format::{KeyKind, Mode};
use keywarden_core::key_record::{KeyRecord, Leak, Lifecycle};
use keywarden_core::store::{
    Attempt, Delivery, DeliveryState, KeyTableRow, StoreError, TotpEnrolment,
};
use keywarden_core::webhook::{Endpoint, EndpointState, EventType, Subscription};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;
use uuid::Uuid;
use uuid::fmt::Hyphenated;

/// The columns of `api_keys` that [`key_from_row`] reads. A macro rather than a `const`, so it
/// can be spliced into `concat!` and every query stays a `&'static str`.
macro_rules! key_columns {
    () => {
        "id, account_id, kind, mode, label, hint, digest, scopes, lifecycle, created_at, \
         created_by, expires_at, last_used_at, rotated_at, revoked_at, grace_until, \
         replaced_by, replaces, change_seq, policy, leaked_at, leak_url"
    };
}
pub(crate) use key_columns;

/// The columns of `users` that [`user_from_row`] reads.
macro_rules! user_columns {
    () => {
        "id, account_id, email, password_hash, role, two_factor_enabled, session_version, \
         created_at"
    };
}
pub(crate) use user_columns;

/// The columns of `audit_events` that [`event_from_row`] reads.
macro_rules! event_columns {
    () => {
        "id, account_id, action, actor_user_id, actor_label, ip, user_agent, key_id, detail, at"
    };
}
pub(crate) use event_columns;

/// The columns of `webhook_endpoints` that [`endpoint_from_row`] reads.
macro_rules! endpoint_columns {
    () => {
        "id, account_id, url, description, events, state, sealed_secret, previous_secret, \
         previous_until, created_at, updated_at"
    };
}
pub(crate) use endpoint_columns;

/// The columns of `webhook_deliveries` that [`delivery_from_row`] reads.
macro_rules! delivery_columns {
    () => {
        "id, event_id, event_type, endpoint_id, attempts, state, next_attempt_at, created_at"
    };
}
pub(crate) use delivery_columns;

/// [`delivery_columns!`] qualified by the alias `d`, for joins (the names stay the same).
macro_rules! delivery_columns_of_d {
    () => {
        "d.id, d.event_id, d.event_type, d.endpoint_id, d.attempts, d.state, \
         d.next_attempt_at, d.created_at"
    };
}
pub(crate) use delivery_columns_of_d;

/// The columns of `webhook_attempts` that [`attempt_from_row`] reads, qualified by the alias
/// `t` (none of them shares a name with a column of [`delivery_columns!`]).
macro_rules! attempt_columns_of_t {
    () => {
        "t.delivery_id, t.number, t.at, t.status, t.error, t.duration_ms"
    };
}
pub(crate) use attempt_columns_of_t;

/// Microseconds since the epoch. Times are truncated (towards the past) to the microsecond,
/// the precision the domain clock keeps, so anything it produced reads back equal.
pub(crate) fn micros(at: OffsetDateTime) -> Result<i64, StoreError> {
    i64::try_from(at.unix_timestamp_nanos().div_euclid(1_000))
        .map_err(|_| StoreError::Other(format!("time {at} is out of the storable range")))
}

/// [`micros`] of an optional time.
pub(crate) fn opt_micros(at: Option<OffsetDateTime>) -> Result<Option<i64>, StoreError> {
    at.map(micros).transpose()
}

pub(crate) fn from_micros(us: i64, what: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000)
        .map_err(|_| StoreError::Other(format!("{what} holds an out-of-range time {us}")))
}

/// A subscription as stored: a JSON array of type names (`["*"]` for every type).
pub(crate) fn subscription_json(events: &Subscription) -> Result<String, StoreError> {
    serde_json::to_string(&events.names())
        .map_err(|e| StoreError::Other(format!("encoding event types: {e}")))
}

/// Ids as one JSON array of their TEXT forms, for `IN (SELECT value FROM json_each(?))`.
pub(crate) fn ids_json(ids: impl IntoIterator<Item = Uuid>) -> Result<String, StoreError> {
    let texts: Vec<String> = ids.into_iter().map(|id| id_text(id).to_string()).collect();
    serde_json::to_string(&texts).map_err(|e| StoreError::Other(format!("encoding ids: {e}")))
}

/// An id as the TEXT it is stored as.
pub(crate) fn id_text(id: Uuid) -> Hyphenated {
    id.hyphenated()
}

/// Scope names as stored.
pub(crate) fn scopes_json(scopes: &[String]) -> Result<String, StoreError> {
    // Serialising strings cannot fail; the error path is only there to avoid a panic.
    serde_json::to_string(scopes).map_err(|e| StoreError::Other(format!("encoding scopes: {e}")))
}

fn action_from_name(name: &str) -> Option<Action> {
    Action::from_name(name)
}

/// Reads one column, naming table, column and row in the error.
struct Reader<'r> {
    row: &'r SqliteRow,
    table: &'static str,
    id: String,
}

impl<'r> Reader<'r> {
    fn new(row: &'r SqliteRow, table: &'static str) -> Self {
        Self::keyed_by(row, table, "id")
    }

    /// For a table whose key column is not `id`.
    fn keyed_by(row: &'r SqliteRow, table: &'static str, key: &str) -> Self {
        let id = row.try_get::<String, _>(key).unwrap_or_default();
        Self { row, table, id }
    }

    fn bad(&self, column: &str, why: impl std::fmt::Display) -> StoreError {
        StoreError::Other(format!(
            "{}.{column} of row {} cannot be read: {why}",
            self.table, self.id
        ))
    }

    fn get<T>(&self, column: &str) -> Result<T, StoreError>
    where
        T: for<'a> sqlx::Decode<'a, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
    {
        self.row
            .try_get::<T, _>(column)
            .map_err(|e| self.bad(column, e))
    }

    fn uuid(&self, column: &str) -> Result<Uuid, StoreError> {
        let text: String = self.get(column)?;
        Uuid::parse_str(&text).map_err(|e| self.bad(column, e))
    }

    fn opt_uuid(&self, column: &str) -> Result<Option<Uuid>, StoreError> {
        let text: Option<String> = self.get(column)?;
        text.map(|t| Uuid::parse_str(&t).map_err(|e| self.bad(column, e)))
            .transpose()
    }

    fn time(&self, column: &str) -> Result<OffsetDateTime, StoreError> {
        let us: i64 = self.get(column)?;
        from_micros(us, &format!("{}.{column} of row {}", self.table, self.id))
    }

    fn opt_time(&self, column: &str) -> Result<Option<OffsetDateTime>, StoreError> {
        let us: Option<i64> = self.get(column)?;
        us.map(|us| from_micros(us, &format!("{}.{column} of row {}", self.table, self.id)))
            .transpose()
    }

    fn flag(&self, column: &str) -> Result<bool, StoreError> {
        match self.get::<i64>(column)? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(self.bad(column, format!("{other} is not 0 or 1"))),
        }
    }

    fn parsed<T>(&self, column: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T, StoreError> {
        let text: String = self.get(column)?;
        parse(&text).ok_or_else(|| self.bad(column, format!("unknown value '{text}'")))
    }
}

/// An `accounts` row.
pub(crate) fn account_from_row(row: &SqliteRow) -> Result<Account, StoreError> {
    let r = Reader::new(row, "accounts");
    let days: i64 = r.get("rotation_period_days")?;
    let lifetime: Option<i64> = r.get("max_key_lifetime_days")?;
    Ok(Account {
        id: AccountId(r.uuid("id")?),
        name: r.get("name")?,
        created_at: r.time("created_at")?,
        require_2fa_for_keys: r.flag("require_2fa_for_keys")?,
        rotation_period_days: u32::try_from(days)
            .map_err(|_| r.bad("rotation_period_days", format!("{days} is not a day count")))?,
        key_policy: AccountKeyPolicy {
            max_key_lifetime_days: lifetime
                .map(|d| {
                    u32::try_from(d).map_err(|_| {
                        r.bad("max_key_lifetime_days", format!("{d} is not a day count"))
                    })
                })
                .transpose()?,
            require_expiry_for_live: r.flag("require_expiry_for_live")?,
            require_ip_allowlist_for_live: r.flag("require_ip_allowlist_for_live")?,
            leak_action: r.parsed("leak_action", LeakAction::from_name)?,
        },
    })
}

/// A `users` row.
pub(crate) fn user_from_row(row: &SqliteRow) -> Result<User, StoreError> {
    let r = Reader::new(row, "users");
    Ok(User {
        id: UserId(r.uuid("id")?),
        account_id: AccountId(r.uuid("account_id")?),
        email: r.get("email")?,
        password_hash: r.get("password_hash")?,
        role: r.parsed("role", Role::from_name)?,
        two_factor_enabled: r.flag("two_factor_enabled")?,
        session_version: r.get("session_version")?,
        created_at: r.time("created_at")?,
    })
}

/// An `api_keys` row (all of [`key_columns!`]).
pub(crate) fn key_from_row(row: &SqliteRow) -> Result<KeyRecord, StoreError> {
    let r = Reader::new(row, "api_keys");
    let digest: Vec<u8> = r.get("digest")?;
    let digest = <[u8; 32]>::try_from(digest.as_slice())
        .map_err(|_| r.bad("digest", format!("{} bytes instead of 32", digest.len())))?;
    let scopes: String = r.get("scopes")?;
    let scopes: Vec<String> = serde_json::from_str(&scopes)
        .map_err(|e| r.bad("scopes", format!("not a JSON list: {e}")))?;
    let leak_url: Option<String> = r.get("leak_url")?;
    Ok(KeyRecord {
        id: KeyId(r.uuid("id")?),
        account_id: AccountId(r.uuid("account_id")?),
        kind: r.parsed("kind", KeyKind::from_name)?,
        mode: r.parsed("mode", Mode::from_name)?,
        label: r.get("label")?,
        hint: r.get("hint")?,
        digest: KeyDigest(digest),
        scopes,
        lifecycle: r.parsed("lifecycle", Lifecycle::from_name)?,
        created_at: r.time("created_at")?,
        created_by: r.opt_uuid("created_by")?.map(UserId),
        expires_at: r.opt_time("expires_at")?,
        last_used_at: r.opt_time("last_used_at")?,
        rotated_at: r.opt_time("rotated_at")?,
        revoked_at: r.opt_time("revoked_at")?,
        grace_until: r.opt_time("grace_until")?,
        replaced_by: r.opt_uuid("replaced_by")?.map(KeyId),
        replaces: r.opt_uuid("replaces")?.map(KeyId),
        change_seq: r.get("change_seq")?,
        policy: policy_from(r.get::<Option<String>>("policy")?.as_deref(), &|c, why| {
            r.bad(c, why.to_string())
        })?,
        leak: r
            .opt_time("leaked_at")?
            .map(|at| Leak { at, url: leak_url }),
    })
}

/// Positional reads of one row of the narrow feed, whichever driver produced it: sqlx's
/// [`SqliteRow`] (an in-memory database) or rusqlite's row (a file, `feed_reader.rs`), so the
/// row is decoded by one function with one strictness.
pub(crate) trait FeedColumns {
    /// An INTEGER or NULL.
    fn integer(&self, at: usize) -> Result<Option<i64>, String>;
    /// TEXT, borrowed.
    fn text(&self, at: usize) -> Result<&str, String>;
    /// A BLOB, borrowed.
    fn blob(&self, at: usize) -> Result<&[u8], String>;
    /// TEXT or NULL, borrowed.
    fn opt_text(&self, at: usize) -> Result<Option<&str>, String>;
}

impl FeedColumns for SqliteRow {
    fn integer(&self, at: usize) -> Result<Option<i64>, String> {
        self.try_get(at).map_err(|e| e.to_string())
    }

    fn text(&self, at: usize) -> Result<&str, String> {
        self.try_get(at).map_err(|e| e.to_string())
    }

    fn blob(&self, at: usize) -> Result<&[u8], String> {
        self.try_get(at).map_err(|e| e.to_string())
    }

    fn opt_text(&self, at: usize) -> Result<Option<&str>, String> {
        self.try_get(at).map_err(|e| e.to_string())
    }
}

/// A row of [`table_columns!`](crate::narrow_feed::table_columns), by position and borrowed
/// where it can be (no text copied but the scopes of restricted keys): start-up reads one of
/// these per stored key.
pub(crate) fn table_row_from(row: &impl FeedColumns) -> Result<KeyTableRow, StoreError> {
    let change_seq = row
        .integer(0)
        .and_then(|seq| seq.ok_or_else(|| "NULL".to_owned()))
        .map_err(|e| StoreError::Other(format!("api_keys.change_seq cannot be read: {e}")))?;
    let bad = |column: &str, why: &dyn std::fmt::Display| bad_column(change_seq, column, why);
    let text = |at: usize, column: &str| row.text(at).map_err(|e| bad(column, &e));
    let uuid = |at: usize, column: &str| -> Result<Uuid, StoreError> {
        Uuid::try_parse(text(at, column)?).map_err(|e| bad(column, &e))
    };
    let time = |at: usize, column: &str| -> Result<Option<OffsetDateTime>, StoreError> {
        let us = row.integer(at).map_err(|e| bad(column, &e))?;
        us.map(|us| from_micros(us, column)).transpose()
    };
    let digest = row.blob(1).map_err(|e| bad("digest", &e))?;
    let digest = <[u8; 32]>::try_from(digest)
        .map_err(|_| bad("digest", &format!("{} bytes instead of 32", digest.len())))?;
    let scopes = text(6, "scopes")?;
    // Standard keys hold '[]': no parse, no allocation.
    let scopes: Vec<String> = if scopes == "[]" {
        Vec::new()
    } else {
        serde_json::from_str(scopes).map_err(|e| bad("scopes", &format!("not a JSON list: {e}")))?
    };
    Ok(KeyTableRow {
        change_seq,
        digest: KeyDigest(digest),
        id: KeyId(uuid(2, "id")?),
        account_id: AccountId(uuid(3, "account_id")?),
        kind: parse_name(text(4, "kind")?, "kind", KeyKind::from_name, &bad)?,
        mode: parse_name(text(5, "mode")?, "mode", Mode::from_name, &bad)?,
        scopes,
        lifecycle: parse_name(
            text(7, "lifecycle")?,
            "lifecycle",
            Lifecycle::from_name,
            &bad,
        )?,
        expires_at: time(8, "expires_at")?,
        stopped_at: time(9, "stopped_at")?,
        policy: policy_from(row.opt_text(10).map_err(|e| bad("policy", &e))?, &bad)?,
    })
}

/// A `user_totp` row (`encrypted_seed, confirmed, last_step`, and `user_id` for errors).
pub(crate) fn totp_from_row(row: &SqliteRow) -> Result<TotpEnrolment, StoreError> {
    let r = Reader::keyed_by(row, "user_totp", "user_id");
    Ok(TotpEnrolment {
        encrypted_seed: r.get("encrypted_seed")?,
        confirmed: r.flag("confirmed")?,
        last_step: r.get("last_step")?,
    })
}

/// An `audit_events` row.
pub(crate) fn event_from_row(row: &SqliteRow) -> Result<AuditEvent, StoreError> {
    let r = Reader::new(row, "audit_events");
    Ok(AuditEvent {
        id: EventId(r.uuid("id")?),
        account_id: AccountId(r.uuid("account_id")?),
        action: r.parsed("action", action_from_name)?,
        actor: Actor {
            user_id: r.opt_uuid("actor_user_id")?.map(UserId),
            label: r.get("actor_label")?,
            ip: r.get("ip")?,
            user_agent: r.get("user_agent")?,
        },
        key_id: r.opt_uuid("key_id")?.map(KeyId),
        detail: r.get("detail")?,
        at: r.time("at")?,
    })
}

/// A `webhook_endpoints` row (all of [`endpoint_columns!`]).
pub(crate) fn endpoint_from_row(row: &SqliteRow) -> Result<Endpoint, StoreError> {
    let r = Reader::new(row, "webhook_endpoints");
    let events: String = r.get("events")?;
    let names: Vec<String> = serde_json::from_str(&events)
        .map_err(|e| r.bad("events", format!("not a JSON list: {e}")))?;
    let events = Subscription::parse(&names).map_err(|e| r.bad("events", e))?;
    let previous_secret: Option<Vec<u8>> = r.get("previous_secret")?;
    let previous_until = r.opt_time("previous_until")?;
    let previous_secret = match (previous_secret, previous_until) {
        (Some(secret), Some(until)) => Some((secret, until)),
        (None, None) => None,
        _ => {
            return Err(r.bad(
                "previous_until",
                "previous_secret and previous_until must be set together",
            ));
        }
    };
    Ok(Endpoint {
        id: EndpointId(r.uuid("id")?),
        account_id: AccountId(r.uuid("account_id")?),
        url: r.get("url")?,
        description: r.get("description")?,
        events,
        state: r.parsed("state", EndpointState::from_name)?,
        sealed_secret: r.get("sealed_secret")?,
        previous_secret,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
    })
}

/// A `webhook_deliveries` row (all of [`delivery_columns!`]).
pub(crate) fn delivery_from_row(row: &SqliteRow) -> Result<Delivery, StoreError> {
    let r = Reader::new(row, "webhook_deliveries");
    let attempts: i64 = r.get("attempts")?;
    Ok(Delivery {
        id: DeliveryId(r.uuid("id")?),
        event_id: EventId(r.uuid("event_id")?),
        event_type: r.parsed("event_type", EventType::from_name)?,
        endpoint_id: EndpointId(r.uuid("endpoint_id")?),
        attempts: u32::try_from(attempts)
            .map_err(|_| r.bad("attempts", format!("{attempts} is not a count")))?,
        state: r.parsed("state", DeliveryState::from_name)?,
        next_attempt_at: r.opt_time("next_attempt_at")?,
        created_at: r.time("created_at")?,
    })
}

/// A `webhook_attempts` row (all of [`attempt_columns_of_t!`]).
pub(crate) fn attempt_from_row(row: &SqliteRow) -> Result<Attempt, StoreError> {
    let r = Reader::keyed_by(row, "webhook_attempts", "delivery_id");
    let number: i64 = r.get("number")?;
    let status: Option<i64> = r.get("status")?;
    let duration_ms: i64 = r.get("duration_ms")?;
    Ok(Attempt {
        delivery_id: DeliveryId(r.uuid("delivery_id")?),
        number: u32::try_from(number)
            .map_err(|_| r.bad("number", format!("{number} is not an attempt number")))?,
        at: r.time("at")?,
        status: status
            .map(|s| u16::try_from(s).map_err(|_| r.bad("status", format!("{s} is no status"))))
            .transpose()?,
        error: r.get("error")?,
        duration_ms: u32::try_from(duration_ms)
            .map_err(|_| r.bad("duration_ms", format!("{duration_ms} is not a duration")))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn every_action_reads_back() {
        for action in Action::ALL {
            assert_eq!(action_from_name(action.as_str()), Some(action));
        }
        assert_eq!(action_from_name("key.exploded"), None);
    }

    #[test]
    fn times_keep_microseconds_and_truncate_below() {
        for at in [
            datetime!(2026-03-01 12:34:56.123456 UTC),
            datetime!(1969-12-31 23:59:59.999999 UTC),
            datetime!(9999-12-31 23:59:59.999999 UTC),
            datetime!(-9999-01-01 00:00 UTC),
        ] {
            let us = micros(at).unwrap();
            assert_eq!(from_micros(us, "t").unwrap(), at);
        }
        let finer = datetime!(1969-12-31 23:59:59.999999999 UTC);
        assert_eq!(
            from_micros(micros(finer).unwrap(), "t").unwrap(),
            datetime!(1969-12-31 23:59:59.999999 UTC)
        );
    }
}
