//! [`SecondFactorStore`] on SQLite: a user's TOTP enrolment (begun, then confirmed together
//! with a fresh set of recovery codes), the last TOTP step used, and the recovery codes.
//!
//! Like every write of this backend, each one is a single `BEGIN IMMEDIATE` transaction that
//! also inserts its audit event, if it has one. A rule that depends on other rows ("still
//! unconfirmed") is decided inside that transaction, which holds the database's write lock
//! from its first statement, so two concurrent requests cannot both pass it. One-time codes
//! (a TOTP step, a recovery code) are claimed by a single guarded statement whose row count
//! says who won. Turning TOTP off and replacing the recovery codes spend the code that
//! confirms them the same way, first in their transaction: a refused code leaves nothing
//! changed.

use super::codec::{self, id_text};
use super::errors::map_sqlx;
use super::{SqliteStore, commit, insert_events};
use async_trait::async_trait;
use keywarden_core::audit::AuditEvent;
use keywarden_core::ids::UserId;
use keywarden_core::store::{SecondFactorProof, SecondFactorStore, StoreError, TotpEnrolment};
use sqlx::SqliteConnection;
use std::slice;

/// The conflict of `begin_totp` once the user's enrolment is confirmed.
const TOTP_CONFIRMED: &str = "totp_already_confirmed";
/// The conflict of `confirm_totp` without an unconfirmed enrolment.
const TOTP_NOT_PENDING: &str = "totp_not_pending";

#[async_trait]
impl SecondFactorStore for SqliteStore {
    async fn totp(&self, user_id: UserId) -> Result<Option<TotpEnrolment>, StoreError> {
        let row = sqlx::query(
            "SELECT user_id, encrypted_seed, confirmed, last_step FROM user_totp WHERE user_id = ?",
        )
        .bind(id_text(user_id.0))
        .fetch_optional(&self.pool)
        .await
        .map_err(map_sqlx)?;
        row.as_ref().map(codec::totp_from_row).transpose()
    }

    async fn begin_totp(
        &self,
        user_id: UserId,
        encrypted_seed: &[u8],
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let user: Option<i64> = sqlx::query_scalar("SELECT 1 FROM users WHERE id = ?")
            .bind(id_text(user_id.0))
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        if user.is_none() {
            return Err(StoreError::NotFound);
        }
        // A new seed replaces an unconfirmed one (setup started again); a confirmed one stays,
        // and then no row changes.
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

    async fn confirm_totp(
        &self,
        user_id: UserId,
        step: i64,
        recovery_code_hashes: &[String],
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
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
        set_recovery_codes(&mut tx, user_id, recovery_code_hashes).await?;
        sqlx::query("UPDATE users SET two_factor_enabled = 1 WHERE id = ?")
            .bind(id_text(user_id.0))
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        insert_events(&mut tx, slice::from_ref(event)).await?;
        commit(tx).await
    }

    async fn claim_totp_step(&self, user_id: UserId, step: i64) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
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

    async fn consume_recovery_code(
        &self,
        user_id: UserId,
        code_hash: &str,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        // Whoever deletes the row used the code; a second attempt finds nothing to delete.
        let consumed =
            sqlx::query("DELETE FROM recovery_codes WHERE user_id = ? AND code_hash = ?")
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

    async fn disable_totp(
        &self,
        user_id: UserId,
        proof: &SecondFactorProof,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        if !spend(&mut tx, user_id, proof).await? {
            // Nothing happened, so nothing to record; dropping the transaction ends it.
            return Ok(false);
        }
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = ?")
            .bind(id_text(user_id.0))
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        sqlx::query("DELETE FROM user_totp WHERE user_id = ?")
            .bind(id_text(user_id.0))
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        // session_version: console tokens carry the version they were issued under, so every
        // session of the user ends.
        sqlx::query(
            "UPDATE users SET two_factor_enabled = 0, session_version = session_version + 1 \
             WHERE id = ?",
        )
        .bind(id_text(user_id.0))
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx)?;
        insert_events(&mut tx, slice::from_ref(event)).await?;
        commit(tx).await?;
        Ok(true)
    }

    async fn replace_recovery_codes(
        &self,
        user_id: UserId,
        proof: &SecondFactorProof,
        recovery_code_hashes: &[String],
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        if !spend(&mut tx, user_id, proof).await? {
            return Ok(false);
        }
        set_recovery_codes(&mut tx, user_id, recovery_code_hashes).await?;
        insert_events(&mut tx, slice::from_ref(event)).await?;
        commit(tx).await?;
        Ok(true)
    }
}

/// Replaces every recovery code of the user with `hashes`.
async fn set_recovery_codes(
    conn: &mut SqliteConnection,
    user_id: UserId,
    hashes: &[String],
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = ?")
        .bind(id_text(user_id.0))
        .execute(&mut *conn)
        .await
        .map_err(map_sqlx)?;
    for hash in hashes {
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES (?, ?)")
            .bind(id_text(user_id.0))
            .bind(hash)
            .execute(&mut *conn)
            .await
            .map_err(map_sqlx)?;
    }
    Ok(())
}

/// Spends the code that confirms a change, inside the change's write transaction: records a
/// TOTP step as used if it is later than the last one, or deletes a recovery code; either
/// only for a user whose enrolment is confirmed. `false` if it is refused (then nothing
/// changed).
async fn spend(
    conn: &mut SqliteConnection,
    user_id: UserId,
    proof: &SecondFactorProof,
) -> Result<bool, StoreError> {
    let spent = match proof {
        SecondFactorProof::TotpStep(step) => {
            sqlx::query(
                "UPDATE user_totp SET last_step = ?1 \
             WHERE user_id = ?2 AND confirmed = 1 AND (last_step IS NULL OR last_step < ?1)",
            )
            .bind(step)
            .bind(id_text(user_id.0))
            .execute(&mut *conn)
            .await
        }
        SecondFactorProof::RecoveryCode(hash) => {
            sqlx::query(
                "DELETE FROM recovery_codes WHERE user_id = ?1 AND code_hash = ?2 \
             AND EXISTS (SELECT 1 FROM user_totp WHERE user_id = ?1 AND confirmed = 1)",
            )
            .bind(id_text(user_id.0))
            .bind(hash)
            .execute(&mut *conn)
            .await
        }
    };
    Ok(spent.map_err(map_sqlx)?.rows_affected() == 1)
}
