//! [`AccountStore`] on PostgreSQL: creating an account together with its first admin and
//! keys, reading it, and the console's change of its policy (SPEC §4).
//!
//! `create_account` is a key-changing transaction when it brings keys: it takes their change
//! sequence numbers as its first statement, before it inserts the account they refer to (see
//! `take_change_seqs` in `postgres.rs`). Like every write of this backend, each one is a single
//! READ COMMITTED transaction (run by `in_transaction!`) that also inserts its audit events.

use super::codec::{self, pg_time};
use super::errors::{Failure, map_sqlx};
use super::{PostgresStore, insert_events, insert_key, insert_user_row, take_change_seqs};
use async_trait::async_trait;
use keywarden_core::account::{Account, User};
use keywarden_core::audit::AuditEvent;
use keywarden_core::ids::AccountId;
use keywarden_core::key_record::KeyRecord;
use keywarden_core::store::{AccountStore, StoreError};
use sqlx::postgres::PgConnection;
use std::slice;

async fn insert_account(conn: &mut PgConnection, a: &Account) -> Result<(), Failure> {
    let policy = &a.key_policy;
    sqlx::query(
        "INSERT INTO accounts (id, name, created_at, require_2fa_for_keys, rotation_period_days, \
         max_key_lifetime_days, require_expiry_for_live, require_ip_allowlist_for_live, \
         leak_action) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(a.id.0)
    .bind(&a.name)
    .bind(pg_time(a.created_at))
    .bind(a.require_2fa_for_keys)
    .bind(codec::days(a.rotation_period_days))
    .bind(policy.max_key_lifetime_days.map(codec::days))
    .bind(policy.require_expiry_for_live)
    .bind(policy.require_ip_allowlist_for_live)
    .bind(policy.leak_action.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

#[async_trait]
impl AccountStore for PostgresStore {
    async fn create_account(
        &self,
        account: &Account,
        admin: &User,
        keys: &[KeyRecord],
        events: &[AuditEvent],
    ) -> Result<(), StoreError> {
        in_transaction!(self, |tx| {
            // The counter first (see take_change_seqs), then the account the keys refer to.
            let mut seq = if keys.is_empty() {
                0
            } else {
                take_change_seqs(tx, keys.len()).await?
            };
            insert_account(tx, account).await?;
            insert_user_row(tx, admin).await?;
            for key in keys {
                insert_key(tx, key, seq).await?;
                seq += 1;
            }
            insert_events(tx, events).await
        })
    }

    async fn account(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, created_at, require_2fa_for_keys, rotation_period_days, \
             max_key_lifetime_days, require_expiry_for_live, require_ip_allowlist_for_live, \
             leak_action FROM accounts WHERE id = $1",
        )
        .bind(id.0)
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
        in_transaction!(self, |tx| {
            // The policy only: the name and creation time are not the console's to change.
            let policy = &account.key_policy;
            let changed = sqlx::query(
                "UPDATE accounts SET require_2fa_for_keys = $1, rotation_period_days = $2, \
                     max_key_lifetime_days = $3, require_expiry_for_live = $4, \
                     require_ip_allowlist_for_live = $5, leak_action = $6 WHERE id = $7",
            )
            .bind(account.require_2fa_for_keys)
            .bind(codec::days(account.rotation_period_days))
            .bind(policy.max_key_lifetime_days.map(codec::days))
            .bind(policy.require_expiry_for_live)
            .bind(policy.require_ip_allowlist_for_live)
            .bind(policy.leak_action.as_str())
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

    async fn account_count(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar(crate::shared_sql::ACCOUNT_COUNT)
            .fetch_one(&self.pool)
            .await
            .map_err(map_sqlx)
    }
}
