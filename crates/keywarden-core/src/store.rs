//! The storage interface, one small trait per concern. One implementation per backend lives in
//! `keywarden-store`; the domain services and the HTTP layer see only these traits.
//!
//! - [`KeyStore`]: keys and their lifecycle; [`KeyFeed`]: the change feed the key table reads.
//! - [`AccountStore`], [`UserStore`], [`SecondFactorStore`]: accounts, people, their 2FA.
//! - [`AuditStore`]: the audit trail; [`InstallationStore`]: the server secret's fingerprint and
//!   readiness; [`WebhookStore`]: webhook endpoints, the outbox's deliveries, reminders sent;
//!   [`UsageLimitStore`]: the counts behind keys' usage limits; [`KeyUsageStore`]: how keys are
//!   used, per hour, outcome, product and client address; [`LeakStore`]: finding a reported
//!   key by its digest and recording the leak on it.
//!
//! [`Store`] is all of them together, which a backend gets for free by implementing each one.
//! A new area (an outbox, usage counts, leak reports) is one new trait here, added to
//! [`Store`]'s list, and one module per backend, with its migration.
//!
//! Every method that changes something takes the audit events that describe the change and
//! writes both in one transaction: if the events cannot be written, nothing changes.

mod accounts;
mod audit;
mod installation;
mod key_feed;
mod key_order;
mod key_usage;
mod keys;
mod leaks;
mod second_factor;
mod usage_limits;
mod users;
mod webhooks;

pub use accounts::AccountStore;
pub use audit::{AuditQuery, AuditStore};
pub use installation::InstallationStore;
pub use key_feed::{KeyFeed, KeyTableRow};
pub use key_order::{KeyOrder, KeyPosition, KeySort, SortValue};
pub use key_usage::{
    AddressCount, AddressRow, KeyTraffic, KeyUsageStore, UsageBatch, UsageCount, UsageQuery,
    UsageRow,
};
pub use keys::{KeyFilter, KeyQuery, KeyStore, KeyUpdate, Rotation};
pub use leaks::{CanaryTrips, LeakChange, LeakStore};
pub use second_factor::{SecondFactorProof, SecondFactorStore, TotpEnrolment};
pub use usage_limits::{PeriodCount, UsageLimitStore};
pub use users::UserStore;
pub use webhooks::{
    Attempt, AttemptResult, Backlog, ClaimedDelivery, Delivery, DeliveryState, EndpointUpdate,
    LoggedAttempt, ReminderCandidate, WebhookStore,
};

/// What can go wrong in storage, in terms the layers above can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row to change does not exist (or belongs to another account).
    #[error("not found")]
    NotFound,
    /// A uniqueness rule or a concurrent change got there first. The text names the rule.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database cannot be reached or is overloaded; worth retrying.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A stored row could not be read back, or any other failure.
    #[error("storage failure: {0}")]
    Other(String),
}

/// The whole persistent store: every concern's trait. Implemented automatically for any type
/// that implements them all, so there is nothing to forward by hand.
pub trait Store:
    AccountStore
    + UserStore
    + SecondFactorStore
    + KeyStore
    + KeyFeed
    + AuditStore
    + InstallationStore
    + WebhookStore
    + UsageLimitStore
    + KeyUsageStore
    + LeakStore
    + std::fmt::Debug
{
}

impl<T> Store for T where
    T: AccountStore
        + UserStore
        + SecondFactorStore
        + KeyStore
        + KeyFeed
        + AuditStore
        + InstallationStore
        + WebhookStore
        + UsageLimitStore
        + KeyUsageStore
        + LeakStore
        + std::fmt::Debug
{
}
