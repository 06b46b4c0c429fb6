-- Keywarden on SQLite: a key's own policy (SPEC §9): the addresses it may be used from, its
-- rate and usage limits, and the customer's metadata.
--
-- NEVER EDIT THIS FILE once released (see 0001_initial.sql).
--
-- One JSON document per key (keywarden_core::key_policy::KeyPolicy, serialised with serde):
-- {"allowed_ips": ["10.0.0.0/8", ...], "rate_limit": {"limit": n, "period_seconds": s},
--  "usage_limit": {"limit": n, "period": "day"|"month"|"total"}, "metadata": {...}}, each part
-- present only when set; NULL for a key without any (most keys). The checks read it from the
-- in-memory key table, never from here, so no part of it needs a column of its own. It is
-- part of the narrow key feed: a change bumps change_seq like any other change of the key.
ALTER TABLE api_keys ADD COLUMN policy TEXT
    CHECK (policy IS NULL OR (json_valid(policy) AND json_type(policy) = 'object'));
