-- Keywarden on SQLite: the account key policy (SPEC §9): the rules an account's keys must meet,
-- and what a leak report does to a key (SPEC §8).
--
-- NEVER EDIT THIS FILE once released (see 0001_initial.sql).
--
-- Existing accounts get the defaults, which restrict nothing: no maximum lifetime, no expiry
-- or allowlist required, leaked keys revoked. Tightening the policy never changes existing
-- keys (the API lists the keys that break it), so nothing here touches api_keys.
-- Restricted keys expire at most this many days after they are created, changed or rotated;
-- NULL: no maximum (a u32 in the domain, 1 to 3650 as the API accepts it).
ALTER TABLE accounts ADD COLUMN max_key_lifetime_days INTEGER
    CHECK (max_key_lifetime_days IS NULL OR max_key_lifetime_days BETWEEN 1 AND 4294967295);
-- Restricted live keys must have an expiry.
ALTER TABLE accounts ADD COLUMN require_expiry_for_live INTEGER NOT NULL DEFAULT 0
    CHECK (require_expiry_for_live IN (0, 1));
-- Live keys must have an IP allowlist.
ALTER TABLE accounts ADD COLUMN require_ip_allowlist_for_live INTEGER NOT NULL DEFAULT 0
    CHECK (require_ip_allowlist_for_live IN (0, 1));
-- keywarden_core::account_key_policy::LeakAction: revoke the key, or only notify.
ALTER TABLE accounts ADD COLUMN leak_action TEXT NOT NULL DEFAULT 'revoke'
    CHECK (leak_action IN ('revoke', 'notify'));
