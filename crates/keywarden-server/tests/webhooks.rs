//! Signed webhooks end to end (SPEC §7): the real server, the real store, a real HTTP
//! receiver on 127.0.0.1, and a manual clock moved past retry waits and reminder thresholds
//! instead of sleeping. Endpoints are inserted straight into the store.
//!
//! The modules are `#[cfg(test)]` so that clippy treats their helpers as test code too.

#[cfg(test)]
#[path = "webhooks/support.rs"]
mod support;

#[cfg(test)]
#[path = "webhooks/delivery.rs"]
mod delivery;
#[cfg(test)]
#[path = "webhooks/python_receiver.rs"]
mod python_receiver;
#[cfg(test)]
#[path = "webhooks/reminders.rs"]
mod reminders;
