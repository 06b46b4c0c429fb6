-- Keywarden on PostgreSQL: webhooks (SPEC §7). Endpoints, the outbox of events, their
-- deliveries and attempts, and the markers that make each scheduled reminder happen once.
--
-- NEVER EDIT THIS FILE once released (see 0001_initial.sql). The same tables, rules and names
-- as SQLite's 0003_webhooks.sql, in PostgreSQL's types (uuid, timestamptz, boolean, bytea,
-- text[]). These tables DO lose rows: removing an endpoint removes its deliveries and their
-- attempts (ON DELETE CASCADE), and an undispatched test event for it.
--
-- The path of an event:
--   1. The transaction of every change inserts its audit events and, for each event whose
--      action has a webhook type (keywarden_core::webhook::EventType::of_action), a row of
--      webhook_outbox: the event exists exactly when its change does.
--   2. A dispatcher locks undispatched outbox rows, oldest first, with FOR UPDATE SKIP LOCKED,
--      inserts one pending delivery per endpoint of the account that is not disabled and wants
--      the type, and marks the rows dispatched. Instances dispatching at the same moment take
--      different rows, and a row dispatched meanwhile no longer matches when it is re-checked,
--      so each event is dispatched once.
--   3. Delivery workers claim due deliveries for a lease (FOR UPDATE SKIP LOCKED again, so two
--      instances never claim the same one), send them, and record each attempt with what it
--      leads to (delivered, retry at a time, or failed).

-- An account's webhook endpoints.
CREATE TABLE webhook_endpoints (
    id              uuid        NOT NULL PRIMARY KEY,
    account_id      uuid        NOT NULL REFERENCES accounts (id),
    -- Checked by the domain (scheme, host) before it gets here.
    url             text        NOT NULL,
    description     text        NOT NULL,
    -- The event types it receives, by their wire names, e.g. '{key.created,key.revoked}', or
    -- '{*}' for every type (also types added later). Never empty.
    events          text[]      NOT NULL
        CONSTRAINT webhook_endpoints_events_flat
        CHECK (array_ndims(events) = 1 AND array_position(events, NULL) IS NULL),
    -- 'failing' is set when a delivery exhausts its retries and cleared by the next success;
    -- 'disabled' only by an admin: no new deliveries are queued for it.
    state           text        NOT NULL
        CONSTRAINT webhook_endpoints_state_known
        CHECK (state IN ('active', 'failing', 'disabled')),
    -- The signing secret, sealed (nonce and ciphertext) under a key derived from the server
    -- secret. It must sign every delivery, so it cannot be hashed; never stored in the clear.
    sealed_secret   bytea       NOT NULL,
    -- The secret before the last rotation, sealed, which still signs until previous_until.
    previous_secret bytea,
    previous_until  timestamptz,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    CONSTRAINT webhook_endpoints_previous_whole
        CHECK ((previous_secret IS NULL) = (previous_until IS NULL))
);

-- An account's endpoints, oldest first.
CREATE INDEX webhook_endpoints_by_account ON webhook_endpoints (account_id, created_at, id);

-- The outbox: one row per audit event that leaves the system, written in the transaction of
-- the change (see above). Kept after dispatch, with the time it was dispatched.
CREATE TABLE webhook_outbox (
    -- The audit event's id, which is also the webhook's id (`webhook-id`) on every attempt.
    event_id      uuid        NOT NULL PRIMARY KEY REFERENCES audit_events (id),
    account_id    uuid        NOT NULL REFERENCES accounts (id),
    -- The webhook type's wire name, e.g. 'key.revoked'. Not a CHECK list, like actions.
    type          text        NOT NULL,
    -- Set only for 'webhook.test': the one endpoint it goes to (even a disabled one). Goes
    -- with its endpoint: a test event must never fan out to the other endpoints.
    endpoint_id   uuid        REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    -- The event's time.
    created_at    timestamptz NOT NULL,
    -- When it was fanned out into deliveries; NULL until then.
    dispatched_at timestamptz,
    CONSTRAINT webhook_outbox_test_has_endpoint
        CHECK ((type = 'webhook.test') = (endpoint_id IS NOT NULL))
);

-- The dispatcher's queue: undispatched events, oldest first (and the backlog's count).
CREATE INDEX webhook_outbox_undispatched ON webhook_outbox (created_at, event_id)
    WHERE dispatched_at IS NULL;
CREATE INDEX webhook_outbox_by_endpoint ON webhook_outbox (endpoint_id)
    WHERE endpoint_id IS NOT NULL;

-- One event's delivery to one endpoint.
CREATE TABLE webhook_deliveries (
    id              uuid        NOT NULL PRIMARY KEY,
    event_id        uuid        NOT NULL REFERENCES audit_events (id),
    endpoint_id     uuid        NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_type      text        NOT NULL,
    -- Attempts made so far.
    attempts        bigint      NOT NULL DEFAULT 0
        CONSTRAINT webhook_deliveries_attempts_range
        CHECK (attempts BETWEEN 0 AND 4294967295),
    state           text        NOT NULL
        CONSTRAINT webhook_deliveries_state_known
        CHECK (state IN ('pending', 'delivered', 'failed')),
    -- When the next attempt is due; pending deliveries only.
    next_attempt_at timestamptz,
    -- Claimed by a delivery worker until then: no other worker takes it before, and a crashed
    -- worker's claim lapses. NULL when not claimed.
    lease_until     timestamptz,
    -- When the event was dispatched.
    created_at      timestamptz NOT NULL,
    CONSTRAINT webhook_deliveries_pending_has_due
        CHECK ((state = 'pending') = (next_attempt_at IS NOT NULL))
);

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
    delivery_id uuid        NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    -- 1 for the first attempt.
    number      bigint      NOT NULL
        CONSTRAINT webhook_attempts_number_range CHECK (number BETWEEN 1 AND 4294967295),
    endpoint_id uuid        NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    -- When it started.
    at          timestamptz NOT NULL,
    -- The HTTP status answered, if an answer came.
    status      integer
        CONSTRAINT webhook_attempts_status_range CHECK (status BETWEEN 0 AND 65535),
    -- What went wrong without an answer (timeout, refused connection, refused address).
    error       text,
    duration_ms bigint      NOT NULL
        CONSTRAINT webhook_attempts_duration_range CHECK (duration_ms BETWEEN 0 AND 4294967295),
    -- An attempt is recorded once.
    CONSTRAINT webhook_attempts_unique PRIMARY KEY (delivery_id, number)
);

-- An endpoint's delivery log, newest first.
CREATE INDEX webhook_attempts_by_endpoint_newest
    ON webhook_attempts (endpoint_id, at DESC, delivery_id DESC, number DESC);

-- The scheduled reminders sent (key.expiring 7 days and 1 day before, key.expired,
-- key.rotation_due): inserted in the transaction of the reminder's audit event with
-- ON CONFLICT DO NOTHING, so under this primary key each is sent once per key, whichever
-- instance gets there first (a second insert waits for the first to commit, then does nothing).
CREATE TABLE webhook_reminders_sent (
    key_id   uuid        NOT NULL REFERENCES api_keys (id),
    -- keywarden_core::webhook::reminders::Reminder's storage spelling.
    reminder text        NOT NULL
        CONSTRAINT webhook_reminders_sent_known
        CHECK (reminder IN ('expiring_7d', 'expiring_1d', 'expired', 'rotation_due')),
    -- The reminder's event time.
    at       timestamptz NOT NULL,
    CONSTRAINT webhook_reminders_sent_once PRIMARY KEY (key_id, reminder)
);
