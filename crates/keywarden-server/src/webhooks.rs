//! Webhook delivery (SPEC §7): what leaves the process, and how.
//!
//! - [`targets`]: which URLs an endpoint may have, and the resolver that keeps deliveries to
//!   the addresses that were checked.
//! - [`body`]: the JSON a delivery carries.
//! - [`delivery`]: the background task that fans events out, claims due deliveries and sends
//!   them signed, with bounded concurrency, retries and the figures of `/metrics`.
//! - [`reminders`]: the scan that records the scheduled events.

pub mod body;
pub mod delivery;
pub mod reminders;
pub mod targets;

pub use delivery::WebhookWorker;
