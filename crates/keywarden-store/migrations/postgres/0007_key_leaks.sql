-- Keywarden on PostgreSQL: leaked keys (SPEC §8): when and where a key was first reported
-- leaked.
--
-- NEVER EDIT THIS FILE once released (see 0001_initial.sql). The same columns as SQLite's
-- 0008_key_leaks.sql: both NULL for a key never reported leaked; a key keeps its first report
-- (later ones are in the audit trail), and leak_url is only filled in later if the first
-- report had none. Revoking a leaked key is the ordinary revocation.
ALTER TABLE api_keys
    -- When the first report came.
    ADD COLUMN leaked_at timestamptz,
    -- Where the key was found: an http(s) URL of at most 2048 characters; NULL for a pasted
    -- text or a report without a usable URL.
    ADD COLUMN leak_url text,
    ADD CONSTRAINT api_keys_leak_url_reported
        CHECK (leak_url IS NULL OR (leaked_at IS NOT NULL AND length(leak_url) <= 2048));
