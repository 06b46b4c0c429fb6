-- Keywarden on SQLite: how keys are used (SPEC §10).
--
-- NEVER EDIT THIS FILE once released (see 0001_initial.sql).
--
-- Every check of a found key is counted in memory by each instance and added here in batches
-- (one upsert per cell per flush, never a write per request); several instances add to one
-- another's counts. `hour` is hours since the Unix epoch (UTC), the same integer on both
-- backends, so a day is 24 of them. Rows older than 90 days are pruned hourly: these tables DO
-- lose rows. No foreign keys: counts outlive nothing they need, and are pruned with time.

-- Requests per key, hour, outcome ('allowed' or the refusal's code) and product and access
-- (product '*' for a path of every product, '' with access '' for a check that asked for no
-- scope). Counts may be corrected downwards by a later batch (a shared rate limit's refusal
-- moves a request counted as allowed), but never below zero in total.
CREATE TABLE key_usage (
    key_id     TEXT    NOT NULL CHECK (length(key_id) = 36),
    account_id TEXT    NOT NULL CHECK (length(account_id) = 36),
    hour       INTEGER NOT NULL,
    outcome    TEXT    NOT NULL,
    product    TEXT    NOT NULL,
    access     TEXT    NOT NULL CHECK (access IN ('', 'read', 'write')),
    count      INTEGER NOT NULL,
    PRIMARY KEY (key_id, hour, outcome, product, access)
) STRICT, WITHOUT ROWID;

-- An account's usage over a range (GET /v1/usage/).
CREATE INDEX key_usage_by_account ON key_usage (account_id, hour);

-- Requests per key, hour and client address; address '' counts the addresses an instance
-- stopped telling apart under a flood of them. last_seen_ms: the latest request, Unix ms.
CREATE TABLE key_usage_addresses (
    key_id       TEXT    NOT NULL CHECK (length(key_id) = 36),
    account_id   TEXT    NOT NULL CHECK (length(account_id) = 36),
    hour         INTEGER NOT NULL,
    address      TEXT    NOT NULL,
    allowed      INTEGER NOT NULL,
    refused      INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    PRIMARY KEY (key_id, hour, address)
) STRICT, WITHOUT ROWID;

CREATE INDEX key_usage_addresses_by_account ON key_usage_addresses (account_id, hour);

-- Each key's last successful use and the address it came from (key metadata's last_used_ip).
-- Only ever moves forward; kept as long as the key (not pruned with the counts).
CREATE TABLE key_last_use (
    key_id     TEXT    NOT NULL PRIMARY KEY CHECK (length(key_id) = 36),
    account_id TEXT    NOT NULL CHECK (length(account_id) = 36),
    address    TEXT    NOT NULL,
    used_at_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX key_last_use_by_account ON key_last_use (account_id);
