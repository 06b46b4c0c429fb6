//! Webhooks: endpoints, the outbox of events, their deliveries and attempts, and the markers
//! that make each scheduled reminder happen once.
//!
//! The outbox itself has no write method: every backend's audit insert, which runs in the
//! transaction of each change, also inserts an outbox row for each event whose action has a
//! webhook type ([`crate::webhook::EventType::of_action`]). So an event is committed exactly
//! when its change is, and a change whose event cannot be written does not happen.

use super::StoreError;
use crate::audit::AuditEvent;
use crate::ids::{AccountId, DeliveryId, EndpointId, EventId, KeyId};
use crate::key_record::KeyRecord;
use crate::webhook::reminders::Reminder;
use crate::webhook::{Endpoint, EndpointState, EventType, Subscription};
use async_trait::async_trait;
use time::OffsetDateTime;

/// Changes to an endpoint; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointUpdate {
    /// New URL (already checked by the caller).
    pub url: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New event types.
    pub events: Option<Subscription>,
    /// `active` or `disabled` (an admin turning it on or off; `failing` is set by delivery).
    pub state: Option<EndpointState>,
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryState {
    /// Waiting for its next attempt (at `next_attempt_at`).
    Pending,
    /// A 2xx answer arrived.
    Delivered,
    /// Every attempt failed; the endpoint was marked `failing`. An admin may retry it.
    Failed,
}

impl DeliveryState {
    /// Storage and wire spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    /// The state spelt `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// One event's delivery to one endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Its id.
    pub id: DeliveryId,
    /// The event (its `webhook-id`, the same on every attempt).
    pub event_id: EventId,
    /// The event's type.
    pub event_type: EventType,
    /// Where it goes.
    pub endpoint_id: EndpointId,
    /// Attempts made so far.
    pub attempts: u32,
    /// Where it stands.
    pub state: DeliveryState,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<OffsetDateTime>,
    /// When it was created (the event's dispatch).
    pub created_at: OffsetDateTime,
}

/// One attempt to deliver, as the delivery log shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// The delivery.
    pub delivery_id: DeliveryId,
    /// 1 for the first attempt.
    pub number: u32,
    /// When it started.
    pub at: OffsetDateTime,
    /// The HTTP status answered, if an answer came.
    pub status: Option<u16>,
    /// What went wrong without an answer (timeout, refused connection, refused address).
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: u32,
}

/// What an attempt leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptResult {
    /// It succeeded: the delivery is done, and a `failing` endpoint is `active` again.
    Delivered,
    /// It failed; try again at this time.
    RetryAt(OffsetDateTime),
    /// It failed and was the last: the delivery failed and the endpoint is marked `failing`.
    GaveUp,
}

/// A delivery claimed by one instance, with what sending it needs.
#[derive(Clone, Debug)]
pub struct ClaimedDelivery {
    /// The delivery.
    pub delivery: Delivery,
    /// Its endpoint (URL, sealed secrets).
    pub endpoint: Endpoint,
    /// The audit event it announces.
    pub event: AuditEvent,
    /// The key the event is about, as it is now (if it names one).
    pub key: Option<KeyRecord>,
}

/// An attempt in an endpoint's log, with its delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedAttempt {
    /// The delivery.
    pub delivery: Delivery,
    /// The attempt.
    pub attempt: Attempt,
}

/// A key that may be due for a reminder, with its account's rotation period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReminderCandidate {
    /// The key (active).
    pub key: KeyRecord,
    /// Its account's rotation period, in days.
    pub rotation_period_days: u32,
}

/// How far behind delivery is, for `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Outbox events not yet dispatched plus deliveries pending.
    pub queued: u64,
    /// When the oldest of them was created.
    pub oldest: Option<OffsetDateTime>,
}

