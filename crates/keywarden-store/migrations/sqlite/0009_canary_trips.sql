-- Keywarden on SQLite: canary keys (SPEC §8): how often each canary has been tripped.
--
-- NEVER EDIT THIS FILE once released (see 0001_initial.sql).
--
-- A canary is an ordinary key row whose policy document says `"canary": true`; nothing here
-- is read by the key checks. Each recorded presentation (at most one per canary and client
-- address a minute and instance) adds one here in the transaction that writes its
-- `key.canary_used` audit event, so the count and the audit trail agree. No row: never tripped.
CREATE TABLE canary_trips (
    key_id          TEXT    NOT NULL PRIMARY KEY CHECK (length(key_id) = 36),
    account_id      TEXT    NOT NULL CHECK (length(account_id) = 36),
    tripped_count   INTEGER NOT NULL CHECK (tripped_count > 0),
    -- The latest recorded presentation, in microseconds since the epoch like every time here.
    last_tripped_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
