//! The console API's operations (SPEC §4) on SQLite: the paginated, filtered key listing and
//! key updates; users and the last-admin rule; account policy; the TOTP second factor and its
//! recovery codes; audit queries. The `Store` impl in `sqlite.rs` delegates here.
//!
//! Like every write of this backend, each one is a single `BEGIN IMMEDIATE` transaction that
//! also inserts its audit event. A rule that depends on other rows (the last admin, "still
//! unconfirmed") is decided inside that transaction, which holds the database's write lock from
//! its first statement, so two concurrent requests cannot both pass it. One-time codes are
//! claimed by a single guarded statement whose row count says who won.
//!
//! Listings page newest first by id ("id < cursor ORDER BY id DESC LIMIT n"): ids are UUIDv7,
//! so that is creation order, and the `*_newest` indexes of migration 0002 make a page one
//! range scan. Optional filters are appended to the statement only when present, so each
//! condition the planner sees is one it can use.

use super::codec::{
    self, event_columns, id_text, key_columns, micros, opt_micros, scopes_json, user_columns,
};
use super::errors::map_sqlx;
use super::{SqliteStore, commit, explain_unchanged_key, insert_events, next_change_seq};
use keywarden_core::account::{Account, Role, User};
use keywarden_core::audit::AuditEvent;
use keywarden_core::ids::{AccountId, KeyId, UserId};
use keywarden_core::key_record::{KeyRecord, KeyStatus};
use keywarden_core::store::{AuditQuery, KeyQuery, KeyUpdate, StoreError, TotpEnrolment};
use sqlx::sqlite::SqliteConnection;
use sqlx::{QueryBuilder, Sqlite};
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

/// A time as the microseconds a stored time must reach to be at or after it: stored times are
/// whole microseconds, so a bound with a finer part rounds up ([`micros`] rounds down).
fn micros_up(at: OffsetDateTime) -> Result<i64, StoreError> {
    let us = micros(at)?;
    if at.unix_timestamp_nanos().rem_euclid(1_000) == 0 {
        return Ok(us);
    }
    us.checked_add(1)
        .ok_or_else(|| StoreError::Other(format!("time {at} is out of the storable range")))
}

/// `LIMIT` of a page: the caller's limit, at most [`MAX_PAGE`]. 0 stays 0 (an empty page).
fn page_limit(limit: u32) -> i64 {
    i64::from(limit.min(MAX_PAGE))
}

pub(super) async fn list_keys(
    store: &SqliteStore,
    account_id: AccountId,
    query: &KeyQuery,
    now: OffsetDateTime,
) -> Result<Vec<KeyRecord>, StoreError> {
    let mut sql = QueryBuilder::new("");
    key_page(&mut sql, account_id, query, now)?;
    let rows = sql.build().fetch_all(&store.pool).await.map_err(map_sqlx)?;
    rows.iter().map(codec::key_from_row).collect()
}

