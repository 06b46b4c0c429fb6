-- Keywarden on PostgreSQL: canary keys (SPEC §8): how often each canary has been tripped.
--
-- NEVER EDIT THIS FILE once released (see 0001_initial.sql). The same table as SQLite's
-- 0009_canary_trips.sql: a canary is a key whose policy says `"canary": true`; each recorded
-- presentation adds one here in the transaction of its `key.canary_used` audit event (several
-- instances add, never overwrite). No row: never tripped.
CREATE TABLE canary_trips (
    key_id          uuid        NOT NULL PRIMARY KEY,
    account_id      uuid        NOT NULL,
    tripped_count   bigint      NOT NULL CHECK (tripped_count > 0),
    last_tripped_at timestamptz NOT NULL
);
