-- When a secret expires (coffer.Secret.ExpiresAt), in Unix nanoseconds; NULL
-- when it never does.
ALTER TABLE secrets ADD COLUMN expires_at INTEGER;
