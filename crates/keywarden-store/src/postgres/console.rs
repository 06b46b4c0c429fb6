//! The console API's operations (SPEC §4) on PostgreSQL: the paginated, filtered key listing
//! and key updates; users and the last-admin rule; account policy; the TOTP second factor and
//! its recovery codes; audit queries. The `Store` impl in `postgres.rs` delegates here.
//!
//! Like every write of this backend, each one is a single READ COMMITTED transaction (run by
//! `PostgresStore::write`) that also inserts its audit event.
//!
//! - The last-admin rule spans rows, so it needs a lock that every competing transaction
//!   takes: the account's row, locked `FOR NO KEY UPDATE` before the target user is read and
//!   the admins are counted. Two admins demoting (or removing) each other queue on that lock;
//!   the second one's statements run after the first committed, with fresh READ COMMITTED
//!   snapshots, so it counts one admin and is refused. (`FOR NO KEY UPDATE` rather than
//!   `FOR UPDATE`: it does not block the `FOR KEY SHARE` locks that inserting a key or a user
//!   of the account takes for its foreign key.)
//! - One-time codes are claimed by a single guarded statement: a concurrent second statement
//!   waits for the first one's row lock, then re-checks its `WHERE` on the committed row, and
//!   its row count says it lost.
//!
//! Listings page newest first by id ("id < cursor ORDER BY id DESC LIMIT n"): ids are UUIDv7
//! and `uuid` compares bytewise, so that is creation order, and the `*_newest` indexes make a
//! page one range scan. Optional filters are appended to the statement only when present.

use super::codec::{
    self, event_columns, key_columns, opt_pg_time, pg_time, pg_time_up, user_columns,
};
use super::errors::{Failure, map_sqlx};
use super::{PostgresStore, explain_unchanged_key, insert_events, take_change_seqs};
use keywarden_core::account::{Account, Role, User};
use keywarden_core::audit::AuditEvent;
use keywarden_core::ids::{AccountId, KeyId, UserId};
use keywarden_core::key_record::{KeyRecord, KeyStatus};
use keywarden_core::store::{AuditQuery, KeyQuery, KeyUpdate, StoreError, TotpEnrolment};
use sqlx::postgres::PgConnection;
use sqlx::{Postgres, QueryBuilder};
use std::slice;
use time::OffsetDateTime;

/// The most rows one page holds, whatever the caller asks for. Callers cap their own limits;
/// this only bounds the damage of one that forgets.
const MAX_PAGE: u32 = 1000;

/// The conflict when a change would leave an account without an admin (SPEC §4: 409).
const LAST_ADMIN: &str = "last_admin";
/// The conflict of `begin_totp` once the user's enrolment is confirmed.
const TOTP_CONFIRMED: &str = "totp_already_confirmed";
/// The conflict of `confirm_totp` without an unconfirmed enrolment.
const TOTP_NOT_PENDING: &str = "totp_not_pending";

/// `LIMIT` of a page: the caller's limit, at most [`MAX_PAGE`]. 0 stays 0 (an empty page).
fn page_limit(limit: u32) -> i64 {
    i64::from(limit.min(MAX_PAGE))
}

pub(super) async fn list_keys(
    store: &PostgresStore,
    account_id: AccountId,
    query: &KeyQuery,
    now: OffsetDateTime,
) -> Result<Vec<KeyRecord>, StoreError> {
    let mut sql = QueryBuilder::new("");
    key_page(&mut sql, account_id, query, now);
    let rows = sql.build().fetch_all(&store.pool).await.map_err(map_sqlx)?;
    rows.iter().map(codec::key_from_row).collect()
}

