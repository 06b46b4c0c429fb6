-- Keywarden on PostgreSQL: the account key policy (SPEC §9): the rules an account's keys must
-- meet, and what a leak report does to a key (SPEC §8).
--
-- NEVER EDIT THIS FILE once released (see 0001_initial.sql). The same columns as SQLite's
-- 0006_account_key_policy.sql. Existing accounts get the defaults, which restrict nothing; and
-- tightening the policy never changes existing keys, so nothing here touches api_keys.
ALTER TABLE accounts
    -- Restricted keys expire at most this many days after they are created, changed or
    -- rotated; NULL: no maximum (a u32 in the domain, hence bigint and the range check).
    ADD COLUMN max_key_lifetime_days bigint
        CONSTRAINT accounts_max_key_lifetime_days_range
        CHECK (max_key_lifetime_days IS NULL OR max_key_lifetime_days BETWEEN 1 AND 4294967295),
    -- Restricted live keys must have an expiry.
    ADD COLUMN require_expiry_for_live boolean NOT NULL DEFAULT false,
    -- Live keys must have an IP allowlist.
    ADD COLUMN require_ip_allowlist_for_live boolean NOT NULL DEFAULT false,
    -- keywarden_core::account_key_policy::LeakAction: revoke the key, or only notify.
    ADD COLUMN leak_action text NOT NULL DEFAULT 'revoke'
        CONSTRAINT accounts_leak_action_known CHECK (leak_action IN ('revoke', 'notify'));
