//! What belongs to the installation rather than to an account: the server secret's fingerprint
//! and the database's health.

use super::StoreError;
use async_trait::async_trait;

/// The installation's own records and a readiness probe.
#[async_trait]
pub trait InstallationStore: Send + Sync {
    /// The fingerprint of the server secret the stored keys were hashed under, if recorded.
    async fn secret_fingerprint(&self) -> Result<Option<String>, StoreError>;

    /// Records the fingerprint of the server secret.
    async fn set_secret_fingerprint(&self, fingerprint: &str) -> Result<(), StoreError>;

    /// A cheap round trip, for readiness.
    async fn ping(&self) -> Result<(), StoreError>;
}
