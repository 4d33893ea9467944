-- Webhooks: endpoints per account, events written in the transaction of
-- the change they describe (transactional outbox), one delivery row per
-- event and endpoint (claimed with a lease like jobs), and every attempt.

CREATE TABLE webhook_endpoint (
    endpoint_id                TEXT PRIMARY KEY,
    account_id                 TEXT NOT NULL,
    url                        TEXT NOT NULL,
    -- JSON array of event types; NULL sends every type.
    events                     TEXT,
    description                TEXT,
    disabled                   BIGINT NOT NULL DEFAULT 0,
    sealed_secret              TEXT NOT NULL,
    -- The secret before the last rotation, signing alongside until it expires.
    sealed_previous_secret     TEXT,
    previous_secret_expires_at TEXT,
    -- The first failure since the last success; the endpoint is disabled
    -- once it is older than the configured period.
    failing_since              TEXT,
    created_at                 TEXT NOT NULL,
    updated_at                 TEXT NOT NULL
);

CREATE INDEX webhook_endpoint_account ON webhook_endpoint (account_id, created_at, endpoint_id);

-- The body is sealed: a paykey event carries the full paykey token.
CREATE TABLE event (
    event_id    TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    sealed_body TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE webhook_delivery (
    endpoint_id      TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    -- pending, succeeded or failed
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    -- Set while pending.
    due_at           TEXT,
    claimed_by       TEXT,
    lease_expires_at TEXT,
    created_at       TEXT NOT NULL,
    PRIMARY KEY (endpoint_id, event_id)
);

CREATE INDEX webhook_delivery_due ON webhook_delivery (due_at);

CREATE TABLE webhook_attempt (
    attempt_id   TEXT PRIMARY KEY,
    endpoint_id  TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    status_code  BIGINT,
    error        TEXT,
    duration_ms  BIGINT NOT NULL,
    attempted_at TEXT NOT NULL
);

CREATE INDEX webhook_attempt_endpoint ON webhook_attempt (endpoint_id, attempted_at, attempt_id);
