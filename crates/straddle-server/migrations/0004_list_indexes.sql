-- Indexes that answer a filtered, sorted page without scanning the
-- account: each ends with the sort columns and the id tie-breaker, so the
-- first rows of a page come straight from the index. The customer index
-- also names the status, so that a query filtering both prefers it (a
-- customer has a handful of paykeys, a status may have millions) even
-- before the planner has statistics.

DROP INDEX paykey_by_account;
DROP INDEX paykey_by_customer;
CREATE INDEX paykey_by_account ON paykey (account_id, created_at, paykey_id);
CREATE INDEX paykey_by_customer ON paykey (account_id, customer_id, status, created_at, paykey_id);
CREATE INDEX paykey_by_status ON paykey (account_id, status, created_at, paykey_id);
CREATE INDEX paykey_by_status_institution
    ON paykey (account_id, status, (COALESCE(institution_name, '')), created_at, paykey_id);

DROP INDEX customer_by_account;
CREATE INDEX customer_by_account ON customer (account_id, created_at, customer_id);
CREATE INDEX customer_by_status ON customer (account_id, status, created_at, customer_id);
