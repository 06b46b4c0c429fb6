-- Keywarden on SQLite: what the console API needs (restricted-key listing and updates, user
-- management, TOTP second factor, audit queries).
--
-- NEVER EDIT THIS FILE once released (see 0001_initial.sql). The conventions of 0001 hold.
--
-- Three things happen here:
--
--   1. Users can now be removed (DELETE /v1/users/{id}/). In 0001, api_keys.created_by and
--      audit_events.actor_user_id were foreign keys to users (id), written when "rows are never
--      deleted" was true of every table, so removing a user who ever issued a key or did
--      anything would fail. Both columns must keep the id after the user is gone: the console
--      shows who created a key and who did what, and setting them to NULL would rewrite that
--      history. So both tables are rebuilt without those two references; the id stays as plain
--      TEXT that may name a removed user. Every other reference is kept as it was.
--   2. Tables for the TOTP second factor: user_totp and recovery_codes. They belong to their
--      user and go with it (ON DELETE CASCADE).
--   3. Indexes for the console's paginated listings, which page newest first by id (ids are
--      UUIDv7, so that is creation order) with "id < cursor".
--
-- sqlx runs this file in one transaction on a connection with foreign_keys = ON, and that
-- pragma cannot be switched off inside a transaction. So the rebuild follows an order in which
-- no step ever leaves a dangling reference (https://www.sqlite.org/lang_altertable.html,
-- "Making Other Kinds Of Table Schema Changes", adapted):
--
--   a. create api_keys_new, whose self-references (replaced_by, replaces) name api_keys_new
--      itself, and copy every key into it;
--   b. create audit_events_new, whose key_id names api_keys_new, and copy every event;
--   c. drop audit_events (nothing refers to it), then api_keys (now only its own rows refer to
--      it, and they go with it);
--   d. rename api_keys_new to api_keys: with foreign_keys = ON, SQLite rewrites every
--      reference to api_keys_new (its own and audit_events_new's) to api_keys;
--   e. rename audit_events_new to audit_events and recreate the indexes, which went with the
--      dropped tables.
--
-- Immediate references are checked at every INSERT and the deferred ones (the rotation links)
-- at COMMIT, so a copy that lost or broke anything fails the migration instead of committing.

-- 1a. The keys, as in 0001 except that created_by no longer refers to users.
CREATE TABLE api_keys_new (
    id           TEXT    NOT NULL PRIMARY KEY CHECK (length(id) = 36),
    account_id   TEXT    NOT NULL REFERENCES accounts (id),
    kind         TEXT    NOT NULL CHECK (kind IN ('standard', 'restricted')),
    mode         TEXT    NOT NULL CHECK (mode IN ('test', 'live')),
    label        TEXT    NOT NULL,
    hint         TEXT    NOT NULL,
    digest       BLOB    NOT NULL CHECK (length(digest) = 32),
    scopes       TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(scopes) AND json_type(scopes) = 'array'),
    lifecycle    TEXT    NOT NULL CHECK (lifecycle IN ('active', 'rotated', 'revoked')),
    created_at   INTEGER NOT NULL,
    -- The user who issued it; NULL for keys made by the operator CLI. Deliberately NOT a
    -- foreign key since 0002: the user may have been removed since, and the key (and the
    -- record of who issued it) stays with the account.
    created_by   TEXT    CHECK (created_by IS NULL OR length(created_by) = 36),
    expires_at   INTEGER,
    last_used_at INTEGER,
    rotated_at   INTEGER,
    revoked_at   INTEGER,
    grace_until  INTEGER,
    -- Rotation links, as in 0001. They name this new table itself, and the rename below
    -- makes them refer to api_keys again.
    replaced_by  TEXT    REFERENCES api_keys_new (id) DEFERRABLE INITIALLY DEFERRED,
    replaces     TEXT    REFERENCES api_keys_new (id) DEFERRABLE INITIALLY DEFERRED,
    -- Also bumped by console updates of the label, scopes or expiry (see 0001).
    change_seq   INTEGER NOT NULL,
    CHECK (lifecycle <> 'revoked' OR revoked_at IS NOT NULL),
    CHECK (lifecycle <> 'rotated' OR (rotated_at IS NOT NULL AND grace_until IS NOT NULL))
) STRICT;

INSERT INTO api_keys_new (
    id, account_id, kind, mode, label, hint, digest, scopes, lifecycle, created_at, created_by,
    expires_at, last_used_at, rotated_at, revoked_at, grace_until, replaced_by, replaces,
    change_seq
)
SELECT
    id, account_id, kind, mode, label, hint, digest, scopes, lifecycle, created_at, created_by,
    expires_at, last_used_at, rotated_at, revoked_at, grace_until, replaced_by, replaces,
    change_seq