/// Appends the statement of [`list_keys`] to `sql` (a step of its own so that a test can put
/// `EXPLAIN QUERY PLAN` in front of it).
fn key_page(
    sql: &mut QueryBuilder<Sqlite>,
    account_id: AccountId,
    query: &KeyQuery,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    sql.push(concat!(
        "SELECT ",
        key_columns!(),
        " FROM api_keys WHERE account_id = "
    ));
    sql.push_bind(id_text(account_id.0));
    if let Some(before) = query.before {
        sql.push(" AND id < ").push_bind(id_text(before.0));
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
    match query.status {
        None => {}
        Some(KeyStatus::Active) => {
            sql.push(" AND lifecycle = 'active' AND (expires_at IS NULL OR expires_at > ")
                .push_bind(micros(now)?)
                .push(")");
        }
        Some(KeyStatus::Expired) => {
            sql.push(" AND lifecycle = 'active' AND expires_at <= ")
                .push_bind(micros(now)?);
        }
        Some(KeyStatus::Revoked) => {
            sql.push(" AND lifecycle = 'revoked'");
        }
        Some(KeyStatus::Rotated) => {
            sql.push(" AND lifecycle = 'rotated'");
        }
    }
    if let Some(search) = query.search.as_deref() {
        // instr, not LIKE: the user's text is a plain substring, so `%`, `_` and `\` in it
        // match themselves with no escaping to get wrong, and no length makes the pattern
        // "too complex". lower() folds ASCII only (as LIKE would); other letters must match
        // exactly.
        sql.push(" AND (instr(lower(label), lower(")
            .push_bind(search.to_owned())
            .push(")) > 0 OR instr(lower(hint), lower(")
            .push_bind(search.to_owned())
            .push(")) > 0)");
    }
    sql.push(" ORDER BY id DESC LIMIT ")
        .push_bind(page_limit(query.limit));
    Ok(())
}

pub(super) async fn update_key(
    store: &SqliteStore,
    account_id: AccountId,
    key_id: KeyId,
    update: &KeyUpdate,
    event: &AuditEvent,
) -> Result<KeyRecord, StoreError> {
    let scopes = update.scopes.as_deref().map(scopes_json).transpose()?;
    // `Some(None)` removes the expiry, so "change it" and "to what" are two parameters.
    let (set_expiry, expires_at) = match update.expires_at {
        None => (false, None),
        Some(expiry) => (true, opt_micros(expiry)?),
    };
    let mut tx = store.begin_write().await?;
    // A fresh change_seq, so every instance's key table picks up the new scopes and expiry.
    let seq = next_change_seq(&mut tx).await?;
    let row = sqlx::query(concat!(
        "UPDATE api_keys SET label = COALESCE(?1, label), scopes = COALESCE(?2, scopes), \
         expires_at = CASE WHEN ?3 THEN ?4 ELSE expires_at END, change_seq = ?5 \
         WHERE id = ?6 AND account_id = ?7 AND lifecycle <> 'revoked' RETURNING ",
        key_columns!()
    ))
    .bind(update.label.as_deref())
    .bind(scopes)
    .bind(set_expiry)
    .bind(expires_at)
    .bind(seq)
    .bind(id_text(key_id.0))
    .bind(id_text(account_id.0))
    .fetch_optional(&mut *tx)
    .await
    .map_err(map_sqlx)?;
    let Some(row) = row else {
        // Dropping the transaction rolls it back, change_seq included.
        return Err(explain_unchanged_key(
            &mut tx,
            account_id,
            key_id,
            "a revoked key cannot be changed",
        )
        .await);
    };
    let key = codec::key_from_row(&row)?;
    insert_events(&mut tx, slice::from_ref(event)).await?;
    commit(tx).await?;
    Ok(key)
}

pub(super) async fn users_of_account(
    store: &SqliteStore,
    account_id: AccountId,
) -> Result<Vec<User>, StoreError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE account_id = ? ORDER BY created_at ASC, id ASC"
    ))
    .bind(id_text(account_id.0))
    .fetch_all(&store.pool)
    .await
    .map_err(map_sqlx)?;
    rows.iter().map(codec::user_from_row).collect()
}

/// The role of a user of the account; `NotFound` for no such user in it.
async fn role_in_account(
    conn: &mut SqliteConnection,
    account_id: AccountId,
    user_id: UserId,
) -> Result<Role, StoreError> {
    let role: Option<String> =
        sqlx::query_scalar("SELECT role FROM users WHERE id = ? AND account_id = ?")
            .bind(id_text(user_id.0))
            .bind(id_text(account_id.0))
            .fetch_optional(conn)
            .await
            .map_err(map_sqlx)?;
    let role = role.ok_or(StoreError::NotFound)?;
    Role::from_name(&role)
        .ok_or_else(|| StoreError::Other(format!("users.role of row {user_id} reads '{role}'")))
}

/// `Conflict("last_admin")` unless the account has another admin besides the one about to
/// stop being one. Only inside a write transaction: it holds the write lock, so no other
/// demotion or removal can commit between this count and the change it guards.
async fn ensure_another_admin(
    conn: &mut SqliteConnection,
    account_id: AccountId,
) -> Result<(), StoreError> {
    let admins: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE account_id = ? AND role = 'admin'")
            .bind(id_text(account_id.0))
            .fetch_one(conn)
            .await
            .map_err(map_sqlx)?;
    if admins < 2 {
        return Err(StoreError::Conflict(LAST_ADMIN.into()));
    }
    Ok(())
}

