-- A bridge session remembers the API key that created it, so revoking the
-- key ends the session. Sessions created before this migration name none.
ALTER TABLE bridge_session ADD COLUMN api_key_id TEXT;
