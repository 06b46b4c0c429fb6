//! HTTP integration tests of the Keywarden server: the real router on a loopback port over a
//! temporary SQLite file, with a manual clock (see `keywarden-testkit`). Each module covers one
//! part of SPEC §3–§4 or §7 and asserts what a client would notice: status, exact bodies, headers,
//! and what is stored afterwards.
//!
//! The modules are `#[cfg(test)]` so that clippy treats their helpers as test code too (the
//! workspace's `allow-*-in-tests` settings), like the `#[test]` functions themselves.

#[cfg(test)]
#[path = "api/support.rs"]
mod support;

#[cfg(test)]
#[path = "api/account_key_policy.rs"]
mod account_key_policy;
#[cfg(test)]
#[path = "api/audit.rs"]
mod audit;
#[cfg(test)]
#[path = "api/authorization_matrix.rs"]
mod authorization_matrix;
#[cfg(test)]
#[path = "api/canaries.rs"]
mod canaries;
#[cfg(test)]
#[path = "api/catalog_and_limits.rs"]
mod catalog_and_limits;
#[cfg(test)]
#[path = "api/database_outage.rs"]
mod database_outage;
#[cfg(test)]
#[path = "api/forward_auth.rs"]
mod forward_auth;
#[cfg(test)]
#[path = "api/hostile_input.rs"]
mod hostile_input;
#[cfg(test)]
#[path = "api/key_order.rs"]
mod key_order;
#[cfg(test)]
#[path = "api/key_policy.rs"]
mod key_policy;
#[cfg(test)]
#[path = "api/key_table_load.rs"]
mod key_table_load;
#[cfg(test)]
#[path = "api/leaks.rs"]
mod leaks;
#[cfg(test)]
#[path = "api/mass_assignment.rs"]
mod mass_assignment;
#[cfg(test)]
#[path = "api/new_keys_everywhere.rs"]
mod new_keys_everywhere;
#[cfg(test)]
#[path = "api/openapi.rs"]
mod openapi;
#[cfg(test)]
#[path = "api/restricted_keys.rs"]
mod restricted_keys;
#[cfg(test)]
#[path = "api/routing.rs"]
mod routing;
#[cfg(test)]
#[path = "api/shared_rate_limit.rs"]
mod shared_rate_limit;
#[cfg(test)]
#[path = "api/sign_in.rs"]
mod sign_in;
#[cfg(test)]
#[path = "api/slow_clients.rs"]
mod slow_clients;
#[cfg(test)]
#[path = "api/standard_keys.rs"]
mod standard_keys;
#[cfg(test)]
#[path = "api/two_factor.rs"]
mod two_factor;
#[cfg(test)]
#[path = "api/two_factor_changes.rs"]
mod two_factor_changes;
#[cfg(test)]
#[path = "api/usage.rs"]
mod usage;
#[cfg(test)]
#[path = "api/users.rs"]
mod users;
#[cfg(test)]
#[path = "api/verify.rs"]
mod verify;
#[cfg(test)]
#[path = "api/webhooks.rs"]
mod webhooks;
