-- Keywarden on SQLite: webhooks (SPEC §7). Endpoints, the outbox of events, their deliveries
-- and attempts, and the markers that make each scheduled reminder happen once.
--
-- NEVER EDIT THIS FILE once released (see 0001_initial.sql). The conventions of 0001 hold
-- (ids TEXT, times INTEGER microseconds, booleans 0/1, every table STRICT), with one change:
-- these tables DO lose rows. Removing an endpoint removes its deliveries and their attempts
-- (ON DELETE CASCADE), and an undispatched test event for it.
--
-- The path of an event:
--   1. The transaction of every change inserts its audit events and, for each event whose
--      action has a webhook type (keywarden_core::webhook::EventType::of_action), a row of
--      webhook_outbox: the event exists exactly when its change does.
--   2. A dispatcher takes undispatched outbox rows, oldest first, inserts one pending
--      delivery per endpoint of the account that is not disabled and wants the type, and
--      marks the row dispatched, in one BEGIN IMMEDIATE transaction (so once).
--   3. Delivery workers claim due deliveries for a lease, send them, and record each attempt
--      with what it leads to (delivered, retry at a time, or failed).

-- An account's webhook endpoints.
CREATE TABLE webhook_endpoints (
    id              TEXT    NOT NULL PRIMARY KEY CHECK (length(id) = 36),
    account_id      TEXT    NOT NULL REFERENCES accounts (id),
    -- Checked by the domain (scheme, host) before it gets here.
    url             TEXT    NOT NULL,
    description     TEXT    NOT NULL,
    -- The event types it receives, as a JSON array of their wire names, e.g.
    -- '["key.created","key.revoked"]', or '["*"]' for every type (also types added later).
    events          TEXT    NOT NULL CHECK (json_valid(events) AND json_type(events) = 'array'),
    -- 'failing' is set when a delivery exhausts its retries and cleared by the next success;
    -- 'disabled' only by an admin: no new deliveries are queued for it.
    state           TEXT    NOT NULL CHECK (state IN ('active', 'failing', 'disabled')),
    -- The signing secret, sealed (nonce and ciphertext) under a key derived from the server
    -- secret. It must sign every delivery, so it cannot be hashed; never stored in the clear.
    sealed_secret   BLOB    NOT NULL,
    -- The secret before the last rotation, sealed, which still signs until previous_until.
    previous_secret BLOB,
    previous_until  INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    CHECK ((previous_secret IS NULL) = (previous_until IS NULL))
) STRICT;

-- An account's endpoints, oldest first.
CREATE INDEX webhook_endpoints_by_account ON webhook_endpoints (account_id, created_at, id);

-- The outbox: one row per audit event that leaves the system, written in the transaction of
-- the change (see above). Kept after dispatch, with the time it was dispatched.
CREATE TABLE webhook_outbox (
    -- The audit event's id, which is also the webhook's id (`webhook-id`) on every attempt.
    event_id      TEXT    NOT NULL PRIMARY KEY REFERENCES audit_events (id),
    account_id    TEXT    NOT NULL REFERENCES accounts (id),
    -- The webhook type's wire name, e.g. 'key.revoked'. Not a CHECK list, like actions.
    type          TEXT    NOT NULL,
    -- Set only for 'webhook.test': the one endpoint it goes to (even a disabled one). Goes with
    -- its endpoint: a test event must never fan out to the other endpoints.
    endpoint_id   TEXT    REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    -- The event's time.
    created_at    INTEGER NOT NULL,
    -- When it was fanned out into deliveries; NULL until then.
    dispatched_at INTEGER,
    CHECK ((type = 'webhook.test') = (endpoint_id IS NOT NULL))
) STRICT;

-- The dispatcher's queue: undispatched events, oldest first (and the backlog's count).
CREATE INDEX webhook_outbox_undispatched ON webhook_outbox (created_at, event_id)
    WHERE dispatched_at IS NULL;
CREATE INDEX webhook_outbox_by_endpoint ON webhook_outbox (endpoint_id)
    WHERE endpoint_id IS NOT NULL;

-- One event's delivery to one endpoint.
CREATE TABLE webhook_deliveries (
    id              TEXT    NOT NULL PRIMARY KEY CHECK (length(id) = 36),
    event_id        TEXT    NOT NULL REFERENCES audit_events (id),
    endpoint_id     TEXT    NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_type      TEXT    NOT NULL,
    -- Attempts made so far.
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    -- When the next attempt is due; pending deliveries only.
    next_attempt_at INTEGER,
    -- Claimed by a delivery worker until then: no other worker takes it before, and a crashed
    -- worker's claim lapses. NULL when not claimed.
    lease_until     INTEGER,
    -- When the event was dispatched.
    created_at      INTEGER NOT NULL,
    CHECK ((state = 'pending') = (next_attempt_at IS NOT NULL))
) STRICT;

-- An event goes to an endpoint once (reported as the conflict `webhook_deliveries_unique`).
CREATE UNIQUE INDEX webhook_deliveries_unique ON webhook_deliveries (event_id, endpoint_id);
-- The workers' queue: pending deliveries by due time.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id)
    WHERE state = 'pending';
-- An endpoint's deliveries (removing an endpoint, which cascades).
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id);

-- The attempts of a delivery, for the delivery log. endpoint_id repeats the delivery's, so an
-- endpoint's log is one index range scan.
CREATE TABLE webhook_attempts (
    delivery_id TEXT    NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    -- 1 for the first attempt.
    number      INTEGER NOT NULL CHECK (number >= 1),
    endpoint_id TEXT    NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    -- When it started.
    at          INTEGER NOT NULL,
    -- The HTTP status answered, if an answer came.
    status      INTEGER CHECK (status BETWEEN 0 AND 65535),
    -- What went wrong without an answer (timeout, refused connection, refused address).
    error       TEXT,
    duration_ms INTEGER NOT NULL CHECK (duration_ms BETWEEN 0 AND 4294967295),
    -- Reported as the conflict `webhook_attempts_unique`: an attempt is recorded once.
    PRIMARY KEY (delivery_id, number)
) STRICT, WITHOUT ROWID;

-- An endpoint's delivery log, newest first.
CREATE INDEX webhook_attempts_by_endpoint_newest
    ON webhook_attempts (endpoint_id, at DESC, delivery_id DESC, number DESC);

-- The scheduled reminders sent (key.expiring 7 days and 1 day before, key.expired,
-- key.rotation_due): inserted in the transaction of the reminder's audit event, so under
-- this primary key each is sent once per key, whichever instance gets there first.
CREATE TABLE webhook_reminders_sent (
    key_id   TEXT    NOT NULL REFERENCES api_keys (id),
    -- keywarden_core::webhook::reminders::Reminder's storage spelling.
    reminder TEXT    NOT NULL
        CHECK (reminder IN ('expiring_7d', 'expiring_1d', 'expired', 'rotation_due')),
    -- The reminder's event time.
    at       INTEGER NOT NULL,
    PRIMARY KEY (key_id, reminder)
) STRICT, WITHOUT ROWID;

