-- Keywarden on PostgreSQL: the initial schema.
--
-- NEVER EDIT THIS FILE once released: sqlx records a checksum of every applied migration and
-- refuses to start against a database whose history differs. Change the schema with a new
-- file `NNNN_what.sql` next to this one.
--
-- This one file is the end state of the SQLite migrations 0001 + 0002 (nothing shipped on
-- PostgreSQL before them): the same tables, the same rules and the same index names (the
-- store reports a broken rule by its constraint name, and callers match on those names).
-- What differs is only the spelling, in PostgreSQL's native types:
--
--   * Ids are `uuid` (UUIDv7, so they sort by creation time; uuid compares bytewise, which
--     is the order the domain's ids have).
--   * Times are `timestamptz`: microseconds, the precision keywarden_core::clock keeps, so a
--     record reads back equal to the one written.
--   * Booleans are `boolean`, digests and sealed seeds `bytea`, scope lists `text[]`.
--   * Enumerations (kind, mode, lifecycle, role) are `text` with a CHECK list, as on SQLite,
--     so the queries bind plain strings.
--   * Nothing secret is stored in plain: keys only as HMAC-SHA-256 digests under the server
--     secret, passwords only as argon2id PHC strings, TOTP seeds only sealed.
--
-- Several Keywarden instances share one PostgreSQL database. sqlx applies migrations under a
-- PostgreSQL advisory lock, so instances starting at the same moment do not race here.

-- Tenants. Nothing of one account is visible to another.
CREATE TABLE accounts (
    id                   uuid        NOT NULL PRIMARY KEY,
    name                 text        NOT NULL,
    created_at           timestamptz NOT NULL,
    -- Users without 2FA may not create, rotate or revoke keys.
    require_2fa_for_keys boolean     NOT NULL DEFAULT false,
    -- Keys older than this many days are flagged rotation_due (a u32 in the domain, hence
    -- bigint and the range check).
    rotation_period_days bigint      NOT NULL
        CONSTRAINT accounts_rotation_period_days_range
        CHECK (rotation_period_days BETWEEN 0 AND 4294967295)
);

-- People who sign into the console of an account. A user can be removed (DELETE
-- /v1/users/{id}/); their TOTP enrolment and recovery codes go with them (ON DELETE CASCADE
-- below), while keys and audit events keep their id (no foreign key to users there).
CREATE TABLE users (
    id                 uuid        NOT NULL PRIMARY KEY,
    account_id         uuid        NOT NULL REFERENCES accounts (id),
    -- Normalised (lower-case) by the domain before it gets here. Unique across ALL accounts
    -- (index users_email_unique): an email signs into exactly one account.
    email              text        NOT NULL,
    -- argon2id PHC string; never the password.
    password_hash      text        NOT NULL,
    role               text        NOT NULL
        CONSTRAINT users_role_known CHECK (role IN ('admin', 'developer', 'member')),
    two_factor_enabled boolean     NOT NULL DEFAULT false,
    -- Bumped to end every console session of the user at once.
    session_version    bigint      NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL
);

CREATE UNIQUE INDEX users_email_unique ON users (email);
-- An account's users, oldest first (users_of_account), and the last-admin count.
CREATE INDEX users_by_account ON users (account_id, created_at, id);

-- API keys: metadata and digest, never the secret. One row per key ever issued; rows are
-- never deleted (revoked and rotated keys stay for the audit trail).
CREATE TABLE api_keys (
    id           uuid        NOT NULL PRIMARY KEY,
    account_id   uuid        NOT NULL REFERENCES accounts (id),
    kind         text        NOT NULL
        CONSTRAINT api_keys_kind_known CHECK (kind IN ('standard', 'restricted')),
    mode         text        NOT NULL
        CONSTRAINT api_keys_mode_known CHECK (mode IN ('test', 'live')),
    label        text        NOT NULL,
    -- First 12 and last 4 characters of the secret, for people to recognise a key. Not enough
    -- to use or to guess it (the 30 characters in between carry the entropy).
    hint         text        NOT NULL,
    -- HMAC-SHA-256 of the whole key text under a sub-key of the server secret: 32 raw bytes.
    -- Unique (index api_keys_digest_unique): the digest is how a presented key is found.
    digest       bytea       NOT NULL
        CONSTRAINT api_keys_digest_length CHECK (octet_length(digest) = 32),
    -- Canonical scope names, in the order the domain gives them, e.g. '{payroll:read}';
    -- '{}' for standard keys, which reach every product. A flat list without NULLs.
    scopes       text[]      NOT NULL DEFAULT '{}'
        CONSTRAINT api_keys_scopes_flat
        CHECK (coalesce(array_ndims(scopes), 1) = 1 AND array_position(scopes, NULL) IS NULL),
    -- What the last action made of the key. Expiry is not a lifecycle: it follows from the
    -- clock and expires_at.
    lifecycle    text        NOT NULL
        CONSTRAINT api_keys_lifecycle_known CHECK (lifecycle IN ('active', 'rotated', 'revoked')),
    created_at   timestamptz NOT NULL,
    -- The user who issued it; NULL for keys made by the operator CLI. Deliberately NOT a
    -- foreign key: the user may have been removed since, and the key (and the record of who
    -- issued it) stays with the account.
    created_by   uuid,
    expires_at   timestamptz,
    -- Last successful verification; written in batches, only ever forwards, and NOT a change
    -- (it does not bump change_seq).
    last_used_at timestamptz,
    rotated_at   timestamptz,
    revoked_at   timestamptz,
    -- A rotated key keeps working until then (equal to rotated_at for "stop at once").
    grace_until  timestamptz,
    -- Rotation links. replaced_by is set on the old key in the same transaction that inserts
    -- the new one, before the insert, so the check waits for COMMIT (DEFERRABLE).
    replaced_by  uuid        REFERENCES api_keys (id) DEFERRABLE INITIALLY DEFERRED,
    replaces     uuid        REFERENCES api_keys (id) DEFERRABLE INITIALLY DEFERRED,
    -- Position in the change feed that keeps every instance's in-memory key table current.
    -- Every insert and every lifecycle or settings change sets it to a fresh value taken from
    -- change_counter in the same transaction; see change_counter below for why those values
    -- grow in commit order. Readers ask for "change_seq > n ORDER BY change_seq".
    change_seq   bigint      NOT NULL,
    -- The lifecycle and its timestamps agree.
    CONSTRAINT api_keys_revoked_has_time
        CHECK (lifecycle <> 'revoked' OR revoked_at IS NOT NULL),
    CONSTRAINT api_keys_rotated_has_times
        CHECK (lifecycle <> 'rotated' OR (rotated_at IS NOT NULL AND grace_until IS NOT NULL))
);

CREATE UNIQUE INDEX api_keys_digest_unique ON api_keys (digest);

-- The change feed: "WHERE change_seq > $1 ORDER BY change_seq LIMIT $2" is one index range
-- scan. Unique: two changes never share a number.
CREATE UNIQUE INDEX api_keys_change_seq ON api_keys (change_seq);

-- Listing an account's keys, newest first (keys_of_account).
CREATE INDEX api_keys_by_account ON api_keys (account_id, created_at DESC, id DESC);

-- The console's pages: "WHERE account_id = $1 [AND id < cursor] ORDER BY id DESC LIMIT n".
CREATE INDEX api_keys_by_account_newest ON api_keys (account_id, id DESC);

-- SPEC: an account has at most one current standard key per mode. Partial unique index, so
-- rotated and revoked standard keys (any number) and restricted keys are not counted. Two
-- overlapping rotations or initialisations cannot both leave an active standard key: the
-- second insert fails here and is reported as the conflict `one_active_standard_key_per_mode`.
CREATE UNIQUE INDEX one_active_standard_key_per_mode
    ON api_keys (account_id, mode)
    WHERE kind = 'standard' AND lifecycle = 'active';

-- Who did what to which key, when, from where. Written in the same transaction as the change
-- it describes: if the event cannot be written, the change does not happen. Append-only, and
-- never contains a secret.
CREATE TABLE audit_events (
    id            uuid        NOT NULL PRIMARY KEY,
    account_id    uuid        NOT NULL REFERENCES accounts (id),
    -- Storage spelling of keywarden_core::audit::Action, e.g. 'key.rotated'. Deliberately
    -- not a CHECK list, so a new action needs no migration.
    action        text        NOT NULL,
    -- The signed-in user, if any. Not a foreign key: an event by a since-removed user still
    -- says who it was.
    actor_user_id uuid,
    -- Email of the user, or 'operator (cli)'.
    actor_label   text        NOT NULL,
    ip            text,
    user_agent    text,
    -- Keys are never deleted, so this reference can stay.
    key_id        uuid        REFERENCES api_keys (id),
    detail        text        NOT NULL,
    at            timestamptz NOT NULL
);

-- An account's events, newest first (audit_events).
CREATE INDEX audit_events_by_account ON audit_events (account_id, at DESC, id DESC);
-- The console's pages, newest first by id (query_audit_events).
CREATE INDEX audit_events_by_account_newest ON audit_events (account_id, id DESC);
-- An account's trail filtered by key or by user. Partial: sign-ins have no key, and CLI
-- actions no user.
CREATE INDEX audit_events_by_key ON audit_events (key_id, id DESC) WHERE key_id IS NOT NULL;
CREATE INDEX audit_events_by_actor ON audit_events (actor_user_id, id DESC)
    WHERE actor_user_id IS NOT NULL;

-- The source of api_keys.change_seq: exactly one row.
--
-- Why a counter row and not a SEQUENCE: nextval() hands out numbers in the order transactions
-- ASK, not the order they COMMIT, and never takes one back. A transaction that took 5 may
-- commit after one that took 6; a reader that saw 6 and moved its cursor past it would never
-- see 5. The change feed promises a reader never skips a change, so the numbers must be
-- assigned in commit order.
--
-- A key-changing transaction takes its numbers FIRST, before touching any key, with
--     UPDATE change_counter SET last_seq = last_seq + $n WHERE id = 1 RETURNING last_seq
-- The row lock this takes is held until COMMIT or ROLLBACK. A second writer's UPDATE waits on
-- that lock; when it is released, the second writer (READ COMMITTED re-reads the row) adds to
-- the committed value. So a transaction can only obtain a number after every transaction
-- holding a smaller one has ended, which is exactly "numbers are assigned in commit order",
-- and a rollback gives its numbers back (the UPDATE is undone). The price is that
-- key-changing transactions run one at a time; they are short and rare (console actions),
-- while the hot path (verification) never writes here.
CREATE TABLE change_counter (
    id       integer NOT NULL PRIMARY KEY
        CONSTRAINT change_counter_single_row CHECK (id = 1),
    last_seq bigint  NOT NULL
        CONSTRAINT change_counter_not_negative CHECK (last_seq >= 0)
);

INSERT INTO change_counter (id, last_seq) VALUES (1, 0);

-- Small facts about the installation, by name:
--   'secret_fingerprint'  the fingerprint of the server secret the stored digests were made
--                         under, so a server started with another secret can refuse to run
--                         instead of rejecting every key.
CREATE TABLE meta (
    key   text NOT NULL PRIMARY KEY,
    value text NOT NULL
);

-- A user's TOTP enrolment: at most one per user. begin_totp writes an unconfirmed one (and
-- may overwrite it until it is confirmed); confirm_totp confirms it with a first code.
CREATE TABLE user_totp (
    user_id        uuid    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    -- The TOTP seed, encrypted by the server under a key derived from the server secret
    -- (an AEAD nonce and ciphertext). Never the seed in the clear.
    encrypted_seed bytea   NOT NULL,
    -- true once a code confirmed it: from then on, sign-in needs a code.
    confirmed      boolean NOT NULL DEFAULT false,
    -- The last 30-second step (Unix time / 30) whose code was accepted. A code is accepted
    -- only for a later step, by the single guarded
    --     UPDATE user_totp SET last_step = $1 WHERE user_id = $2 AND (last_step IS NULL OR last_step < $1)
    -- A concurrent second UPDATE waits for the first's row lock, then re-checks its WHERE
    -- against the committed row and changes nothing: a code works once.
    last_step      bigint,
    CONSTRAINT user_totp_confirmed_has_step CHECK (NOT confirmed OR last_step IS NOT NULL)
);

-- One-time recovery codes, only as hashes. Using one is a DELETE: whoever deletes the row
-- used it, so a code works once even under concurrent sign-ins. confirm_totp replaces them
-- all. The primary key is the uniqueness of (user_id, code_hash) and the lookup path; it is
-- named like the SQLite rule, recovery_codes_unique.
CREATE TABLE recovery_codes (
    user_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash text NOT NULL,
    CONSTRAINT recovery_codes_unique PRIMARY KEY (user_id, code_hash)
);