/// Appends the statement of [`list_keys`] to `sql` (a step of its own so that a test can put
/// `EXPLAIN` in front of it).
fn key_page(
    sql: &mut QueryBuilder<Postgres>,
    account_id: AccountId,
    query: &KeyQuery,
    now: OffsetDateTime,
) {
    sql.push(concat!(
        "SELECT ",
        key_columns!(),
        " FROM api_keys WHERE account_id = "
    ));
    sql.push_bind(account_id.0);
    if let Some(before) = query.before {
        sql.push(" AND id < ").push_bind(before.0);
    }
    if let Some(kind) = query.kind {
        sql.push(" AND kind = ").push_bind(kind.as_str());
    }
    if let Some(mode) = query.mode {
        sql.push(" AND mode = ").push_bind(mode.as_str());
    }
    // The same rule as KeyRecord::status_at: the lifecycle decides, except that an active key
    // whose expiry is not after `now` is expired. Stored times are whole microseconds, so
    // `expires_at <= now` holds exactly when it holds against `now` rounded down.
    let now = pg_time(now);
    match query.status {
        None => {}
        Some(KeyStatus::Active) => {
            sql.push(" AND lifecycle = 'active' AND (expires_at IS NULL OR expires_at > ")
                .push_bind(now)
                .push(")");
        }
        Some(KeyStatus::Expired) => {
            sql.push(" AND lifecycle = 'active' AND expires_at <= ")
                .push_bind(now);
        }
        Some(KeyStatus::Revoked) => {
            sql.push(" AND lifecycle = 'revoked'");
        }
        Some(KeyStatus::Rotated) => {
            sql.push(" AND lifecycle = 'rotated'");
        }
    }
    if let Some(search) = query.search.as_deref() {
        // strpos, not LIKE/ILIKE: the user's text is a plain substring, so `%`, `_` and `\`
        // in it match themselves with no escaping to get wrong. lower() folds case by the
        // database's locale (for a UTF-8 database, beyond ASCII too).
        sql.push(" AND (strpos(lower(label), lower(")
            .push_bind(search.to_owned())
            .push(")) > 0 OR strpos(lower(hint), lower(")
            .push_bind(search.to_owned())
            .push(")) > 0)");
    }
    sql.push(" ORDER BY id DESC LIMIT ")
        .push_bind(page_limit(query.limit));
}

pub(super) async fn update_key(
    store: &PostgresStore,
    account_id: AccountId,
    key_id: KeyId,
    update: &KeyUpdate,
    event: &AuditEvent,
) -> Result<KeyRecord, StoreError> {
    // `Some(None)` removes the expiry, so "change it" and "to what" are two parameters.
    let (set_expiry, expires_at) = match update.expires_at {
        None => (false, None),
        Some(expiry) => (true, opt_pg_time(expiry)),
    };
    in_transaction!(store, |tx| {
        // A fresh change_seq, so every instance's key table picks up the new scopes and
        // expiry.
        let seq = take_change_seqs(tx, 1).await?;
        let row = sqlx::query(concat!(
            "UPDATE api_keys SET label = COALESCE($1, label), scopes = COALESCE($2, scopes), \
                 expires_at = CASE WHEN $3 THEN $4 ELSE expires_at END, change_seq = $5 \
                 WHERE id = $6 AND account_id = $7 AND lifecycle <> 'revoked' RETURNING ",
            key_columns!()
        ))
        .bind(update.label.as_deref())
        .bind(update.scopes.as_deref())
        .bind(set_expiry)
        .bind(expires_at)
        .bind(seq)
        .bind(key_id.0)
        .bind(account_id.0)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            // Returning an error rolls back, change_seq included.
            return Err(explain_unchanged_key(
                tx,
                account_id,
                key_id,
                "a revoked key cannot be changed",
            )
            .await);
        };
        let key = codec::key_from_row(&row)?;
        insert_events(tx, slice::from_ref(event)).await?;
        Ok(key)
    })
}

pub(super) async fn users_of_account(
    store: &PostgresStore,
    account_id: AccountId,
) -> Result<Vec<User>, StoreError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE account_id = $1 ORDER BY created_at ASC, id ASC"
    ))
    .bind(account_id.0)
    .fetch_all(&store.pool)
    .await
    .map_err(map_sqlx)?;
    rows.iter().map(codec::user_from_row).collect()
}

/// Takes the account's lock for changes to its admins: every transaction that may take away
/// an admin locks the account row first, so they run one after the other (see the module
/// documentation). A missing account locks nothing; the user lookup that follows then finds
/// no user in it.
async fn lock_account_admins(
    conn: &mut PgConnection,
    account_id: AccountId,
) -> Result<(), Failure> {
    sqlx::query("SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE")
        .bind(account_id.0)
        .execute(conn)
        .await?;
    Ok(())
}

/// The role of a user of the account; `NotFound` for no such user in it.
async fn role_in_account(
    conn: &mut PgConnection,
    account_id: AccountId,
    user_id: UserId,
) -> Result<Role, Failure> {
    let role: Option<String> =
        sqlx::query_scalar("SELECT role FROM users WHERE id = $1 AND account_id = $2")
            .bind(user_id.0)
            .bind(account_id.0)
            .fetch_optional(conn)
            .await?;
    let role = role.ok_or(StoreError::NotFound)?;
    Role::from_name(&role).ok_or_else(|| {
        StoreError::Other(format!("users.role of row {user_id} reads '{role}'")).into()
    })
}

