-- Record MACs: each account, principal, API key and hotkey carries an
-- HMAC-SHA256, keyed from a secret sealed by the master key, over the fields
-- that grant power (see service/records.go). NULL only until the first start
-- of this version binds the existing records; after that a missing MAC is a
-- failure, never a reason to bind the record again.
ALTER TABLE accounts ADD COLUMN mac BYTEA;
ALTER TABLE principals ADD COLUMN mac BYTEA;
ALTER TABLE api_keys ADD COLUMN mac BYTEA;
ALTER TABLE hotkeys ADD COLUMN mac BYTEA;
