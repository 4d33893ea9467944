-- Portable DDL: it runs unchanged on SQLite and PostgreSQL. Ids are
-- lowercase UUID text, times RFC 3339 text with seven fractional digits
-- (so text order is time order), flags BIGINT 0/1.

CREATE TABLE account (
    account_id   TEXT PRIMARY KEY,
    parent_id    TEXT REFERENCES account (account_id),
    name         TEXT NOT NULL,
    environment  TEXT NOT NULL,
    allow_unmask BIGINT NOT NULL,
    created_at   TEXT NOT NULL
);

CREATE TABLE api_key (
    key_id     TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES account (account_id),
    key_hash   TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

CREATE TABLE customer (
    customer_id    TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES account (account_id),
    name           TEXT NOT NULL,
    email          TEXT NOT NULL,
    phone          TEXT NOT NULL,
    customer_type  TEXT NOT NULL,
    status         TEXT NOT NULL,
    external_id    TEXT,
    -- JSON: address, config, metadata.
    details        TEXT NOT NULL,
    -- AES-256-GCM sealed JSON: compliance profile and device.
    sealed_pii     TEXT NOT NULL,
    -- JSON identity verification result, absent when verification was skipped.
    review         TEXT,
    -- A background verification: the status to apply once due_at has passed.
    pending_status TEXT,
    due_at         TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

CREATE INDEX customer_by_account ON customer (account_id, created_at);
CREATE INDEX customer_due ON customer (due_at);

CREATE TABLE idempotency_key (
    -- SHA-256 of (environment, account, acting account, key).
    scope_hash  TEXT PRIMARY KEY,
    -- SHA-256 of (method, path, canonical body).
    fingerprint TEXT NOT NULL,
    status_code BIGINT NOT NULL,
    body        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);

CREATE INDEX idempotency_key_expiry ON idempotency_key (expires_at);
