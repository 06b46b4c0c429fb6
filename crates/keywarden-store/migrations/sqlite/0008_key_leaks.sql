-- Keywarden on SQLite: leaked keys (SPEC §8): when and where a key was first reported leaked.
--
-- NEVER EDIT THIS FILE once released (see 0001_initial.sql).
--
-- Both NULL for a key never reported leaked (every key so far). A key keeps its first report:
-- later reports leave leaked_at as it is (they are in the audit trail, as `key.leaked`), and
-- only fill in leak_url if the first report had none. Revoking a leaked key is the ordinary
-- revocation (lifecycle, revoked_at, change_seq); nothing here is read by the key checks.
-- When the first report came, in microseconds since the epoch like every time here.
ALTER TABLE api_keys ADD COLUMN leaked_at INTEGER;
-- Where the key was found: an http(s) URL of at most 2048 characters (a scanning report's
-- `url`); NULL for a pasted text or a report without a usable URL.
ALTER TABLE api_keys ADD COLUMN leak_url TEXT
    CHECK (leak_url IS NULL OR (leaked_at IS NOT NULL AND length(leak_url) <= 2048));