FROM api_keys;

-- 1b. The events, as in 0001 except that actor_user_id no longer refers to users: an event
-- by a since-removed user still says who it was.
CREATE TABLE audit_events_new (
    id            TEXT    NOT NULL PRIMARY KEY CHECK (length(id) = 36),
    account_id    TEXT    NOT NULL REFERENCES accounts (id),
    action        TEXT    NOT NULL,
    actor_user_id TEXT    CHECK (actor_user_id IS NULL OR length(actor_user_id) = 36),
    actor_label   TEXT    NOT NULL,
    ip            TEXT,
    user_agent    TEXT,
    -- Keys are never deleted, so this reference stays.
    key_id        TEXT    REFERENCES api_keys_new (id),
    detail        TEXT    NOT NULL,
    at            INTEGER NOT NULL
) STRICT;

INSERT INTO audit_events_new (
    id, account_id, action, actor_user_id, actor_label, ip, user_agent, key_id, detail, at
)
SELECT id, account_id, action, actor_user_id, actor_label, ip, user_agent, key_id, detail, at
FROM audit_events;

-- 1c. Children first: nothing refers to audit_events; after it, only api_keys' own rows refer
-- to api_keys.
DROP TABLE audit_events;
DROP TABLE api_keys;

-- 1d, 1e. Rewrites "api_keys_new" to "api_keys" in every reference, then takes the old names.
ALTER TABLE api_keys_new RENAME TO api_keys;
ALTER TABLE audit_events_new RENAME TO audit_events;

-- The indexes of 0001, unchanged (they were dropped with their tables). errors.rs maps the
-- unique ones to these names.
CREATE UNIQUE INDEX api_keys_digest_unique ON api_keys (digest);
CREATE UNIQUE INDEX api_keys_change_seq ON api_keys (change_seq);
CREATE INDEX api_keys_by_account ON api_keys (account_id, created_at DESC, id DESC);
CREATE UNIQUE INDEX one_active_standard_key_per_mode
    ON api_keys (account_id, mode)
    WHERE kind = 'standard' AND lifecycle = 'active';
CREATE INDEX audit_events_by_account ON audit_events (account_id, at DESC, id DESC);

-- 3. The console's listings: "WHERE account_id = ? [AND id < cursor] ORDER BY id DESC LIMIT n"
-- is one range scan that stops after n rows, whatever else filters the page.
CREATE INDEX api_keys_by_account_newest ON api_keys (account_id, id DESC);
CREATE INDEX audit_events_by_account_newest ON audit_events (account_id, id DESC);
-- An account's audit trail filtered by key or by user. Partial: sign-ins have no key, and
-- CLI actions no user; "key_id = ?" implies "key_id IS NOT NULL", so SQLite can use them.
CREATE INDEX audit_events_by_key ON audit_events (key_id, id DESC) WHERE key_id IS NOT NULL;
CREATE INDEX audit_events_by_actor ON audit_events (actor_user_id, id DESC)
    WHERE actor_user_id IS NOT NULL;

-- 2. A user's TOTP enrolment: at most one per user. begin_totp writes an unconfirmed one
-- (and may overwrite it until it is confirmed); confirm_totp confirms it with a first code.
CREATE TABLE user_totp (
    user_id        TEXT    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    -- The TOTP seed, encrypted by the server under a key derived from the server secret
    -- (an AEAD nonce and ciphertext). Never the seed in the clear.
    encrypted_seed BLOB    NOT NULL,
    -- 1 once a code confirmed it: from then on, sign-in needs a code.
    confirmed      INTEGER NOT NULL DEFAULT 0 CHECK (confirmed IN (0, 1)),
    -- The last 30-second step (Unix time / 30) whose code was accepted. A code is accepted
    -- only for a later step, by the single guarded
    --     UPDATE user_totp SET last_step = ?s WHERE user_id = ? AND (last_step IS NULL OR last_step < ?s)
    -- so a code works once, even when two sign-ins present it at the same moment.
    last_step      INTEGER,
    CHECK (confirmed = 0 OR last_step IS NOT NULL)
) STRICT;

-- One-time recovery codes, only as hashes. Using one is a DELETE: whoever deletes the row
-- used it, so a code works once even under concurrent sign-ins. confirm_totp replaces them
-- all. The primary key is the uniqueness of (user_id, code_hash) and the lookup path.
CREATE TABLE recovery_codes (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    PRIMARY KEY (user_id, code_hash)
) STRICT, WITHOUT ROWID;
