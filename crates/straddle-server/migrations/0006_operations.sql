-- Operating several instances.

-- A check value of each current secret (HMAC-SHA256 of a fixed label keyed
-- by the secret, never the secret itself), recorded at first start. An
-- instance or admin command whose secrets do not produce these values
-- refuses to run. name: 'jwt_secret' or 'data_key'.
CREATE TABLE secret_check (
    name        TEXT PRIMARY KEY,
    check_value TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- The rate limit's token bucket of each platform, shared by every instance
-- on PostgreSQL (SQLite serves one instance and keeps its bucket in memory).
-- Tokens in thousandths; refilled_us is PostgreSQL's clock in microseconds.
CREATE TABLE rate_bucket (
    platform_id TEXT PRIMARY KEY,
    millitokens BIGINT NOT NULL,
    refilled_us BIGINT NOT NULL
);
