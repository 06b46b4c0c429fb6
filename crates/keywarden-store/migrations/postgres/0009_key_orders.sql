-- Keywarden on PostgreSQL: the orders of the console's key pages (`order` of
-- GET /v1/api-keys/).
--
-- NEVER EDIT THIS FILE once released (see 0001_initial.sql). The same indexes as SQLite's
-- 0010_key_orders.sql: a page in an order reads "(value, id) > (cursor's value, cursor's id)
-- ORDER BY value, id LIMIT n" (or the reverse), one range scan of an index below either way;
-- keys without an expiry are read by "expires_at IS NULL ORDER BY id" on the same index.
--
-- By label: ASCII letters folded, then compared byte by byte. Under the "C" collation
-- lower() folds only ASCII, as SQLite's does, so both backends agree on the order whatever
-- the database's locale. The statement must spell the expression `lower(label COLLATE "C")`.
CREATE INDEX api_keys_by_account_label ON api_keys (account_id, lower(label COLLATE "C"), id);
-- By expiry. Keys change expiry only when someone edits them, so this costs writes little.
CREATE INDEX api_keys_by_account_expiry ON api_keys (account_id, expires_at, id);
-- No index by last use: the last-use batches (every few seconds) would then update an index
-- for every key used, and lose PostgreSQL's in-place (HOT) updates of those rows, to spare a
-- rare page in that order sorting the account's keys.