pub(super) async fn update_user_role(
    store: &SqliteStore,
    account_id: AccountId,
    user_id: UserId,
    role: Role,
    event: &AuditEvent,
) -> Result<User, StoreError> {
    let mut tx = store.begin_write().await?;
    let current = role_in_account(&mut tx, account_id, user_id).await?;
    if current == Role::Admin && role != Role::Admin {
        ensure_another_admin(&mut tx, account_id).await?;
    }
    // session_version: console tokens carry the version they were issued under, so every
    // token that carries the old role stops being accepted.
    let row = sqlx::query(concat!(
        "UPDATE users SET role = ?, session_version = session_version + 1 \
         WHERE id = ? AND account_id = ? RETURNING ",
        user_columns!()
    ))
    .bind(role.as_str())
    .bind(id_text(user_id.0))
    .bind(id_text(account_id.0))
    .fetch_one(&mut *tx)
    .await
    .map_err(map_sqlx)?;
    let user = codec::user_from_row(&row)?;
    insert_events(&mut tx, slice::from_ref(event)).await?;
    commit(tx).await?;
    Ok(user)
}

pub(super) async fn delete_user(
    store: &SqliteStore,
    account_id: AccountId,
    user_id: UserId,
    event: &AuditEvent,
) -> Result<(), StoreError> {
    let mut tx = store.begin_write().await?;
    if role_in_account(&mut tx, account_id, user_id).await? == Role::Admin {
        ensure_another_admin(&mut tx, account_id).await?;
    }
    // The TOTP enrolment and recovery codes go with the row (ON DELETE CASCADE). Keys and
    // audit events keep the user's id: since 0002 they do not refer to users.
    sqlx::query("DELETE FROM users WHERE id = ? AND account_id = ?")
        .bind(id_text(user_id.0))
        .bind(id_text(account_id.0))
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx)?;
    insert_events(&mut tx, slice::from_ref(event)).await?;
    commit(tx).await
}

pub(super) async fn update_account(
    store: &SqliteStore,
    account: &Account,
    event: &AuditEvent,
) -> Result<(), StoreError> {
    let mut tx = store.begin_write().await?;
    // The policy only: the name and creation time are not the console's to change.
    let changed = sqlx::query(
        "UPDATE accounts SET require_2fa_for_keys = ?, rotation_period_days = ? WHERE id = ?",
    )
    .bind(i64::from(account.require_2fa_for_keys))
    .bind(i64::from(account.rotation_period_days))
    .bind(id_text(account.id.0))
    .execute(&mut *tx)
    .await
    .map_err(map_sqlx)?
    .rows_affected();
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    insert_events(&mut tx, slice::from_ref(event)).await?;
    commit(tx).await
}

pub(super) async fn totp(
    store: &SqliteStore,
    user_id: UserId,
) -> Result<Option<TotpEnrolment>, StoreError> {
    let row = sqlx::query(
        "SELECT user_id, encrypted_seed, confirmed, last_step FROM user_totp WHERE user_id = ?",
    )
    .bind(id_text(user_id.0))
    .fetch_optional(&store.pool)
    .await
    .map_err(map_sqlx)?;
    row.as_ref().map(codec::totp_from_row).transpose()
}

pub(super) async fn begin_totp(
    store: &SqliteStore,
    user_id: UserId,
    encrypted_seed: &[u8],
    event: &AuditEvent,
) -> Result<(), StoreError> {
    let mut tx = store.begin_write().await?;
    let user: Option<i64> = sqlx::query_scalar("SELECT 1 FROM users WHERE id = ?")
        .bind(id_text(user_id.0))
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx)?;
    if user.is_none() {
        return Err(StoreError::NotFound);
    }
    // A new seed replaces an unconfirmed one (setup started again); a confirmed one stays, and
    // then no row changes.
    let changed = sqlx::query(
        "INSERT INTO user_totp (user_id, encrypted_seed, confirmed, last_step) \
         VALUES (?, ?, 0, NULL) \
         ON CONFLICT (user_id) DO UPDATE \
         SET encrypted_seed = excluded.encrypted_seed, last_step = NULL \
         WHERE user_totp.confirmed = 0",
    )
    .bind(id_text(user_id.0))
    .bind(encrypted_seed)
    .execute(&mut *tx)
    .await
    .map_err(map_sqlx)?
    .rows_affected();
    if changed == 0 {
        return Err(StoreError::Conflict(TOTP_CONFIRMED.into()));
    }
    insert_events(&mut tx, slice::from_ref(event)).await?;
    commit(tx).await
}