/// `Conflict("last_admin")` unless the account has another admin besides the one about to
/// stop being one. Only after [`lock_account_admins`] in the same transaction: then no other
/// demotion or removal can commit between this count and the change it guards.
async fn ensure_another_admin(
    conn: &mut PgConnection,
    account_id: AccountId,
) -> Result<(), Failure> {
    let admins: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE account_id = $1 AND role = 'admin'")
            .bind(account_id.0)
            .fetch_one(conn)
            .await?;
    if admins < 2 {
        return Err(StoreError::Conflict(LAST_ADMIN.into()).into());
    }
    Ok(())
}

pub(super) async fn update_user_role(
    store: &PostgresStore,
    account_id: AccountId,
    user_id: UserId,
    role: Role,
    event: &AuditEvent,
) -> Result<User, StoreError> {
    in_transaction!(store, |tx| {
        lock_account_admins(tx, account_id).await?;
        let current = role_in_account(tx, account_id, user_id).await?;
        if current == Role::Admin && role != Role::Admin {
            ensure_another_admin(tx, account_id).await?;
        }
        // session_version: console tokens carry the version they were issued under, so
        // every token that carries the old role stops being accepted.
        let row = sqlx::query(concat!(
            "UPDATE users SET role = $1, session_version = session_version + 1 \
                 WHERE id = $2 AND account_id = $3 RETURNING ",
            user_columns!()
        ))
        .bind(role.as_str())
        .bind(user_id.0)
        .bind(account_id.0)
        .fetch_one(&mut *tx)
        .await?;
        let user = codec::user_from_row(&row)?;
        insert_events(tx, slice::from_ref(event)).await?;
        Ok(user)
    })
}

pub(super) async fn delete_user(
    store: &PostgresStore,
    account_id: AccountId,
    user_id: UserId,
    event: &AuditEvent,
) -> Result<(), StoreError> {
    in_transaction!(store, |tx| {
        lock_account_admins(tx, account_id).await?;
        if role_in_account(tx, account_id, user_id).await? == Role::Admin {
            ensure_another_admin(tx, account_id).await?;
        }
        // The TOTP enrolment and recovery codes go with the row (ON DELETE CASCADE). Keys
        // and audit events keep the user's id: they do not refer to users.
        sqlx::query("DELETE FROM users WHERE id = $1 AND account_id = $2")
            .bind(user_id.0)
            .bind(account_id.0)
            .execute(&mut *tx)
            .await?;
        insert_events(tx, slice::from_ref(event)).await
    })
}

pub(super) async fn update_account(
    store: &PostgresStore,
    account: &Account,
    event: &AuditEvent,
) -> Result<(), StoreError> {
    in_transaction!(store, |tx| {
        // The policy only: the name and creation time are not the console's to change.
        let changed = sqlx::query(
            "UPDATE accounts SET require_2fa_for_keys = $1, rotation_period_days = $2 \
                 WHERE id = $3",
        )
        .bind(account.require_2fa_for_keys)
        .bind(codec::days(account.rotation_period_days))
        .bind(account.id.0)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound.into());
        }
        insert_events(tx, slice::from_ref(event)).await
    })
}

pub(super) async fn totp(
    store: &PostgresStore,
    user_id: UserId,
) -> Result<Option<TotpEnrolment>, StoreError> {
    let row = sqlx::query(
        "SELECT user_id, encrypted_seed, confirmed, last_step FROM user_totp WHERE user_id = $1",
    )
    .bind(user_id.0)
    .fetch_optional(&store.pool)
    .await
    .map_err(map_sqlx)?;
    row.as_ref().map(codec::totp_from_row).transpose()
}

pub(super) async fn begin_totp(
    store: &PostgresStore,
    user_id: UserId,
    encrypted_seed: &[u8],
    event: &AuditEvent,
) -> Result<(), StoreError> {
    in_transaction!(store, |tx| {
        let user: Option<i32> = sqlx::query_scalar("SELECT 1 FROM users WHERE id = $1")
            .bind(user_id.0)
            .fetch_optional(&mut *tx)
            .await?;
        if user.is_none() {
            return Err(StoreError::NotFound.into());
        }
        // A new seed replaces an unconfirmed one (setup started again); a confirmed one
        // stays, and then no row changes.
        let changed = sqlx::query(
            "INSERT INTO user_totp (user_id, encrypted_seed, confirmed, last_step) \
                 VALUES ($1, $2, false, NULL) \
                 ON CONFLICT (user_id) DO UPDATE \
                 SET encrypted_seed = excluded.encrypted_seed, last_step = NULL \
                 WHERE NOT user_totp.confirmed",
        )
        .bind(user_id.0)
        .bind(encrypted_seed)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::Conflict(TOTP_CONFIRMED.into()).into());
        }
        insert_events(tx, slice::from_ref(event)).await
    })
}

