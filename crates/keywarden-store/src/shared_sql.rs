//! Statements both dialects read and bind the same way, written once. Most statements cannot
//! be shared: ids, times and scopes are stored differently (decision 0007), so a statement
//! that reads the same still binds and decodes differently. The narrow feed's columns are
//! shared too (`narrow_feed`).

/// The cheapest round trip, for readiness.
pub(crate) const PING: &str = "SELECT 1";

/// How many keys are stored.
pub(crate) const KEY_COUNT: &str = "SELECT COUNT(*) FROM api_keys";

/// Where the change feed ends: the highest `change_seq` committed, 0 if none.
pub(crate) const FEED_END: &str = "SELECT coalesce(max(change_seq), 0) FROM api_keys";

/// How many accounts exist.
pub(crate) const ACCOUNT_COUNT: &str = "SELECT COUNT(*) FROM accounts";
