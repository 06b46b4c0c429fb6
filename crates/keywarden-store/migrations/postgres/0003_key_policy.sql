-- Keywarden on PostgreSQL: a key's own policy (SPEC §9): the addresses it may be used from, its
-- rate and usage limits, and the customer's metadata.
--
-- NEVER EDIT THIS FILE once released (see 0001_initial.sql). The same column as SQLite's
-- 0004_key_policy.sql: one JSON document per key (keywarden_core::key_policy::KeyPolicy), NULL
-- for a key without any. `text` rather than `jsonb`, so the customer's metadata keeps the order
-- of its fields; the check makes sure it is a JSON object.
ALTER TABLE api_keys ADD COLUMN policy text
    CHECK (policy IS NULL OR jsonb_typeof(policy::jsonb) = 'object');
