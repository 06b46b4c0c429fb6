-- Keywarden on PostgreSQL: the counts behind keys' usage limits (SPEC §9).
--
-- NEVER EDIT THIS FILE once released (see 0001_initial.sql). The same table as SQLite's
-- 0005_usage_counts.sql: one row per key and period, the total every instance has allowed,
-- added to in batches by an upsert (concurrent instances add, never overwrite). period_start
-- is the period's start, or the Unix epoch for a limit over the key's whole life. Rows of
-- finished periods are pruned; this table DOES lose rows.
CREATE TABLE usage_counts (
    key_id       uuid        NOT NULL,
    period_start timestamptz NOT NULL,
    count        bigint      NOT NULL CHECK (count >= 0),
    PRIMARY KEY (key_id, period_start)
);
