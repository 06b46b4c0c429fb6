//! Key events leaving the system as signed webhooks (SPEC §7): what an event is, who gets it,
//! how it is signed, when a failed delivery is retried and which targets may be called.
//!
//! The rest of the path: every change already writes its audit events in its own transaction;
//! the store also writes an outbox row for each event whose action has a webhook type
//! ([`EventType::of_action`]), so an event exists exactly when its change does. A dispatcher
//! fans each outbox event out to the account's endpoints that want it (deliveries), and
//! delivery workers send them with at-least-once semantics (`keywarden-server`'s `webhooks`).
//!
//! - [`events`]: the event types and subscriptions.
//! - [`signing`]: endpoint secrets (`whsec_…`) and Standard Webhooks signatures.
//! - [`retry`]: the back-off schedule (≥ 3 days, first retry within 10 s).
//! - [`targets`]: which addresses a webhook may be sent to.
//! - [`reminders`]: the scheduled events (`key.expiring`, `key.expired`, `key.rotation_due`).

pub mod events;
pub mod reminders;
pub mod retry;
pub mod signing;
pub mod targets;

pub use events::{EventType, Subscription};
pub use signing::{EndpointSecret, SignatureError};

use crate::ids::{AccountId, EndpointId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Whether an endpoint receives events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointState {
    /// Deliveries are sent.
    Active,
    /// A delivery exhausted its retries; deliveries are still sent, and the next success makes
    /// the endpoint active again.
    Failing,
    /// Turned off by an admin: nothing is sent, new events are not queued for it.
    Disabled,
}

impl EndpointState {
    /// Storage and wire spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Failing => "failing",
            Self::Disabled => "disabled",
        }
    }

    /// The state named `name`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Active, Self::Failing, Self::Disabled]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// A webhook endpoint of an account, as stored. Its signing secrets are sealed under a key
/// derived from the server secret (they must be usable to sign, so they cannot be hashed).
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Its id.
    pub id: EndpointId,
    /// Its account.
    pub account_id: AccountId,
    /// Where deliveries are POSTed (`https://` or, for tests and private networks, `http://`).
    pub url: String,
    /// What the admin wrote about it.
    pub description: String,
    /// The event types it receives.
    pub events: Subscription,
    /// Whether it receives events.
    pub state: EndpointState,
    /// The current signing secret, sealed.
    pub sealed_secret: Vec<u8>,
    /// The secret before the last rotation, sealed, and until when it still signs.
    pub previous_secret: Option<(Vec<u8>, OffsetDateTime)>,
    /// When it was added.
    pub created_at: OffsetDateTime,
    /// When it last changed.
    pub updated_at: OffsetDateTime,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("id", &self.id)
            .field("account_id", &self.account_id)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}
