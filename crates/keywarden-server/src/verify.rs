//! The verify wing: everything between the bytes of a request and a key's verdict.
//!
//! - [`presented_key`]: the three `Authorization` forms of SPEC §3, parsed once into core's
//!   `ParsedKey` (the format step), without allocating.
//! - [`route_table`]: what a forwarded request needs (path → product, method → read/write).
//! - [`synced_table`]: the authoritative in-memory key table, kept in sync with the store's
//!   change feed; [`change_listener`] hears other instances' changes on PostgreSQL.
//! - [`caller`]: the verifier secret, and the failure limit per client address.
//! - [`forward_auth`] (`GET /v1/forward-auth/`) and [`verify_key`] (`POST /v1/verify/`): the two
//!   endpoints; [`direct_route`] answers forward-auth before the router.
//! - [`explain`] (`POST /v1/explain/`): the same checks, step by step, counting nothing.
//!
//! The checks themselves (status, scope, and later address, rate and usage limits) are core's
//! ordered steps (`keywarden_core::check`) over one verdict type (`keywarden_core::verdict`);
//! this wing reads requests and writes answers.

pub mod caller;
pub mod canary_trips;
pub mod change_listener;
pub mod direct_route;
pub mod explain;
pub mod forward_auth;
pub mod presented_key;
pub mod route_table;
pub mod shared_rate;
pub mod synced_table;
pub mod verify_key;