pub(super) async fn confirm_totp(
    store: &PostgresStore,
    user_id: UserId,
    step: i64,
    recovery_code_hashes: &[String],
    event: &AuditEvent,
) -> Result<(), StoreError> {
    in_transaction!(store, |tx| {
        // Guarded, so of two concurrent confirmations one confirms and the other
        // conflicts.
        let changed = sqlx::query(
            "UPDATE user_totp SET confirmed = true, last_step = $1 \
                 WHERE user_id = $2 AND NOT confirmed",
        )
        .bind(step)
        .bind(user_id.0)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::Conflict(TOTP_NOT_PENDING.into()).into());
        }
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id.0)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO recovery_codes (user_id, code_hash) \
                 SELECT $1, code_hash FROM unnest($2::text[]) AS c (code_hash)",
        )
        .bind(user_id.0)
        .bind(recovery_code_hashes)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE users SET two_factor_enabled = true WHERE id = $1")
            .bind(user_id.0)
            .execute(&mut *tx)
            .await?;
        insert_events(tx, slice::from_ref(event)).await
    })
}

pub(super) async fn claim_totp_step(
    store: &PostgresStore,
    user_id: UserId,
    step: i64,
) -> Result<bool, StoreError> {
    in_transaction!(store, |tx| {
        // One guarded UPDATE: of two sign-ins presenting the same code, the second waits
        // for the first's row lock, then finds last_step = step and changes nothing.
        let changed = sqlx::query(
            "UPDATE user_totp SET last_step = $1 \
                 WHERE user_id = $2 AND (last_step IS NULL OR last_step < $1)",
        )
        .bind(step)
        .bind(user_id.0)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        Ok(changed == 1)
    })
}

pub(super) async fn consume_recovery_code(
    store: &PostgresStore,
    user_id: UserId,
    code_hash: &str,
    event: &AuditEvent,
) -> Result<bool, StoreError> {
    in_transaction!(store, |tx| {
        // Whoever deletes the row used the code; a second attempt finds nothing to delete.
        let consumed =
            sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1 AND code_hash = $2")
                .bind(user_id.0)
                .bind(code_hash)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if consumed == 0 {
            // Nothing happened, so nothing to record (the empty transaction commits).
            return Ok(false);
        }
        insert_events(tx, slice::from_ref(event)).await?;
        Ok(true)
    })
}

pub(super) async fn query_audit_events(
    store: &PostgresStore,
    account_id: AccountId,
    query: &AuditQuery,
) -> Result<Vec<AuditEvent>, StoreError> {
    let mut sql = QueryBuilder::new("");
    audit_page(&mut sql, account_id, query)?;
    let rows = sql.build().fetch_all(&store.pool).await.map_err(map_sqlx)?;
    rows.iter().map(codec::event_from_row).collect()
}

/// Appends the statement of [`query_audit_events`] to `sql`.
fn audit_page(
    sql: &mut QueryBuilder<Postgres>,
    account_id: AccountId,
    query: &AuditQuery,
) -> Result<(), StoreError> {
    sql.push(concat!(
        "SELECT ",
        event_columns!(),
        " FROM audit_events WHERE account_id = "
    ));
    sql.push_bind(account_id.0);
    if let Some(before) = query.before {
        sql.push(" AND id < ").push_bind(before.0);
    }
    if let Some(actor) = query.actor {
        sql.push(" AND actor_user_id = ").push_bind(actor.0);
    }
    if let Some(action) = query.action {
        sql.push(" AND action = ").push_bind(action.as_str());
    }
    if let Some(key_id) = query.key_id {
        sql.push(" AND key_id = ").push_bind(key_id.0);
    }
    // Stored times are whole microseconds: `at >= since` and `at < until` hold exactly when
    // they hold against the bounds rounded up.
    if let Some(since) = query.since {
        sql.push(" AND at >= ").push_bind(pg_time_up(since)?);
    }
    if let Some(until) = query.until {
        sql.push(" AND at < ").push_bind(pg_time_up(until)?);
    }
    sql.push(" ORDER BY id DESC LIMIT ")
        .push_bind(page_limit(query.limit));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_hold_at_most_a_thousand() {
        assert_eq!(page_limit(0), 0);
        assert_eq!(page_limit(25), 25);
        assert_eq!(page_limit(1000), 1000);
        assert_eq!(page_limit(u32::MAX), 1000);
    }
}
