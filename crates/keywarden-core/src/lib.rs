//! Keywarden's domain: everything about API keys that does not depend on how they are stored
//! or served.
//!
//! Layout:
//! - [`key_format`]: the key text (`sk_test_…`), generation from the OS CSPRNG, parsing with
//!   precise errors; [`base62`] its digits; [`key_scan`]: finding keys in any bytes (leak scans).
//! - [`secret`] and [`digest`]: the server secret, and the keyed hash that is all storage keeps.
//! - [`scope`]: the product catalog and read/write scopes.
//! - [`key_record`]: a stored key and the rules for revoked, rotated and expired.
//! - [`key_table`]: the in-memory table the verify path reads; no database on the hot path.
//! - [`verdict`]: every answer a key check can give (one `Refusal` type for "no", each with its
//!   wire code, metrics label and status); [`check`]: the ordered steps that reach it.
//! - [`account`], [`audit`]: tenants, users, roles, audit events; [`account_key_policy`]: the
//!   rules an account sets for its keys.
//! - [`store`]: the storage trait that `keywarden-store` implements per backend.
//! - [`service`]: the operations (create account, issue, rotate, revoke) shared by HTTP and CLI.
//! - [`clock`], [`random`]: time and randomness, injected so tests are exact.
//! - [`password`]: argon2id password hashing; [`two_factor`]: TOTP, sealed seeds, recovery codes.

pub mod account;
pub mod account_key_policy;
pub mod audit;
pub mod base62;
pub mod check;
pub mod clock;
pub mod digest;
pub mod error;
pub mod failure_limit;
pub mod ids;
pub mod key_format;
pub mod key_limits;
pub mod key_policy;
pub mod key_record;
pub mod key_scan;
pub mod key_table;
pub mod key_usage;
pub mod password;
pub mod random;
pub mod scope;
pub mod secret;
pub mod service;
pub mod store;
pub mod two_factor;
pub mod verdict;
pub mod webhook;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::DomainError;
pub use random::{OsRandom, RandomSource};