/// Webhook endpoints, their deliveries and the reminders sent.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Adds an endpoint.
    async fn insert_endpoint(
        &self,
        endpoint: &Endpoint,
        event: &AuditEvent,
    ) -> Result<(), StoreError>;

    /// One endpoint of the account.
    async fn endpoint(
        &self,
        account_id: AccountId,
        id: EndpointId,
    ) -> Result<Option<Endpoint>, StoreError>;

    /// The account's endpoints, oldest first.
    async fn endpoints_of_account(
        &self,
        account_id: AccountId,
    ) -> Result<Vec<Endpoint>, StoreError>;

    /// Changes an endpoint and returns it as stored; another account's is `NotFound`.
    async fn update_endpoint(
        &self,
        account_id: AccountId,
        id: EndpointId,
        update: &EndpointUpdate,
        at: OffsetDateTime,
        event: &AuditEvent,
    ) -> Result<Endpoint, StoreError>;

    /// Replaces the signing secret with `sealed_secret`; the current one becomes the previous
    /// one, which still signs until `previous_until`. Returns the endpoint as stored.
    async fn rotate_endpoint_secret(
        &self,
        account_id: AccountId,
        id: EndpointId,
        sealed_secret: &[u8],
        previous_until: OffsetDateTime,
        event: &AuditEvent,
    ) -> Result<Endpoint, StoreError>;

    /// Removes an endpoint with its deliveries and their attempts.
    async fn delete_endpoint(
        &self,
        account_id: AccountId,
        id: EndpointId,
        event: &AuditEvent,
    ) -> Result<(), StoreError>;

    /// Writes `event` (a `webhook.test_sent` audit event) and queues a `webhook.test` event for
    /// this endpoint only, whatever it subscribes to and even if it is disabled.
    async fn queue_test_event(
        &self,
        account_id: AccountId,
        endpoint_id: EndpointId,
        event: &AuditEvent,
    ) -> Result<(), StoreError>;

    /// Fans out up to `limit` undispatched outbox events, oldest first: a pending delivery
    /// (due at `now`) for each endpoint of the event's account that is not disabled and wants
    /// its type. Each event is dispatched once, by one instance. Returns how many events were
    /// dispatched.
    async fn dispatch_events(&self, now: OffsetDateTime, limit: u32) -> Result<u32, StoreError>;

    /// Claims up to `limit` pending deliveries due at `now`, oldest due first, until
    /// `lease_until`: no other instance claims them before then, so each attempt is made by
    /// one instance, and a crashed instance's claims are taken over when the lease ends.
    /// Deliveries to a disabled endpoint wait (test events excepted) until it is enabled.
    async fn claim_deliveries(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;

    /// Records an attempt of a claimed delivery and what it leads to, and ends the claim.
    async fn finish_attempt(
        &self,
        attempt: &Attempt,
        result: AttemptResult,
    ) -> Result<(), StoreError>;

    /// The newest attempts to the endpoint, at most `limit`, newest first (`before`: only
    /// attempts that started before this time, for paging).
    async fn attempts_of_endpoint(
        &self,
        account_id: AccountId,
        endpoint_id: EndpointId,
        before: Option<OffsetDateTime>,
        limit: u32,
    ) -> Result<Vec<LoggedAttempt>, StoreError>;

    /// Makes a delivery of the account pending again, due at `now` (an admin's retry); its
    /// attempts so far stay in the log. Another account's is `NotFound`.
    async fn retry_delivery(
        &self,
        account_id: AccountId,
        delivery_id: DeliveryId,
        now: OffsetDateTime,
        event: &AuditEvent,
    ) -> Result<Delivery, StoreError>;

    /// How far behind delivery is.
    async fn webhook_backlog(&self) -> Result<Backlog, StoreError>;

    /// Active keys that may need a reminder at `now` and have not had it: expiring before
    /// `now + horizon` without their expiry reminders, or older than their account's rotation
    /// period without `rotation_due`. At most `limit`, by key id after `after`.
    async fn reminder_candidates(
        &self,
        now: OffsetDateTime,
        horizon: time::Duration,
        after: Option<KeyId>,
        limit: u32,
    ) -> Result<Vec<ReminderCandidate>, StoreError>;

    /// Records that `reminder` was sent for `key_id`, with its audit `event` (and so its
    /// outbox row), in one transaction; `false` (and nothing written) if it was recorded
    /// before, by this instance or another.
    async fn record_reminder(
        &self,
        key_id: KeyId,
        reminder: Reminder,
        event: &AuditEvent,
    ) -> Result<bool, StoreError>;
}
