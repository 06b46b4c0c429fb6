-- Keywarden on PostgreSQL: how keys are used (SPEC §10).
--
-- NEVER EDIT THIS FILE once released (see 0001_initial.sql). The same tables as SQLite's
-- 0007_key_usage.sql: counts added in batches by upserts (concurrent instances add, never
-- overwrite), `hour` as hours since the Unix epoch (UTC) on both backends, rows older than
-- 90 days pruned hourly: these tables DO lose rows.

-- Requests per key, hour, outcome ('allowed' or the refusal's code), product and access.
CREATE TABLE key_usage (
    key_id     uuid   NOT NULL,
    account_id uuid   NOT NULL,
    hour       bigint NOT NULL,
    outcome    text   NOT NULL,
    product    text   NOT NULL,
    access     text   NOT NULL CHECK (access IN ('', 'read', 'write')),
    count      bigint NOT NULL,
    PRIMARY KEY (key_id, hour, outcome, product, access)
);

CREATE INDEX key_usage_by_account ON key_usage (account_id, hour);

-- Requests per key, hour and client address ('' for addresses not told apart under a flood).
CREATE TABLE key_usage_addresses (
    key_id       uuid   NOT NULL,
    account_id   uuid   NOT NULL,
    hour         bigint NOT NULL,
    address      text   NOT NULL,
    allowed      bigint NOT NULL,
    refused      bigint NOT NULL,
    last_seen_ms bigint NOT NULL,
    PRIMARY KEY (key_id, hour, address)
);

CREATE INDEX key_usage_addresses_by_account ON key_usage_addresses (account_id, hour);

-- Each key's last successful use and its address; only moves forward, never pruned.
CREATE TABLE key_last_use (
    key_id     uuid   NOT NULL PRIMARY KEY,
    account_id uuid   NOT NULL,
    address    text   NOT NULL,
    used_at_ms bigint NOT NULL
);

CREATE INDEX key_last_use_by_account ON key_last_use (account_id);
