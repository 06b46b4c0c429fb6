//! How domain values are written to and read from PostgreSQL columns (see the conventions at
//! the top of `migrations/postgres/0001_initial.sql`): ids as `uuid`, times as `timestamptz`,
//! booleans as `boolean`, digests as 32-byte `bytea`, scopes as `text[]`.
//!
//! Reading is strict: a row that does not decode into a valid domain value is an error
//! naming the table, column and row id, never silently a default.

use crate::narrow_feed::{bad_column, parse_name, policy_from};
use keywarden_core::account::{Account, Role, User};
use keywarden_core::account_key_policy::{AccountKeyPolicy, LeakAction};
use keywarden_core::audit::{Action, Actor, AuditEvent};
use keywarden_core::clock::truncate_to_micros;
use keywarden_core::digest::KeyDigest;
use keywarden_core::ids::{AccountId, DeliveryId, EndpointId, EventId, KeyId, UserId};
use keywarden_core::key_format::{KeyKind, Mode};
use keywarden_core::key_record::{KeyRecord, Leak, Lifecycle};
use keywarden_core::store::{
    Attempt, Delivery, DeliveryState, KeyTableRow, StoreError, TotpEnrolment,
};
use keywarden_core::webhook::{Endpoint, EndpointState, EventType, Subscription};
use sqlx::Row;
use sqlx::postgres::PgRow;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

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

/// The columns of `webhook_deliveries` that [`delivery_from_row`] reads, qualified by the
/// alias `d` (the statements that read deliveries all join or update through it).
macro_rules! delivery_columns_of_d {
    () => {
        "d.id, d.event_id, d.event_type, d.endpoint_id, d.attempts, d.state, \
         d.next_attempt_at, d.created_at"
    };
}
pub(crate) use delivery_columns_of_d;

/// The columns of `webhook_attempts` that [`attempt_from_row`] reads, qualified by the alias
/// `t` (none of them shares a name with a column of [`delivery_columns_of_d!`]).
macro_rules! attempt_columns_of_t {
    () => {
        "t.delivery_id, t.number, t.at, t.status, t.error, t.duration_ms"
    };
}
pub(crate) use attempt_columns_of_t;

/// A time as it is bound: truncated towards the past to the microsecond, the precision of
/// `timestamptz` and of the domain clock, so anything the clock produced reads back equal.
/// (sqlx itself would truncate towards 2000-01-01, PostgreSQL's epoch, which for times
/// before it rounds up; the SQLite backend rounds down, and so does this one.)
pub(crate) fn pg_time(at: OffsetDateTime) -> OffsetDateTime {
    truncate_to_micros(at)
}

/// [`pg_time`] of an optional time.
pub(crate) fn opt_pg_time(at: Option<OffsetDateTime>) -> Option<OffsetDateTime> {
    at.map(pg_time)
}

/// A bound that a stored time must reach to be at or after `at`: stored times are whole
/// microseconds, so a bound with a finer part rounds up ([`pg_time`] rounds down).
pub(crate) fn pg_time_up(at: OffsetDateTime) -> Result<OffsetDateTime, StoreError> {
    let down = pg_time(at);
    if down == at {
        return Ok(down);
    }
    down.checked_add(Duration::microseconds(1))
        .ok_or_else(|| StoreError::Other(format!("time {at} is out of the storable range")))
}

/// A domain count as the `bigint` it is stored as.
pub(crate) fn days(n: u32) -> i64 {
    i64::from(n)
}

/// Reads one column, naming table, column and row in the error.
struct Reader<'r> {
    row: &'r PgRow,
    table: &'static str,
    id: String,
}

impl<'r> Reader<'r> {
    fn new(row: &'r PgRow, table: &'static str) -> Self {
        Self::keyed_by(row, table, "id")
    }

