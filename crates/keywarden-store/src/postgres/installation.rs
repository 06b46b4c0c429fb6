//! [`InstallationStore`] on PostgreSQL: the fingerprint of the server secret this database's
//! keys were made with (one row of `meta`), and the readiness ping.
//!
//! Installation state, not an account's: the fingerprint is written by an upsert in a
//! transaction of its own (the last write wins), with no audit event, and neither method
//! touches keys or the change counter.

use super::PostgresStore;
use super::errors::map_sqlx;
use async_trait::async_trait;
use keywarden_core::store::{InstallationStore, StoreError};

/// The `meta` row holding the server secret's fingerprint.
const SECRET_FINGERPRINT: &str = "secret_fingerprint";

#[async_trait]
impl InstallationStore for PostgresStore {
    async fn secret_fingerprint(&self) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(SECRET_FINGERPRINT)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_sqlx)
    }

    async fn set_secret_fingerprint(&self, fingerprint: &str) -> Result<(), StoreError> {
        in_transaction!(self, |tx| {
            sqlx::query(
                "INSERT INTO meta (key, value) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(SECRET_FINGERPRINT)
            .bind(fingerprint)
            .execute(&mut *tx)
            .await?;
            Ok(())
        })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query(crate::shared_sql::PING)
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }
}