pub(super) async fn confirm_totp(
    store: &SqliteStore,
    user_id: UserId,
    step: i64,
    recovery_code_hashes: &[String],
    event: &AuditEvent,
) -> Result<(), StoreError> {
    let mut tx = store.begin_write().await?;
    // Guarded, so of two concurrent confirmations one confirms and the other conflicts.
    let changed = sqlx::query(
        "UPDATE user_totp SET confirmed = 1, last_step = ? WHERE user_id = ? AND confirmed = 0",
    )
    .bind(step)
    .bind(id_text(user_id.0))
    .execute(&mut *tx)
    .await
    .map_err(map_sqlx)?
    .rows_affected();
    if changed == 0 {
        return Err(StoreError::Conflict(TOTP_NOT_PENDING.into()));
    }
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = ?")
        .bind(id_text(user_id.0))
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx)?;
    for hash in recovery_code_hashes {
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES (?, ?)")
            .bind(id_text(user_id.0))
            .bind(hash)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
    }
    sqlx::query("UPDATE users SET two_factor_enabled = 1 WHERE id = ?")
        .bind(id_text(user_id.0))
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx)?;
    insert_events(&mut tx, slice::from_ref(event)).await?;
    commit(tx).await
}

pub(super) async fn claim_totp_step(
    store: &SqliteStore,
    user_id: UserId,
    step: i64,
) -> Result<bool, StoreError> {
    let mut tx = store.begin_write().await?;
    // One guarded UPDATE: of two sign-ins presenting the same code, the second finds
    // last_step = step and changes nothing.
    let changed = sqlx::query(
        "UPDATE user_totp SET last_step = ?1 \
         WHERE user_id = ?2 AND (last_step IS NULL OR last_step < ?1)",
    )
    .bind(step)
    .bind(id_text(user_id.0))
    .execute(&mut *tx)
    .await
    .map_err(map_sqlx)?
    .rows_affected();
    commit(tx).await?;
    Ok(changed == 1)
}

pub(super) async fn consume_recovery_code(
    store: &SqliteStore,
    user_id: UserId,
    code_hash: &str,
    event: &AuditEvent,
) -> Result<bool, StoreError> {
    let mut tx = store.begin_write().await?;
    // Whoever deletes the row used the code; a second attempt finds nothing to delete.
    let consumed = sqlx::query("DELETE FROM recovery_codes WHERE user_id = ? AND code_hash = ?")
        .bind(id_text(user_id.0))
        .bind(code_hash)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx)?
        .rows_affected();
    if consumed == 0 {
        // Nothing happened, so nothing to record; dropping the transaction ends it.
        return Ok(false);
    }
    insert_events(&mut tx, slice::from_ref(event)).await?;
    commit(tx).await?;
    Ok(true)
}

