//! [`UserStore`] on SQLite: the people of an account, their roles and their removal, and the
//! last-admin rule (SPEC §4) that guards a demotion or a removal.
//!
//! Like every write of this backend, each one is a single `BEGIN IMMEDIATE` transaction that
//! also inserts its audit event. The last-admin rule depends on other rows, so it is decided
//! inside that transaction, which holds the database's write lock from its first statement:
//! two concurrent requests cannot both pass it and leave the account without an admin.

use super::codec::{self, id_text, user_columns};
use super::errors::map_sqlx;
use super::{SqliteStore, commit, insert_events, insert_user_row};
use async_trait::async_trait;
use keywarden_core::account::{Role, User};
use keywarden_core::audit::AuditEvent;
use keywarden_core::ids::{AccountId, UserId};
use keywarden_core::store::{StoreError, UserStore};
use sqlx::sqlite::SqliteConnection;
use std::slice;

/// The conflict when a change would leave an account without an admin (SPEC §4: 409).
const LAST_ADMIN: &str = "last_admin";

#[async_trait]
impl UserStore for SqliteStore {
    async fn insert_user(&self, user: &User, event: &AuditEvent) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        insert_user_row(&mut tx, user).await?;
        insert_events(&mut tx, slice::from_ref(event)).await?;
        commit(tx).await
    }

    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id = ?"
        ))
        .bind(id_text(id.0))
        .fetch_optional(&self.pool)
        .await
        .map_err(map_sqlx)?;
        row.as_ref().map(codec::user_from_row).transpose()
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE email = ?"
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
            " FROM users WHERE account_id = ? ORDER BY created_at ASC, id ASC"
        ))
        .bind(id_text(account_id.0))
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
        let mut tx = self.begin_write().await?;
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

    async fn delete_user(
        &self,
        account_id: AccountId,
        user_id: UserId,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
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
