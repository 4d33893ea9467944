-- Paykeys and Bridge widget sessions.

CREATE TABLE paykey (
    paykey_id        TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES account (account_id),
    customer_id      TEXT NOT NULL,
    source           TEXT NOT NULL,
    status           TEXT NOT NULL,
    institution_name TEXT,
    label            TEXT NOT NULL,
    routing_number   TEXT NOT NULL,
    account_type     TEXT NOT NULL,
    external_id      TEXT,
    -- NULL unless blocked; then 1 when `unblock` may reactivate it.
    unblock_eligible BIGINT,
    -- JSON: config, metadata, status details, balance, verification, pending outcome.
    details          TEXT NOT NULL,
    -- AES-256-GCM sealed JSON: paykey token, account number, provider token, owner names.
    sealed           TEXT NOT NULL,
    -- When a background verification applies its outcome.
    due_at           TEXT,
    -- When a requested balance refresh runs.
    balance_due_at   TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);

CREATE INDEX paykey_by_account ON paykey (account_id, created_at);
CREATE INDEX paykey_by_customer ON paykey (customer_id);
CREATE INDEX paykey_due ON paykey (due_at);
CREATE INDEX paykey_balance_due ON paykey (balance_due_at);

CREATE TABLE bridge_session (
    bridge_token_id TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES account (account_id),
    customer_id     TEXT NOT NULL,
    -- JSON paykey config the widget's paykey gets.
    config          TEXT NOT NULL,
    external_id     TEXT,
    -- Set once the session has created its paykey.
    paykey_id       TEXT,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL
);
