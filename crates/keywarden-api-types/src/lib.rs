//! Keywarden's wire types: the JSON bodies of the HTTP API (SPEC §3–§4, §7), shared by the server,
//! the CLI and clients. Plain data with serde; no behaviour.
//!
//! Times are RFC 3339 in UTC. Ids are UUID strings.

pub mod error;
pub mod keys;
pub mod leaks;
pub mod names;
pub mod policy;
pub mod session;
pub mod usage;
pub mod users;
pub mod verify;
pub mod webhooks;

pub use error::{ErrorBody, ErrorCode};
