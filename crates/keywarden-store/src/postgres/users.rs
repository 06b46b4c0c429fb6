//! [`UserStore`] on PostgreSQL: the people of an account, their roles, and the last-admin
//! rule (SPEC §4: a change that would leave an account without an admin is a 409).
//!
//! The last-admin rule spans rows, so it needs a lock that every competing transaction takes:
//! the account's row, locked `FOR NO KEY UPDATE` before the target user is read and the admins
//! are counted. Two admins demoting (or removing) each other queue on that lock; the second
//! one's statements run after the first committed, with fresh READ COMMITTED snapshots, so it
//! counts one admin and is refused. (`FOR NO KEY UPDATE` rather than `FOR UPDATE`: it does not
//! block the `FOR KEY SHARE` locks that inserting a key or a user of the account takes for its
//! foreign key.)
//!
//! Like every write of this backend, each one is a single READ COMMITTED transaction (run by
//! `in_transaction!`) that also inserts its audit event.

use super::codec::{self, user_columns};
use super::errors::{Failure, map_sqlx};
use super::{PostgresStore, insert_events, insert_user_row};
use async_trait::async_trait;
use keywarden_core::account::{Role, User};
use keywarden_core::audit::AuditEvent;
use keywarden_core::ids::{AccountId, UserId};
use keywarden_core::store::{StoreError, UserStore};
use sqlx::postgres::PgConnection;
use std::slice;

/// The conflict when a change would leave an account without an admin (SPEC §4: 409).
const LAST_ADMIN: &str = "last_admin";

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

#[async_trait]
impl UserStore for PostgresStore {
    async fn insert_user(&self, user: &User, event: &AuditEvent) -> Result<(), StoreError> {
        in_transaction!(self, |tx| {
            insert_user_row(tx, user).await?;
            insert_events(tx, slice::from_ref(event)).await
        })
    }

    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_sqlx)?;
        row.as_ref().map(codec::user_from_row).transpose()
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE email = $1"
        ))
        .bind(email)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_sqlx)?;
        row.as_ref().map(codec::user_from_row).transpose()
    }

    async fn users_of_account(&self, account_id: AccountId) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE account_id = $1 ORDER BY created_at ASC, id ASC"
        ))
        .bind(account_id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(map_sqlx)?;
        rows.iter().map(codec::user_from_row).collect()
    }

    async fn update_user_role(
        &self,
        account_id: AccountId,
        user_id: UserId,
        role: Role,
        event: &AuditEvent,
    ) -> Result<User, StoreError> {
        in_transaction!(self, |tx| {
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

    async fn delete_user(
        &self,
        account_id: AccountId,
        user_id: UserId,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        in_transaction!(self, |tx| {
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
}
