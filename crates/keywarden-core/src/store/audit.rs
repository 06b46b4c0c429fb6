//! The audit trail.

use super::StoreError;
use crate::audit::{Action, AuditEvent};
use crate::ids::{AccountId, EventId, KeyId, UserId};
use async_trait::async_trait;
use time::OffsetDateTime;

/// A page of audit events, newest first.
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    /// Only events by this user.
    pub actor: Option<UserId>,
    /// Only this action.
    pub action: Option<Action>,
    /// Only events about this key.
    pub key_id: Option<KeyId>,
    /// Only events at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Only events before this time.
    pub until: Option<OffsetDateTime>,
    /// Cursor: only events whose id sorts below this one.
    pub before: Option<EventId>,
    /// At most this many.
    pub limit: u32,
}

/// The audit trail. Changes write their events in their own transaction (see the other
/// traits); this appends events that go with no change and reads the trail back.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an audit event on its own (sign-ins).
    async fn insert_event(&self, event: &AuditEvent) -> Result<(), StoreError>;

    /// Audit events of an account, newest first.
    async fn audit_events(
        &self,
        account_id: AccountId,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError>;

    /// A page of an account's audit events, newest first.
    async fn query_audit_events(
        &self,
        account_id: AccountId,
        query: &AuditQuery,
    ) -> Result<Vec<AuditEvent>, StoreError>;
}
