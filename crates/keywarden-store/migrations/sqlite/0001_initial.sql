-- Keywarden on SQLite: the initial schema.
--
-- NEVER EDIT THIS FILE once released: sqlx records a checksum of every applied migration and
-- refuses to start against a database whose history differs. Change the schema with a new
-- file `NNNN_what.sql` next to this one.
--
-- Conventions, shared by every table:
--
--   * Ids are TEXT: the hyphenated, lower-case form of a UUIDv7 (36 characters), so the file
--     can be read with the sqlite3 shell and ids compare as the API prints them.
--   * Times are INTEGER microseconds since the Unix epoch, UTC. Microseconds are the
--     precision keywarden_core::clock keeps (and PostgreSQL's timestamptz gives), so a record
--     reads back equal to the one written. To read one by hand:
--         SELECT datetime(created_at / 1000000, 'unixepoch') FROM api_keys;
--   * Booleans are INTEGER 0 or 1.
--   * Every table is STRICT: SQLite refuses a value of the wrong type instead of storing it.
--   * Nothing secret is stored in plain: keys only as HMAC-SHA-256 digests under the server
--     secret, passwords only as argon2id PHC strings.
--   * Rows are never deleted: revoked and rotated keys stay, and audit events are append-only.
--     That is why every foreign key can simply refer to its parent.
--
-- The connection sets `PRAGMA foreign_keys = ON`, `journal_mode = WAL` and `synchronous = FULL`
-- (keywarden-store checks them at start-up); without foreign_keys the REFERENCES below are not
-- enforced by SQLite.

-- Tenants. Nothing of one account is visible to another.
CREATE TABLE accounts (
    id                   TEXT    NOT NULL PRIMARY KEY CHECK (length(id) = 36),
    name                 TEXT    NOT NULL,
    created_at           INTEGER NOT NULL,
    -- Users without 2FA may not create, rotate or revoke keys.
    require_2fa_for_keys INTEGER NOT NULL DEFAULT 0 CHECK (require_2fa_for_keys IN (0, 1)),
    -- Keys older than this many days are flagged rotation_due (a u32 in the domain).
    rotation_period_days INTEGER NOT NULL CHECK (rotation_period_days BETWEEN 0 AND 4294967295)
) STRICT;

-- People who sign into the console of an account.
CREATE TABLE users (
    id                 TEXT    NOT NULL PRIMARY KEY CHECK (length(id) = 36),
    account_id         TEXT    NOT NULL REFERENCES accounts (id),
    -- Normalised (lower-case) by the domain before it gets here. Unique across ALL accounts:
    -- an email signs into exactly one account. The store reports a clash as the conflict
    -- `users_email_unique`.
    email              TEXT    NOT NULL,
    -- argon2id PHC string; never the password.
    password_hash      TEXT    NOT NULL,
    role               TEXT    NOT NULL CHECK (role IN ('admin', 'developer', 'member')),
    two_factor_enabled INTEGER NOT NULL DEFAULT 0 CHECK (two_factor_enabled IN (0, 1)),
    -- Bumped to end every console session of the user at once.
    session_version    INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX users_email_unique ON users (email);
CREATE INDEX users_by_account ON users (account_id);

-- API keys: metadata and digest, never the secret. One row per key ever issued.
CREATE TABLE api_keys (
    id           TEXT    NOT NULL PRIMARY KEY CHECK (length(id) = 36),
    account_id   TEXT    NOT NULL REFERENCES accounts (id),
    kind         TEXT    NOT NULL CHECK (kind IN ('standard', 'restricted')),
    mode         TEXT    NOT NULL CHECK (mode IN ('test', 'live')),
    label        TEXT    NOT NULL,
    -- First 12 and last 4 characters of the secret, for people to recognise a key. Not enough
    -- to use or to guess it (the 30 characters in between carry the entropy).
    hint         TEXT    NOT NULL,
    -- HMAC-SHA-256 of the whole key text under a sub-key of the server secret: 32 raw bytes.
    -- Unique (index api_keys_digest_unique): the digest is how a presented key is found.
    digest       BLOB    NOT NULL CHECK (length(digest) = 32),
    -- Canonical scope names as a JSON array of strings, e.g. '["payroll:read"]';
    -- '[]' for standard keys, which reach every product.
    scopes       TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(scopes) AND json_type(scopes) = 'array'),
    -- What the last action made of the key. Expiry is not a lifecycle: it follows from the
    -- clock and expires_at.
    lifecycle    TEXT    NOT NULL CHECK (lifecycle IN ('active', 'rotated', 'revoked')),
    created_at   INTEGER NOT NULL,
    -- The user who issued it; NULL for keys made by the operator CLI.
    created_by   TEXT    REFERENCES users (id),
    expires_at   INTEGER,
    -- Last successful verification; written in batches, only ever forwards, and NOT a change
    -- (it does not bump change_seq).
    last_used_at INTEGER,
    rotated_at   INTEGER,
    revoked_at   INTEGER,
    -- A rotated key keeps working until then (equal to rotated_at for "stop at once").
    grace_until  INTEGER,
    -- Rotation links. replaced_by is set on the old key in the same transaction that inserts
    -- the new one, before the insert, so the check waits for COMMIT (DEFERRABLE).
    replaced_by  TEXT    REFERENCES api_keys (id) DEFERRABLE INITIALLY DEFERRED,
    replaces     TEXT    REFERENCES api_keys (id) DEFERRABLE INITIALLY DEFERRED,
    -- Position in the change feed that keeps every instance's in-memory key table current.
    -- Every insert and every lifecycle or metadata change sets it to a fresh value taken from
    -- change_counter in the same transaction, so it is unique and grows in commit order
    -- (writers are serialised by BEGIN IMMEDIATE). Readers ask for "change_seq > n".
    change_seq   INTEGER NOT NULL,
    -- The lifecycle and its timestamps agree.
    CHECK (lifecycle <> 'revoked' OR revoked_at IS NOT NULL),
    CHECK (lifecycle <> 'rotated' OR (rotated_at IS NOT NULL AND grace_until IS NOT NULL))
) STRICT;

CREATE UNIQUE INDEX api_keys_digest_unique ON api_keys (digest);

-- The change feed: "WHERE change_seq > ? ORDER BY change_seq LIMIT ?" is one index range scan.
CREATE UNIQUE INDEX api_keys_change_seq ON api_keys (change_seq);

-- Listing an account's keys, newest first.
CREATE INDEX api_keys_by_account ON api_keys (account_id, created_at DESC, id DESC);

-- SPEC: an account has at most one current standard key per mode. Partial unique index, so
-- rotated and revoked standard keys (any number) and restricted keys are not counted. Two
-- overlapping rotations or initialisations cannot both leave an active standard key: the
-- second insert fails here and is reported as the conflict `one_active_standard_key_per_mode`.
CREATE UNIQUE INDEX one_active_standard_key_per_mode
    ON api_keys (account_id, mode)
    WHERE kind = 'standard' AND lifecycle = 'active';

-- Who did what to which key, when, from where. Written in the same transaction as the change
-- it describes: if the event cannot be written, the change does not happen. Never contains
-- a secret.
CREATE TABLE audit_events (
    id            TEXT    NOT NULL PRIMARY KEY CHECK (length(id) = 36),
    account_id    TEXT    NOT NULL REFERENCES accounts (id),
    -- Storage spelling of keywarden_core::audit::Action, e.g. 'key.rotated'. Deliberately
    -- not a CHECK list, so a new action needs no migration.
    action        TEXT    NOT NULL,
    -- The signed-in user, if any.
    actor_user_id TEXT    REFERENCES users (id),
    -- Email of the user, or 'operator (cli)'.
    actor_label   TEXT    NOT NULL,
    ip            TEXT,
    user_agent    TEXT,
    key_id        TEXT    REFERENCES api_keys (id),
    detail        TEXT    NOT NULL,
    at            INTEGER NOT NULL
) STRICT;

-- An account's events, newest first.
CREATE INDEX audit_events_by_account ON audit_events (account_id, at DESC, id DESC);

-- The source of api_keys.change_seq: exactly one row. A writer takes the next value with
--     UPDATE change_counter SET last_seq = last_seq + 1 WHERE id = 1 RETURNING last_seq
-- inside its BEGIN IMMEDIATE transaction; a rolled-back transaction gives its value back.
CREATE TABLE change_counter (
    id       INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    last_seq INTEGER NOT NULL CHECK (last_seq >= 0)
) STRICT;

INSERT INTO change_counter (id, last_seq) VALUES (1, 0);

-- Small facts about the installation, by name:
--   'secret_fingerprint'  the fingerprint of the server secret the stored digests were made
--                         under, so a server started with another secret can refuse to run
--                         instead of rejecting every key.
CREATE TABLE meta (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
