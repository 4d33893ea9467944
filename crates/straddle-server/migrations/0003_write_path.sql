-- The write path: versions for conditional transitions, background work as
-- claimable jobs, and idempotency reservations.

-- Every change of a customer or paykey is conditional on the version it was
-- decided from, and bumps it.
ALTER TABLE customer ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE paykey ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

-- Background work. One row per pending piece of work; an instance claims it
-- by setting claimed_by and a lease, and finishes it by deleting the row in
-- the transaction that applies the work. A lease that runs out lets another
-- instance take the job over.
CREATE TABLE job (
    kind             TEXT NOT NULL,
    subject_id       TEXT NOT NULL,
    due_at           TEXT NOT NULL,
    claimed_by       TEXT,
    lease_expires_at TEXT,
    attempts         BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, subject_id)
);

CREATE INDEX job_due ON job (due_at);

INSERT INTO job (kind, subject_id, due_at)
    SELECT 'customer_verification', customer_id, due_at FROM customer WHERE due_at IS NOT NULL;
INSERT INTO job (kind, subject_id, due_at)
    SELECT 'paykey_verification', paykey_id, due_at FROM paykey WHERE due_at IS NOT NULL;
INSERT INTO job (kind, subject_id, due_at)
    SELECT 'balance_refresh', paykey_id, balance_due_at FROM paykey WHERE balance_due_at IS NOT NULL;

DROP INDEX customer_due;
DROP INDEX paykey_due;
DROP INDEX paykey_balance_due;
ALTER TABLE customer DROP COLUMN due_at;
ALTER TABLE paykey DROP COLUMN due_at;
ALTER TABLE paykey DROP COLUMN balance_due_at;

-- An Idempotency-Key reserved before a provider call: status_code 0 and a
-- reservation token until the response is stored; expires_at is then the
-- lease after which another request may take the key over.
ALTER TABLE idempotency_key ADD COLUMN reservation TEXT;
