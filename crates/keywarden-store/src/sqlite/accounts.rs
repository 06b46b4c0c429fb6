//! [`AccountStore`] on SQLite: creating an account together with its first admin, keys and
//! events, reading it, and changing its policy (2FA, rotation period and key policy).
//!
//! Like every write of this backend, each one is a single `BEGIN IMMEDIATE` transaction that
//! also inserts its audit events: a new account exists with all of its first rows or not at
//! all.

use super::codec::{self, id_text, micros};
use super::errors::map_sqlx;
use super::{SqliteStore, commit, insert_events, insert_key, insert_user_row};
use async_trait::async_trait;
use keywarden_core::account::{Account, User};
use keywarden_core::audit::AuditEvent;
use keywarden_core::ids::AccountId;
use keywarden_core::key_record::KeyRecord;
use keywarden_core::store::{AccountStore, StoreError};
use sqlx::sqlite::SqliteConnection;
use std::slice;

#[async_trait]
impl AccountStore for SqliteStore {
    async fn create_account(
        &self,
        account: &Account,
        admin: &User,
        keys: &[KeyRecord],
        events: &[AuditEvent],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        insert_account(&mut tx, account).await?;
        insert_user_row(&mut tx, admin).await?;
        for key in keys {
            insert_key(&mut tx, key).await?;
        }
        insert_events(&mut tx, events).await?;
        commit(tx).await
    }

    async fn account(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, created_at, require_2fa_for_keys, rotation_period_days, \
             max_key_lifetime_days, require_expiry_for_live, require_ip_allowlist_for_live, \
             leak_action FROM accounts WHERE id = ?",
        )
        .bind(id_text(id.0))
        .fetch_optional(&self.pool)
        .await
        .map_err(map_sqlx)?;
        row.as_ref().map(codec::account_from_row).transpose()
    }

    async fn update_account(
        &self,
        account: &Account,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        // The policy only: the name and creation time are not the console's to change.
        let policy = &account.key_policy;
        let changed = sqlx::query(
            "UPDATE accounts SET require_2fa_for_keys = ?, rotation_period_days = ?, \
             max_key_lifetime_days = ?, require_expiry_for_live = ?, \
             require_ip_allowlist_for_live = ?, leak_action = ? WHERE id = ?",
        )
        .bind(i64::from(account.require_2fa_for_keys))
        .bind(i64::from(account.rotation_period_days))
        .bind(policy.max_key_lifetime_days.map(i64::from))
        .bind(i64::from(policy.require_expiry_for_live))
        .bind(i64::from(policy.require_ip_allowlist_for_live))
        .bind(policy.leak_action.as_str())
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

    async fn account_count(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar(crate::shared_sql::ACCOUNT_COUNT)
            .fetch_one(&self.pool)
            .await
            .map_err(map_sqlx)
    }
}

pub(super) async fn insert_account(
    conn: &mut SqliteConnection,
    a: &Account,
) -> Result<(), StoreError> {
    let policy = &a.key_policy;
    sqlx::query(
        "INSERT INTO accounts (id, name, created_at, require_2fa_for_keys, rotation_period_days, \
         max_key_lifetime_days, require_expiry_for_live, require_ip_allowlist_for_live, \
         leak_action) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id_text(a.id.0))
    .bind(&a.name)
    .bind(micros(a.created_at)?)
    .bind(i64::from(a.require_2fa_for_keys))
    .bind(i64::from(a.rotation_period_days))
    .bind(policy.max_key_lifetime_days.map(i64::from))
    .bind(i64::from(policy.require_expiry_for_live))
    .bind(i64::from(policy.require_ip_allowlist_for_live))
    .bind(policy.leak_action.as_str())
    .execute(conn)
    .await
    .map_err(map_sqlx)?;
    Ok(())
}
