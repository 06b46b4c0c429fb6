//! [`SecondFactorStore`] on PostgreSQL: a user's TOTP enrolment and its one-time recovery
//! codes.
//!
//! One-time codes are claimed by a single guarded statement (an `UPDATE … WHERE last_step < $1`
//! for a TOTP step, a `DELETE` for a recovery code): a concurrent second statement waits for
//! the first one's row lock, then re-checks its `WHERE` on the committed row, and its row count
//! says it lost. So a code is used once, however many requests present it at the same time.
//!
//! Turning TOTP off and replacing the recovery codes spend the code that confirms them the
//! same way, first in their transaction (a refused code leaves nothing changed), after taking
//! the user's row lock: changes to one user's second factor run one at a time, so recovery
//! codes written by one are never missed by another's `DELETE`.
//!
//! Like every write of this backend, each one is a single READ COMMITTED transaction (run by
//! `in_transaction!`) that also inserts its audit event.

use super::codec;
use super::errors::{Failure, map_sqlx};
use super::{PostgresStore, insert_events};
use async_trait::async_trait;
use keywarden_core::audit::AuditEvent;
use keywarden_core::ids::UserId;
use keywarden_core::store::{SecondFactorProof, SecondFactorStore, StoreError, TotpEnrolment};
use sqlx::PgConnection;
use std::slice;

/// The conflict of `begin_totp` once the user's enrolment is confirmed.
const TOTP_CONFIRMED: &str = "totp_already_confirmed";
/// The conflict of `confirm_totp` without an unconfirmed enrolment.
const TOTP_NOT_PENDING: &str = "totp_not_pending";

#[async_trait]
impl SecondFactorStore for PostgresStore {
    async fn totp(&self, user_id: UserId) -> Result<Option<TotpEnrolment>, StoreError> {
        let row = sqlx::query(
            "SELECT user_id, encrypted_seed, confirmed, last_step FROM user_totp WHERE user_id = $1",
        )
        .bind(user_id.0)
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
        in_transaction!(self, |tx| {
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

    async fn confirm_totp(
        &self,
        user_id: UserId,
        step: i64,
        recovery_code_hashes: &[String],
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        in_transaction!(self, |tx| {
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
            set_recovery_codes(tx, user_id, recovery_code_hashes).await?;
            sqlx::query("UPDATE users SET two_factor_enabled = true WHERE id = $1")
                .bind(user_id.0)
                .execute(&mut *tx)
                .await?;
            insert_events(tx, slice::from_ref(event)).await
        })
    }

    async fn claim_totp_step(&self, user_id: UserId, step: i64) -> Result<bool, StoreError> {
        in_transaction!(self, |tx| {
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

    async fn consume_recovery_code(
        &self,
        user_id: UserId,
        code_hash: &str,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        in_transaction!(self, |tx| {
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

    async fn disable_totp(
        &self,
        user_id: UserId,
        proof: &SecondFactorProof,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        in_transaction!(self, |tx| {
            if !spend(tx, user_id, proof).await? {
                // Nothing happened, so nothing to record (the transaction only read).
                return Ok(false);
            }
            sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                .bind(user_id.0)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM user_totp WHERE user_id = $1")
                .bind(user_id.0)
                .execute(&mut *tx)
                .await?;
            // session_version: console tokens carry the version they were issued under, so
            // every session of the user ends.
            sqlx::query(
                "UPDATE users SET two_factor_enabled = false, \
                     session_version = session_version + 1 WHERE id = $1",
            )
            .bind(user_id.0)
            .execute(&mut *tx)
            .await?;
            insert_events(tx, slice::from_ref(event)).await?;
            Ok(true)
        })
    }

    async fn replace_recovery_codes(
        &self,
        user_id: UserId,
        proof: &SecondFactorProof,
        recovery_code_hashes: &[String],
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        in_transaction!(self, |tx| {
            if !spend(tx, user_id, proof).await? {
                return Ok(false);
            }
            set_recovery_codes(tx, user_id, recovery_code_hashes).await?;
            insert_events(tx, slice::from_ref(event)).await?;
            Ok(true)
        })
    }
}

/// Replaces every recovery code of the user with `hashes`.
async fn set_recovery_codes(
    conn: &mut PgConnection,
    user_id: UserId,
    hashes: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id.0)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO recovery_codes (user_id, code_hash) \
         SELECT $1, code_hash FROM unnest($2::text[]) AS c (code_hash)",
    )
    .bind(user_id.0)
    .bind(hashes)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Spends the code that confirms a change, first in the change's transaction: takes the
/// user's row lock (as removing a user or changing a role does, so they never wait for each
/// other in a cycle), then records a TOTP step as used if it is later than the last one, or
/// deletes a recovery code; either only for a user whose enrolment is confirmed. `false` if
/// it is refused (then nothing changed).
async fn spend(
    conn: &mut PgConnection,
    user_id: UserId,
    proof: &SecondFactorProof,
) -> Result<bool, Failure> {
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
        .bind(user_id.0)
        .fetch_optional(&mut *conn)
        .await?;
    let spent = match proof {
        SecondFactorProof::TotpStep(step) => {
            sqlx::query(
                "UPDATE user_totp SET last_step = $1 \
                 WHERE user_id = $2 AND confirmed AND (last_step IS NULL OR last_step < $1)",
            )
            .bind(step)
            .bind(user_id.0)
            .execute(&mut *conn)
            .await?
        }
        SecondFactorProof::RecoveryCode(hash) => {
            sqlx::query(
                "DELETE FROM recovery_codes WHERE user_id = $1 AND code_hash = $2 \
                 AND EXISTS (SELECT 1 FROM user_totp WHERE user_id = $1 AND confirmed)",
            )
            .bind(user_id.0)
            .bind(hash)
            .execute(&mut *conn)
            .await?
        }
    };
    Ok(spent.rows_affected() == 1)
}
