-- Keywarden on SQLite: the orders of the console's key pages (`order` of GET /v1/api-keys/).
--
-- NEVER EDIT THIS FILE once released (see 0001_initial.sql).
--
-- A page in an order reads "(value, id) > (cursor's value, cursor's id) ORDER BY value, id
-- LIMIT n" (or the reverse), so each index below makes a page one range scan, either way,
-- with the filters checked on the rows it reads. Keys without an expiry are read by
-- "expires_at IS NULL ORDER BY id", an equality on the same index.
--
-- By label: ASCII letters folded (SQLite's lower() folds only ASCII), then the id. The
-- statement must spell the expression exactly `lower(label)` for SQLite to use it.
CREATE INDEX api_keys_by_account_label ON api_keys (account_id, lower(label), id);
-- By expiry. Keys change expiry only when someone edits them, so this costs writes little.
CREATE INDEX api_keys_by_account_expiry ON api_keys (account_id, expires_at, id);
-- No index by last use: the last-use batches (every few seconds) would update it for every
-- key used, to spare a rare page in that order sorting the account's keys.