    /// For a table whose key column is not `id`.
    fn keyed_by(row: &'r PgRow, table: &'static str, key: &str) -> Self {
        let id = row
            .try_get::<Uuid, _>(key)
            .map(|id| id.to_string())
            .unwrap_or_default();
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
        T: for<'a> sqlx::Decode<'a, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    {
        self.row
            .try_get::<T, _>(column)
            .map_err(|e| self.bad(column, e))
    }

    fn parsed<T>(&self, column: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T, StoreError> {
        let text: String = self.get(column)?;
        parse(&text).ok_or_else(|| self.bad(column, format!("unknown value '{text}'")))
    }
}

/// An `accounts` row.
pub(crate) fn account_from_row(row: &PgRow) -> Result<Account, StoreError> {
    let r = Reader::new(row, "accounts");
    let days: i64 = r.get("rotation_period_days")?;
    let lifetime: Option<i64> = r.get("max_key_lifetime_days")?;
    Ok(Account {
        id: AccountId(r.get("id")?),
        name: r.get("name")?,
        created_at: r.get("created_at")?,
        require_2fa_for_keys: r.get("require_2fa_for_keys")?,
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
            require_expiry_for_live: r.get("require_expiry_for_live")?,
            require_ip_allowlist_for_live: r.get("require_ip_allowlist_for_live")?,
            leak_action: r.parsed("leak_action", LeakAction::from_name)?,
        },
    })
}

/// A `users` row.
pub(crate) fn user_from_row(row: &PgRow) -> Result<User, StoreError> {
    let r = Reader::new(row, "users");
    Ok(User {
        id: UserId(r.get("id")?),
        account_id: AccountId(r.get("account_id")?),
        email: r.get("email")?,
        password_hash: r.get("password_hash")?,
        role: r.parsed("role", Role::from_name)?,
        two_factor_enabled: r.get("two_factor_enabled")?,
        session_version: r.get("session_version")?,
        created_at: r.get("created_at")?,
    })
}

/// An `api_keys` row (all of [`key_columns!`]).
pub(crate) fn key_from_row(row: &PgRow) -> Result<KeyRecord, StoreError> {
    let r = Reader::new(row, "api_keys");
    let digest: Vec<u8> = r.get("digest")?;
    let digest = <[u8; 32]>::try_from(digest.as_slice())
        .map_err(|_| r.bad("digest", format!("{} bytes instead of 32", digest.len())))?;
    let leak_url: Option<String> = r.get("leak_url")?;
    Ok(KeyRecord {
        id: KeyId(r.get("id")?),
        account_id: AccountId(r.get("account_id")?),
        kind: r.parsed("kind", KeyKind::from_name)?,
        mode: r.parsed("mode", Mode::from_name)?,
        label: r.get("label")?,
        hint: r.get("hint")?,
        digest: KeyDigest(digest),
        scopes: r.get("scopes")?,
        lifecycle: r.parsed("lifecycle", Lifecycle::from_name)?,
        created_at: r.get("created_at")?,
        created_by: r.get::<Option<Uuid>>("created_by")?.map(UserId),
        expires_at: r.get("expires_at")?,
        last_used_at: r.get("last_used_at")?,
        rotated_at: r.get("rotated_at")?,
        revoked_at: r.get("revoked_at")?,
        grace_until: r.get("grace_until")?,
        replaced_by: r.get::<Option<Uuid>>("replaced_by")?.map(KeyId),
        replaces: r.get::<Option<Uuid>>("replaces")?.map(KeyId),
        change_seq: r.get("change_seq")?,
        policy: policy_from(r.get::<Option<String>>("policy")?.as_deref(), &|c, why| {
            r.bad(c, why.to_string())
        })?,
        leak: r
            .get::<Option<OffsetDateTime>>("leaked_at")?
            .map(|at| Leak { at, url: leak_url }),
    })
}

/// A row of [`table_columns!`](crate::narrow_feed::table_columns), read by position.
pub(crate) fn table_row_from_row(row: &PgRow) -> Result<KeyTableRow, StoreError> {
    let change_seq: i64 = row
        .try_get(0)
        .map_err(|e| StoreError::Other(format!("api_keys.change_seq cannot be read: {e}")))?;
    let bad = |column: &str, why: &dyn std::fmt::Display| bad_column(change_seq, column, why);
    let digest: &[u8] = row.try_get(1).map_err(|e| bad("digest", &e))?;
    let digest = <[u8; 32]>::try_from(digest)
        .map_err(|_| bad("digest", &format!("{} bytes instead of 32", digest.len())))?;
    Ok(KeyTableRow {
        change_seq,
        digest: KeyDigest(digest),
        id: KeyId(row.try_get(2).map_err(|e| bad("id", &e))?),
        account_id: AccountId(row.try_get(3).map_err(|e| bad("account_id", &e))?),
        kind: parse_name(
            row.try_get::<&str, _>(4).map_err(|e| bad("kind", &e))?,
            "kind",
            KeyKind::from_name,
            &bad,
        )?,
        mode: parse_name(
            row.try_get::<&str, _>(5).map_err(|e| bad("mode", &e))?,
            "mode",
            Mode::from_name,
            &bad,
        )?,
        scopes: row.try_get(6).map_err(|e| bad("scopes", &e))?,
        lifecycle: parse_name(
            row.try_get::<&str, _>(7)
                .map_err(|e| bad("lifecycle", &e))?,
            "lifecycle",
            Lifecycle::from_name,
            &bad,
        )?,
        expires_at: row.try_get(8).map_err(|e| bad("expires_at", &e))?,
        stopped_at: row.try_get(9).map_err(|e| bad("stopped_at", &e))?,
        policy: policy_from(
            row.try_get::<Option<&str>, _>(10)
                .map_err(|e| bad("policy", &e))?,
            &bad,
        )?,
    })
}

/// A `user_totp` row (`encrypted_seed, confirmed, last_step`, and `user_id` for errors).
pub(crate) fn totp_from_row(row: &PgRow) -> Result<TotpEnrolment, StoreError> {
    let r = Reader::keyed_by(row, "user_totp", "user_id");
    Ok(TotpEnrolment {
        encrypted_seed: r.get("encrypted_seed")?,
        confirmed: r.get("confirmed")?,
        last_step: r.get("last_step")?,
    })
}

/// An `audit_events` row.
pub(crate) fn event_from_row(row: &PgRow) -> Result<AuditEvent, StoreError> {
    let r = Reader::new(row, "audit_events");
    Ok(AuditEvent {
        id: EventId(r.get("id")?),
        account_id: AccountId(r.get("account_id")?),
        action: r.parsed("action", Action::from_name)?,
        actor: Actor {
            user_id: r.get::<Option<Uuid>>("actor_user_id")?.map(UserId),
            label: r.get("actor_label")?,
            ip: r.get("ip")?,
            user_agent: r.get("user_agent")?,
        },
        key_id: r.get::<Option<Uuid>>("key_id")?.map(KeyId),
        detail: r.get("detail")?,
        at: r.get("at")?,
    })
}

/// A `webhook_endpoints` row (all of [`endpoint_columns!`]).
pub(crate) fn endpoint_from_row(row: &PgRow) -> Result<Endpoint, StoreError> {
    let r = Reader::new(row, "webhook_endpoints");
    let names: Vec<String> = r.get("events")?;
    let events = Subscription::parse(&names).map_err(|e| r.bad("events", e))?;
    let previous_secret: Option<Vec<u8>> = r.get("previous_secret")?;
    let previous_until: Option<OffsetDateTime> = r.get("previous_until")?;
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
        id: EndpointId(r.get("id")?),
        account_id: AccountId(r.get("account_id")?),
        url: r.get("url")?,
        description: r.get("description")?,
        events,
        state: r.parsed("state", EndpointState::from_name)?,
        sealed_secret: r.get("sealed_secret")?,
        previous_secret,
        created_at: r.get("created_at")?,
        updated_at: r.get("updated_at")?,
    })
}

