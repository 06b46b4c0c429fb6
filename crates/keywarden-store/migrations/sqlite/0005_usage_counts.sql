-- Keywarden on SQLite: the counts behind keys' usage limits (SPEC §9).
--
-- NEVER EDIT THIS FILE once released (see 0001_initial.sql).
--
-- One row per key and period of its usage limit: how many requests every instance together
-- has allowed in it. Instances count in memory and add their counts in batches (one upsert per
-- key per flush, never a write per request), reading back the total so each learns what the
-- others allowed. period_start is the period's first microsecond (a UTC day or month), or 0 for
-- a limit over the key's whole life. Rows of finished periods are pruned; this table DOES lose
-- rows. No foreign key: a count outlives nothing it needs, and a revoked key's rows are pruned
-- with their period.
CREATE TABLE usage_counts (
    key_id       TEXT    NOT NULL CHECK (length(key_id) = 36),
    period_start INTEGER NOT NULL,
    count        INTEGER NOT NULL CHECK (count >= 0),
    PRIMARY KEY (key_id, period_start)
) STRICT, WITHOUT ROWID;
