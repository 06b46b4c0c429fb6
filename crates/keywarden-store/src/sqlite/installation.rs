//! [`InstallationStore`] on SQLite: what belongs to the installation rather than to an
//! account, the server secret's fingerprint (a row of `meta`), and whether the database
//! answers.

use super::errors::map_sqlx;
use super::{SqliteStore, commit};
use async_trait::async_trait;
use keywarden_core::store::{InstallationStore, StoreError};

/// The `meta` row holding the server secret's fingerprint.
const SECRET_FINGERPRINT: &str = "secret_fingerprint";

#[async_trait]
impl InstallationStore for SqliteStore {
    async fn secret_fingerprint(&self) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT value FROM meta WHERE key = ?")
            .bind(SECRET_FINGERPRINT)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_sqlx)
    }

    async fn set_secret_fingerprint(&self, fingerprint: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES (?, ?) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(SECRET_FINGERPRINT)
        .bind(fingerprint)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx)?;
        commit(tx).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query(crate::shared_sql::PING)
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }
}