/// A `webhook_deliveries` row (all of [`delivery_columns_of_d!`]).
pub(crate) fn delivery_from_row(row: &PgRow) -> Result<Delivery, StoreError> {
    let r = Reader::new(row, "webhook_deliveries");
    let attempts: i64 = r.get("attempts")?;
    Ok(Delivery {
        id: DeliveryId(r.get("id")?),
        event_id: EventId(r.get("event_id")?),
        event_type: r.parsed("event_type", EventType::from_name)?,
        endpoint_id: EndpointId(r.get("endpoint_id")?),
        attempts: u32::try_from(attempts)
            .map_err(|_| r.bad("attempts", format!("{attempts} is not a count")))?,
        state: r.parsed("state", DeliveryState::from_name)?,
        next_attempt_at: r.get("next_attempt_at")?,
        created_at: r.get("created_at")?,
    })
}

/// A `webhook_attempts` row (all of [`attempt_columns_of_t!`]).
pub(crate) fn attempt_from_row(row: &PgRow) -> Result<Attempt, StoreError> {
    let r = Reader::keyed_by(row, "webhook_attempts", "delivery_id");
    let number: i64 = r.get("number")?;
    let status: Option<i32> = r.get("status")?;
    let duration_ms: i64 = r.get("duration_ms")?;
    Ok(Attempt {
        delivery_id: DeliveryId(r.get("delivery_id")?),
        number: u32::try_from(number)
            .map_err(|_| r.bad("number", format!("{number} is not an attempt number")))?,
        at: r.get("at")?,
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
    fn times_truncate_towards_the_past_and_bounds_round_up() {
        let whole = datetime!(2026-03-01 12:00:00.000001 UTC);
        assert_eq!(pg_time(whole), whole);
        assert_eq!(pg_time_up(whole).unwrap(), whole);
        let finer = whole + Duration::nanoseconds(1);
        assert_eq!(pg_time(finer), whole);
        assert_eq!(
            pg_time_up(finer).unwrap(),
            whole + Duration::microseconds(1)
        );
        // Before PostgreSQL's epoch (2000) and before Unix's (1970) alike: down is down.
        let old = datetime!(1969-12-31 23:59:59.9999995 UTC);
        assert_eq!(pg_time(old), datetime!(1969-12-31 23:59:59.999999 UTC));
        assert_eq!(pg_time_up(old).unwrap(), datetime!(1970-01-01 00:00 UTC));
    }
}