pub(super) async fn query_audit_events(
    store: &SqliteStore,
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
    sql: &mut QueryBuilder<Sqlite>,
    account_id: AccountId,
    query: &AuditQuery,
) -> Result<(), StoreError> {
    sql.push(concat!(
        "SELECT ",
        event_columns!(),
        " FROM audit_events WHERE account_id = "
    ));
    sql.push_bind(id_text(account_id.0));
    if let Some(before) = query.before {
        sql.push(" AND id < ").push_bind(id_text(before.0));
    }
    if let Some(actor) = query.actor {
        sql.push(" AND actor_user_id = ")
            .push_bind(id_text(actor.0));
    }
    if let Some(action) = query.action {
        sql.push(" AND action = ").push_bind(action.as_str());
    }
    if let Some(key_id) = query.key_id {
        sql.push(" AND key_id = ").push_bind(id_text(key_id.0));
    }
    // Stored times are whole microseconds: `at >= since` and `at < until` hold exactly when
    // they hold against the bounds rounded up.
    if let Some(since) = query.since {
        sql.push(" AND at >= ").push_bind(micros_up(since)?);
    }
    if let Some(until) = query.until {
        sql.push(" AND at < ").push_bind(micros_up(until)?);
    }
    sql.push(" ORDER BY id DESC LIMIT ")
        .push_bind(page_limit(query.limit));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use keywarden_core::audit::Action;
    use keywarden_core::ids::EventId;
    use keywarden_core::key_format::{KeyKind, Mode};
    use sqlx::Row;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

    /// SQLite's plan for a statement, one line per step.
    async fn plan(store: &SqliteStore, mut sql: QueryBuilder<Sqlite>) -> String {
        let rows = sql.build().fetch_all(&store.pool).await.unwrap();
        rows.iter()
            .map(|r| r.get::<String, _>("detail"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[tokio::test]
    async fn pages_are_index_range_scans_without_sorting() {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        let account = AccountId::new_at(NOW);
        let key_queries = [
            KeyQuery::default(),
            KeyQuery {
                before: Some(KeyId::new_at(NOW)),
                ..KeyQuery::default()
            },
            KeyQuery {
                before: Some(KeyId::new_at(NOW)),
                kind: Some(KeyKind::Restricted),
                mode: Some(Mode::Live),
                status: Some(KeyStatus::Active),
                search: Some("payroll".into()),
                ..KeyQuery::default()
            },
            KeyQuery {
                status: Some(KeyStatus::Expired),
                ..KeyQuery::default()
            },
        ];
        for query in key_queries {
            let query = KeyQuery { limit: 50, ..query };
            let mut sql = QueryBuilder::new("EXPLAIN QUERY PLAN ");
            key_page(&mut sql, account, &query, NOW).unwrap();
            let plan = plan(&store, sql).await;
            assert!(
                plan.contains("INDEX api_keys_by_account_newest"),
                "{query:?}: {plan}"
            );
            assert!(!plan.contains("TEMP B-TREE"), "{query:?}: {plan}");
        }

        let audit_queries = [
            (AuditQuery::default(), "audit_events_by_account_newest"),
            (
                AuditQuery {
                    before: Some(EventId::new_at(NOW)),
                    action: Some(Action::SignIn),
                    since: Some(NOW),
                    until: Some(NOW),
                    ..AuditQuery::default()
                },
                "audit_events_by_account_newest",
            ),
            (
                AuditQuery {
                    key_id: Some(KeyId::new_at(NOW)),
                    ..AuditQuery::default()
                },
                "audit_events_by_key",
            ),
            (
                AuditQuery {
                    actor: Some(UserId::new_at(NOW)),
                    ..AuditQuery::default()
                },
                "audit_events_by_actor",
            ),
        ];
        for (query, index) in audit_queries {
            let query = AuditQuery { limit: 50, ..query };
            let mut sql = QueryBuilder::new("EXPLAIN QUERY PLAN ");
            audit_page(&mut sql, account, &query).unwrap();
            let plan = plan(&store, sql).await;
            assert!(plan.contains(index), "{query:?}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{query:?}: {plan}");
        }
    }

    #[test]
    fn bounds_round_up_to_whole_microseconds() {
        let whole = datetime!(2026-03-01 12:00:00.000001 UTC);
        assert_eq!(micros_up(whole).unwrap(), micros(whole).unwrap());
        let finer = whole + time::Duration::nanoseconds(1);
        assert_eq!(micros_up(finer).unwrap(), micros(whole).unwrap() + 1);
        let before_epoch = datetime!(1969-12-31 23:59:59.9999995 UTC);
        assert_eq!(micros_up(before_epoch).unwrap(), 0);
    }

    #[test]
    fn pages_hold_at_most_a_thousand() {
        assert_eq!(page_limit(0), 0);
        assert_eq!(page_limit(25), 25);
        assert_eq!(page_limit(1000), 1000);
        assert_eq!(page_limit(u32::MAX), 1000);
    }
}
